#!/usr/bin/env bash
# Time playbooks/capacity.yml against an inventory and keep its timings next to the report.
#
#   scripts/bench-capacity.sh INVENTORY [extra ansible-playbook args, e.g. -c paramiko]
#
# Writes results/capacity-<ts>.{json,csv} (the playbook) and results/timings-capacity-<ts>.json
# (the stackbench.cluster.timings callback), and prints the wall-clock duration.
set -euo pipefail
cd "$(dirname "$0")/.."
inventory=${1:?usage: $0 INVENTORY [ansible-playbook args]}
shift
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p results
export STACKBENCH_TIMINGS_FILE="results/timings-capacity-${stamp}.json"
# by collection name, like src/stackbench/runner.py (ansible.cfg's collections_path finds the collection)
export ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks,stackbench.cluster.timings"
start=$(date +%s.%N)
ansible-playbook -i "$inventory" playbooks/capacity.yml "$@"
end=$(date +%s.%N)
hosts=$(ansible-inventory -i "$inventory" --list | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d.get("_meta",{}).get("hostvars",{})))')
python3 -c "import sys; print(f\"capacity.yml: {sys.argv[1]} hosts in {float(sys.argv[3]) - float(sys.argv[2]):.1f} s (timings: {sys.argv[4]})\")" "$hosts" "$start" "$end" "$STACKBENCH_TIMINGS_FILE"
