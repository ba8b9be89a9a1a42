"""Pure parts of the etcd artifact builder (no Go toolchain needed)."""

import hashlib
import tarfile

import pytest

from stackbench.artifacts import etcd


def test_latest_patch_picks_newest_of_the_minor_and_ignores_other_minors_and_prereleases():
    versions = ["v3.4.30", "v3.5.9", "v3.5.35", "v3.5.4", "v3.6.0", "v3.5.36-rc.0", "v3.7.1", "junk"]
    assert etcd.latest_patch(versions, "3.5") == "3.5.35"
    assert etcd.latest_patch(versions) == "3.6.0"


def test_latest_patch_compares_numerically_not_as_strings():
    assert etcd.latest_patch(["v3.6.9", "v3.6.10"]) == "3.6.10"


def test_the_release_before_is_built_first_unless_the_environment_names_one(monkeypatch):
    monkeypatch.delenv(etcd.VERSION_ENV, raising=False)
    assert etcd.versions_to_build(lambda _: None) == [etcd.UPGRADE_FROM_VERSION, etcd.role_default_version()]
    default_minor = int(etcd.role_default_version().split(".")[1])
    assert int(etcd.UPGRADE_FROM_VERSION.split(".")[1]) == default_minor - 1
    monkeypatch.setenv(etcd.VERSION_ENV, "3.6.2")
    assert etcd.versions_to_build(lambda _: None) == ["3.6.2"]
    monkeypatch.setenv(etcd.VERSION_ENV, etcd.UPGRADE_FROM_VERSION)
    assert etcd.versions_to_build(lambda _: None) == [etcd.UPGRADE_FROM_VERSION]


def test_latest_patch_without_a_match_is_an_error():
    with pytest.raises(ValueError):
        etcd.latest_patch(["v3.4.1", "v3.7.0"])


@pytest.mark.parametrize("text", ["3.5", "v3.5.1-rc.1", "", "latest"])
def test_parse_version_rejects_non_releases(text):
    with pytest.raises(ValueError):
        etcd.parse_version(text)


def test_role_default_is_the_version_source(tmp_path):
    defaults = tmp_path / "main.yml"
    defaults.write_text('---\netcd_download_base_url: x\netcd_version: "3.5.35"\n')
    assert etcd.role_default_version(defaults) == "3.5.35"
    # and the real role declares a parseable release
    etcd.parse_version(etcd.role_default_version())


def test_wrapper_go_mod_requires_all_main_modules_at_one_version():
    text = etcd.wrapper_go_mod("3.5.35")
    for module in etcd.MAIN_MODULES.values():
        assert f"\t{module} v3.5.35\n" in text
    assert text.startswith("module ")


def test_release_layout(tmp_path):
    assert etcd.release_dir(tmp_path, "3.5.35") == tmp_path / "etcd-io/etcd/releases/download/v3.5.35"
    assert etcd.archive_name("3.5.35") == "etcd-v3.5.35-linux-amd64.tar.gz"


def _fake_binaries(tmp_path):
    out = {}
    for name in ("etcd", "etcdctl", "etcdutl"):
        path = tmp_path / name
        path.write_bytes(name.encode() * 100)
        out[name] = path
    return out


def test_archive_has_upstream_layout_and_is_reproducible(tmp_path):
    bins = _fake_binaries(tmp_path)
    first, second = tmp_path / "a.tar.gz", tmp_path / "b.tar.gz"
    etcd.make_archive(bins, "3.5.35", first)
    etcd.make_archive(bins, "3.5.35", second)
    assert first.read_bytes() == second.read_bytes()
    with tarfile.open(first) as tar:
        names = sorted(m.name for m in tar.getmembers())
        modes = {m.name: m.mode for m in tar.getmembers()}
    assert names == ["etcd-v3.5.35-linux-amd64"] + [
        f"etcd-v3.5.35-linux-amd64/{n}" for n in ("etcd", "etcdctl", "etcdutl")
    ]
    assert modes["etcd-v3.5.35-linux-amd64/etcd"] == 0o755


def test_cache_check_needs_archive_and_matching_sums(tmp_path):
    folder = etcd.release_dir(tmp_path, "3.5.35")
    folder.mkdir(parents=True)
    assert not etcd.is_cached(tmp_path, "3.5.35")
    archive = folder / etcd.archive_name("3.5.35")
    etcd.make_archive(_fake_binaries(tmp_path), "3.5.35", archive)
    assert not etcd.is_cached(tmp_path, "3.5.35")
    (folder / "SHA256SUMS").write_text(etcd.sha256sums_line(archive))
    assert etcd.is_cached(tmp_path, "3.5.35")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert (folder / "SHA256SUMS").read_text() == f"{digest}  {archive.name}\n"
    archive.write_bytes(b"truncated")
    assert not etcd.is_cached(tmp_path, "3.5.35")


def test_build_returns_cached_without_running_go(tmp_path, monkeypatch):
    archive = etcd.release_dir(tmp_path, "3.5.35") / etcd.archive_name("3.5.35")
    archive.parent.mkdir(parents=True)
    etcd.make_archive(_fake_binaries(tmp_path), "3.5.35", archive)
    (archive.parent / "SHA256SUMS").write_text(etcd.sha256sums_line(archive))
    monkeypatch.setenv("STACKBENCH_ETCD_VERSION", "3.5.35")

    def no_go(*args, **kwargs):
        raise AssertionError("go must not run for a cached version")

    monkeypatch.setattr(etcd, "run_step", no_go)
    assert etcd.build(tmp_path, log=lambda _msg: None) == [archive, archive.parent / "SHA256SUMS"]
