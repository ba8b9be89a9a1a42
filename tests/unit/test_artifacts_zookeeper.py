"""The ZooKeeper artifact builder's pure parts: layout, checksum file, member mapping, tarball."""

from __future__ import annotations

import hashlib
import io
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

from stackbench.artifacts import zookeeper as zk


def test_layout_is_apache_archive_layout() -> None:
    expected = Path("apache/zookeeper/zookeeper-3.8.6/apache-zookeeper-3.8.6-bin.tar.gz")
    assert zk.tarball_relpath("3.8.6") == expected


def test_sha512_line_is_sha512sum_format() -> None:
    digest = hashlib.sha512(b"x").hexdigest()
    assert zk.sha512_line(digest, "a.tar.gz") == f"{digest}  a.tar.gz\n"


def test_assembly_pom_uses_release_parent_and_versions_only_release_modules() -> None:
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    root = ET.fromstring(zk.assembly_pom("3.8.6"))
    assert root.findtext("m:parent/m:artifactId", namespaces=ns) == "parent"
    assert root.findtext("m:parent/m:version", namespaces=ns) == "3.8.6"
    deps = {d.findtext("m:artifactId", namespaces=ns): d.findtext("m:version", namespaces=ns)
            for d in root.findall("m:dependencies/m:dependency", ns)}
    assert deps["zookeeper"] == "3.8.6"
    assert deps["zookeeper-jute"] == "3.8.6"
    assert deps["jetty-server"] is None  # managed by the parent


def test_source_members_keeps_bin_conf_licenses_and_drops_the_rest() -> None:
    names = [
        "apache-zookeeper-3.8.0/",
        "apache-zookeeper-3.8.0/bin/",
        "apache-zookeeper-3.8.0/bin/zkServer.sh",
        "apache-zookeeper-3.8.0/conf/logback.xml",
        "apache-zookeeper-3.8.0/LICENSE.txt",
        "apache-zookeeper-3.8.0/pom.xml",
        "apache-zookeeper-3.8.0/zookeeper-server/src/main/java/Foo.java",
        "apache-zookeeper-3.8.0/zookeeper-server/src/main/resources/lib/netty.LICENSE.txt",
        "apache-zookeeper-3.8.0/binx/evil.sh",
    ]
    assert zk.source_members(names) == {
        "apache-zookeeper-3.8.0/bin/": "bin",
        "apache-zookeeper-3.8.0/bin/zkServer.sh": "bin/zkServer.sh",
        "apache-zookeeper-3.8.0/conf/logback.xml": "conf/logback.xml",
        "apache-zookeeper-3.8.0/LICENSE.txt": "LICENSE.txt",
        "apache-zookeeper-3.8.0/zookeeper-server/src/main/resources/lib/netty.LICENSE.txt":
            "lib/netty.LICENSE.txt",
    }


def _source_tarball(path: Path) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in (("apache-zookeeper-3.8.0/bin/zkServer.sh", b"#!/bin/sh\n"),
                           ("apache-zookeeper-3.8.0/conf/zoo_sample.cfg", b"tickTime=2000\n"),
                           ("apache-zookeeper-3.8.0/pom.xml", b"<project/>")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o600
            tar.addfile(info, io.BytesIO(data))


def test_assemble_writes_bin_layout_reproducibly(tmp_path: Path) -> None:
    src = tmp_path / "src.tar.gz"
    _source_tarball(src)
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "zookeeper-3.8.6.jar").write_bytes(b"PK")
    first, second = tmp_path / "a.tar.gz", tmp_path / "b.tar.gz"
    zk.assemble(first, "3.8.6", src, lib)
    zk.assemble(second, "3.8.6", src, lib)
    assert first.read_bytes() == second.read_bytes()
    with tarfile.open(first) as tar:
        members = {m.name: m for m in tar.getmembers()}
    root = "apache-zookeeper-3.8.6-bin"
    assert f"{root}/bin/zkServer.sh" in members
    assert members[f"{root}/bin/zkServer.sh"].mode == 0o755
    assert members[f"{root}/conf/zoo_sample.cfg"].mode == 0o644
    assert f"{root}/lib/zookeeper-3.8.6.jar" in members
    assert not any(name.endswith("pom.xml") for name in members)
    assert all(m.uid == 0 and m.mtime == zk.SOURCE_DATE_EPOCH for m in members.values())


def test_cached_requires_matching_checksum(tmp_path: Path) -> None:
    target = tmp_path / "x.tar.gz"
    checksum = tmp_path / "x.tar.gz.sha512"
    assert not zk.cached(target, checksum)
    target.write_bytes(b"data")
    checksum.write_text(zk.sha512_line(hashlib.sha512(b"data").hexdigest(), target.name))
    assert zk.cached(target, checksum)
    target.write_bytes(b"changed")
    assert not zk.cached(target, checksum)
