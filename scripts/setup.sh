#!/usr/bin/env bash
# Idempotent machine setup for stackbench: Debian packages, the Docker daemon, the venv,
# and the lab images. Safe to run any number of times; each step is skipped when done.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${STACKBENCH_VENV:-$here/.venv}"
log() { printf '[setup %(%H:%M:%S)T] %s\n' -1 "$*"; }
t0=$SECONDS

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# 1. Debian packages the lab and the artifact builders need.
debian_packages=(docker.io debootstrap iptables openssh-client gcc libc6-dev dpkg-dev git curl)
missing=()
for pkg in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
    || { echo "error: could not install ${missing[*]} with apt-get" >&2; exit 1; }
fi

command -v go >/dev/null || { echo "error: Go is not installed (etcd and Kubernetes are built from Go modules)" >&2; exit 1; }

# 2. The Docker daemon (no init system starts it on these machines).
if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
  as_root sh -c 'nohup dockerd >/var/log/stackbench-dockerd.log 2>&1 &'
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "error: dockerd did not start; see /var/log/stackbench-dockerd.log" >&2; exit 1; }
fi

# 3. The venv, reinstalled only when requirements.lock or pyproject.toml change.
stamp="$venv/.stackbench-lock-hash"
want="$(cat "$here/requirements.lock" "$here/pyproject.toml" | sha256sum | cut -c1-16)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "creating venv $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.lock"
  "$venv/bin/pip" install -q --disable-pip-version-check --no-deps -e "$here"
  echo "$want" > "$stamp"
fi

# 4. This checkout as the collection stackbench.cluster, the way Ansible and Python import it
#    (an editable install: collections/ansible_collections/stackbench/cluster links to the root,
#    and a .pth puts collections/ on the venv's path, where ansible-core also scans for collections).
mkdir -p "$here/collections/ansible_collections/stackbench"
ln -sfn ../../.. "$here/collections/ansible_collections/stackbench/cluster"
site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$here/collections" > "$site/stackbench-collection.pth"

# 5. Lab images (base: systemd+sshd+python3; mirror: base+nginx), cached by recipe hash.
"$venv/bin/stackbench" lab images
log "setup done in $((SECONDS - t0)) s"
