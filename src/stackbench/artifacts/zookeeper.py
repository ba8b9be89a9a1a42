"""A real Apache ZooKeeper bin tarball for the lab mirror, in the Apache archive layout.

archive.apache.org is not reachable from here, so the tarball is assembled the way the
upstream `zookeeper-assembly` module assembles it, from real upstream pieces:

- `lib/`: the released jars from Maven Central, resolved by the machine's `mvn` through a
  throwaway pom whose parent is `org.apache.zookeeper:parent:<version>` and whose
  dependencies are those of upstream's `zookeeper-assembly/pom.xml` (so the managed
  versions are exactly the release's), plus the third-party license files;
- `bin/`, `conf/`, `LICENSE.txt`, `NOTICE.txt`, `README*.md`: from the upstream source
  release `apache-zookeeper-<src>.tar.gz` that Debian carries as the orig tarball of its
  `zookeeper` source package (fetched with `apt-get source --download-only` into a private
  apt state under the build dir; apt checks it against the signed Sources index). Debian
  has 3.8.0, so the scripts are 3.8.0's; the jars are a newer 3.8 patch release.

Versions: 3.8.6 (the default, roles/zookeeper's zookeeper_version) and 3.8.5 (the release
before it, so that the lab can test a rolling upgrade 3.8.5 -> 3.8.6). Maven Central (as
reachable here) also has `zookeeper-3.8.7.jar`, but not `org.apache.zookeeper:parent:3.8.7`,
so 3.8.7's dependency set cannot be resolved; 3.8.6 is the newest 3.8 release that resolves
completely.

Output: `<mirror>/apache/zookeeper/zookeeper-V/apache-zookeeper-V-bin.tar.gz` and its
`.sha512` in the `sha512sum` form Apache publishes (`<hex>  <file name>`).
The tarball is reproducible (sorted members, fixed mtimes and owners, gzip mtime 0).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Iterable
from pathlib import Path

from stackbench.errors import StackbenchError
from stackbench.paths import build_dir

NAME = "zookeeper"
DESCRIPTION = "Apache ZooKeeper bin tarball (Maven Central jars, upstream scripts from Debian's orig tarball)"

VERSION = "3.8.6"
# Every release the mirror gets; the older one is the starting point of the lab's upgrade test.
VERSIONS: tuple[str, ...] = ("3.8.5", VERSION)
DEBIAN_SOURCE_PACKAGE = "zookeeper"
# Fixed member mtime (2026-01-01T00:00:00Z) so that rebuilding gives the same bytes.
SOURCE_DATE_EPOCH = 1767225600

# Upstream zookeeper-assembly/pom.xml (3.8): what goes into lib/, versions managed by the parent.
# (The assembly module itself is not deployed to Maven Central, so its list is repeated here.)
ASSEMBLY_DEPENDENCIES: tuple[tuple[str, str, bool], ...] = (
    # (groupId, artifactId, versioned with the release)
    ("org.apache.zookeeper", "zookeeper-jute", True),
    ("org.apache.zookeeper", "zookeeper", True),
    # zookeeper-prometheus-metrics is not on Maven Central as reachable here (no 3.8.x at
    # all); it only serves `metricsProvider.className=...PrometheusMetricsProvider`, which
    # is off by default, so the tarball goes without it.
    ("commons-cli", "commons-cli", False),
    ("org.eclipse.jetty", "jetty-server", False),
    ("org.eclipse.jetty", "jetty-servlet", False),
    ("com.fasterxml.jackson.core", "jackson-databind", False),
    ("org.jline", "jline", False),  # 3.8.6 moved to JLine 3 (see assembly_dependencies)
    ("io.dropwizard.metrics", "metrics-core", False),
    ("org.xerial.snappy", "snappy-java", False),
)
# What the bin tarball takes from the source release (top-level names; dirs are copied whole).
SOURCE_TOP_LEVEL = ("bin", "conf", "LICENSE.txt", "NOTICE.txt", "README.md", "README_packaging.md")
LICENSES_DIR = "zookeeper-server/src/main/resources/lib"

Log = Callable[[str], object]
# The first release whose parent pom manages org.jline:jline (JLine 3); older ones manage jline:jline 2.
JLINE3_SINCE = (3, 8, 6)


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def assembly_dependencies(version: str = VERSION) -> tuple[tuple[str, str, bool], ...]:
    """ASSEMBLY_DEPENDENCIES as the release's parent pom manages them (the JLine coordinates moved)."""
    if version_tuple(version) >= JLINE3_SINCE:
        return ASSEMBLY_DEPENDENCIES
    return tuple(("jline", "jline", v) if (g, a) == ("org.jline", "jline") else (g, a, v)
                 for g, a, v in ASSEMBLY_DEPENDENCIES)


def tarball_name(version: str = VERSION) -> str:
    return f"apache-zookeeper-{version}-bin.tar.gz"


def tarball_relpath(version: str = VERSION) -> Path:
    """Path under the mirror root, the same as under https://archive.apache.org/dist."""
    return Path("apache", "zookeeper", f"zookeeper-{version}", tarball_name(version))


def sha512_line(digest: str, file_name: str) -> str:
    """The text of Apache's `.sha512` file (sha512sum format)."""
    return f"{digest}  {file_name}\n"


def sha512_file(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha512").hexdigest()


def assembly_pom(version: str = VERSION) -> str:
    """A throwaway pom that resolves the release's lib/ set through the release's parent pom."""
    deps = "\n".join(
        "    <dependency><groupId>{}</groupId><artifactId>{}</artifactId>{}</dependency>".format(
            group, artifact, f"<version>{version}</version>" if versioned else ""
        )
        for group, artifact, versioned in assembly_dependencies(version)
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <parent>
    <groupId>org.apache.zookeeper</groupId>
    <artifactId>parent</artifactId>
    <version>{version}</version>
    <relativePath/>
  </parent>
  <groupId>stackbench.build</groupId>
  <artifactId>zookeeper-bin-lib</artifactId>
  <packaging>pom</packaging>
  <dependencies>
{deps}
  </dependencies>
</project>
"""


def _run(argv: list[str], cwd: Path, log: Log) -> None:
    log(f"  $ {' '.join(argv)}")
    proc = subprocess.run(["nice", "-n", "10", *argv], cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise StackbenchError(f"zookeeper artifact: {argv[0]} failed ({proc.returncode}):\n{tail}",
                              "check that Maven Central and the Debian mirror are reachable")


def fetch_jars(work: Path, version: str, log: Log) -> Path:
    lib = work / "lib"
    if lib.is_dir() and any(lib.glob(f"zookeeper-{version}.jar")):
        return lib
    (work / "pom.xml").write_text(assembly_pom(version))
    tmp = work / "lib.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    _run(["mvn", "-B", "-q", "dependency:copy-dependencies", "-DincludeScope=runtime",
          "-DexcludeTypes=pom", f"-DoutputDirectory={tmp}"], work, log)
    if not (tmp / f"zookeeper-{version}.jar").is_file():
        raise StackbenchError(f"zookeeper artifact: mvn did not produce zookeeper-{version}.jar in {tmp}")
    shutil.rmtree(lib, ignore_errors=True)
    tmp.rename(lib)
    return lib


def _apt_options(apt: Path) -> list[str]:
    return [
        "-o", f"Dir::Etc::SourceList={apt / 'etc' / 'empty.list'}",
        "-o", f"Dir::Etc::SourceParts={apt / 'etc' / 'sources.list.d'}",
        "-o", f"Dir::State::Lists={apt / 'lists'}",
        "-o", f"Dir::Cache={apt / 'cache'}",
        "-o", "APT::Sandbox::User=root",
        "-o", "Debug::NoLocking=1",
    ]


def deb_src_sources(debian_mirror: str) -> str:
    return (f"Types: deb-src\nURIs: {debian_mirror}\nSuites: bookworm\nComponents: main\n"
            "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n")


def fetch_upstream_source(work: Path, log: Log) -> Path:
    """The upstream source release tarball (Debian's orig tarball of `zookeeper`)."""
    src = work / "debian-source"
    found = sorted(src.glob(f"{DEBIAN_SOURCE_PACKAGE}_*.orig.tar.gz"))
    if found:
        return found[-1]
    from stackbench.lab.images import debian_mirror_url

    apt = work / "apt"
    for sub in ("etc/sources.list.d", "lists/partial", "cache/archives/partial"):
        (apt / sub).mkdir(parents=True, exist_ok=True)
    (apt / "etc" / "empty.list").write_text("")
    (apt / "etc" / "sources.list.d" / "debian-src.sources").write_text(deb_src_sources(debian_mirror_url()))
    _run(["apt-get", *_apt_options(apt), "update"], work, log)
    src.mkdir(exist_ok=True)
    _run(["apt-get", *_apt_options(apt), "source", "--download-only", DEBIAN_SOURCE_PACKAGE], src, log)
    found = sorted(src.glob(f"{DEBIAN_SOURCE_PACKAGE}_*.orig.tar.gz"))
    if not found:
        raise StackbenchError("zookeeper artifact: apt-get source gave no orig tarball")
    return found[-1]


def source_members(names: Iterable[str]) -> dict[str, str]:
    """Map source-release member names to their place in the bin tarball (or drop them).

    `apache-zookeeper-3.8.0/bin/zkServer.sh` -> `bin/zkServer.sh`;
    `apache-zookeeper-3.8.0/zookeeper-server/src/main/resources/lib/x.LICENSE.txt` -> `lib/x.LICENSE.txt`.
    """
    picked: dict[str, str] = {}
    for name in names:
        parts = name.split("/", 1)
        if len(parts) != 2 or not parts[1]:
            continue
        rel = parts[1].rstrip("/")
        top = rel.split("/", 1)[0]
        if top in SOURCE_TOP_LEVEL:
            picked[name] = rel
        elif rel.startswith(LICENSES_DIR + "/") and rel.endswith(".txt"):
            picked[name] = "lib/" + rel[len(LICENSES_DIR) + 1:]
    return picked


def _normalized(info: tarfile.TarInfo, arcname: str) -> tarfile.TarInfo:
    info.name = arcname
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = SOURCE_DATE_EPOCH
    info.mode = 0o755 if info.isdir() or arcname.endswith(".sh") else 0o644
    return info


def assemble(out: Path, version: str, source_tarball: Path, lib: Path) -> None:
    """Write the bin tarball: `apache-zookeeper-V-bin/{bin,conf,lib,...}`."""
    root = f"apache-zookeeper-{version}-bin"
    members: list[tuple[str, tarfile.TarInfo, bytes | None]] = []
    with tarfile.open(source_tarball, "r:gz") as src:
        mapping = source_members(src.getnames())
        for info in src.getmembers():
            if info.name not in mapping or not (info.isfile() or info.isdir()):
                continue
            data = src.extractfile(info).read() if info.isfile() else None  # type: ignore[union-attr]
            members.append((f"{root}/{mapping[info.name]}", info, data))
    for jar in sorted(lib.glob("*.jar")):
        info = tarfile.TarInfo()
        info.size = jar.stat().st_size
        members.append((f"{root}/lib/{jar.name}", info, jar.read_bytes()))
    dirs = {f"{root}/lib"} | {m[0] for m in members if m[1].isdir()}
    dirs.add(root)
    tmp = out.with_suffix(".part")
    with tmp.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name in sorted(dirs):
            info = tarfile.TarInfo()
            info.type = tarfile.DIRTYPE
            tar.addfile(_normalized(info, name + "/"))
        for name, info, data in sorted((m for m in members if not m[1].isdir()), key=lambda m: m[0]):
            info = _normalized(info, name)
            info.size = len(data or b"")
            tar.addfile(info, io.BytesIO(data or b""))
    tmp.rename(out)


def cached(target: Path, checksum: Path) -> bool:
    """The tarball and its .sha512 are there and agree."""
    if not (target.is_file() and checksum.is_file()):
        return False
    fields = checksum.read_text().split()
    return bool(fields) and fields[0].lower() == sha512_file(target)


def build_version(mirror: Path, version: str, force: bool = False, log: Log = print) -> list[Path]:
    target = mirror / tarball_relpath(version)
    checksum = target.with_name(target.name + ".sha512")
    if not force and cached(target, checksum):
        log(f"zookeeper {version}: cached at {target}")
        return [target, checksum]
    work = build_dir(NAME) / version
    work.mkdir(parents=True, exist_ok=True)
    log(f"zookeeper {version}: resolving jars from Maven Central")
    lib = fetch_jars(work, version, log)
    log("zookeeper: fetching the upstream source release (bin/, conf/) through apt-get source")
    # One source release serves every version (Debian's 3.8.0 scripts): fetched once, under the default's dir.
    source = fetch_upstream_source(build_dir(NAME) / VERSION, log)
    target.parent.mkdir(parents=True, exist_ok=True)
    assemble(target, version, source, lib)
    checksum.write_text(sha512_line(sha512_file(target), target.name))
    log(f"zookeeper {version}: wrote {target} ({target.stat().st_size / 1e6:.1f} MB)")
    return [target, checksum]


def build(mirror: Path, force: bool = False, log: Log = print, versions: Iterable[str] = VERSIONS) -> list[Path]:
    return [path for version in versions for path in build_version(mirror, version, force, log)]
