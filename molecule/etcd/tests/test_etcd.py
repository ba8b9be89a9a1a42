"""Behaviour of the 3-member etcd cluster built by playbooks/etcd.yml (testinfra, over SSH)."""

import json
import os
import re
import subprocess
import tarfile
from pathlib import Path

import pytest
import testinfra.utils.ansible_runner

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
REPO = Path(__file__).resolve().parents[3]
MEMBERS = testinfra.utils.ansible_runner.AnsibleRunner(INVENTORY).get_hosts("etcd")
testinfra_hosts = MEMBERS

# the scenario's starting release (group_vars/all/lifecycle.yml); test_lifecycle.py upgrades it
VERSION = testinfra.utils.ansible_runner.AnsibleRunner(INVENTORY).get_variables(MEMBERS[0])["etcd_version"]
PKI = "/etc/etcd/pki"
TLS = f"--cacert={PKI}/ca.crt --cert={PKI}/member.crt --key={PKI}/member.key"


RUNNER = testinfra.utils.ansible_runner.AnsibleRunner(INVENTORY)
ADDRESSES = {name: RUNNER.get_variables(name)["ansible_host"] for name in MEMBERS}


def address(host):
    return ADDRESSES[host.backend.get_hostname()]


def etcdctl(host, args, tls=TLS, endpoint=None):
    endpoint = endpoint or f"https://{address(host)}:2379"
    with host.sudo():
        return host.run(f"etcdctl --endpoints={endpoint} {tls} --command-timeout=5s {args}")


def test_service_runs_as_etcd_with_private_data_and_keys(host):
    service = host.service("etcd")
    assert service.is_running
    assert service.is_enabled
    with host.sudo():
        assert host.process.filter(comm="etcd")[0].user == "etcd"
        data = host.file("/var/lib/etcd")
        assert data.user == "etcd" and data.mode == 0o700
        assert host.file("/var/lib/etcd/member").is_directory
        key = host.file(f"{PKI}/member.key")
        assert key.user == "etcd" and key.mode == 0o600
        env = host.file("/etc/etcd/etcd.env").content_string
        bootstrap = host.file("/etc/etcd/etcd-bootstrap.env")
        assert not bootstrap.exists  # bootstrap settings go once the member has data
    assert "ETCD_CLIENT_CERT_AUTH=true" in env and "ETCD_PEER_CLIENT_CERT_AUTH=true" in env
    assert "ETCD_INITIAL_CLUSTER=" not in env


def test_version_is_the_built_release(host):
    out = host.check_output("etcd --version")
    assert f"etcd Version: {VERSION}" in out


def test_three_started_members_and_exactly_one_leader(host):
    members = json.loads(etcdctl(host, "member list -w json").stdout)["members"]
    assert sorted(m["name"] for m in members) == ["etcd1", "etcd2", "etcd3"]
    assert all(m["clientURLs"] and m["clientURLs"][0].startswith("https://") for m in members)
    result = etcdctl(host, "endpoint status --cluster -w json")
    assert result.rc == 0, result.stderr
    statuses = [entry["Status"] for entry in json.loads(result.stdout)]
    assert len(statuses) == 3
    leaders = [s for s in statuses if s["leader"] == s["header"]["member_id"]]
    assert len(leaders) == 1
    assert {s["leader"] for s in statuses} == {leaders[0]["header"]["member_id"]}


def test_put_and_get_through_tls_from_every_member(host):
    key = f"/molecule/{host.backend.get_hostname()}"
    put = etcdctl(host, f"put {key} written-by-{host.backend.get_hostname()}")
    assert put.rc == 0 and "OK" in put.stdout, put.stderr
    for other in MEMBERS:
        endpoint = f"https://{ADDRESSES[other]}:2379"
        got = etcdctl(host, f"get {key} --print-value-only --consistency=l", endpoint=endpoint)
        assert got.rc == 0, got.stderr
        assert got.stdout.strip() == f"written-by-{host.backend.get_hostname()}"


def test_client_without_certificate_is_refused(host):
    refused = etcdctl(host, "get /molecule --prefix", tls=f"--cacert={PKI}/ca.crt")
    assert refused.rc != 0
    # Same call with the member certificate works, so the refusal is about the certificate.
    assert etcdctl(host, "get /molecule --prefix --keys-only").rc == 0


def test_client_with_certificate_from_another_ca_is_refused(host, tmp_path_factory):
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    work = tmp_path_factory.mktemp("foreign")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "intruder")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    (work / "foreign.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (work / "foreign.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    for name_ in ("foreign.crt", "foreign.key"):
        host.ansible("copy", f"src={work / name_} dest=/tmp/{name_} mode=0600", check=False, become=True)
    refused = etcdctl(
        host, "get /molecule --prefix", tls=f"--cacert={PKI}/ca.crt --cert=/tmp/foreign.crt --key=/tmp/foreign.key"
    )
    assert refused.rc != 0


@pytest.fixture(scope="module")
def etcdutl(tmp_path_factory):
    """etcdutl from the same release archive the lab installed, unpacked on the controller."""
    from stackbench.paths import mirror_dir

    archive = mirror_dir() / f"etcd-io/etcd/releases/download/v{VERSION}/etcd-v{VERSION}-linux-amd64.tar.gz"
    out = tmp_path_factory.mktemp("etcdutl")
    with tarfile.open(archive) as tar:
        member = tar.getmember(f"etcd-v{VERSION}-linux-amd64/etcdutl")
        member.name = "etcdutl"
        tar.extract(member, out, filter="data")
    return out / "etcdutl"


def test_backup_playbook_fetches_a_snapshot_etcdutl_accepts(etcdutl, tmp_path_factory):
    """Cluster-wide, so it runs once (no `host` fixture)."""
    backup_dir = tmp_path_factory.mktemp("backup")
    run = subprocess.run(
        [
            "ansible-playbook",
            "-i",
            INVENTORY,
            str(REPO / "playbooks/etcd-backup.yml"),
            "-e",
            f"etcd_backup_dir={backup_dir}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    snapshots = sorted(backup_dir.glob("etcd-*.db"))
    assert len(snapshots) == 1
    status = subprocess.run(
        [str(etcdutl), "snapshot", "status", str(snapshots[0]), "-w", "json"], capture_output=True, text=True
    )
    assert status.returncode == 0, status.stderr
    parsed = json.loads(status.stdout)
    assert parsed["totalKey"] >= 1 and parsed["revision"] >= 1
    recorded = json.loads(Path(f"{snapshots[0]}.status.json").read_text())
    assert recorded["hash"] == parsed["hash"]


def _converge_command(*extra_vars):
    cmd = ["ansible-playbook", "-i", INVENTORY, str(REPO / "playbooks/etcd.yml")]
    for item in extra_vars:
        cmd += ["-e", item]
    return cmd


def _converge(*extra_vars):
    return subprocess.run(_converge_command(*extra_vars), cwd=REPO, capture_output=True, text=True)


def _mismatched_tls_files():
    pki = REPO / ".stackbench/pki/stackbench-etcd"
    # every member gets the first member's certificate with the second member's key
    return {
        "ca": str(pki / "ca.crt"),
        "cert": str(pki / f"issued/{MEMBERS[0]}/member.crt"),
        "key": str(pki / f"issued/{MEMBERS[1]}/member.key"),
    }


# Each bad input, with the message that must refuse it. The runs only read the hosts, so they run at
# once (one fixture), and each test asserts its own.
BAD_INPUTS = {
    "host_in_two_clusters": ([json.dumps({"etcd_clusters": {"stackbench-etcd": MEMBERS, "other": [MEMBERS[0]]}})],
                             "must be a member of exactly one etcd cluster"),
    "even_member_count": ([json.dumps({"etcd_clusters": {"stackbench-etcd": MEMBERS[:2], "other": MEMBERS[2:]}})],
                          "needs an odd number of members"),
    "data_dir_of_another_cluster": (["etcd_initial_cluster_token=some-other-cluster"],
                                    "holds etcd data of cluster 'stackbench-etcd'"),
    "mismatched_tls_files": ([json.dumps({"etcd_tls_source": "files", "etcd_tls_files": _mismatched_tls_files()})],
                             "does not fit"),
}


@pytest.fixture(scope="module")
def refused_runs():
    started = {name: subprocess.Popen(_converge_command(*extra), cwd=REPO, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)
               for name, (extra, _) in BAD_INPUTS.items()}
    runs = {}
    for name, process in started.items():
        stdout, stderr = process.communicate(timeout=900)
        runs[name] = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    return runs


def _assert_refused_without_changes(run, message):
    out = run.stdout + run.stderr
    assert run.returncode != 0, out[-3000:]
    assert message in out, out[-3000:]
    recap = out.split("PLAY RECAP", 1)[1]
    assert set(re.findall(r"changed=(\d+)", recap)) == {"0"}, recap
    for name in MEMBERS:
        member = testinfra.get_host(f"ansible://{name}?ansible_inventory={INVENTORY}", sudo=True)
        assert member.service("etcd").is_running
        assert member.file("/var/lib/etcd/member").is_directory


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_refused_before_changes(refused_runs, case):
    _assert_refused_without_changes(refused_runs[case], BAD_INPUTS[case][1])


def _on(name):
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={INVENTORY}", sudo=True)


def test_restore_playbook_brings_the_cluster_back_to_the_snapshot(tmp_path):
    """Last on purpose: backup, change, restore, and the cluster holds the snapshot's data."""
    first = _on(MEMBERS[0])
    assert etcdctl(first, "put /restore/before kept").rc == 0
    backup_dir = tmp_path / "backup"
    run = subprocess.run(
        [
            "ansible-playbook",
            "-i",
            INVENTORY,
            str(REPO / "playbooks/etcd-backup.yml"),
            "-e",
            f"etcd_backup_dir={backup_dir}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout[-3000:]
    snapshot = next(backup_dir.glob("etcd-*.db"))
    assert etcdctl(first, "put /restore/after lost").rc == 0
    assert etcdctl(first, "del /restore/before").rc == 0

    run = subprocess.run(
        [
            "ansible-playbook",
            "-i",
            INVENTORY,
            str(REPO / "playbooks/etcd-restore.yml"),
            "-e",
            f"etcd_restore_snapshot={snapshot}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout[-3000:]
    for name in MEMBERS:
        member = _on(name)
        got = etcdctl(member, "get /restore --prefix --consistency=l")
        assert got.rc == 0, got.stderr
        assert got.stdout.split() == ["/restore/before", "kept"]
        assert member.run("ls -d /var/lib/etcd.before-restore-*").rc == 0  # old data kept
    statuses = [e["Status"] for e in json.loads(etcdctl(first, "endpoint status --cluster -w json").stdout)]
    assert len(statuses) == 3 and sum(s["leader"] == s["header"]["member_id"] for s in statuses) == 1
    # the role accepts the restored cluster as its own and has nothing to change
    again = _converge()
    assert again.returncode == 0, again.stdout[-3000:]
    recap = again.stdout.split("PLAY RECAP", 1)[1]
    assert set(re.findall(r"changed=(\d+)", recap)) == {"0"}, recap
