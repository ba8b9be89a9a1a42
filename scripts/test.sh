#!/usr/bin/env bash
# The whole test suite: setup, linters, unit tests, lab tests, artifacts, every molecule scenario.
# Ends with one line: "summary: N passed, M failed". Exit code 0 only when nothing failed.
#   scripts/test.sh                 everything
#   scripts/test.sh --quick         linters and unit tests only (no lab)
#   scripts/test.sh -s zookeeper    only the named molecule scenario(s) (repeatable) plus lint/unit
#   STACKBENCH_TEST_JOBS=1 scripts/test.sh    one step at a time (default: 2 at once)
#
# After the quick linters, the steps run from one queue, STACKBENCH_TEST_JOBS at a time: much of
# a scenario is waiting on hosts (boots, elections, health checks), which another step can use.
# Each step's output goes to results/test/<step>.log and is printed whole when the step ends.
# A molecule scenario starts once its stack's artifacts are built; the lab tests build what they
# need themselves (builds of one component wait for each other).
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
jobs="${STACKBENCH_TEST_JOBS:-2}"

t0=$SECONDS
"$here/scripts/setup.sh" || { echo "summary: 0 passed, 1 failed"; exit 1; }
venv="${STACKBENCH_VENV:-$here/.venv}"
export PATH="$venv/bin:$PATH"
export ANSIBLE_CONFIG="$here/ansible.cfg"
out="$here/results/test"
mkdir -p "$out"
rm -f "$out"/*.count "$out"/queue.next

step() {  # step NAME COMMAND...: run and time it; writes "passed failed" to NAME.count
  local name="$1"; shift
  local start=$SECONDS rc=0
  echo "=== $name"
  "$@" || rc=$?
  if [ "$rc" -eq 0 ]; then echo "=== $name: ok ($((SECONDS - start)) s)"; echo "1 0" >"$out/$name.count"
  else echo "=== $name: FAILED ($((SECONDS - start)) s)"; echo "0 1 $name" >"$out/$name.count"; fi
}
pytest_step() {  # pytest counts its own tests into the totals
  local name="$1"; shift
  local xml="$out/$name.xml" start=$SECONDS rc=0 t=0 f=0 e=0 s=0
  rm -f "$xml"
  echo "=== $name"
  pytest -q --junitxml="$xml" "$@" || rc=$?
  if [ -f "$xml" ]; then
    read -r t f e s < <(python3 -c "import xml.etree.ElementTree as E;r=E.parse('$xml').getroot();r=r if r.tag=='testsuite' else r[0];print(r.get('tests'),r.get('failures'),r.get('errors'),r.get('skipped'))")
  fi
  local broken=$((f + e)) tag=""
  if { [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ]; } || [ ! -f "$xml" ]; then broken=$((broken + 1)); tag="$name"; fi
  echo "$((t - f - e - s)) $broken $tag" >"$out/$name.count"
  echo "=== $name: rc=$rc ($((SECONDS - start)) s)"
}

# The queue: NAME KIND [ARTIFACTS...]. The order serves a cold machine too: while one runner
# builds Kubernetes from source, the other runs everything that does not need it.
queue=()
if [ "$quick" = 0 ]; then
  if [ ${#scenarios[@]} -eq 0 ]; then
    # longest first among the scenarios; any new scenario directory joins at the end
    for name in mesos kubernetes etcd zookeeper zookeeper-package containerd; do
      [ -d "molecule/$name" ] && scenarios+=("$name")
    done
    for dir in molecule/*/; do
      name="$(basename "$dir")"
      [ "$name" = resources ] || [[ " ${scenarios[*]} " == *" $name "* ]] || scenarios+=("$name")
    done
  fi
  queue+=("artifacts-mesos artifacts zookeeper emulators images"
          "artifacts-kubernetes artifacts etcd kubernetes coredns images")
fi
queue+=("unit pytest" "ansible-lint lint")
if [ "$quick" = 0 ]; then
  [ -d tests/emulators ] && queue+=("emulators pytest")
  # the lab tests (about 6 min) go second, so the longest steps start first
  queue+=("lab pytest")
  for name in "${scenarios[@]}"; do
    case "$name" in
      mesos|zookeeper*) entry="molecule-$name molecule artifacts-mesos" ;;
      *) entry="molecule-$name molecule artifacts-kubernetes" ;;
    esac
    if [ "$name" = "${scenarios[0]}" ]; then queue=("${queue[@]:0:${#queue[@]}-1}" "$entry" "lab pytest")
    else queue+=("$entry"); fi
  done
fi

run_entry() {  # run_entry NAME KIND [ARGS...]
  local name="$1" kind="$2"; shift 2
  case "$kind" in
    artifacts) step "$name" stackbench artifacts build "$@" ;;
    lint) step "$name" ansible-lint --profile production --offline -q ;;
    pytest)
      case "$name" in
        unit) pytest_step unit tests/unit ;;
        lab) pytest_step lab tests/integration ;;
        emulators) pytest_step emulators tests/emulators ;;
      esac ;;
    molecule)
      local dep
      for dep in "$@"; do  # its artifacts first; a failed build fails the scenario too
        until [ -f "$out/$dep.count" ]; do sleep 2; done
        if [ "$(cut -d' ' -f2 "$out/$dep.count")" != 0 ]; then
          echo "=== $name: FAILED (its artifacts, step $dep, failed)"; echo "0 1 $name" >"$out/$name.count"; return
        fi
      done
      step "$name" molecule test -s "${name#molecule-}" ;;
  esac
}

runner() {  # take the next queue entry until none is left
  local index entry
  while :; do
    index=$(flock "$out/queue.lock" bash -c 'n=$(cat "$1" 2>/dev/null || echo 0); echo $((n + 1)) >"$1"; echo "$n"' _ "$out/queue.next")
    [ "$index" -lt ${#queue[@]} ] || return 0
    entry=(${queue[$index]})
    flock "$out/print.lock" echo "--- started ${entry[0]} at $((SECONDS - t0)) s"
    run_entry "${entry[@]}" >"$out/${entry[0]}.log" 2>&1
    flock "$out/print.lock" cat "$out/${entry[0]}.log"
  done
}

step ruff ruff check .
step yamllint yamllint -s .
pids=()
for _ in $(seq 1 "$jobs"); do runner & pids+=($!); done
wait "${pids[@]}"

passed=0; failed=0; failed_names=()
for count in "$out"/*.count; do
  read -r p f name <"$count"
  passed=$((passed + p)); failed=$((failed + f))
  [ -n "${name:-}" ] && failed_names+=("$name")
done
echo "total time: $((SECONDS - t0)) s"
[ "$failed" -eq 0 ] || echo "failed steps: ${failed_names[*]}"
echo "summary: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
