#!/usr/bin/env bash
# The whole machine setup: the controller part (venv, the checkout as the collection) and the
# lab part (Debian packages, Go, Docker, lab images). Safe to run any number of times; each
# step is skipped when done. The parts alone: scripts/setup-controller.sh, scripts/setup-lab.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
t0=$SECONDS
"$here/scripts/setup-controller.sh"
"$here/scripts/setup-lab.sh"
printf '[setup %(%H:%M:%S)T] %s\n' -1 "setup done in $((SECONDS - t0)) s"
