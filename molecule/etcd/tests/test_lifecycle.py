"""Day two on the scenario's etcd cluster, chained in order on the one cluster test_etcd.py checked:

1. the rolling upgrade to the next minor (playbooks/etcd-upgrade.yml) under a client writing
   through all three members: a snapshot first, followers first, the leader last, the cluster
   version the new minor at the end, no acknowledged write lost;
2. a member removed (playbooks/etcd-remove-member.yml) and added back with --limit (a learner,
   promoted), the others not restarted, then a full run that changes nothing;
3. a removal that would lose quorum refused, with one member down;
4. a dead member (its data dir gone) replaced (playbooks/etcd-recover.yml), timed, and a recovery
   of a healthy member refused;
5. every member certificate renewed now, then the cluster CA rotated (start, switch, finish), each
   rolled through the members under the writer; at the end a certificate of the old CA is refused.

Figures go to results/test/etcd-lifecycle.json.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest
import testinfra
import testinfra.utils.ansible_runner
import yaml
from background import Background, wait_for
from cryptography import x509
from playbook_runs import changed, ok, task_seconds
from playbook_runs import run_playbook as _run_playbook

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
RUNNER = testinfra.utils.ansible_runner.AnsibleRunner(INVENTORY)
MEMBERS = RUNNER.get_hosts("etcd")
ADDRESSES = {name: RUNNER.get_variables(name)["ansible_host"] for name in MEMBERS}
REPO = Path(__file__).resolve().parents[3]
STARTING_VERSION = RUNNER.get_variables(MEMBERS[0])["etcd_version"]
UPGRADED_VERSION = yaml.safe_load((REPO / "roles/etcd/defaults/main.yml").read_text())["etcd_version"]
RESULTS = REPO / "results" / "test" / "etcd-lifecycle.json"
FIGURES: dict[str, object] = {}
PKI = "/etc/etcd/pki"
TLS = f"--cacert={PKI}/ca.crt --cert={PKI}/member.crt --key={PKI}/member.key"
REMOVED, DEAD = MEMBERS[2], MEMBERS[1]

# Puts key /lifecycle/counter = n through the gRPC gateway every 50 ms until the stop file appears,
# moving to the next member when one does not answer (as a multi-endpoint client does); a write
# counts as failed when no member acknowledged it within 3 s. Then reads the key back
# (linearizable): it must hold the last acknowledged value. One JSON line of counts.
WRITER = r"""
import base64, json, os, ssl, sys, time, urllib.request
endpoints, stop = sys.argv[1].split(","), sys.argv[2]
context = ssl.create_default_context(cafile="/etc/etcd/pki/ca.crt")
context.load_cert_chain("/etc/etcd/pki/member.crt", "/etc/etcd/pki/member.key")
key = base64.b64encode(b"/lifecycle/counter").decode()
def call(index, path, body):
    request = urllib.request.Request(endpoints[index] + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=1, context=context) as reply:
        return json.loads(reply.read())
current, acked, failed, failovers, longest = 0, 0, 0, 0, 0.0
n = 0
while not os.path.exists(stop):
    n += 1
    started = time.monotonic()
    value = base64.b64encode(str(n).encode()).decode()
    while True:
        try:
            call(current, "/v3/kv/put", {"key": key, "value": value})
            acked = n
            break
        except Exception:
            if time.monotonic() - started > 3:
                failed += 1
                break
            current = (current + 1) % len(endpoints)
            failovers += 1
            time.sleep(0.05)
    longest = max(longest, time.monotonic() - started)
    time.sleep(max(0.0, 0.05 - (time.monotonic() - started)))
read = None
for index in range(len(endpoints)):
    try:
        kvs = call(index, "/v3/kv/range", {"key": key}).get("kvs", [])
        read = int(base64.b64decode(kvs[0]["value"])) if kvs else 0
        break
    except Exception:
        continue
print(json.dumps({"acked": acked, "failed": failed, "failovers": failovers, "read_back": read,
                  "longest_write_s": round(longest, 2)}))
"""


def run_playbook(name: str, *args: str):
    """Every run after the upgrade names the release, as an operator who upgraded edits the inventory."""
    return _run_playbook(INVENTORY, name, f"-eetcd_version={UPGRADED_VERSION}", *args)


def on(name: str):
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={INVENTORY}", sudo=True)


def etcdctl(name: str, args: str, endpoints: list[str] | None = None):
    urls = ",".join(f"https://{ADDRESSES[n]}:2379" for n in endpoints or [name])
    with on(name).sudo():
        return on(name).run(f"etcdctl --endpoints={urls} {TLS} --command-timeout=5s {args}")


def members(via: str) -> dict[str, dict]:
    listed = etcdctl(via, "member list -w json")
    assert listed.rc == 0, listed.stderr
    return {m.get("name", ""): m for m in json.loads(listed.stdout)["members"]}


def leader(via: str) -> str:
    status = etcdctl(via, "endpoint status --cluster -w json")
    assert status.rc == 0, status.stderr
    ids = {m["ID"]: name for name, m in members(via).items()}
    (leader_id,) = {entry["Status"]["leader"] for entry in json.loads(status.stdout)}
    return ids[leader_id]


def main_pid(name: str) -> str:
    with on(name).sudo():
        return on(name).check_output("systemctl show -p MainPID --value etcd")


def writer(name: str, host: str, first: str | None = None) -> Background:
    """The writer, its first endpoint `first` (the member about to go: the client must move)."""
    order = ([first] if first else []) + [n for n in MEMBERS if n != first]
    endpoints = ",".join(f"https://{ADDRESSES[n]}:2379" for n in order)
    client = Background(on(host), name, WRITER, endpoints)
    time.sleep(1)
    return client


def record(step: str, value: object) -> None:
    FIGURES[step] = value
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(FIGURES, indent=2) + "\n")


def assert_writes_kept(result: dict) -> None:
    assert result["acked"] > 0 and result["read_back"] == result["acked"], result
    assert result["failed"] == 0, result


def test_upgrade_rolls_the_next_minor_through_followers_then_the_leader():
    assert STARTING_VERSION != UPGRADED_VERSION
    first_leader = leader(MEMBERS[0])
    client = writer("upgrade-writes", MEMBERS[0], first=first_leader)
    run = run_playbook("etcd-upgrade.yml")
    writes = client.stop()
    ok(run)
    record("upgrade", {"from": STARTING_VERSION, "to": UPGRADED_VERSION, "seconds": run.seconds,
                       "leader_before": first_leader, "writes": writes})
    assert re.search(r"backups/etcd/etcd-\S+\.db: revision \d+", run.stdout)  # the snapshot came first
    order = restarted_in_order(run)
    assert sorted(order) == sorted(MEMBERS) and order[-1] == first_leader, order
    for name in MEMBERS:
        assert f"etcd Version: {UPGRADED_VERSION}" in on(name).check_output("etcd --version")
    version = json.loads(on(MEMBERS[0]).check_output(
        f"python3 -c \"import ssl,urllib.request as u;c=ssl.create_default_context(cafile='{PKI}/ca.crt');"
        f"c.load_cert_chain('{PKI}/member.crt','{PKI}/member.key');"
        f"print(u.urlopen('https://{ADDRESSES[MEMBERS[0]]}:2379/version',context=c).read().decode())\""))
    assert version["etcdcluster"] == ".".join(UPGRADED_VERSION.split(".")[:2]) + ".0", version
    assert_writes_kept(writes)


def test_a_removed_member_leaves_the_cluster_and_its_host_is_clean():
    pids = {n: main_pid(n) for n in MEMBERS if n != REMOVED}
    client = writer("remove-writes", MEMBERS[0], first=REMOVED)
    run = run_playbook("etcd-remove-member.yml", f"-emember={REMOVED}")
    writes = client.stop()
    ok(run)
    record("remove", {"member": REMOVED, "seconds": run.seconds, "writes": writes})
    assert sorted(members(MEMBERS[0])) == sorted(n for n in MEMBERS if n != REMOVED)
    gone = on(REMOVED)
    assert not gone.file("/etc/systemd/system/etcd.service").exists
    assert not gone.file("/var/lib/etcd").exists
    assert {n: main_pid(n) for n in pids} == pids  # the others were not restarted
    assert_writes_kept(writes)


def test_the_member_added_back_with_limit_joins_as_a_learner_then_votes():
    pids = {n: main_pid(n) for n in MEMBERS if n != REMOVED}
    run = run_playbook("etcd.yml", f"--limit={REMOVED}")
    ok(run)
    record("add", {"member": REMOVED, "seconds": run.seconds})
    tasks = [name for name, _ in task_seconds(run)]
    assert f"Add the new member to the cluster as a learner: {REMOVED}" in tasks
    assert f"Promote the learner once it has caught up with the leader: {REMOVED}" in tasks
    listed = members(MEMBERS[0])
    assert sorted(listed) == sorted(MEMBERS)
    assert not any(m.get("isLearner") for m in listed.values())
    assert {n: main_pid(n) for n in pids} == pids
    got = etcdctl(REMOVED, "get /lifecycle/counter --print-value-only --consistency=s")
    assert got.rc == 0 and int(got.stdout.strip()) > 0  # it holds the data written before it joined
    again = run_playbook("etcd.yml")
    ok(again)
    assert set(changed(again).values()) == {0}, changed(again)


def test_a_removal_that_would_lose_quorum_is_refused():
    with on(DEAD).sudo():
        on(DEAD).check_output("systemctl stop etcd")
    try:
        run = run_playbook("etcd-remove-member.yml", f"-emember={MEMBERS[0]}")
        assert run.returncode != 0
        assert f"removing {MEMBERS[0]} would lose quorum" in run.stdout, run.stdout[-3000:]
        assert sorted(members(MEMBERS[0])) == sorted(MEMBERS)
        assert on(MEMBERS[0]).service("etcd").is_running
    finally:
        with on(DEAD).sudo():
            on(DEAD).check_output("systemctl start etcd")
    wait_for(lambda: etcdctl(DEAD, "endpoint health").rc == 0, 60, f"{DEAD} healthy again")


def test_a_dead_member_is_replaced_and_a_healthy_one_is_not():
    old_id = members(MEMBERS[0])[DEAD]["ID"]
    pids = {n: main_pid(n) for n in MEMBERS if n != DEAD}
    client = writer("recover-writes", MEMBERS[0], first=DEAD)
    with on(DEAD).sudo():  # the disk is lost: etcd down, its data gone
        on(DEAD).check_output("systemctl stop etcd && rm -rf /var/lib/etcd")
    run = run_playbook("etcd-recover.yml", f"-emember={DEAD}")
    writes = client.stop()
    ok(run)
    record("recover", {"member": DEAD, "seconds_to_replace": run.seconds, "writes": writes})
    listed = members(MEMBERS[0])
    assert sorted(listed) == sorted(MEMBERS) and listed[DEAD]["ID"] != old_id
    assert not any(m.get("isLearner") for m in listed.values())
    assert {n: main_pid(n) for n in pids} == pids
    got = etcdctl(DEAD, "get /lifecycle/counter --print-value-only --consistency=l")
    assert got.rc == 0 and int(got.stdout.strip()) == writes["read_back"]
    assert_writes_kept(writes)

    refused = run_playbook("etcd-recover.yml", f"-emember={MEMBERS[0]}")
    assert refused.returncode != 0
    assert f"{MEMBERS[0]} answers healthy" in refused.stdout, refused.stdout[-3000:]
    assert sorted(members(MEMBERS[0])) == sorted(MEMBERS)


def certificates(name: str, path: str) -> list[x509.Certificate]:
    with on(name).sudo():
        return x509.load_pem_x509_certificates(on(name).file(path).content)


def restarted_in_order(run) -> list[str]:
    return re.findall(r"TASK \[[^\]]*Restart etcd on (\S+)\]", run.stdout)


def test_a_renewal_reissues_every_member_certificate_one_member_at_a_time():
    before = {n: certificates(n, f"{PKI}/member.crt")[0] for n in MEMBERS}
    first_leader = leader(MEMBERS[0])
    client = writer("renew-writes", MEMBERS[0], first=first_leader)
    run = run_playbook("etcd.yml", "-eetcd_certs_renew=true")
    writes = client.stop()
    ok(run)
    record("renew", {"seconds": run.seconds, "writes": writes})
    for name in MEMBERS:
        after = certificates(name, f"{PKI}/member.crt")[0]
        assert after.serial_number != before[name].serial_number and after.issuer == before[name].issuer
        assert after.not_valid_before_utc > before[name].not_valid_before_utc
    order = restarted_in_order(run)
    assert sorted(order) == sorted(MEMBERS) and order[-1] == first_leader, order
    assert_writes_kept(writes)


def test_a_ca_rotation_keeps_both_cas_trusted_until_it_finishes():
    original_ca = certificates(MEMBERS[0], f"{PKI}/ca.crt")
    assert len(original_ca) == 1
    with on(MEMBERS[0]).sudo():  # a client certificate of the old CA, to try once the rotation is done
        on(MEMBERS[0]).check_output(f"install -d -m 0700 /root/verify && cp {PKI}/member.crt /root/verify/old-ca.crt")
    steps = {}
    for step in ("start", "switch", "finish"):
        client = writer(f"rotate-{step}-writes", MEMBERS[0], first=leader(MEMBERS[0]))
        run = run_playbook("etcd.yml", f"-eetcd_ca_rotation={step}")
        writes = client.stop()
        ok(run)
        steps[step] = {"seconds": run.seconds, "writes": writes, "restarted": restarted_in_order(run)}
        record("ca_rotation", steps)
        assert sorted(steps[step]["restarted"]) == sorted(MEMBERS), steps[step]
        assert_writes_kept(writes)
        trusted = {n: certificates(n, f"{PKI}/ca.crt") for n in MEMBERS}
        member_issuers = {certificates(n, f"{PKI}/member.crt")[0].issuer for n in MEMBERS}
        if step == "start":  # both trusted, still issued by the old CA
            assert all(len(t) == 2 and t[0] == original_ca[0] for t in trusted.values())
            assert member_issuers == {original_ca[0].subject}
        elif step == "switch":  # issued by the new CA, the old one still trusted
            assert all(len(t) == 2 and original_ca[0] in t for t in trusted.values())
            assert len(member_issuers) == 1 and member_issuers != {original_ca[0].subject}
        else:  # the new CA alone
            assert all(len(t) == 1 and t[0] != original_ca[0] for t in trusted.values())
            assert {t[0].subject for t in trusted.values()} == member_issuers
    assert etcdctl(MEMBERS[0], "endpoint health").rc == 0  # the members' own certificates: the new CA's
    with on(MEMBERS[0]).sudo():
        refused = on(MEMBERS[0]).run(
            f"etcdctl --endpoints=https://{ADDRESSES[MEMBERS[0]]}:2379 --cacert={PKI}/ca.crt "
            f"--cert=/root/verify/old-ca.crt --key={PKI}/member.key --command-timeout=3s endpoint health")
    assert refused.rc != 0, refused.stdout


@pytest.fixture(autouse=True, scope="module")
def _report():
    yield
    print(json.dumps(FIGURES, indent=2))
