"""Build the Kubernetes server binaries and kubectl from Go modules into the release layout.

Nothing reachable here ships Kubernetes binaries (dl.k8s.io and GitHub are out of reach,
Debian's kubectl is far too old), so we build them from the Go module `k8s.io/kubernetes`
on the module proxy, in a small wrapper module:

* it requires `k8s.io/kubernetes vX.Y.Z`;
* `k8s.io/kubernetes`'s own go.mod requires its staging repositories (`k8s.io/api`,
  `k8s.io/client-go`, ...) at the placeholder version `v0.0.0` and points them at
  `./staging/src/...` with `replace`, which only counts in the main module; so the wrapper
  replaces every `k8s.io/<staging> v0.0.0` requirement with the published
  `k8s.io/<staging> v0.Y.Z`. The list is read from that version's go.mod each time
  (`go mod download -json` gives its path), never hard-coded;
* it copies the `go` and `godebug` lines of that go.mod so the binaries get the runtime
  defaults upstream's build gives them.

Each command is then built with `CGO_ENABLED=0 go build -trimpath -tags selinux,notest`
and stamped with `-X` like upstream's hack/lib/version.sh does (component-base and
client-go version packages), so `--version` prints `Kubernetes vX.Y.Z`. The build date is
the release time the module proxy records for the tag (reproducible, not "now"); the git
commit is unknown through the proxy and left empty.

Results land in the mirror like https://dl.k8s.io/release:

    <mirror>/kubernetes-release/release/vX.Y.Z/bin/linux/amd64/<binary>
    <mirror>/kubernetes-release/release/vX.Y.Z/bin/linux/amd64/<binary>.sha256

(each `.sha256` holds the bare hex digest, as upstream's do). A second build returns at
once when every binary is there and matches its checksum; `force` rebuilds. The same
build then makes the pause and workload images (stackbench.artifacts.kube_images).

The version is the role's `kubernetes_version` default once roles/kubernetes exists,
otherwise `PINNED_VERSION`, and `UPGRADE_FROM_VERSION` (the minor before, for the lab's upgrade
test) is built first; the environment variable STACKBENCH_KUBERNETES_VERSION names one other
version to build alone (`latest` = newest patch of `PINNED_MINOR` on the module proxy). Go runs under
`nice -n 19`, one command at a time; STACKBENCH_GO_BUILD_P sets `go build -p`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path

from stackbench import roles
from stackbench.artifacts import goversions, steps
from stackbench.artifacts.goversions import parse_version
from stackbench.errors import StackbenchError
from stackbench.paths import build_dir

NAME = "kubernetes"
DESCRIPTION = (
    "kube-apiserver, -controller-manager, -scheduler, kubelet, kube-proxy, kubectl from Go modules; "
    "pause and workload images"
)

MODULE = "k8s.io/kubernetes"
# 1.35 is the newest minor that runs here: the last with containerd 1.x support, kubelet
# still accepts cgroup v1 with failCgroupV1: false, and its branch builds with Go 1.26.
PINNED_MINOR = "1.35"
PINNED_VERSION = "1.35.4"
# The release before it, also built, so that the lab can test an upgrade (1.34.x -> 1.35.x).
UPGRADE_FROM_VERSION = "1.34.4"
BINARIES: tuple[str, ...] = (
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
    "kubectl",
)
RELEASE_PATH = "kubernetes-release/release"
PLATFORM = ("linux", "amd64")
VERSION_PACKAGES = ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
BUILD_TAGS = "selinux,notest"
WRAPPER_MODULE = "stackbench.local/kubernetes-build"
ROLE_DEFAULTS = roles.defaults_file("kubernetes")
run_step = partial(steps.run_step, what=NAME)
VERSION_ENV = "STACKBENCH_KUBERNETES_VERSION"
PARALLEL_ENV = "STACKBENCH_GO_BUILD_P"

_PLACEHOLDER = "v0.0.0"

Log = Callable[[str], None]


# --- versions -----------------------------------------------------------------------------


def latest_patch(versions: Iterable[str], minor: str = PINNED_MINOR) -> str:
    """The newest release `minor`.N among `versions` (as `go list -m -versions` prints them)."""
    return goversions.latest_patch(versions, minor)


def staging_version(version: str) -> str:
    """Staging repositories are tagged v0.<minor>.<patch> for Kubernetes v1.<minor>.<patch>."""
    major, minor, patch = parse_version(version)
    if major != 1:
        raise ValueError(f"staging versions are only known for Kubernetes 1.x, not {version}")
    return f"v0.{minor}.{patch}"


def role_default_version(defaults_file: Path = ROLE_DEFAULTS) -> str | None:
    """`kubernetes_version` from the role defaults, or None while there is no such role (or version)."""
    return roles.release_in(defaults_file, "kubernetes_version")


# --- the wrapper module ----------------------------------------------------------------------


def _requirements(go_mod: str) -> Iterable[tuple[str, str]]:
    """(module, version) of every `require`, in block or single-line form."""
    in_block = False
    for raw in go_mod.splitlines():
        line = raw.split("//", 1)[0].strip()
        if not line:
            continue
        if in_block:
            if line == ")":
                in_block = False
                continue
            fields = line.split()
        elif line.startswith("require"):
            rest = line[len("require"):].strip()
            if rest == "(":
                in_block = True
                continue
            fields = rest.split()
        else:
            continue
        if len(fields) >= 2:
            yield fields[0], fields[1]


def staging_modules(go_mod: str) -> list[str]:
    """The `k8s.io/...` modules that `go_mod` requires at the placeholder version v0.0.0."""
    found = {module for module, version in _requirements(go_mod)
             if module.startswith("k8s.io/") and version == _PLACEHOLDER}
    return sorted(found)


def _directive_lines(go_mod: str) -> tuple[str, list[str]]:
    """The `go` line and the `godebug` lines/blocks of an upstream go.mod."""
    go_line = ""
    godebug: list[str] = []
    in_block = False
    for raw in go_mod.splitlines():
        line = raw.split("//", 1)[0].rstrip()
        stripped = line.strip()
        if in_block:
            godebug.append(line)
            if stripped == ")":
                in_block = False
            continue
        if re.match(r"^go\s+\d", stripped):
            go_line = stripped
        elif stripped.startswith("godebug"):
            godebug.append(stripped)
            in_block = stripped.endswith("(")
    if not go_line:
        raise ValueError("upstream go.mod has no go directive")
    return go_line, godebug


def wrapper_go_mod(version: str, upstream_go_mod: str) -> str:
    """go.mod of the wrapper: require k8s.io/kubernetes, replace each staging placeholder."""
    staging = staging_modules(upstream_go_mod)
    if not staging:
        raise ValueError(f"k8s.io/kubernetes v{version}'s go.mod requires no k8s.io/* v0.0.0 modules")
    go_line, godebug = _directive_lines(upstream_go_mod)
    target = staging_version(version)
    lines = [
        f"// Generated by stackbench.artifacts.kubernetes for Kubernetes v{version}; do not edit.",
        f"module {WRAPPER_MODULE}",
        "",
        go_line,
        "",
    ]
    if godebug:
        lines += [*godebug, ""]
    lines += [f"require {MODULE} v{version}", "", "replace ("]
    lines += [f"\t{module} {_PLACEHOLDER} => {module} {target}" for module in staging]
    lines += [")", ""]
    return "\n".join(lines)


def ldflags(version: str, build_date: str, git_commit: str = "") -> str:
    """Linker flags stamping the version packages the way hack/lib/version.sh does."""
    major, minor, _ = parse_version(version)
    values = {
        "gitVersion": f"v{version}",
        "gitMajor": str(major),
        "gitMinor": str(minor),
        "gitTreeState": "clean",
        "buildDate": build_date,
        "gitCommit": git_commit,
    }
    flags = ["-s", "-w"]
    for package in VERSION_PACKAGES:
        flags += [f"-X {package}.{key}={value}" for key, value in values.items()]
    return " ".join(flags)


def go_build_command(binary: str, version: str, build_date: str, output: Path,
                     parallel: int | None = None) -> list[str]:
    """The niced `go build` for one command of k8s.io/kubernetes."""
    cmd = ["nice", "-n", "19", "go", "build", "-mod=mod", "-trimpath", "-tags", BUILD_TAGS]
    if parallel:
        cmd += ["-p", str(parallel)]
    cmd += ["-ldflags", ldflags(version, build_date), "-o", str(output), f"{MODULE}/cmd/{binary}"]
    return cmd


def version_command(binary: str) -> list[str]:
    """How to ask a built binary its version (kubectl has a subcommand, the rest a flag)."""
    return ["version", "--client"] if binary == "kubectl" else ["--version"]


def reports_version(binary: str, output: str, version: str) -> bool:
    """Does the `version_command` output of `binary` name exactly v`version`?"""
    expected = f"Client Version: v{version}" if binary == "kubectl" else f"Kubernetes v{version}"
    return any(line.strip() == expected for line in output.splitlines())


# --- the mirror layout -------------------------------------------------------------------------


def release_dir(mirror: Path, version: str) -> Path:
    os_name, arch = PLATFORM
    return mirror / RELEASE_PATH / f"v{version}" / "bin" / os_name / arch


def checksum_path(binary: Path) -> Path:
    return binary.with_name(binary.name + ".sha256")


def checksum_text(digest: str) -> str:
    """Upstream's `<binary>.sha256` holds the bare hex digest, no file name."""
    return digest


def is_cached(mirror: Path, version: str, sha256: Callable[[Path], str]) -> bool:
    """Every binary and its .sha256 are in the mirror, and each digest matches."""
    folder = release_dir(mirror, version)
    for binary in BINARIES:
        path, sums = folder / binary, checksum_path(folder / binary)
        if not (path.is_file() and sums.is_file()):
            return False
        if sums.read_text().split()[:1] != [sha256(path)]:
            return False
    return True


def outputs(mirror: Path, version: str) -> list[Path]:
    folder = release_dir(mirror, version)
    return [p for binary in BINARIES for p in (folder / binary, checksum_path(folder / binary))]


def human_bytes(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


# --- running go --------------------------------------------------------------------------------


def _go_env() -> dict[str, str]:
    return dict(os.environ, CGO_ENABLED="0", GOOS=PLATFORM[0], GOARCH=PLATFORM[1],
                GOFLAGS="-mod=mod", GOTOOLCHAIN="local")


def resolve_version(log: Log) -> str:
    wanted = os.environ.get(VERSION_ENV) or role_default_version() or PINNED_VERSION
    if wanted != "latest":
        return ".".join(str(p) for p in parse_version(wanted))
    out = run_step(["go", "list", "-m", "-versions", MODULE], build_dir(NAME), log, _go_env())
    return latest_patch(out.split()[1:])


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _parallel() -> int | None:
    value = os.environ.get(PARALLEL_ENV)
    return int(value) if value else None


def versions_to_build(log: Log) -> list[str]:
    """The resolved version, after UPGRADE_FROM_VERSION unless the environment names one version."""
    version = resolve_version(log)
    if os.environ.get(VERSION_ENV) or version == UPGRADE_FROM_VERSION:
        return [version]
    return [UPGRADE_FROM_VERSION, version]


def build(mirror: Path, force: bool = False, log: Log = print) -> list[Path]:
    """The binaries of every version to build (versions_to_build), then the pause and workload images."""
    from stackbench.artifacts import kube_images

    binaries = [path for version in versions_to_build(log) for path in build_binaries(mirror, version, force, log)]
    return [*binaries, *kube_images.build(mirror, force, log)]


def build_binaries(mirror: Path, version: str, force: bool = False, log: Log = print) -> list[Path]:
    from stackbench.artifacts.registry import sha256_file

    folder = release_dir(mirror, version)
    if not force and is_cached(mirror, version, sha256_file):
        log(f"kubernetes v{version}: cached in {folder}")
        return outputs(mirror, version)

    work = build_dir(NAME) / f"v{version}"
    (work / "bin").mkdir(parents=True, exist_ok=True)
    env = _go_env()
    started = time.monotonic()
    log(f"kubernetes v{version}: fetching {MODULE} v{version} from the module proxy")
    info = json.loads(run_step(["go", "mod", "download", "-json", f"{MODULE}@v{version}"],
                               build_dir(NAME), log, env))
    upstream_go_mod = Path(info["GoMod"]).read_text()
    build_date = json.loads(Path(info["Info"]).read_text())["Time"]
    (work / "go.mod").write_text(wrapper_go_mod(version, upstream_go_mod))
    log(f"kubernetes v{version}: wrapper module in {work} "
        f"({len(staging_modules(upstream_go_mod))} staging modules replaced by {staging_version(version)})")

    timings: dict[str, float] = {}
    for binary in BINARIES:
        target = work / "bin" / binary
        log(f"kubernetes v{version}: building {binary}")
        began = time.monotonic()
        run_step(go_build_command(binary, version, build_date, target, _parallel()), work, log, env)
        timings[binary] = round(time.monotonic() - began, 1)
        printed = run_step([str(target), *version_command(binary)], work, log)
        if not reports_version(binary, printed, version):
            raise StackbenchError(f"built {binary} does not report v{version}", printed.strip())
        log(f"kubernetes v{version}: {binary} built in {timings[binary]:.1f} s: {printed.strip().splitlines()[0]}")

    folder.mkdir(parents=True, exist_ok=True)
    sizes: dict[str, int] = {}
    for binary in BINARIES:
        source, dest = work / "bin" / binary, folder / binary
        partial = dest.with_name(dest.name + ".partial")
        shutil.copyfile(source, partial)
        partial.chmod(0o755)
        partial.replace(dest)
        checksum_path(dest).write_text(checksum_text(sha256_file(dest)))
        sizes[binary] = dest.stat().st_size

    total = round(time.monotonic() - started, 1)
    gocache = Path(run_step(["go", "env", "GOCACHE"], work, lambda _: None, env).strip())
    report = {
        "version": f"v{version}",
        "build_seconds": timings,
        "total_seconds": total,
        "binary_bytes": sizes,
        "mirror_bytes": sum(sizes.values()),
        "go_build_cache_bytes": _dir_bytes(gocache) if gocache.is_dir() else 0,
    }
    (work / "build-report.json").write_text(json.dumps(report, indent=2) + "\n")
    log(f"kubernetes v{version}: built {len(BINARIES)} binaries in {total:.1f} s, "
        f"{human_bytes(report['mirror_bytes'])} in {folder}; "
        f"Go build cache {human_bytes(report['go_build_cache_bytes'])} ({gocache})")
    return outputs(mirror, version)
