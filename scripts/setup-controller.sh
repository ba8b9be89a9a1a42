#!/usr/bin/env bash
# The controller part of the setup, which every stackbench command needs: a venv from
# requirements.lock with this checkout installed in it (editable), and the checkout linked as
# the collection stackbench.cluster. Needs python3 with venv only (no Docker, Go or compiler);
# idempotent, and fast when nothing changed. scripts/setup-lab.sh adds what the lab needs.
#   STACKBENCH_VENV=DIR         the venv (default: .venv in the checkout)
#   STACKBENCH_WHEELHOUSE=DIR_OR_URL   install from these wheels only, never from PyPI (offline
#                               controllers; make one with: pip download -d DIR -r requirements.lock 'setuptools>=68')
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${STACKBENCH_VENV:-$here/.venv}"
log() { printf '[setup %(%H:%M:%S)T] %s\n' -1 "$*"; }
die() { printf 'error: %s\n  hint: %s\n' "$1" "$2" >&2; exit 1; }

# 1. What the venv cannot bring: Python itself with its venv module, and ssh (Ansible's transport).
command -v python3 >/dev/null || die "python3 is not installed" "sudo apt-get install python3 python3-venv"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "python3 is $(python3 -c 'import platform; print(platform.python_version())'), stackbench needs 3.11 or newer" \
         "use a newer python3 (Debian 12 has 3.11)"
# Debian splits ensurepip out of python3: without python3-venv, `python3 -m venv` makes no pip.
python3 -c 'import venv, ensurepip' 2>/dev/null \
  || die "python3 -m venv is unavailable (no ensurepip module)" "sudo apt-get install python3-venv"
command -v ssh >/dev/null \
  || printf 'warning: ssh is not installed; Ansible reaches every host over SSH\n  hint: sudo apt-get install openssh-client\n' >&2

# 2. The venv, reinstalled only when requirements.lock or pyproject.toml change.
stamp="$venv/.stackbench-lock-hash"
want="$(cat "$here/requirements.lock" "$here/pyproject.toml" | sha256sum | cut -c1-16)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  pip_source=()
  if [ -n "${STACKBENCH_WHEELHOUSE:-}" ]; then
    pip_source=(--no-index --find-links "$STACKBENCH_WHEELHOUSE")  # also used for the build backend
    log "creating venv $venv from the wheelhouse $STACKBENCH_WHEELHOUSE"
  else
    log "creating venv $venv"
  fi
  python3 -m venv "$venv" || die "python3 -m venv $venv failed" "remove $venv and run this again"
  pip=("$venv/bin/pip" install -q --disable-pip-version-check "${pip_source[@]}")
  "${pip[@]}" -r "$here/requirements.lock" \
    || die "could not install requirements.lock into $venv" \
           "check the network or the wheelhouse (STACKBENCH_WHEELHOUSE=${STACKBENCH_WHEELHOUSE:-unset})"
  "${pip[@]}" --no-deps -e "$here" || die "could not install $here into $venv" "see pip's message above"
  echo "$want" > "$stamp"
fi

# 3. This checkout as the collection stackbench.cluster, the way Ansible and Python import it
#    (an editable install: collections/ansible_collections/stackbench/cluster links to the root,
#    and a .pth puts collections/ on the venv's path, where ansible-core also scans for collections).
mkdir -p "$here/collections/ansible_collections/stackbench"
ln -sfn ../../.. "$here/collections/ansible_collections/stackbench/cluster"
site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
pth="$site/stackbench-collection.pth"
[ "$(cat "$pth" 2>/dev/null)" = "$here/collections" ] || echo "$here/collections" > "$pth"
