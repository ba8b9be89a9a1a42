#!/usr/bin/env bash
# The whole test suite: setup, linters, unit tests, lab tests, artifacts, every molecule scenario.
# Ends with one line: "summary: N passed, M failed". Exit code 0 only when nothing failed.
#   scripts/test.sh                 everything
#   scripts/test.sh --quick         linters and unit tests only (no lab)
#   scripts/test.sh -s zookeeper    only the named molecule scenario(s) (repeatable) plus lint/unit
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
quick=0; scenarios=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    -s) shift; scenarios+=("$1") ;;
    *) echo "usage: scripts/test.sh [--quick] [-s SCENARIO]..." >&2; exit 2 ;;
  esac
  shift
done

t0=$SECONDS
"$here/scripts/setup.sh" || { echo "summary: 0 passed, 1 failed"; exit 1; }
venv="${STACKBENCH_VENV:-$here/.venv}"
export PATH="$venv/bin:$PATH"
export ANSIBLE_CONFIG="$here/ansible.cfg"
mkdir -p results/test
passed=0; failed=0; failed_names=()
step() {  # step NAME COMMAND...: run, time, count
  local name="$1"; shift
  local start=$SECONDS
  echo "=== $name"
  if "$@"; then
    passed=$((passed + 1)); echo "=== $name: ok ($((SECONDS - start)) s)"
  else
    failed=$((failed + 1)); failed_names+=("$name"); echo "=== $name: FAILED ($((SECONDS - start)) s)"
  fi
}
pytest_step() {  # pytest counts its own tests into the totals
  local name="$1"; shift
  local xml="results/test/$name.xml" start=$SECONDS
  echo "=== $name"
  pytest -q --junitxml="$xml" "$@"
  local rc=$?
  if [ -f "$xml" ]; then
    read -r t f e s < <(python3 -c "import xml.etree.ElementTree as E;r=E.parse('$xml').getroot();r=r if r.tag=='testsuite' else r[0];print(r.get('tests'),r.get('failures'),r.get('errors'),r.get('skipped'))")
    passed=$((passed + t - f - e - s)); failed=$((failed + f + e))
  fi
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ] || [ ! -f "$xml" ]; then
    failed=$((failed + 1)); failed_names+=("$name")
  fi
  echo "=== $name: rc=$rc ($((SECONDS - start)) s)"
}

step ruff ruff check .
step yamllint yamllint -s .
step ansible-lint ansible-lint --profile production --offline -q
pytest_step unit tests/unit
if [ "$quick" = 0 ]; then
  pytest_step lab tests/integration
  [ -d tests/emulators ] && pytest_step emulators tests/emulators
  step artifacts stackbench artifacts build zookeeper etcd emulators images kubernetes coredns
  if [ ${#scenarios[@]} -eq 0 ]; then
    for dir in molecule/*/; do
      name="$(basename "$dir")"
      [ "$name" = resources ] || scenarios+=("$name")
    done
  fi
  for name in "${scenarios[@]}"; do
    step "molecule-$name" molecule test -s "$name"
  done
fi
echo "total time: $((SECONDS - t0)) s"
[ "$failed" -eq 0 ] || echo "failed steps: ${failed_names[*]}"
echo "summary: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
