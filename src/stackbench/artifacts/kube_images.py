"""The two container images a Kubernetes node needs without a registry: pause and a workload.

Both are built `FROM scratch` from static binaries with the local docker engine and saved
with `docker save` into the mirror, where the containerd role fetches them and imports them
with `ctr -n k8s.io images import`:

    <mirror>/images/pause-<PAUSE_VERSION>.tar        stackbench.local/pause:<PAUSE_VERSION>
    <mirror>/images/workload-<WORKLOAD_VERSION>.tar  stackbench.local/workload:<WORKLOAD_VERSION>

each with `<tar>.sha256` (bare hex digest) and `<tar>.recipe` (the recipe hash it was
built from). A build is cached while the recipe hash is unchanged; `force` rebuilds.

* pause: our own small C program (below), linked with `gcc -static`, run as 65535 like
  upstream's pause. It does what the sandbox container needs: sleep forever, reap
  zombies, exit 0 on SIGINT/SIGTERM. `pause -v` prints its version.
* workload: Debian's busybox-static (the .deb is fetched with `apt-get download` into
  the build directory, nothing is installed on the machine) with `busybox httpd` serving
  /www on port 8080 as user 65534. `/index.html` says "stackbench workload" and the CGI
  `/cgi-bin/host` answers the pod's host name, so tests can see which pod answered.

Image names live under `stackbench.local/` so nobody mistakes them for upstream's images.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

from stackbench.artifacts import steps
from stackbench.errors import StackbenchError
from stackbench.paths import build_dir

NAME = "images"
DESCRIPTION = "pause and workload container images built FROM scratch (docker save tars) for containerd to import"

IMAGES_PATH = "images"
IMAGE_PREFIX = "stackbench.local"
PAUSE_VERSION = "1.0"
WORKLOAD_VERSION = "1.0"
WORKLOAD_PORT = 8080
BUSYBOX_PACKAGE = "busybox-static"
run_step = partial(steps.run_step, what="image")

Log = Callable[[str], None]

PAUSE_C = r"""/* stackbench pause: the process that holds a pod sandbox's namespaces open. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PAUSE_VERSION
#define PAUSE_VERSION "unknown"
#endif

static void on_term(int sig) {
    (void)sig;
    _exit(0);
}

static void on_child(int sig) {
    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

int main(int argc, char **argv) {
    struct sigaction action;

    if (argc > 1 && strcmp(argv[1], "-v") == 0) {
        printf("stackbench pause %s\n", PAUSE_VERSION);
        return 0;
    }
    if (getpid() != 1) {
        fprintf(stderr, "pause: warning: not running as PID 1\n");
    }
    memset(&action, 0, sizeof(action));
    action.sa_handler = on_term;
    if (sigaction(SIGINT, &action, NULL) < 0 || sigaction(SIGTERM, &action, NULL) < 0) {
        return 1;
    }
    action.sa_handler = on_child;
    action.sa_flags = SA_NOCLDSTOP;
    if (sigaction(SIGCHLD, &action, NULL) < 0) {
        return 2;
    }
    for (;;) {
        pause();
    }
    return 42; /* not reached */
}
"""

PAUSE_DOCKERFILE = """FROM scratch
COPY pause /pause
USER 65535:65535
ENTRYPOINT ["/pause"]
"""

WORKLOAD_INDEX = "stackbench workload\n"
WORKLOAD_CGI = """#!/bin/sh
echo "Content-Type: text/plain"
echo
hostname
"""
# busybox applets the workload image links in /bin (httpd serves, the rest are for tests)
WORKLOAD_APPLETS = ("sh", "httpd", "hostname", "wget", "nslookup", "cat", "ls", "sleep", "echo", "env")
WORKLOAD_DOCKERFILE = f"""FROM scratch
COPY rootfs/ /
USER 65534:65534
EXPOSE {WORKLOAD_PORT}
ENTRYPOINT ["/bin/busybox", "httpd", "-f", "-v", "-p", "{WORKLOAD_PORT}", "-h", "/www"]
"""


# --- pure helpers ------------------------------------------------------------------------------


def recipe_hash(*parts: str | bytes) -> str:
    """A short hash over the recipe's texts and inputs (order matters)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()[:16]


def image_tag(name: str, version: str) -> str:
    return f"{IMAGE_PREFIX}/{name}:{version}"


def archive_path(mirror: Path, name: str, version: str) -> Path:
    return mirror / IMAGES_PATH / f"{name}-{version}.tar"


def sidecars(archive: Path) -> tuple[Path, Path]:
    """(<tar>.sha256, <tar>.recipe)"""
    return archive.with_name(archive.name + ".sha256"), archive.with_name(archive.name + ".recipe")


def is_cached(archive: Path, recipe: str, sha256: Callable[[Path], str]) -> bool:
    sums, recorded = sidecars(archive)
    if not (archive.is_file() and sums.is_file() and recorded.is_file()):
        return False
    if not archive.stat().st_mode & 0o004:  # the mirror's web server could not serve it
        return False
    return recorded.read_text().strip() == recipe and sums.read_text().split()[:1] == [sha256(archive)]


def pause_recipe() -> str:
    return recipe_hash("pause", PAUSE_VERSION, PAUSE_C, PAUSE_DOCKERFILE,
                       " ".join(gcc_command("pause.c", "pause")))


def gcc_command(source: str, output: str) -> list[str]:
    return ["gcc", "-static", "-Os", "-Wall", "-Werror", f'-DPAUSE_VERSION="{PAUSE_VERSION}"',
            "-o", output, source]


def docker_build_command(tag: str, recipe: str) -> list[str]:
    return ["docker", "build", "-q", "--label", f"stackbench.recipe={recipe}", "-t", tag, "."]


def workload_recipe(busybox_deb: bytes) -> str:
    return recipe_hash("workload", WORKLOAD_VERSION, WORKLOAD_DOCKERFILE, WORKLOAD_INDEX, WORKLOAD_CGI,
                       " ".join(WORKLOAD_APPLETS), hashlib.sha256(busybox_deb).hexdigest())


# --- building ----------------------------------------------------------------------------------


def save_image(tag: str, archive: Path, recipe: str, work: Path, log: Log) -> list[Path]:
    from stackbench.artifacts.registry import sha256_file

    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_name(archive.name + ".partial")
    run_step(["docker", "save", "-o", str(partial), tag], work, log)
    partial.chmod(0o644)  # docker save writes 0600; the mirror's web server must read it
    partial.replace(archive)
    sums, recorded = sidecars(archive)
    sums.write_text(sha256_file(archive))
    recorded.write_text(recipe + "\n")
    return [archive, sums, recorded]


def build_pause(mirror: Path, force: bool = False, log: Log = print) -> list[Path]:
    from stackbench.artifacts.registry import sha256_file

    recipe = pause_recipe()
    archive = archive_path(mirror, "pause", PAUSE_VERSION)
    if not force and is_cached(archive, recipe, sha256_file):
        log(f"pause {PAUSE_VERSION}: cached in {archive}")
        return [archive, *sidecars(archive)]
    if not shutil.which("gcc"):
        raise StackbenchError("gcc is not installed", "run scripts/setup.sh (needs gcc and libc6-dev)")
    work = build_dir("kubernetes") / "images" / "pause"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "pause.c").write_text(PAUSE_C)
    (work / "Dockerfile").write_text(PAUSE_DOCKERFILE)
    run_step(gcc_command("pause.c", "pause"), work, log)
    printed = run_step(["./pause", "-v"], work, log)
    if printed.strip() != f"stackbench pause {PAUSE_VERSION}":
        raise StackbenchError("the built pause binary does not report its version", printed)
    tag = image_tag("pause", PAUSE_VERSION)
    run_step(docker_build_command(tag, recipe), work, log)
    written = save_image(tag, archive, recipe, work, log)
    log(f"pause {PAUSE_VERSION}: {tag} saved to {archive} ({archive.stat().st_size / 1e6:.1f} MB)")
    return written


def fetch_busybox(work: Path, log: Log) -> Path:
    """Debian's busybox-static .deb in `work` (kept there as the cache), fetched with apt."""
    debs = sorted(work.glob(f"{BUSYBOX_PACKAGE}_*.deb"))
    if not debs:
        run_step(["apt-get", "download", BUSYBOX_PACKAGE], work, log)
        debs = sorted(work.glob(f"{BUSYBOX_PACKAGE}_*.deb"))
    if not debs:
        raise StackbenchError(f"apt-get download {BUSYBOX_PACKAGE} left no .deb in {work}")
    return debs[-1]


def build_workload(mirror: Path, force: bool = False, log: Log = print) -> list[Path]:
    from stackbench.artifacts.registry import sha256_file

    work = build_dir("kubernetes") / "images" / "workload"
    work.mkdir(parents=True, exist_ok=True)
    deb = fetch_busybox(work, log)
    recipe = workload_recipe(deb.read_bytes())
    archive = archive_path(mirror, "workload", WORKLOAD_VERSION)
    if not force and is_cached(archive, recipe, sha256_file):
        log(f"workload {WORKLOAD_VERSION}: cached in {archive}")
        return [archive, *sidecars(archive)]
    with tempfile.TemporaryDirectory(prefix="stackbench-workload-", dir=work) as tmp:
        context = Path(tmp)
        unpacked = context / "deb"
        run_step(["dpkg-deb", "-x", str(deb), str(unpacked)], work, log)
        busybox = unpacked / "bin" / "busybox"
        if not busybox.is_file():
            raise StackbenchError(f"{deb.name} holds no bin/busybox")
        rootfs = context / "rootfs"
        (rootfs / "bin").mkdir(parents=True)
        shutil.copy2(busybox, rootfs / "bin" / "busybox")
        for applet in WORKLOAD_APPLETS:
            (rootfs / "bin" / applet).symlink_to("busybox")
        (rootfs / "www" / "cgi-bin").mkdir(parents=True)
        (rootfs / "www" / "index.html").write_text(WORKLOAD_INDEX)
        cgi = rootfs / "www" / "cgi-bin" / "host"
        cgi.write_text(WORKLOAD_CGI)
        cgi.chmod(0o755)
        (rootfs / "tmp").mkdir(mode=0o1777)
        (rootfs / "tmp").chmod(0o1777)
        shutil.rmtree(unpacked)
        (context / "Dockerfile").write_text(WORKLOAD_DOCKERFILE)
        tag = image_tag("workload", WORKLOAD_VERSION)
        run_step(docker_build_command(tag, recipe), context, log)
    written = save_image(tag, archive, recipe, work, log)
    log(f"workload {WORKLOAD_VERSION}: {tag} saved to {archive} ({archive.stat().st_size / 1e6:.1f} MB)")
    return written


def build(mirror: Path, force: bool = False, log: Log = print) -> list[Path]:
    return [*build_pause(mirror, force, log), *build_workload(mirror, force, log)]
