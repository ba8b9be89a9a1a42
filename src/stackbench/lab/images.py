"""Lab images built without a registry: debootstrap + `docker import`, cached by recipe hash."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import docker
import docker.errors

from stackbench.errors import StackbenchError

RECIPE_DIR = Path(__file__).parent / "image"
BASE_REPO = "stackbench/base"
MIRROR_REPO = "stackbench/mirror"
DEFAULT_DEBIAN_MIRROR = "http://deb.debian.org/debian"


def debian_mirror_url(sources_dir: Path = Path("/etc/apt")) -> str:
    """The machine's own Debian mirror for bookworm (lab hosts use the same one)."""
    candidates = [sources_dir / "sources.list", *sorted((sources_dir / "sources.list.d").glob("*"))]
    for path in candidates:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        deb822 = re.finditer(r"^URIs:\s*(\S+)\s*\nSuites:\s*bookworm(?:\s|$)", text, re.M)
        one_line = re.finditer(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+bookworm\s", text, re.M)
        for match in (*deb822, *one_line):
            return match.group(1).rstrip("/")
    return DEFAULT_DEBIAN_MIRROR


def recipe_hash(*files: Path, extra: str = "") -> str:
    digest = hashlib.sha256(extra.encode())
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def base_image_tag() -> str:
    return f"{BASE_REPO}:{recipe_hash(RECIPE_DIR / 'build-base.sh', extra=debian_mirror_url())}"


def mirror_image_tag() -> str:
    files = (RECIPE_DIR / "Dockerfile.mirror", RECIPE_DIR / "nginx-mirror.conf")
    return f"{MIRROR_REPO}:{recipe_hash(*files, extra=base_image_tag())}"


def _image_exists(client: docker.DockerClient, tag: str) -> bool:
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def build_base_image(client: docker.DockerClient, log: callable = print) -> str:
    tag = base_image_tag()
    if _image_exists(client, tag):
        return tag
    if not shutil.which("debootstrap"):
        raise StackbenchError("debootstrap is not installed", "run scripts/setup.sh")
    started = time.monotonic()
    log(f"building lab base image {tag} with debootstrap (about a minute)")
    with tempfile.TemporaryDirectory(prefix="stackbench-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        subprocess.run(
            ["bash", str(RECIPE_DIR / "build-base.sh"), str(rootfs), debian_mirror_url()], check=True
        )
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(
            ["docker", "import", "-c", 'CMD ["/lib/systemd/systemd"]', "-", tag],
            stdin=tar.stdout, check=True, stdout=subprocess.DEVNULL,
        )
        if tar.wait() != 0:
            raise StackbenchError("could not pack the lab root filesystem", "see the tar error above")
    log(f"built {tag} in {time.monotonic() - started:.0f} s")
    return tag


def build_mirror_image(client: docker.DockerClient, log: callable = print) -> str:
    tag = mirror_image_tag()
    if _image_exists(client, tag):
        return tag
    base = build_base_image(client, log)
    started = time.monotonic()
    log(f"building mirror image {tag} (base + nginx)")
    client.images.build(
        path=str(RECIPE_DIR), dockerfile="Dockerfile.mirror", tag=tag, buildargs={"BASE": base}, rm=True
    )
    log(f"built {tag} in {time.monotonic() - started:.0f} s")
    return tag


def ensure_images(client: docker.DockerClient, log: callable = print) -> tuple[str, str]:
    return build_base_image(client, log), build_mirror_image(client, log)
