"""The table of pinned upstream checksums (roles/checksums/vars/main.yml): its shape, the role
defaults that read it, the known gaps, and how `stackbench artifacts list` classifies mirror files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import jinja2
import pytest
import yaml

from stackbench.artifacts import pins, registry
from stackbench.errors import StackbenchError
from stackbench.paths import collection_root

# The role default versions x architectures that have no pinned checksum yet, each one on
# purpose: no public source with the value was found (docs/checksums.md). The rule: every file
# the roles download with their default versions is pinned or listed here. Bumping a default
# version without pinning its files fails `test_every_default_download_is_pinned_or_a_known_gap`,
# and so does pinning a file still listed here (drop it from the list then).
KNOWN_GAPS: set[pins.Artifact] = {
    pins.Artifact("zookeeper", "3.8.6", "all", "apache-zookeeper-3.8.6-bin.tar.gz"),
    pins.Artifact("etcd", "3.6.16", "amd64", "etcd-v3.6.16-linux-amd64.tar.gz"),
    pins.Artifact("etcd", "3.6.16", "arm64", "etcd-v3.6.16-linux-arm64.tar.gz"),
    *(pins.Artifact("kubernetes", "1.35.4", arch, binary) for arch in ("amd64", "arm64")
      for binary in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kubelet",
                     "kube-proxy")),
}


def test_table_parses_and_every_value_is_algorithm_and_hex() -> None:
    table = pins.load()
    assert set(table) == {"zookeeper", "etcd", "kubernetes"}
    values = [v for versions in table.values() for archs in versions.values() for files in archs.values()
              for v in files.values()]
    assert values and all(v.startswith(("sha256:", "sha512:")) for v in values)


def test_every_entry_is_a_file_the_roles_download_under_its_own_key() -> None:
    """An entry's file name is the upstream name of that very version and arch: a typo in a key
    would leave the pin unused (the role would refuse) without this test."""
    table = pins.load()
    for component, versions in table.items():
        for version, archs in versions.items():
            expected = {(a.arch, a.file) for a in pins.required(component, version)}
            for arch, files in archs.items():
                for name in files:
                    assert (arch, name) in expected, f"{component} {version} {arch} {name}: not downloaded by a role"


def test_every_default_download_is_pinned_or_a_known_gap() -> None:
    table = pins.load()
    unpinned = {a for a in pins.default_requirements() if pins.pinned(table, a) is None}
    new_gaps = sorted(map(str, unpinned - KNOWN_GAPS))
    stale = sorted(map(str, KNOWN_GAPS - unpinned))
    assert not new_gaps, f"pin these in roles/checksums/vars/main.yml or list in KNOWN_GAPS: {new_gaps}"
    assert not stale, f"pinned (or no longer a default) now, drop from KNOWN_GAPS: {stale}"


@pytest.mark.parametrize(("text", "problem"), [
    ("checksums_pinned:\n  etcd:\n    '3.5.27':\n      amd64:\n        f: sha256:abc\n", "not sha256:<64 hex>"),
    ("checksums_pinned:\n  etcd:\n    '3.5.27':\n      amd64:\n        f: md5:" + "0" * 32 + "\n",
     "not sha256:<64 hex>"),
    ("checksums_pinned:\n  kubernetes:\n    1.35:\n      amd64:\n        kubelet: sha256:" + "0" * 64 + "\n",
     "is not a string"),
    ("other: {}\n", "no mapping checksums_pinned"),
])
def test_load_refuses_a_bad_table(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "main.yml"
    path.write_text(text)
    with pytest.raises(StackbenchError, match=problem):
        pins.load(path)


def _defaults(role: str) -> dict:
    return yaml.safe_load((collection_root() / "roles" / role / "defaults" / "main.yml").read_text())


def _render(expression: str, variables: dict) -> object:
    env = jinja2.Environment(undefined=jinja2.ChainableUndefined)
    return env.from_string(expression).render(**variables)


@pytest.mark.parametrize(("role", "variable", "facts", "artifact"), [
    ("zookeeper", "zookeeper_archive_checksum", {"zookeeper_version": "3.9.2"},
     pins.Artifact("zookeeper", "3.9.2", "all", "apache-zookeeper-3.9.2-bin.tar.gz")),
    ("etcd", "etcd_archive_checksum", {"etcd_version": "3.5.27", "etcd_arch": "arm64"},
     pins.Artifact("etcd", "3.5.27", "arm64", "etcd-v3.5.27-linux-arm64.tar.gz")),
])
def test_role_defaults_read_the_pinned_value_and_nothing_for_a_gap(role: str, variable: str, facts: dict,
                                                                   artifact: pins.Artifact) -> None:
    table = pins.load()
    expression = _defaults(role)[variable]
    assert _render(expression, {"checksums_pinned": table, **facts}).strip() == pins.pinned(table, artifact)
    unknown = {k: ("9.9.9" if k.endswith("_version") else v) for k, v in facts.items()}
    assert _render(expression, {"checksums_pinned": table, **unknown}).strip() == ""


def test_kubernetes_default_reads_the_binaries_of_the_version_and_arch() -> None:
    table = pins.load()
    expression = _defaults("kubernetes")["kubernetes_binary_checksums"]
    facts = {"kubernetes_version": "1.35.1", "kubernetes_arch": "amd64"}
    rendered = _render(expression, {"checksums_pinned": table, **facts})
    assert yaml.safe_load(rendered) == table["kubernetes"]["1.35.1"]["amd64"]


CHECKSUM_URLS = {"zookeeper": "zookeeper_archive_checksum_url", "etcd": "etcd_archive_checksum_url",
                 "kubernetes": "kubernetes_binary_checksum_base_url"}


def _checksum_url(role: str, overrides: dict) -> str:
    """The role's checksum-file default, rendered with its other defaults (Ansible's jinja, minus filters)."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    values = {k: trust_as_template(v) if isinstance(v, str) else v for k, v in {**_defaults(role), **overrides}.items()}
    return Templar(loader=DataLoader(), variables=values).template(values[CHECKSUM_URLS[role]]).strip()


@pytest.mark.parametrize(("role", "overrides", "upstream"), [
    ("zookeeper", {"zookeeper_version": "3.8.6", "zookeeper_archive_checksum": "",
                   "zookeeper_archive_base_url": "http://mirror.example"},
     "https://archive.apache.org/dist/zookeeper/zookeeper-3.8.6/apache-zookeeper-3.8.6-bin.tar.gz.sha512"),
    ("etcd", {"etcd_version": "3.5.35", "etcd_archive_checksum": "", "etcd_download_base_url": "http://mirror.example"},
     "https://github.com/etcd-io/etcd/releases/download/v3.5.35/SHA256SUMS"),
    ("kubernetes", {"kubernetes_version": "1.35.4", "kubernetes_arch": "amd64", "kubernetes_binary_checksums": {},
                    "kubernetes_download_base_url": "http://mirror.example"},
     "https://dl.k8s.io/release/v1.35.4/bin/linux/amd64"),
])
def test_an_unpinned_release_is_checked_against_upstream_never_the_mirror(role, overrides, upstream) -> None:
    assert _checksum_url(role, overrides) == upstream
    assert "mirror.example" not in _checksum_url(role, overrides)


def test_a_pinned_release_uses_the_table_and_no_upstream_leaves_it_to_the_preflight() -> None:
    pinned = "sha512:" + "0" * 128
    assert _checksum_url("zookeeper", {"zookeeper_archive_checksum": pinned, "zookeeper_version": "3.9.2"}) == ""
    assert _checksum_url("etcd", {"etcd_archive_checksum": "", "etcd_upstream_checksum_base_url": ""}) == ""
    every = dict.fromkeys(["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy", "kubelet",
                           "kubectl"], "sha256:" + "0" * 64)
    assert _checksum_url("kubernetes", {"kubernetes_binary_checksums": every}) == ""
    partial = {"kubelet": every["kubelet"]}  # pinned in part: upstream's files for every binary
    assert _checksum_url("kubernetes", {"kubernetes_binary_checksums": partial, "kubernetes_version": "1.35.1",
                                        "kubernetes_arch": "amd64"}).endswith("/v1.35.1/bin/linux/amd64")


def test_the_lab_opts_in_to_its_own_builds() -> None:
    lab = yaml.safe_load((collection_root() / "inventories" / "lab" / "group_vars" / "all" / "mirror.yml").read_text())
    for variable in CHECKSUM_URLS.values():
        assert lab.get(variable), f"the lab (and molecule) must opt in to its own builds with {variable}"


@pytest.mark.parametrize(("relpath", "artifact"), [
    ("apache/zookeeper/zookeeper-3.8.6/apache-zookeeper-3.8.6-bin.tar.gz",
     pins.Artifact("zookeeper", "3.8.6", "all", "apache-zookeeper-3.8.6-bin.tar.gz")),
    ("etcd-io/etcd/releases/download/v3.5.27/etcd-v3.5.27-linux-arm64.tar.gz",
     pins.Artifact("etcd", "3.5.27", "arm64", "etcd-v3.5.27-linux-arm64.tar.gz")),
    ("kubernetes-release/release/v1.35.1/bin/linux/amd64/kubelet",
     pins.Artifact("kubernetes", "1.35.1", "amd64", "kubelet")),
    ("kubernetes-release/release/v1.35.1/bin/linux/amd64/kubelet.sha256", None),
    ("kubernetes-release/release/v1.35.1/bin/linux/amd64/kubeadm", None),  # the roles do not download it
    ("images/pause-1.0.tar", None),
    ("mesos-emulator/1.11.0/mesos-1.11.0-emulator.tar.gz", None),
])
def test_identify_mirror_paths(relpath: str, artifact: pins.Artifact | None) -> None:
    assert pins.identify(relpath) == artifact


def test_listing_classifies_mirror_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def put(relpath: str, content: bytes) -> Path:
        path = tmp_path / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        return path

    upstream, built = b"upstream tarball", b"built here"
    put("apache/zookeeper/zookeeper-3.9.2/apache-zookeeper-3.9.2-bin.tar.gz", upstream)
    put("apache/zookeeper/zookeeper-3.9.2/apache-zookeeper-3.9.2-bin.tar.gz.sha512", b"x")
    put("etcd-io/etcd/releases/download/v3.5.27/etcd-v3.5.27-linux-amd64.tar.gz", built)
    put("etcd-io/etcd/releases/download/v3.5.27/SHA256SUMS", b"x")
    put("kubernetes-release/release/v1.35.4/bin/linux/amd64/kube-apiserver", built)
    put("images/pause-1.0.tar", b"image")
    zk, etcd = "apache-zookeeper-3.9.2-bin.tar.gz", "etcd-v3.5.27-linux-amd64.tar.gz"
    table = {
        "zookeeper": {"3.9.2": {"all": {zk: "sha512:" + hashlib.sha512(upstream).hexdigest()}}},
        "etcd": {"3.5.27": {"amd64": {etcd: "sha256:" + hashlib.sha256(upstream).hexdigest()}}},
    }
    monkeypatch.setattr(pins, "load", lambda path=None: table)
    lines = {line.split()[3]: line for line in registry.listing(tmp_path)}
    assert set(lines) == {"apache/zookeeper/zookeeper-3.9.2/apache-zookeeper-3.9.2-bin.tar.gz",
                          "etcd-io/etcd/releases/download/v3.5.27/etcd-v3.5.27-linux-amd64.tar.gz",
                          "kubernetes-release/release/v1.35.4/bin/linux/amd64/kube-apiserver",
                          "images/pause-1.0.tar"}  # checksum files are not artifacts
    assert lines["apache/zookeeper/zookeeper-3.9.2/apache-zookeeper-3.9.2-bin.tar.gz"].endswith("  pinned: matches")
    assert lines["etcd-io/etcd/releases/download/v3.5.27/etcd-v3.5.27-linux-amd64.tar.gz"].endswith(
        "  pinned: DIFFERS (built here)")
    assert lines["kubernetes-release/release/v1.35.4/bin/linux/amd64/kube-apiserver"].endswith("  not pinned")
    assert lines["images/pause-1.0.tar"].endswith("images/pause-1.0.tar")  # no upstream layout: no pin status
