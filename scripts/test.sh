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
rm -rf "$out"/*.count "$out/taken"; mkdir -p "$out/taken"

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

# The queue: NAME KIND [NEEDS...]. A runner takes the first entry nobody has taken whose NEEDS
# (artifacts steps) have ended, so on a cold machine the other runner goes on with what needs no
# Kubernetes build while it is built. The Kubernetes scenario, the longest step (about 1700 s
# warm), comes first once its artifacts are there: queued after the Mesos scenario it started at
# 596 s of a warm run (CI of 03615ca, 37m56s) while the other runner idled from about 1580 s.
queue=()
# Every step but artifacts-etcd builds only the etcd release the stacks run (the role default): the
# one the etcd scenario upgrades from is built beside the Kubernetes scenario, off its cold path.
etcd_default="$(sed -n 's/^etcd_version: "\(.*\)"$/\1/p' roles/etcd/defaults/main.yml)"
export STACKBENCH_ETCD_VERSION="${STACKBENCH_ETCD_VERSION:-$etcd_default}"
# The Kubernetes scenario starts once the release it stands up is built; the release it upgrades to
# (the role default) is built beside it, in the background at the lowest CPU priority, and its
# upgrade test waits for that build (the build lock) when it gets there.
kubernetes_start="$(sed -n 's/^kubernetes_version: "\(.*\)"$/\1/p' molecule/kubernetes/group_vars/all/lifecycle.yml)"
[[ " ${scenarios[*]} " == *" kubernetes "* ]] || [ ${#scenarios[@]} -eq 0 ] || kubernetes_start=""  # then both
if [ "$quick" = 0 ]; then
  if [ ${#scenarios[@]} -eq 0 ]; then
    for name in kubernetes mesos etcd zookeeper zookeeper-package containerd; do
      [ -d "molecule/$name" ] && scenarios+=("$name")
    done
    for dir in molecule/*/; do  # any new scenario directory joins at the end
      name="$(basename "$dir")"
      [ "$name" = resources ] || [[ " ${scenarios[*]} " == *" $name "* ]] || scenarios+=("$name")
    done
  fi
  queue+=("artifacts-mesos artifacts zookeeper emulators images"
          "artifacts-kubernetes artifacts-start etcd kubernetes coredns images")
fi
checks=("unit pytest" "ansible-lint lint")
[ "$quick" = 0 ] && [ -d tests/emulators ] && checks+=("emulators pytest")
# after the first scenario: on a warm machine its artifacts are there at once, and the scenario (the
# longest step) is on the critical path, the checks are not (CI of ac8254e started it at 218 s, after unit)
[ "$quick" = 1 ] && queue+=("${checks[@]}")
if [ "$quick" = 0 ]; then
  for name in "${scenarios[@]}"; do
    case "$name" in
      mesos|zookeeper*) queue+=("molecule-$name molecule artifacts-mesos") ;;
      # first the etcd release it upgrades from, once the Kubernetes build is done (beside its scenario)
      etcd) queue+=("artifacts-etcd artifacts-after artifacts-kubernetes etcd" "molecule-$name molecule artifacts-etcd") ;;
      # the upgrade's release first: the runner that sees the build end starts it, then the scenario
      kubernetes) queue+=("artifacts-kubernetes-upgrade background artifacts-kubernetes kubernetes"
                          "molecule-$name molecule artifacts-kubernetes") ;;
      *) queue+=("molecule-$name molecule artifacts-kubernetes") ;;
    esac
    [ "$name" = "${scenarios[0]}" ] && queue+=("${checks[@]}")
    # the lab tests (about 6 min; they build etcd, which a cold Kubernetes build holds first)
    # after the second scenario, or the only one
    [ "$name" = "${scenarios[1]:-${scenarios[0]}}" ] && queue+=("lab pytest")
  done
fi

run_entry() {  # run_entry NAME KIND [ARGS...]
  local name="$1" kind="$2"; shift 2
  case "$kind" in
    artifacts) step "$name" stackbench artifacts build "$@" ;;
    # only the release the Kubernetes scenario starts from (the other: the background entry)
    artifacts-start) STACKBENCH_KUBERNETES_VERSION="$kubernetes_start" step "$name" stackbench artifacts build "$@" ;;
    background) shift; step "$name" stackbench artifacts build "$@" ;;
    # built after the step it names (its first argument), with every etcd release
    artifacts-after) shift; STACKBENCH_ETCD_VERSION="" step "$name" stackbench artifacts build "$@" ;;
    lint) step "$name" ansible-lint --profile production --offline -q ;;
    pytest)
      case "$name" in
        unit) pytest_step unit tests/unit ;;
        lab) pytest_step lab tests/integration ;;
        emulators) pytest_step emulators tests/emulators ;;
      esac ;;
    molecule)
      local dep
      for dep in "$@"; do  # a failed build of its artifacts fails the scenario too
        if [ "$(cut -d' ' -f2 "$out/$dep.count")" != 0 ]; then
          echo "=== $name: FAILED (its artifacts, step $dep, failed)"; echo "0 1 $name" >"$out/$name.count"; return
        fi
      done
      step "$name" molecule test -s "${name#molecule-}" ;;
  esac
}

ready() {  # ready ENTRY...: whether every step the entry needs has ended
  local kind="$2" dep
  case "$kind" in
    molecule) for dep in "${@:3}"; do [ -f "$out/$dep.count" ] || return 1; done ;;
    artifacts-after|background) [ -f "$out/$3.count" ] || return 1 ;;
  esac
}

runner() {  # take the first free entry whose needs have ended, until every entry is taken
  local index entry left
  while :; do
    left=0
    for index in "${!queue[@]}"; do
      [ -d "$out/taken/$index" ] && continue
      left=1
      entry=(${queue[$index]})
      ready "${entry[@]}" || continue
      mkdir "$out/taken/$index" 2>/dev/null || continue  # the other runner took it first
      flock "$out/print.lock" echo "--- started ${entry[0]} at $((SECONDS - t0)) s"
      if [ "${entry[1]}" = background ]; then  # beside this runner's next entries, not in its place
        { run_entry "${entry[@]}" >"$out/${entry[0]}.log" 2>&1; flock "$out/print.lock" cat "$out/${entry[0]}.log"; } &
        continue 2
      fi
      run_entry "${entry[@]}" >"$out/${entry[0]}.log" 2>&1
      flock "$out/print.lock" cat "$out/${entry[0]}.log"
      continue 2
    done
    [ "$left" = 1 ] || { wait; return 0; }
    sleep 2
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
