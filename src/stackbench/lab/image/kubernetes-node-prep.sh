#!/bin/sh
# Lab-only: make a container with its own cgroup namespace usable by a kubelet and
# containerd, at every boot (lab-facts: "a Kubernetes node as a container").
# Installed by `stackbench lab up` for hosts of the kubernetes-node profile; roles never
# see it. It never writes the machine's sysctls: values the kubelet wants are bound
# read-only over /proc/sys inside this container, so the kubelet finds them set.
set -eu

# 1. cgroup v1 hierarchies arrive read-only: mount each controller afresh (rw, this
#    namespace's root), and add any hierarchy containerd expects but docker left out.
if [ -d /sys/fs/cgroup/memory ] && ! [ -d /sys/fs/cgroup/unified/cgroup.procs ]; then
  mount -o remount,rw /sys/fs/cgroup 2>/dev/null || true
  for controller in cpu cpuacct cpuset memory devices freezer blkio pids perf_event hugetlb net_cls,net_prio; do
    target="/sys/fs/cgroup/$controller"
    mkdir -p "$target"
    if grep -q " $target cgroup ro," /proc/mounts || ! grep -q " $target cgroup " /proc/mounts; then
      umount -l "$target" 2>/dev/null || true
      # Mounting a hierarchy that no cgroup namespace has mounted yet (perf_event, net_cls on a
      # fresh machine) is refused to this unit at boot; `stackbench lab` runs this script again
      # through docker exec once the host is up, which may create it.
      mounted=no
      mount -t cgroup -o "$controller" cgroup "$target" 2>/dev/null && mounted=yes
      if [ "$mounted" = no ]; then
        case "$controller" in
          perf_event|hugetlb|net_cls,net_prio)  # the kubelet runs without them
            echo "stackbench-node-prep: could not mount cgroup $controller; going on without it" >&2 ;;
          *) mount -t cgroup -o "$controller" cgroup "$target" ;;  # fail with mount's own message
        esac
      fi
    fi
  done
  if grep -q " /sys/fs/cgroup/systemd cgroup ro," /proc/mounts; then
    umount -l /sys/fs/cgroup/systemd && mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd
  fi
  # The kubelet's cgroupRoot, with the cpuset a child needs before it can hold tasks.
  for controller in cpu cpuacct cpuset memory devices freezer blkio pids hugetlb; do
    mkdir -p "/sys/fs/cgroup/$controller/kubelet"
  done
  cat /sys/fs/cgroup/cpuset/cpuset.cpus > /sys/fs/cgroup/cpuset/kubelet/cpuset.cpus
  cat /sys/fs/cgroup/cpuset/cpuset.mems > /sys/fs/cgroup/cpuset/kubelet/cpuset.mems
fi

# 2. Mount propagation the kubelet needs for volumes.
mount --make-rshared /

# 3. /proc/sys is read-only in a container; net.* is per network namespace, so kube-proxy
#    and the CNI plugins may write it (route_localnet, ip_forward) without touching the machine.
if ! grep -q " /proc/sys/net proc rw" /proc/mounts; then
  mount --bind /proc/sys/net /proc/sys/net && mount -o remount,rw,bind /proc/sys/net
fi

# 4. Sysctls the kubelet insists on, shadowed inside this container only.
mkdir -p /run/stackbench-sysctl
for pair in vm/overcommit_memory=1 kernel/panic=10 kernel/panic_on_oops=1; do
  key="${pair%%=*}"; value="${pair#*=}"
  file="/run/stackbench-sysctl/$(echo "$key" | tr / _)"
  echo "$value" > "$file"
  if [ "$(cat "/proc/sys/$key")" != "$value" ]; then
    mount --bind -o ro "$file" "/proc/sys/$key"
  fi
done
