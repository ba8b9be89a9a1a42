"""CoreDNS built from its Go module into an image `FROM scratch`, saved into the mirror.

Nothing here can pull `registry.k8s.io/coredns/coredns`, so we build the same program from
the published module `github.com/coredns/coredns` (package main at the module root) in a
wrapper module, statically (CGO off), and put the binary alone into an image:

    <mirror>/images/coredns-<V>.tar   stackbench.local/coredns:<V>   (+ .sha256, .recipe)

The containerd role imports it on every node like the pause and workload images. The
version is `coredns_version` in roles/kubernetes/defaults (one place declares it), unless
STACKBENCH_COREDNS_VERSION names another. `coredns -version` prints `CoreDNS-<V>`, which the
build checks. The image runs as 65532 (upstream's `nonroot`); the role makes CoreDNS listen
on an unprivileged port, so no capability is needed.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from stackbench import roles
from stackbench.artifacts import kube_images, steps
from stackbench.artifacts.goversions import parse_version
from stackbench.errors import StackbenchError
from stackbench.paths import build_dir

NAME = "coredns"
DESCRIPTION = "CoreDNS built from its Go module into a FROM-scratch image (docker save tar)"

MODULE = "github.com/coredns/coredns"
COMMIT_VARIABLE = "github.com/coredns/coredns/coremain.GitCommit"
# The release is declared with Kubernetes (roles/coredns depends on roles/kubernetes for it).
ROLE_DEFAULTS = roles.defaults_file("kubernetes")
run_step = partial(steps.run_step, what=NAME)
IMAGE_USER = "65532:65532"

Log = Callable[[str], None]

DOCKERFILE = f"""FROM scratch
COPY coredns /coredns
USER {IMAGE_USER}
EXPOSE 1053 1053/udp
ENTRYPOINT ["/coredns"]
"""


def role_default_version(defaults_file: Path = ROLE_DEFAULTS) -> str:
    """`coredns_version` from the role defaults (a plain release, `coredns_version: "1.N.M"`)."""
    version = roles.release_in(defaults_file, "coredns_version")
    if not version:
        raise StackbenchError(f"no coredns_version in {defaults_file}")
    return version


def resolve_version() -> str:
    wanted = os.environ.get("STACKBENCH_COREDNS_VERSION") or role_default_version()
    return ".".join(str(part) for part in parse_version(wanted))


def wrapper_go_mod(version: str) -> str:
    return f"module stackbench.local/corednsbuild\n\ngo 1.24\n\nrequire {MODULE} v{version}\n"


def wrapper_tools_go() -> str:
    """Imports the main package so `go mod tidy` keeps its dependencies."""
    return f'//go:build tools\n\npackage tools\n\nimport _ "{MODULE}"\n'


def ldflags(version: str) -> str:
    return f"-s -w -X {COMMIT_VARIABLE}=gomod-v{version}"


def recipe(version: str) -> str:
    return kube_images.recipe_hash("coredns", version, wrapper_go_mod(version), wrapper_tools_go(),
                                   ldflags(version), DOCKERFILE)


def build(mirror: Path, force: bool = False, log: Log = print) -> list[Path]:
    from stackbench.artifacts.registry import sha256_file

    version = resolve_version()
    wanted = recipe(version)
    archive = kube_images.archive_path(mirror, "coredns", version)
    if not force and kube_images.is_cached(archive, wanted, sha256_file):
        log(f"coredns {version}: cached in {archive}")
        return [archive, *kube_images.sidecars(archive)]
    if not shutil.which("go"):
        raise StackbenchError("go is not installed", "CoreDNS is built from Go modules: install Go 1.24+")

    work = build_dir(NAME) / f"v{version}"
    work.mkdir(parents=True, exist_ok=True)
    (work / "go.mod").write_text(wrapper_go_mod(version))
    (work / "tools.go").write_text(wrapper_tools_go())
    env = dict(os.environ, CGO_ENABLED="0", GOOS="linux", GOARCH="amd64", GOFLAGS="-mod=mod",
               GOTOOLCHAIN="local")
    started = time.monotonic()
    log(f"coredns {version}: resolving modules in {work}")
    run_step(["go", "mod", "tidy"], work, log, env)
    context = work / "image"
    shutil.rmtree(context, ignore_errors=True)
    context.mkdir()
    binary = context / "coredns"
    log(f"coredns {version}: building (a few minutes on 2 cores)")
    run_step(["nice", "-n", "10", "go", "build", "-trimpath", "-ldflags", ldflags(version),
              "-o", str(binary), MODULE], work, log, env)
    printed = run_step([str(binary), "-version"], work, log)
    if f"CoreDNS-{version}" not in printed:
        raise StackbenchError(f"built coredns does not report version {version}", printed.strip())
    (context / "Dockerfile").write_text(DOCKERFILE)
    tag = kube_images.image_tag("coredns", version)
    run_step(kube_images.docker_build_command(tag, wanted), context, log)
    written = kube_images.save_image(tag, archive, wanted, work, log)
    log(f"coredns {version}: built in {time.monotonic() - started:.1f} s; {tag} saved to {archive} "
        f"({archive.stat().st_size / 1e6:.1f} MB)")
    return written
