#!/usr/bin/env bash
# Recipe of the lab base image: Debian 12 with systemd, sshd and python3, nothing else a
# role should install itself. Usage: build-base.sh ROOTFS DEBIAN_MIRROR_URL
# Changing this file changes the image tag (the tag is a hash of this recipe).
set -euo pipefail
rootfs="$1"; mirror="$2"
packages=systemd,systemd-sysv,dbus,python3,python3-apt,openssh-server,iproute2,iputils-ping,sudo,procps,ca-certificates,iptables,less
debootstrap --variant=minbase --include="$packages" bookworm "$rootfs" "$mirror" >/dev/null

# Same apt mirror as the machine, so apt-get inside lab hosts works here.
rm -f "$rootfs/etc/apt/sources.list"
cat > "$rootfs/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES

# The account Ansible logs in as; its key is installed per lab by `stackbench lab up`.
chroot "$rootfs" useradd --create-home --shell /bin/bash stackbench
echo 'stackbench ALL=(ALL) NOPASSWD:ALL' > "$rootfs/etc/sudoers.d/stackbench"
chmod 0440 "$rootfs/etc/sudoers.d/stackbench"

# Units that make no sense in a container, and host keys made per container at boot.
for unit in getty@tty1.service console-getty.service systemd-udevd.service \
            systemd-udev-trigger.service systemd-modules-load.service sys-kernel-config.mount \
            apt-daily.timer apt-daily-upgrade.timer; do
  ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done
rm -f "$rootfs"/etc/ssh/ssh_host_*
mkdir -p "$rootfs/etc/systemd/system/ssh.service.d"
cat > "$rootfs/etc/systemd/system/ssh.service.d/host-keys.conf" <<'UNIT'
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
UNIT
echo 'UseDNS no' > "$rootfs/etc/ssh/sshd_config.d/stackbench.conf"
: > "$rootfs/etc/machine-id"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
# An empty package index must look stale, so `apt: cache_valid_time` refreshes it first.
touch -d @0 "$rootfs/var/lib/apt/lists"
