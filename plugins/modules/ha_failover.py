#!/usr/bin/python
"""Documentation of the ha_failover action plugin (plugins/action/ha_failover.py does the work).

The options below say what the action's ARGUMENT_SPEC says (tests/unit/test_ha_action.py checks).
"""
# Ansible convention: DOCUMENTATION/EXAMPLES/RETURN come before the imports.
# ruff: noqa: E402

from __future__ import annotations

DOCUMENTATION = r"""
module: ha_failover
short_description: Take a cluster's leader down and measure how the cluster fails over
description:
  - Runs on the controller (an action plugin) and uses the inventory's groups and host variables.
  - Finds the leader with the system's own mechanism (ZooKeeper C(mntr); etcd maintenance status
    through the gRPC gateway), refuses a fault that would lose quorum unless O(force=true), writes a
    marker, starts a client that writes throughout, injects the fault on the leader, measures the
    time until the survivors agree on a new leader and until writes are acknowledged again, always
    heals the fault (also when a step fails), checks that the old leader rejoins as a follower, and
    reads the marker and every acknowledged write back from every member.
  - Faults. V(stop) is C(systemctl stop) of the service; V(kill) is C(kill -9) of the service's
    main PID (systemd may restart it after its RestartSec); V(partition) cuts the host off the
    network; for hosts with the inventory variable C(stackbench_lab) it is
    C(stackbench lab partition HOST --lab LAB), for other hosts iptables DROP rules in chains
    C(STACKBENCH-PART-IN/OUT) that keep SSH open so the controller can heal.
  - Host commands go through C(ansible) with the same inventory and connection options (also
    C(-c paramiko)), with privilege escalation.
  - Implemented for V(zookeeper), V(etcd), V(mesos_masters), V(marathon), V(kube_apiserver),
    V(kube_controller_manager) and V(kube_scheduler).
  - Kubernetes, the client. It uses the client certificate of the admin kubeconfig (O(kubeconfig)) and
    writes through the HA endpoint a workload sees, the local load balancer C(127.0.0.1:6543) of a node
    that is not faulted (a worker if there is one), reached over an SSH tunnel with the inventory's SSH
    settings (O(kube_client_via=tunnel)); or, with O(kube_client_via=direct), to the surviving apiservers
    in turn. Each write is a JSON merge patch adding one key to the run's ConfigMap in namespace
    C(stackbench-ha) (the marker is one more key); keys are read back with a GET through each apiserver.
  - Kubernetes apiserver. There is no leader; the fault hits O(target) (default the first host of the
    group); the "new leader" time is until a write started after the fault is acknowledged through the
    endpoint; C(last_failed_write_seconds) shows how long writes kept failing (a load balancer spreads
    them); the old apiserver has rejoined when its C(/readyz) answers 200. Bounds come from the load
    balancer's health-check settings (C(/etc/haproxy/haproxy.cfg) on the node written through).
  - Kubernetes controller manager and scheduler. The leader is the holder of Lease
    C(kube-system/kube-controller-manager) or C(kube-system/kube-scheduler) (C(<hostname>_<uuid>), mapped
    to an inventory host); the fault hits the service on that host; the new leader is the first valid
    lease with another holder identity (a process systemd restarted on the same host is one, and is
    reported as such); bounds come from the lease's C(leaseDurationSeconds) and the service's
    C(--leader-elect-*) flags. For the scheduler a Pod (O(kube_pod_image), zero grace period, deleted
    afterwards) is created right after the fault and C(time_to_pod_scheduled_seconds) is until it is bound.
    The old host has rejoined when its service is active and the lease still is the new holder's.
  - Mesos masters. The leader is the master whose C(/metrics/snapshot) has C(master/elected) and
    C(registrar/log/recovered) at 1; after the fault the run also measures the time until the new
    leader sees all agents active again. There is no client write (no public write API to the
    registry), so the write figures are null.
  - Marathon. The leader comes from C(GET /v2/leader) on each member (standbys proxy it); each
    write creates an app with zero instances (so nothing is launched), the marker is one more
    such app; all of them are deleted afterwards.
version_added: "0.1.0"
author: stackbench
options:
  system:
    description: The clustered system to test.
    type: str
    required: true
    choices: [zookeeper, etcd, mesos_masters, marathon, kube_apiserver, kube_controller_manager, kube_scheduler]
  fault:
    description: What to do to the leader.
    type: str
    choices: [stop, kill, partition]
    default: kill
  group:
    description: Inventory group of the members (default V(zookeeper), V(etcd), ...).
    type: str
  force:
    description: Inject the fault even when the remaining members would be below quorum.
    type: bool
    default: false
  service:
    description: systemd unit of the service on the hosts (default the system's name).
    type: str
  port:
    description:
      - Client port (default 2181 for ZooKeeper, 2379 for etcd, 5050 for Mesos masters, 8080 for Marathon,
        6443 for the Kubernetes apiservers).
    type: int
  target:
    description:
      - V(kube_apiserver) only, the control-plane host whose apiserver the fault hits (default the first of
        the group).
    type: str
  kubeconfig:
    description:
      - Kubernetes systems, a kubeconfig on the controller with client-certificate credentials (embedded or
        file paths); default C(.stackbench/stackbench-kubernetes-admin.kubeconfig) in the project, where
        roles/kubernetes_control_plane writes it.
    type: path
  kube_client_via:
    description:
      - Kubernetes systems, how the writing client reaches the API. V(tunnel) through a node's local load
        balancer over SSH (the HA endpoint as a workload sees it); V(direct) to the surviving apiservers.
    type: str
    choices: [tunnel, direct]
    default: tunnel
  endpoint_host:
    description: With V(tunnel), the node whose local endpoint to write through (default a worker that is not faulted).
    type: str
  endpoint_port:
    description: With V(tunnel), the local load balancer's port on that node.
    type: int
    default: 6543
  kube_pod_image:
    description: V(kube_scheduler) only, image of the Pod that checks scheduling after the fault (empty string to skip).
    type: str
    default: registry.k8s.io/pause:3.10
  timeout_seconds:
    description: How long to wait for a new leader, for writes to succeed again, and for the old leader to rejoin.
    type: float
    default: 90
  baseline_seconds:
    description: How long the client writes before the fault.
    type: float
    default: 2
  settle_seconds:
    description:
      - How long the client keeps writing after writes succeed again (default 3; for V(kube_apiserver) the
        load balancer's worst-case time to take a silent backend out, plus 2, so the window covers it).
    type: float
  write_interval_seconds:
    description:
      - Pause between two writes (default 0.02; 0.1 for Marathon where each write is an app; 0.05 for
        Kubernetes where each write is a new TLS connection).
    type: float
  leader_wait_seconds:
    description:
      - How long to wait for a single leader before giving up with "no single leader to begin with"
        (useful when an earlier fault, for example on the ZooKeeper a system depends on, is still settling).
    type: float
    default: 0
  partition_method:
    description:
      - How to partition. V(auto) uses the lab for hosts with C(stackbench_lab) and iptables otherwise;
        V(iptables) forces the iptables chains (also on lab hosts, to test the real-host path).
    type: str
    choices: [auto, lab, iptables]
    default: auto
  write_timeout_seconds:
    description:
      - How long the client waits for one write to be acknowledged before it gives up and writes the
        next key. It bounds the resolution of the outage figures from below.
    type: float
    default: 1.0
  etcd_ca_cert:
    description: CA certificate on the controller for the etcd client; by default read from a member's O(etcd_pki_dir).
    type: path
  etcd_client_cert:
    description: Client certificate on the controller; by default the member certificate read from a member.
    type: path
  etcd_client_key:
    description: Client key on the controller; by default the member key read from a member (in a private temp dir).
    type: path
  etcd_pki_dir:
    description: Directory on the members with C(ca.crt), C(member.crt) and C(member.key).
    type: path
    default: /etc/etcd/pki
notes:
  - The ZooKeeper client (kazoo) connects to the surviving members only, so the figures measure the
    ensemble, not a client's own detection of a dead server.
  - Timestamps are the controller's clock; the fault time is the host's clock when it agrees with the
    controller's within a second (lab containers share it), otherwise the time the fault command returned.
"""

EXAMPLES = r"""
- name: Kill the ZooKeeper leader and measure the failover
  stackbench.cluster.ha_failover:
    system: zookeeper
    fault: kill
  register: zookeeper_failover

- name: Partition the etcd leader
  stackbench.cluster.ha_failover:
    system: etcd
    fault: partition

- name: Kill the kube-scheduler that holds the lease, writing through worker1's local endpoint
  stackbench.cluster.ha_failover:
    system: kube_scheduler
    fault: kill
    endpoint_host: worker1
"""

RETURN = r"""
old_leader:
  description: Inventory name of the leader the fault hit.
  returned: success
  type: str
new_leader:
  description: Inventory name of the member that took over (null if none did in time).
  returned: success
  type: str
time_to_new_leader_seconds:
  description: From the fault until all answering survivors agreed on a new leader.
  returned: success
  type: float
write_unavailable_seconds:
  description: From the fault until the first write started after it was acknowledged.
  returned: success
  type: float
max_ack_gap_seconds:
  description: Longest time between two consecutive acknowledged writes.
  returned: success
  type: float
writes_attempted:
  description: Writes the client tried.
  returned: success
  type: int
writes_acknowledged:
  description: Writes acknowledged by the cluster.
  returned: success
  type: int
lost_acknowledged_writes:
  description: Acknowledged writes missing on at least one member afterwards (goal 0).
  returned: success
  type: int
marker_survived:
  description: The marker written before the fault is readable on every member.
  returned: success
  type: bool
old_leader_rejoined_as:
  description: Mode of the old leader after healing (follower is expected).
  returned: success
  type: str
old_leader_rejoin_seconds:
  description: From the heal until the old leader was a follower again.
  returned: success
  type: float
last_failed_write_seconds:
  description: From the fault to the end of the last failed write (null when none failed).
  returned: success
  type: float
time_to_pod_scheduled_seconds:
  description: V(kube_scheduler), from the fault until the Pod created after it was bound to a node.
  returned: system is kube_scheduler
  type: float
lease_acquired_after_fault_seconds:
  description: Kubernetes lease systems, the new holder's C(acquireTime) minus the fault time.
  returned: system is kube_controller_manager or kube_scheduler
  type: float
bounds_seconds:
  description: >-
    Bounds implied by the running settings (ZooKeeper tickTime x syncLimit, session timeout;
    etcd election timeout; Kubernetes lease duration and retry period, the load balancer's checks).
  returned: success
  type: dict
problems:
  description: What did not go as expected (empty when passed).
  returned: success
  type: list
  elements: str
passed:
  description: No problems.
  returned: success
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule


def main() -> None:
    module = AnsibleModule(argument_spec={}, supports_check_mode=True)
    # Reached only when the module is run without its action plugin (not by its full name).
    module.fail_json(msg="ha_failover runs on the controller as the action plugin stackbench.cluster.ha_failover: "
                         "call the module by that name")


if __name__ == "__main__":
    main()
