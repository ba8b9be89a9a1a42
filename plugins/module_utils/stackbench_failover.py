"""HA failover validation: leader detection parsers, quorum safety, measurement bookkeeping.

Pure functions and small data classes, no I/O: the `ha_failover` action plugin (controller
side) does the talking and calls these to decide and to count. Every parser takes the text
or decoded JSON a system really returns (see docs/ha-validation.md for the sources).
"""

from __future__ import annotations

import base64
import json
import os
import re
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SYSTEMS = ("zookeeper", "etcd", "mesos_masters", "marathon", "kube_apiserver",
           "kube_controller_manager", "kube_scheduler")
FAULTS = ("stop", "kill", "partition")


class ParseError(ValueError):
    """A reply that is not what the system returns."""


# ----- ZooKeeper -------------------------------------------------------------------------------

ZK_NOT_SERVING = "This ZooKeeper instance is not currently serving requests"


def parse_mntr(text: str) -> dict[str, str] | None:
    """`mntr` → {key: value}; None while the server is not serving (no quorum, election).

    Raises ParseError when mntr is not whitelisted or the reply is not mntr output.
    """
    if ZK_NOT_SERVING in text:
        return None
    if "is not executed because it is not in the whitelist" in text:
        raise ParseError("mntr is not in 4lw.commands.whitelist on this server")
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("\t")
        if sep and key.startswith("zk_"):
            values[key] = value.strip()
    if "zk_server_state" not in values:
        raise ParseError(f"not mntr output: {text[:80]!r}")
    return values


def parse_srvr(text: str) -> str | None:
    """`srvr`/`stat` → the Mode (leader, follower, observer, standalone, read-only); None if not serving."""
    if ZK_NOT_SERVING in text:
        return None
    match = re.search(r"^Mode: (\S+)", text, re.MULTILINE)
    if not match:
        raise ParseError(f"not srvr output: {text[:80]!r}")
    return match.group(1)


def zk_mode(mntr: Mapping[str, str] | None) -> str | None:
    return None if mntr is None else mntr.get("zk_server_state")


def single_leader(modes: Mapping[str, str | None]) -> str | None:
    """The one member whose mode is `leader`; None when there is none or more than one."""
    leaders = [host for host, mode in modes.items() if mode == "leader"]
    return leaders[0] if len(leaders) == 1 else None


# ----- etcd ------------------------------------------------------------------------------------

def _uint64(value: Any) -> int:
    """etcdctl prints uint64 ids as JSON numbers, the gRPC gateway as strings: both → int."""
    if isinstance(value, bool):
        raise ParseError(f"not an id: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, float):  # a parser that went through float has lost precision
        raise ParseError(f"id {value!r} was decoded as a float: ids are uint64, parse them as integers")
    raise ParseError(f"not an id: {value!r}")


def etcd_status(status: Mapping[str, Any], endpoint: str = "") -> dict[str, Any]:
    """One StatusResponse (etcdctl `Status` object or a gateway reply) → member_id, leader, term.

    Zero-valued fields are omitted by the encoders (omitempty), so a missing `leader` is 0 (no
    leader known) and a missing `isLearner` is false.
    """
    header = status.get("header") or {}
    if "member_id" not in header:
        raise ParseError("status has no header.member_id")
    member_id = _uint64(header["member_id"])
    leader = _uint64(status.get("leader", 0))
    term = status.get("raftTerm", status.get("raft_term", header.get("raft_term", 0)))
    return {
        "endpoint": endpoint,
        "member_id": member_id,
        "leader_id": leader,
        "is_leader": leader != 0 and leader == member_id,
        "raft_term": int(term),
        "is_learner": bool(status.get("isLearner", status.get("is_learner", False))),
        "version": status.get("version"),
        "errors": list(status.get("errors", [])),
    }


def parse_etcd_endpoint_status(text: str) -> list[dict[str, Any]]:
    """`etcdctl -w json endpoint status [--cluster]` → one status per endpoint (ids exact)."""
    try:
        document = json.loads(text)  # Python's json keeps big integers exact
    except json.JSONDecodeError as exc:
        raise ParseError(f"not JSON: {exc}") from None
    if isinstance(document, dict):
        document = [document]
    return [etcd_status(item["Status"], item.get("Endpoint", "")) for item in document]


def etcd_agreed_leader(statuses: Iterable[Mapping[str, Any]]) -> int | None:
    """The leader id every answering member agrees on (same leader and term), or None."""
    seen = {(s["leader_id"], s["raft_term"]) for s in statuses}
    if len(seen) != 1:
        return None
    leader, _ = seen.pop()
    return leader or None


# ----- Mesos -----------------------------------------------------------------------------------

def mesos_master_state(metrics: Mapping[str, Any]) -> dict[str, bool]:
    """`/metrics/snapshot` of a master → elected, and ready (elected and registry recovered)."""
    if "master/elected" not in metrics:
        raise ParseError("not a Mesos master /metrics/snapshot (no master/elected)")
    elected = float(metrics["master/elected"]) == 1.0
    recovered = float(metrics.get("registrar/log/recovered", 0)) == 1.0
    return {"elected": elected, "ready": elected and recovered}


_JSON_INFO = re.compile(r"^json\.info_(\d{10})$")


def mesos_zk_leader(children: Iterable[str], data: Mapping[str, str | bytes]) -> dict[str, Any] | None:
    """The leading master from the `json.info_<seq>` znodes: the smallest sequence wins."""
    members = sorted((int(m.group(1)), name) for name in children if (m := _JSON_INFO.match(name)))
    if not members:
        return None
    _, name = members[0]
    raw = data[name]
    info = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    address = info.get("address") or {}
    return {"znode": name, "hostname": address.get("hostname") or info.get("hostname"),
            "ip": address.get("ip"), "port": address.get("port") or info.get("port"), "pid": info.get("pid")}


# ----- Marathon --------------------------------------------------------------------------------

def marathon_leader(status: int, body: str) -> str | None:
    """`GET /v2/leader`: 200 {"leader": "host:port"} → "host:port"; 404 (no leader) → None."""
    if status == 404:
        return None
    if status != 200:
        raise ParseError(f"/v2/leader answered HTTP {status}")
    return json.loads(body)["leader"]


# ----- Kubernetes ------------------------------------------------------------------------------

def _k8s_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def lease_holder(lease: Mapping[str, Any]) -> dict[str, Any]:
    """A coordination.k8s.io/v1 Lease → holder identity, its host, renew time and duration."""
    if lease.get("kind") not in (None, "Lease"):
        raise ParseError(f"expected a Lease, got {lease.get('kind')!r}")
    spec = lease.get("spec") or {}
    holder = spec.get("holderIdentity") or None
    return {
        "holder": holder,
        "holder_host": holder.rsplit("_", 1)[0] if holder else None,  # "<hostname>_<uuid>"
        "acquire_time": _k8s_time(spec.get("acquireTime")),
        "renew_time": _k8s_time(spec.get("renewTime")),
        "lease_duration_seconds": int(spec.get("leaseDurationSeconds", 0)),
        "lease_transitions": int(spec.get("leaseTransitions", 0)),
    }


def lease_valid(lease: Mapping[str, Any], now: datetime) -> bool:
    """Whether the holder still owns the lease at `now` (renewTime + leaseDuration in the future)."""
    if not lease["holder"] or lease["renew_time"] is None:
        return False
    return (now - lease["renew_time"]).total_seconds() < lease["lease_duration_seconds"]


def apiserver_ready(status: int, body: str = "") -> bool:
    """`/readyz`: ready only on HTTP 200 (automation must check the code, not the text)."""
    return status == 200


def new_lease_holder(lease: Mapping[str, Any], old_holder: str | None, now: datetime) -> str | None:
    """The holder identity of a valid lease that is not `old_holder` (a takeover), else None.

    A restarted process on the old leader's host is a new identity (a new uuid): it counts.
    """
    if lease["holder"] and lease["holder"] != old_holder and lease_valid(lease, now):
        return lease["holder"]
    return None


def holder_inventory_host(holder_host: str | None, members: Mapping[str, str]) -> str | None:
    """The inventory host of a Lease holder's hostname: by name, short name or address."""
    if not holder_host:
        return None
    for host, address in members.items():
        if holder_host in (host, address) or host.split(".", 1)[0] == holder_host.split(".", 1)[0]:
            return host
    return None


def choose_endpoint_host(nodes: list[str], control_plane: list[str], avoid: Iterable[str]) -> str | None:
    """The node whose local API endpoint a client writes through: not faulted, a worker if there is one."""
    avoid = set(avoid)
    candidates = [n for n in nodes if n not in avoid]
    workers = [n for n in candidates if n not in control_plane]
    return (workers or candidates or [None])[0]


_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def go_duration_seconds(text: str) -> float:
    """A Go duration flag value (`15s`, `1m0s`, `500ms`, `1h2m3.5s`) in seconds."""
    text = text.strip()
    parts = _GO_DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ParseError(f"not a Go duration: {text!r}")
    return round(sum(float(n) * _GO_UNITS[u] for n, u in parts), 6)


LEADER_ELECTION_DEFAULTS = {"lease-duration": 15.0, "renew-deadline": 10.0, "retry-period": 2.0}


def leader_election_settings(command_line: str) -> dict[str, float]:
    """`--leader-elect-{lease-duration,renew-deadline,retry-period}` from a unit's ExecStart.

    Missing flags take the upstream defaults (15s, 10s, 2s); values are seconds.
    """
    settings = dict(LEADER_ELECTION_DEFAULTS)
    for name in settings:
        match = re.search(rf"--leader-elect-{name}[= ](\S+)", command_line)
        if match:
            settings[name] = go_duration_seconds(match.group(1))
    return settings


# client-go's leader elector retries every retryPeriod with wait.JitterUntil(jitter 1.2): the
# pause between two attempts of a candidate is in [retryPeriod, 2.2 x retryPeriod).
LEADER_ELECTION_JITTER = 1.2


def lease_bounds(lease_duration: float, retry_period: float, renew_deadline: float) -> dict[str, float]:
    """Takeover after a leader dies silently, from the lease settings.

    A candidate judges expiry on its own clock from when it last *saw* the record change (it
    polls every retry period, jittered), so the takeover lands between about leaseDuration -
    retryPeriod after the fault (last renewal just before it, seen at once) and leaseDuration
    plus two jittered retry periods (seen late, then one more attempt).
    """
    jittered = retry_period * (1 + LEADER_ELECTION_JITTER)
    return {
        "lease_duration": lease_duration,
        "lease_duration_plus_retry": lease_duration + retry_period,
        "takeover_worst_case": round(lease_duration + 2 * jittered, 3),
        "old_leader_gives_up_after_renew_deadline": renew_deadline,
    }


def haproxy_settings(config: str) -> dict[str, float]:
    """The health-check and retry settings of an HAProxy config (roles/kube_apiserver_lb), in seconds."""
    out: dict[str, float] = {}
    for raw in config.splitlines():
        words = raw.split("#", 1)[0].split()
        if words[:2] in (["timeout", "connect"], ["timeout", "check"]) and len(words) > 2:
            out[f"timeout_{words[1]}"] = _haproxy_time(words[2])
        elif words[:1] == ["retries"] and len(words) > 1:
            out["retries"] = float(words[1])
        elif words[:1] in (["default-server"], ["server"]):
            for key in ("inter", "fall", "rise"):
                if key in words[:-1]:
                    value = words[words.index(key) + 1]
                    out[key] = _haproxy_time(value) if key == "inter" else float(value)
    return out


def _haproxy_time(value: str) -> float:
    """HAProxy times: a bare number is milliseconds; units us, ms, s, m, h, d."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(us|ms|s|m|h|d)?", value)
    if not match:
        raise ParseError(f"not an HAProxy time: {value!r}")
    scale = {"us": 1e-6, "ms": 1e-3, None: 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
    return float(match.group(1)) * scale[match.group(2)]


def apiserver_lb_bounds(settings: Mapping[str, float]) -> dict[str, float]:
    """What the local load balancer's settings imply for a client when one apiserver goes.

    A refused connection (process gone, host up) is retried and redispatched at once; the
    backend is taken out after `fall` failed checks `inter` apart. A silent backend (partition)
    fails each check only after `timeout check`, and a connection sent to it waits up to
    `timeout connect` per try before the redispatch.
    """
    inter, fall = settings.get("inter", 2.0), settings.get("fall", 3.0)
    check = settings.get("timeout_check", settings.get("timeout_connect", inter))
    out = {"lb_check_interval": inter,
           "lb_backend_down_refused_max": round(inter * fall, 3),
           "lb_backend_down_silent_max": round(fall * (inter + check), 3)}
    if "timeout_connect" in settings:
        out["lb_connect_timeout"] = settings["timeout_connect"]
    return out


def kubeconfig_credentials(config: Mapping[str, Any], context: str | None = None) -> dict[str, Any]:
    """A decoded kubeconfig → server, CA, client certificate and key (PEM bytes) of a context.

    Only embedded data (`*-data`) or file paths are supported; tokens and exec plugins are not.
    """
    def named(kind: str, name: str) -> Mapping[str, Any]:
        for item in config.get(kind) or []:
            if item.get("name") == name:
                return item.get(kind[:-1]) or {}
        raise ParseError(f"kubeconfig has no {kind[:-1]} named {name!r}")

    name = context or config.get("current-context")
    if not name:
        raise ParseError("kubeconfig has no current-context")
    ctx = named("contexts", name)
    cluster, user = named("clusters", ctx.get("cluster", "")), named("users", ctx.get("user", ""))

    def pem(section: Mapping[str, Any], key: str) -> bytes | None:
        if section.get(f"{key}-data"):
            return base64.b64decode(section[f"{key}-data"])
        if section.get(key):
            with open(section[key], "rb") as handle:
                return handle.read()
        return None

    out = {"server": cluster.get("server"), "ca": pem(cluster, "certificate-authority"),
           "cert": pem(user, "client-certificate"), "key": pem(user, "client-key")}
    missing = [k for k in ("server", "cert", "key") if not out[k]]
    if missing:
        raise ParseError(f"kubeconfig context {name!r} lacks {', '.join(missing)} (client certificates only)")
    return out


def kube_ssl_context(credentials: Mapping[str, Any], key_dir: str) -> ssl.SSLContext:
    """A TLS context from kubeconfig_credentials(): trusts its CA, presents its client certificate.

    The certificate and key go to files in key_dir (0600), as ssl can only load a chain from files.
    """
    ca = credentials.get("ca")
    context = ssl.create_default_context(cadata=ca.decode() if ca else None)
    paths = []
    for name in ("cert", "key"):
        path = os.path.join(key_dir, f"kube-client.{name}")
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
            handle.write(credentials[name])
        paths.append(path)
    context.load_cert_chain(*paths)
    return context


def configmap_keys(configmap: Mapping[str, Any]) -> list[str]:
    """The data keys of a ConfigMap (GET /api/v1/namespaces/NS/configmaps/NAME)."""
    if configmap.get("kind") not in (None, "ConfigMap"):
        raise ParseError(f"expected a ConfigMap, got {configmap.get('kind')!r}")
    return sorted((configmap.get("data") or {}).keys())


def pod_scheduled(pod: Mapping[str, Any]) -> str | None:
    """The node a Pod was bound to (spec.nodeName), or None while it is pending scheduling."""
    return (pod.get("spec") or {}).get("nodeName") or None


# ----- quorum safety ---------------------------------------------------------------------------

def quorum_size(members: int) -> int:
    return members // 2 + 1


def fault_decision(system: str, members: int, healthy: int, faulted: int = 1,
                   force: bool = False) -> tuple[bool, str]:
    """May we take `faulted` healthy members down? Refuse when the rest would be below quorum.

    Systems with a quorum (ZooKeeper, etcd, Mesos masters' replicated log) lose writes, or stop
    altogether, without a majority; standby-style systems (Marathon, Kubernetes control plane
    components) need at least one other instance to take over.
    """
    remaining = healthy - faulted
    if system in ("zookeeper", "etcd", "mesos_masters"):
        need = quorum_size(members)
        if remaining < need:
            why = (f"{system}: taking {faulted} of {healthy} healthy members down leaves {remaining}, "
                   f"below the quorum of {need} for {members} members; the cluster would stop "
                   "accepting writes and there would be no new leader to measure")
            return (True, why + " (forced)") if force else (False, why + "; use force=true to do it anyway")
        return True, f"{remaining} of {members} members remain, quorum is {need}"
    if remaining < 1:
        why = f"{system}: no other healthy instance would remain to take over"
        return (True, why + " (forced)") if force else (False, why + "; use force=true to do it anyway")
    return True, f"{remaining} other instance(s) can take over"


# ----- measurement bookkeeping -----------------------------------------------------------------

@dataclass
class WriteAttempt:
    seq: int
    key: str
    started: float
    ended: float
    ok: bool
    error: str = ""


@dataclass
class WriteLog:
    """Every write the client tried during a run, with controller timestamps."""

    attempts: list[WriteAttempt] = field(default_factory=list)

    def record(self, seq: int, key: str, started: float, ended: float, ok: bool, error: str = "") -> None:
        self.attempts.append(WriteAttempt(seq, key, started, ended, ok, error))

    @property
    def acknowledged(self) -> list[WriteAttempt]:
        return [a for a in self.attempts if a.ok]

    def acknowledged_keys(self) -> list[str]:
        return [a.key for a in self.acknowledged]


def write_unavailability(log: WriteLog, fault_at: float) -> dict[str, Any]:
    """Figures of the write outage around a fault injected at `fault_at`.

    - write_unavailable_seconds: the longest time without any acknowledgement, among the gaps
      that end after the fault (a graceful stop takes a while to bite, so the outage does not
      have to start at the fault); None if no write was acknowledged after the fault;
    - first_ack_after_fault_seconds: from the fault to the acknowledgement of the first write
      that started after it;
    - last_failed_write_seconds: from the fault to the end of the last failed write (behind a
      load balancer the outage is a share of failed writes rather than a gap);
    - max_ack_gap_seconds: the longest time between two consecutive acknowledgements overall;
    - failed_writes / write_errors: attempts that were not acknowledged (errors, timeouts).
    """
    acked = sorted(log.acknowledged, key=lambda a: a.ended)
    after = [a for a in acked if a.started >= fault_at]
    first_after = after[0].ended if after else None
    pairs = list(zip(acked, acked[1:], strict=False))
    gaps = [b.ended - a.ended for a, b in pairs]
    # a gap that spans the fault counts from the last acknowledgement before it
    outage = [b.ended - a.ended for a, b in pairs if b.ended >= fault_at]
    errors: dict[str, int] = {}
    for attempt in log.attempts:
        if not attempt.ok:
            kind = attempt.error.split(":", 1)[0] or "error"
            errors[kind] = errors.get(kind, 0) + 1
    failed_after = [a.ended for a in log.attempts if not a.ok and a.ended >= fault_at]
    return {
        "write_unavailable_seconds": round(max(outage), 3) if outage and after else None,
        "last_failed_write_seconds": round(max(failed_after) - fault_at, 3) if failed_after else None,
        "first_ack_after_fault_seconds": None if first_after is None else round(first_after - fault_at, 3),
        "max_ack_gap_seconds": round(max(gaps), 3) if gaps else None,
        "writes_attempted": len(log.attempts),
        "writes_acknowledged": len(acked),
        "failed_writes": len(log.attempts) - len(acked),
        "write_errors": errors,
    }


def lost_writes(acknowledged: Iterable[str], present_by_member: Mapping[str, Iterable[str] | None]
                ) -> dict[str, list[str]]:
    """Acknowledged keys missing on each member that answered (None = member did not answer)."""
    wanted = list(acknowledged)
    lost: dict[str, list[str]] = {}
    for member, present in present_by_member.items():
        if present is None:
            continue
        have = set(present)
        lost[member] = [k for k in wanted if k not in have]
    return lost


def summarize(*, system: str, fault: str, old_leader: str, new_leader: str | None, fault_at: float,
              new_leader_at: float | None, log: WriteLog, lost: Mapping[str, list[str]],
              marker_ok: Mapping[str, bool], rejoined_as: str | None, rejoin_seconds: float | None,
              bounds: Mapping[str, float] | None = None) -> dict[str, Any]:
    """The structured result of one run (numbers with units in the key names)."""
    lost_keys = sorted({k for keys in lost.values() for k in keys})
    result: dict[str, Any] = {
        "system": system,
        "fault": fault,
        "old_leader": old_leader,
        "new_leader": new_leader,
        "time_to_new_leader_seconds": None if new_leader_at is None else round(new_leader_at - fault_at, 3),
        **write_unavailability(log, fault_at),
        "lost_acknowledged_writes": len(lost_keys),
        "lost_acknowledged_write_keys": lost_keys[:20],
        "members_checked": sorted(lost),
        "marker_survived": bool(marker_ok) and all(marker_ok.values()),
        "old_leader_rejoined_as": rejoined_as,
        "old_leader_rejoin_seconds": None if rejoin_seconds is None else round(rejoin_seconds, 3),
        "bounds_seconds": dict(bounds or {}),
    }
    return result


def zookeeper_bounds(tick_time_ms: int, sync_limit: int, init_limit: int,
                     session_timeout_ms: int | None = None) -> dict[str, float]:
    """What ZooKeeper's settings imply (see docs/ha-validation.md)."""
    bounds = {
        "follower_detects_dead_leader": tick_time_ms * sync_limit / 1000,
        "new_leader_sync_limit": tick_time_ms * init_limit / 1000,
    }
    if session_timeout_ms:
        bounds["client_session_timeout"] = session_timeout_ms / 1000
    return bounds


def etcd_bounds(election_timeout_ms: int, heartbeat_ms: int) -> dict[str, float]:
    """Raft randomizes a follower's election timeout in [ET, 2*ET): the worst case is ~2*ET."""
    return {
        "election_timeout": election_timeout_ms / 1000,
        "randomized_election_timeout_max": (2 * election_timeout_ms - 1) / 1000,
        "heartbeat_interval": heartbeat_ms / 1000,
    }


# ----- the report ------------------------------------------------------------------------------

def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def results_table(results: Iterable[Mapping[str, Any]]) -> str:
    """One line per run (a loop of ha_failover results), failed runs with their message."""
    header = ["system", "fault", "old -> new leader", "new leader s", "writes unavail s", "max gap s",
              "acked", "lost", "rejoined (s)", "passed"]
    lines = [header]
    notes: list[str] = []
    runs = list(results)
    for r in runs:
        if r.get("failed") and "time_to_new_leader_seconds" not in r:
            lines.append([_fmt(r.get("system")), _fmt(r.get("fault")), "-", "-", "-", "-", "-", "-", "-", "no"])
            notes.append(f"{r.get('system')}/{r.get('fault')} FAILED: {r.get('msg')}")
            continue
        lines.append([
            _fmt(r.get("system")), _fmt(r.get("fault")), f"{r.get('old_leader')} -> {r.get('new_leader') or '-'}",
            _fmt(r.get("time_to_new_leader_seconds")), _fmt(r.get("write_unavailable_seconds")),
            _fmt(r.get("max_ack_gap_seconds")), _fmt(r.get("writes_acknowledged")),
            _fmt(r.get("lost_acknowledged_writes")),
            f"{_fmt(r.get('old_leader_rejoined_as'))} ({_fmt(r.get('old_leader_rejoin_seconds'))})",
            _fmt(r.get("passed")),
        ])
        notes += [f"{r.get('system')}/{r.get('fault')}: {p}" for p in r.get("problems", [])]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    seen: set[str] = set()
    for r in runs:
        bounds = r.get("bounds_seconds")
        if bounds and r.get("system") not in seen:
            seen.add(r.get("system"))
            text.append(f"{r.get('system')} bounds from settings (s): "
                        + ", ".join(f"{k}={v:g}" for k, v in bounds.items()))
    return "\n".join(text + notes)


RESULT_NOISE = ("invocation", "item", "ansible_loop_var", "changed", "_ansible_no_log")


def clean_results(results: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Loop results without Ansible's bookkeeping keys, for the JSON file."""
    return [{k: v for k, v in r.items() if k not in RESULT_NOISE} for r in results]
