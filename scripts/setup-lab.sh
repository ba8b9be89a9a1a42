#!/usr/bin/env bash
# The lab part of the setup, which only the local container lab and the artifact builds need:
# Debian packages, Go, the Docker daemon and the lab images. Run scripts/setup-controller.sh
# first (scripts/setup.sh runs both). Idempotent: each step is skipped when done.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${STACKBENCH_VENV:-$here/.venv}"
die() { printf 'error: %s\n  hint: %s\n' "$1" "$2" >&2; exit 1; }
log() { printf '[setup %(%H:%M:%S)T] %s\n' -1 "$*"; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

[ -x "$venv/bin/stackbench" ] || die "no stackbench in $venv" "run scripts/setup-controller.sh first (scripts/setup.sh runs both parts)"

# 1. Debian packages: Docker, debootstrap and iptables for the lab hosts, a C toolchain, git and
#    curl for the artifact builders, ssh to reach the lab hosts.
debian_packages=(docker.io debootstrap iptables openssh-client gcc libc6-dev dpkg-dev git curl)
if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
  die "the lab needs a Debian machine (no dpkg-query/apt-get here)" "elsewhere, use -i INVENTORY with hosts of your own"
fi
missing=()
for pkg in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
    || die "could not install ${missing[*]} with apt-get" "run: sudo apt-get install ${missing[*]}"
fi

command -v go >/dev/null || die "Go is not installed (etcd and Kubernetes are built from Go modules)" \
                                "install Go 1.26 from https://go.dev/dl/ and put its bin/ on PATH"

# 2. The Docker daemon (no init system starts it on these machines).
if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
  as_root sh -c 'nohup dockerd >/var/log/stackbench-dockerd.log 2>&1 &'
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || die "dockerd did not start" "see /var/log/stackbench-dockerd.log"
fi

# 3. The inotify budget: every systemd lab host holds several instances, and scripts/test.sh
#    runs two labs at once (128, a common default, is about 15 plain hosts). Raised, never lowered.
inotify=/proc/sys/fs/inotify/max_user_instances
if [ "$(cat "$inotify" 2>/dev/null || echo 1024)" -lt 1024 ]; then
  log "raising fs.inotify.max_user_instances from $(cat "$inotify") to 1024 for the lab hosts"
  as_root sh -c "echo 1024 > $inotify" 2>/dev/null \
    || log "could not raise it: run fewer labs at once (STACKBENCH_TEST_JOBS=1 scripts/test.sh)"
fi

# 4. Lab images (base: systemd+sshd+python3; mirror: base+nginx), cached by recipe hash.
"$venv/bin/stackbench" lab images
