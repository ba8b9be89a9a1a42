"""The container lab: hosts that behave like small VMs (systemd, sshd, real SSH logins).

Everything the lab makes carries the label `io.stackbench.lab=<lab name>`, so `down`
removes exactly what `up` made and nothing else.
"""

from __future__ import annotations

import io
import ipaddress
import json
import os
import socket
import subprocess
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import docker.types
import yaml

from stackbench.errors import StackbenchError
from stackbench.lab import images
from stackbench.lab.topology import HostSpec, Topology
from stackbench.paths import REPO_ROOT, lab_state_dir

LABEL = "io.stackbench.lab"
MIRROR_NAME = "stackbench-mirror"
MIRROR_LABEL_VALUE = "mirror"
LAB_USER = "stackbench"
SUBNET_POOL = ipaddress.ip_network("172.29.0.0/16")
INVENTORY_DIR = REPO_ROOT / "inventories" / "lab"

# From lab-facts: what a systemd container needs here (never --privileged).
SYSTEMD_HOST_OPTIONS: dict[str, Any] = {
    "cap_add": ["SYS_ADMIN", "NET_ADMIN"],
    "security_opt": ["seccomp=unconfined", "apparmor=unconfined"],
    "cgroupns": "host",
    "volumes": {"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"}},
    "tmpfs": {"/run": "", "/run/lock": "", "/tmp": ""},
    "stop_signal": "SIGRTMIN+3",
}
# A Kubernetes node: its own cgroup namespace and /dev/kmsg (lab-facts node recipe).
KUBERNETES_NODE_OPTIONS: dict[str, Any] = {
    "cap_add": ["SYS_ADMIN", "NET_ADMIN", "NET_RAW", "SYS_PTRACE", "SYSLOG"],
    "security_opt": ["seccomp=unconfined", "apparmor=unconfined"],
    "cgroupns": "private",
    "devices": ["/dev/kmsg:/dev/kmsg:rwm"],
    "tmpfs": {"/run": "", "/run/lock": "", "/tmp": ""},
    "stop_signal": "SIGRTMIN+3",
}
PROFILE_OPTIONS = {"systemd": SYSTEMD_HOST_OPTIONS, "kubernetes-node": KUBERNETES_NODE_OPTIONS}


@dataclass
class HostStatus:
    name: str
    container: str
    state: str
    address: str
    groups: list[str]
    connected: bool


def _node_prep_archive() -> bytes:
    """The boot-time unit that readies a kubernetes-node container (cgroups, sysctls, mounts)."""
    recipe = Path(images.RECIPE_DIR)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for source, target, mode in (
            ("kubernetes-node-prep.sh", "usr/local/sbin/stackbench-node-prep", 0o755),
            ("stackbench-node-prep.service", "etc/systemd/system/stackbench-node-prep.service", 0o644),
        ):
            data = (recipe / source).read_bytes()
            info = tarfile.TarInfo(target)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("etc/systemd/system/sysinit.target.wants/stackbench-node-prep.service")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/systemd/system/stackbench-node-prep.service"
        tar.addfile(link)
    return buffer.getvalue()


def docker_client() -> docker.DockerClient:
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        raise StackbenchError(f"Docker is not reachable: {exc}", "run scripts/setup.sh (it starts dockerd)") from exc
    return client


def inotify_instances(proc: Path = Path("/proc")) -> tuple[int, int]:
    """(instances open on this machine, the per-user limit); systemd hosts each hold several."""
    try:
        limit = int((proc / "sys/fs/inotify/max_user_instances").read_text())
    except (OSError, ValueError):
        return 0, 0
    used = 0
    for fd_dir in proc.glob("[0-9]*/fd"):
        try:
            used += sum(1 for fd in fd_dir.iterdir() if os.readlink(fd) == "anon_inode:inotify")
        except OSError:
            continue
    return used, limit


def subnet_overlaps(candidate: ipaddress.IPv4Network, taken: list[ipaddress.IPv4Network]) -> bool:
    return any(candidate.overlaps(net) for net in taken)


def taken_subnets(client: docker.DockerClient) -> list[ipaddress.IPv4Network]:
    """Subnets already in use by docker networks or by the machine's own routes."""
    taken: list[ipaddress.IPv4Network] = []
    for net in client.networks.list():
        for cfg in (net.attrs.get("IPAM") or {}).get("Config") or []:
            if "Subnet" in cfg and ":" not in cfg["Subnet"]:
                taken.append(ipaddress.ip_network(cfg["Subnet"], strict=False))
    routes = subprocess.run(["ip", "-4", "route", "show"], capture_output=True, text=True, check=False).stdout
    for line in routes.splitlines():
        first = line.split()[0] if line.split() else ""
        if "/" in first:
            taken.append(ipaddress.ip_network(first, strict=False))
    return taken


def pick_subnet(taken: list[ipaddress.IPv4Network], requested: str | None = None) -> ipaddress.IPv4Network:
    if requested:
        try:
            subnet = ipaddress.ip_network(requested, strict=True)
        except ValueError as exc:
            raise StackbenchError(f"--subnet {requested!r} is not a network address: {exc}") from exc
        if subnet.prefixlen > 28:
            raise StackbenchError(f"--subnet {requested} is too small", "use a /28 or larger")
        clash = [str(n) for n in taken if subnet.overlaps(n)]
        if clash:
            raise StackbenchError(
                f"--subnet {requested} clashes with {', '.join(clash)} already in use on this machine",
                "choose a free range, or leave --subnet out and the lab picks one",
            )
        return subnet
    for candidate in SUBNET_POOL.subnets(new_prefix=24):
        if not subnet_overlaps(candidate, taken):
            return candidate
    raise StackbenchError(f"no free /24 left in {SUBNET_POOL}", "give --subnet with a free range")


class Lab:
    def __init__(self, name: str, client: docker.DockerClient | None = None,
                 log: Callable[[str], None] = print) -> None:
        if not name or not name.replace("-", "").isalnum():
            raise StackbenchError(f"bad lab name {name!r}", "use letters, digits and '-'")
        self.name = name
        self.client = client or docker_client()
        self.log = log
        self.state = lab_state_dir(name)
        self.key_path = self.state / "id_ed25519"

    # ----- names ---------------------------------------------------------------------------
    @property
    def network_name(self) -> str:
        return f"stackbench-{self.name}"

    def container_name(self, host: str) -> str:
        return f"{self.name}-{host}"

    @property
    def inventory_path(self) -> Path:
        return INVENTORY_DIR / f"{self.name}.yml"

    def _containers(self) -> list[Any]:
        return self.client.containers.list(all=True, filters={"label": f"{LABEL}={self.name}"})

    def _network(self) -> Any | None:
        nets = self.client.networks.list(names=[self.network_name], filters={"label": f"{LABEL}={self.name}"})
        return nets[0] if nets else None

    def exists(self) -> bool:
        return bool(self._containers()) or self._network() is not None

    # ----- up ------------------------------------------------------------------------------
    def up(self, topology: Topology, subnet: str | None = None,
           instance_config: Path | None = None) -> Path:
        topology.validate()
        if self.exists():
            raise StackbenchError(f"lab {self.name!r} already exists",
                                  f"use it, or remove it first with: stackbench lab down --lab {self.name}")
        base, mirror_image = images.ensure_images(self.client, self.log)
        started = time.monotonic()
        try:
            network = self._create_network(subnet)
            addresses = self._address_plan(network, topology)
            for host in topology.hosts:
                self._run_host(base, host, addresses[host.name])
            self._ensure_key()
            for host in topology.hosts:
                self._wait_and_authorize(host.name, addresses[host.name])
            self.ensure_mirror(mirror_image)
            path = self.write_inventory(topology, addresses)
            if instance_config:
                self.write_instance_config(instance_config, topology, addresses)
        except BaseException:
            self.log(f"lab {self.name}: up failed, removing what it made")
            self.down(quiet=True)
            raise
        self.log(f"lab {self.name}: {len(topology.hosts)} hosts up in {time.monotonic() - started:.0f} s; "
                 f"inventory {path}")
        return path

    def _create_network(self, subnet: str | None) -> Any:
        chosen = pick_subnet(taken_subnets(self.client), subnet)
        ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=str(chosen))])
        return self.client.networks.create(self.network_name, driver="bridge", ipam=ipam,
                                           labels={LABEL: self.name})

    @staticmethod
    def _address_plan(network: Any, topology: Topology) -> dict[str, str]:
        subnet = ipaddress.ip_network(network.attrs["IPAM"]["Config"][0]["Subnet"])
        hosts = list(subnet.hosts())
        # .1 is the gateway; the mirror takes whatever docker gives it.
        return {spec.name: str(hosts[10 + i]) for i, spec in enumerate(topology.hosts)}

    def _run_host(self, image: str, host: HostSpec, address: str) -> None:
        options = dict(PROFILE_OPTIONS[host.profile])
        if host.profile == "kubernetes-node":
            # containerd's overlayfs snapshots cannot sit on the container's own overlay root.
            volume = self.client.volumes.create(f"{self.container_name(host.name)}-containerd",
                                                labels={LABEL: self.name})
            options["volumes"] = {volume.name: {"bind": "/var/lib/containerd", "mode": "rw"}}
        container = self.client.containers.create(
            image,
            name=self.container_name(host.name),
            hostname=host.name,
            labels={LABEL: self.name, f"{LABEL}.host": host.name, f"{LABEL}.groups": ",".join(host.groups),
                    f"{LABEL}.profile": host.profile, f"{LABEL}.address": address},
            detach=True,
            network=None,
            **options,
        )
        if host.profile == "kubernetes-node":
            container.put_archive("/", _node_prep_archive())
        self.client.api.disconnect_container_from_network(container.id, "bridge")
        self.client.api.connect_container_to_network(
            container.id, self.network_name, ipv4_address=address, aliases=[host.name]
        )
        container.start()

    def _ensure_key(self) -> None:
        if not self.key_path.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"stackbench-lab-{self.name}",
                            "-f", str(self.key_path)], check=True)

    def _wait_and_authorize(self, host: str, address: str, timeout: float = 180) -> None:
        container = self.client.containers.get(self.container_name(host))
        self._check_booted(container)
        public_key = self.key_path.with_suffix(".pub").read_text().strip()
        script = (
            f"install -d -m 0700 -o {LAB_USER} -g {LAB_USER} /home/{LAB_USER}/.ssh && "
            f"echo '{public_key}' > /home/{LAB_USER}/.ssh/authorized_keys && "
            f"chown {LAB_USER}: /home/{LAB_USER}/.ssh/authorized_keys && "
            f"chmod 0600 /home/{LAB_USER}/.ssh/authorized_keys"
        )
        result = container.exec_run(["sh", "-c", script])
        if result.exit_code != 0:
            raise StackbenchError(f"could not install the lab key on {host}: {result.output.decode()}")
        self._finish_node_prep(container)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._ssh_ok(address):
                return
            time.sleep(0.5)
        raise StackbenchError(f"host {host} ({address}) did not answer SSH within {timeout:.0f} s",
                              f"look inside: docker exec -it {self.container_name(host)} journalctl -b")

    def _finish_node_prep(self, container: Any) -> None:
        """Mount, from outside the node's init, the optional cgroup hierarchies its boot-time prep
        could not (see kubernetes-node-prep.sh); best effort, the kubelet runs without them."""
        if container.labels.get(f"{LABEL}.profile") != "kubernetes-node":
            return
        script = ("while [ \"$(systemctl is-active stackbench-node-prep)\" = activating ]; do sleep 0.2; done; "
                  "for c in perf_event net_cls,net_prio; do t=/sys/fs/cgroup/$c; "
                  "grep -q \" $t cgroup rw,\" /proc/mounts || "
                  "{ umount -l $t 2>/dev/null; mkdir -p $t; mount -t cgroup -o $c cgroup $t; }; done; true")
        container.exec_run(["sh", "-c", script])

    def _check_booted(self, container: Any, timeout: float = 10) -> None:
        """Fail with systemd's own last words when a host's init exits at boot."""
        deadline = time.monotonic() + timeout
        while True:
            container.reload()
            if container.status == "running" and container.exec_run(["true"]).exit_code == 0:
                return
            if container.status in ("exited", "dead") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        last_words = container.logs(tail=5).decode(errors="replace").strip().splitlines()
        reason = last_words[-1].strip() if last_words else f"its init exited ({container.status})"
        hint = f"docker logs {container.name}"
        used, limit = inotify_instances()
        if limit and used >= limit - 8:
            hint = (f"{used} of the machine's {limit} inotify instances (fs.inotify.max_user_instances) are in "
                    "use, and systemd needs some to boot: remove labs you no longer need "
                    "(stackbench lab down --lab NAME)")
        raise StackbenchError(f"host {container.name} stopped while booting: {reason}", hint)

    def _ssh_ok(self, address: str) -> bool:
        try:
            with socket.create_connection((address, 22), timeout=1):
                pass
        except OSError:
            return False
        probe = subprocess.run(
            ["ssh", *self.ssh_options(), f"{LAB_USER}@{address}", "true"],
            capture_output=True, timeout=20, check=False,
        )
        return probe.returncode == 0

    def ssh_options(self) -> list[str]:
        return ["-i", str(self.key_path), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5"]

    # ----- the artifact mirror (shared by every lab on this machine) ------------------------
    def ensure_mirror(self, image: str | None = None) -> str:
        from stackbench.paths import mirror_dir

        image = image or images.build_mirror_image(self.client, self.log)
        try:
            mirror = self.client.containers.get(MIRROR_NAME)
            existing = {net.id for net in self.client.networks.list()}
            stale = [name for name, net in mirror.attrs["NetworkSettings"]["Networks"].items()
                     if net.get("NetworkID") and net["NetworkID"] not in existing]
            if mirror.image.tags and image not in mirror.image.tags or stale:
                # A stopped mirror still attached to a removed network (a lab that died with the
                # machine) cannot start again; a new one costs a second.
                self.log("mirror image changed or its networks are gone: recreating the mirror")
                mirror.remove(force=True)
                raise docker.errors.NotFound("recreate")
        except docker.errors.NotFound:
            mirror = self.client.containers.create(
                image, name=MIRROR_NAME, hostname=MIRROR_NAME, detach=True,
                labels={LABEL: MIRROR_LABEL_VALUE},
                volumes={**SYSTEMD_HOST_OPTIONS["volumes"], str(mirror_dir()): {"bind": "/srv/mirror", "mode": "ro"}},
                **{k: v for k, v in SYSTEMD_HOST_OPTIONS.items() if k != "volumes"},
            )
        mirror.reload()
        # Every lab network, not only ours: a recreated mirror must stay reachable from running labs.
        wanted = {net.name for net in self.client.networks.list(filters={"label": LABEL})} | {self.network_name}
        for network in sorted(wanted - set(mirror.attrs["NetworkSettings"]["Networks"])):
            self.client.api.connect_container_to_network(mirror.id, network, aliases=[MIRROR_NAME])
        if mirror.status != "running":
            mirror.start()
        mirror.reload()
        address = mirror.attrs["NetworkSettings"]["Networks"][self.network_name]["IPAddress"]
        self._wait_http(address)
        return address

    @staticmethod
    def _wait_http(address: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((address, 80), timeout=1):
                    return
            except OSError:
                time.sleep(0.5)
        raise StackbenchError(f"the artifact mirror at {address} did not start serving",
                              f"docker exec {MIRROR_NAME} journalctl -u nginx")

    def _release_mirror(self) -> None:
        try:
            mirror = self.client.containers.get(MIRROR_NAME)
        except docker.errors.NotFound:
            return
        networks = set(mirror.attrs["NetworkSettings"]["Networks"])
        if self.network_name in networks:
            self.client.api.disconnect_container_from_network(mirror.id, self.network_name, force=True)
            networks.discard(self.network_name)
        if not networks - {"bridge"}:
            mirror.remove(force=True)

    # ----- inventories ---------------------------------------------------------------------
    def write_inventory(self, topology: Topology, addresses: dict[str, str]) -> Path:
        hosts = {
            spec.name: {"ansible_host": addresses[spec.name]} for spec in topology.hosts
        }
        children = {group: {"hosts": {h: {} for h in members}} for group, members in topology.groups().items()}
        inventory = {
            "all": {
                "hosts": hosts,
                "children": children,
                "vars": {
                    "ansible_user": LAB_USER,
                    "ansible_ssh_private_key_file": str(self.key_path),
                    "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
                    "stackbench_lab": self.name,
                    "stackbench_lab_container_prefix": f"{self.name}-",
                },
            }
        }
        INVENTORY_DIR.mkdir(parents=True, exist_ok=True)
        header = f"# Written by `stackbench lab up --lab {self.name}`; removed by `lab down`.\n"
        self.inventory_path.write_text(header + yaml.safe_dump(inventory, sort_keys=False))
        return self.inventory_path

    def write_instance_config(self, path: Path, topology: Topology, addresses: dict[str, str]) -> None:
        """Molecule's delegated-driver instance config, so molecule reaches the hosts over SSH."""
        config = [
            {"instance": spec.name, "address": addresses[spec.name], "user": LAB_USER, "port": 22,
             "identity_file": str(self.key_path), "become_method": "sudo"}
            for spec in topology.hosts
        ]
        path.write_text(yaml.safe_dump(config, sort_keys=False))

    # ----- down ----------------------------------------------------------------------------
    def down(self, quiet: bool = False) -> int:
        containers = self._containers()
        for container in containers:
            container.remove(force=True, v=True)
        self._release_mirror()
        network = self._network()
        if network is not None:
            network.remove()
        for volume in self.client.volumes.list(filters={"label": f"{LABEL}={self.name}"}):
            volume.remove(force=True)
        if self.inventory_path.exists():
            self.inventory_path.unlink()
        if not quiet:
            self.log(f"lab {self.name}: removed {len(containers)} containers and network {self.network_name}")
        return len(containers)

    # ----- faults --------------------------------------------------------------------------
    def _host(self, host: str) -> Any:
        try:
            container = self.client.containers.get(self.container_name(host))
        except docker.errors.NotFound:
            known = ", ".join(sorted(c.labels.get(f"{LABEL}.host", "?") for c in self._containers())) or "none"
            raise StackbenchError(f"unknown host {host!r} in lab {self.name!r}", f"hosts: {known}") from None
        if container.labels.get(LABEL) != self.name:
            raise StackbenchError(f"container {container.name} does not belong to lab {self.name!r}")
        return container

    def stop(self, host: str) -> None:
        self._host(host).stop(timeout=20)

    def start(self, host: str) -> None:
        container = self._host(host)
        container.start()
        self._wait_ssh_only(container)
        self._finish_node_prep(container)

    def kill(self, host: str) -> None:
        self._host(host).kill(signal="SIGKILL")

    def partition(self, host: str) -> None:
        container = self._host(host)
        container.reload()
        if self.network_name in container.attrs["NetworkSettings"]["Networks"]:
            self.client.api.disconnect_container_from_network(container.id, self.network_name, force=True)

    def heal(self, host: str) -> None:
        container = self._host(host)
        container.reload()
        if self.network_name not in container.attrs["NetworkSettings"]["Networks"]:
            self.client.api.connect_container_to_network(
                container.id, self.network_name, ipv4_address=container.labels[f"{LABEL}.address"],
                aliases=[container.labels[f"{LABEL}.host"]],
            )

    def _wait_ssh_only(self, container: Any, timeout: float = 90) -> None:
        address = container.labels[f"{LABEL}.address"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._ssh_ok(address):
                return
            time.sleep(0.5)
        raise StackbenchError(f"{container.name} did not answer SSH after start")

    def status(self) -> list[HostStatus]:
        rows = []
        for container in sorted(self._containers(), key=lambda c: c.name):
            networks = container.attrs["NetworkSettings"]["Networks"]
            rows.append(HostStatus(
                name=container.labels.get(f"{LABEL}.host", container.name),
                container=container.name,
                state=container.status,
                address=container.labels.get(f"{LABEL}.address", ""),
                groups=[g for g in container.labels.get(f"{LABEL}.groups", "").split(",") if g],
                connected=self.network_name in networks,
            ))
        return rows


def list_labs(client: docker.DockerClient) -> list[str]:
    labs = {c.labels[LABEL] for c in client.containers.list(all=True, filters={"label": LABEL})}
    labs |= {n.attrs["Labels"][LABEL] for n in client.networks.list(filters={"label": LABEL})}
    labs.discard(MIRROR_LABEL_VALUE)
    return sorted(labs)


def status_json(lab: Lab) -> str:
    return json.dumps([row.__dict__ for row in lab.status()], indent=2)
