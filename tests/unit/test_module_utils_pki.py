"""module_utils/pki: one host's keys and certificates from the cluster CA (the pki role's issue step)."""

from __future__ import annotations

import datetime
import os
import stat
from pathlib import Path

import pytest
from ansible_collections.stackbench.cluster.plugins.module_utils import pki
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)
HOST_SANS = ["DNS:cp1", "DNS:localhost", "IP:127.0.0.1", "IP:172.29.0.11"]
CERTS = [
    {"name": "apiserver", "common_name": "kube-apiserver", "usages": ["server"],
     "sans": ["DNS:kubernetes", "IP:10.96.0.1"], "dest_dir": "/etc/kubernetes/pki", "owner": "kube"},
    {"name": "admin", "common_name": "kubernetes-admin", "organization": "system:masters", "usages": ["client"],
     "host_sans": False, "dest_dir": "/etc/kubernetes/pki", "owner": "kube"},
    {"name": "member", "common_name": "etcd1", "usages": ["peer"], "dest_dir": "/etc/etcd/pki", "owner": "etcd"},
]


def make_ca(ca_dir, name="stackbench cluster CA"):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(NOW - datetime.timedelta(days=1))
            .not_valid_after(NOW + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(key, hashes.SHA256()))
    os.makedirs(ca_dir, exist_ok=True)
    with open(os.path.join(ca_dir, "ca.key"), "wb") as handle:
        handle.write(pki.key_pem(key))
    with open(os.path.join(ca_dir, "ca.crt"), "wb") as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


@pytest.fixture
def ca_dir(tmp_path):
    path = str(tmp_path / "pki" / "stackbench")
    make_ca(path)
    return path


def run(ca_dir, certs=CERTS, host_sans=HOST_SANS, **kwargs):
    kwargs.setdefault("now", NOW)
    return pki.ensure_certificates(ca_dir, "cp1", certs, host_sans=host_sans, **kwargs)


def issued(ca_dir, name, ext):
    return os.path.join(ca_dir, "issued", "cp1", f"{name}.{ext}")


def load_cert(ca_dir, name):
    with open(issued(ca_dir, name, "crt"), "rb") as handle:
        return x509.load_pem_x509_certificate(handle.read())


def load_key(ca_dir, name):
    with open(issued(ca_dir, name, "key"), "rb") as handle:
        return serialization.load_pem_private_key(handle.read(), password=None)


def snapshot(ca_dir):
    out = {}
    for root, _, files in os.walk(ca_dir):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as handle:
                out[path] = (handle.read(), os.stat(path).st_mode)
    return out


def by_name(outcomes):
    return {o["name"]: o for o in outcomes}


def test_fresh_issue_has_the_fields_issue_yml_gave(ca_dir):
    changed, outcomes = run(ca_dir)
    assert changed
    assert [(o["name"], o["key"], o["action"]) for o in outcomes] == [
        ("apiserver", "created", "issued"), ("admin", "created", "issued"), ("member", "created", "issued")]
    ca_cert = x509.load_pem_x509_certificate(Path(ca_dir, "ca.crt").read_bytes())

    api = load_cert(ca_dir, "apiserver")
    api.verify_directly_issued_by(ca_cert)
    assert api.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "kube-apiserver"
    assert not api.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    assert pki.certificate_sans(api) == {"DNS:cp1", "DNS:localhost", "DNS:kubernetes", "IP:127.0.0.1",
                                         "IP:172.29.0.11", "IP:10.96.0.1"}
    assert list(api.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH]
    basic = api.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.value.ca is False
    usage = api.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.key_encipherment
    assert not usage.value.key_cert_sign
    assert api.not_valid_after_utc - api.not_valid_before_utc == datetime.timedelta(days=365)
    assert api.public_key().public_numbers() == load_key(ca_dir, "apiserver").public_key().public_numbers()

    admin = load_cert(ca_dir, "admin")
    assert admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:masters"
    assert pki.certificate_sans(admin) == set()  # host_sans: false and no extra SANs: no SAN extension
    with pytest.raises(x509.ExtensionNotFound):
        admin.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert pki.certificate_eku(load_cert(ca_dir, "member")) == {"serverAuth", "clientAuth"}
    assert isinstance(load_key(ca_dir, "member"), ec.EllipticCurvePrivateKey)
    assert load_key(ca_dir, "member").curve.name == "secp256r1"


def test_keys_are_0600_certs_0644_dir_0700(ca_dir):
    run(ca_dir)
    for cert in CERTS:
        assert stat.S_IMODE(os.stat(issued(ca_dir, cert["name"], "key")).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(issued(ca_dir, cert["name"], "crt")).st_mode) == 0o644
    assert stat.S_IMODE(os.stat(os.path.join(ca_dir, "issued", "cp1")).st_mode) == 0o700


def test_atomic_write_creates_keys_0600_from_the_start(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):  # the temp file as it is just before it becomes the key
        seen.append(stat.S_IMODE(os.stat(src).st_mode))
        real_replace(src, dst)

    monkeypatch.setattr(pki.os, "replace", spy)
    old = os.umask(0)  # even with a permissive umask
    try:
        pki.atomic_write(str(tmp_path / "k.key"), b"secret", 0o600)
    finally:
        os.umask(old)
    assert seen == [0o600]
    assert stat.S_IMODE(os.stat(tmp_path / "k.key").st_mode) == 0o600
    assert os.listdir(tmp_path) == ["k.key"]  # no temp file left behind


def test_warm_run_changes_nothing(ca_dir):
    run(ca_dir)
    before = snapshot(ca_dir)
    changed, outcomes = run(ca_dir, now=NOW + datetime.timedelta(days=100))
    assert not changed
    assert all(o["key"] == "unchanged" and o["action"] == "unchanged" for o in outcomes)
    assert snapshot(ca_dir) == before


def test_order_and_duplicates_of_sans_do_not_matter(ca_dir):
    run(ca_dir)
    shuffled = [*reversed(HOST_SANS), "DNS:cp1", "IP:0:0:0:0:0:0:0:1"]
    changed, _ = run(ca_dir, host_sans=shuffled[:-1])
    assert not changed


def test_san_change_reissues_and_keeps_the_key(ca_dir):
    run(ca_dir)
    key_before = Path(issued(ca_dir, "apiserver", "key")).read_bytes()
    changed, outcomes = run(ca_dir, host_sans=[*HOST_SANS, "IP:172.29.0.12"])
    assert changed
    got = by_name(outcomes)
    assert got["apiserver"] == {"name": "apiserver", "key": "unchanged", "action": "issued", "reason": "sans differ"}
    assert got["member"]["action"] == "issued"
    assert got["admin"]["action"] == "unchanged"  # host_sans: false
    assert "IP:172.29.0.12" in pki.certificate_sans(load_cert(ca_dir, "apiserver"))
    assert Path(issued(ca_dir, "apiserver", "key")).read_bytes() == key_before


def test_subject_and_usage_changes_reissue(ca_dir):
    run(ca_dir)
    certs = [dict(CERTS[0], common_name="other"), dict(CERTS[1], organization="system:nodes"),
             dict(CERTS[2], usages=["server"])]
    _, outcomes = run(ca_dir, certs=certs)
    assert [o["reason"] for o in outcomes] == ["subject differs", "subject differs", "usages differ"]
    assert pki.certificate_eku(load_cert(ca_dir, "member")) == {"serverAuth"}


def test_expiring_certificate_is_reissued(ca_dir):
    run(ca_dir)
    later = NOW + datetime.timedelta(days=365 - 29)  # inside the 30-day window
    changed, outcomes = run(ca_dir, now=later)
    assert changed
    assert {o["reason"] for o in outcomes} == {"expires within the renewal window"}
    assert load_cert(ca_dir, "member").not_valid_after_utc == later.replace(microsecond=0) + datetime.timedelta(
        days=365)
    assert not run(ca_dir, now=later)[0]


def test_a_renewal_asked_for_reissues_what_was_issued_before_that_time_and_keeps_the_keys(ca_dir):
    run(ca_dir)
    key = Path(issued(ca_dir, "member", "key")).read_bytes()
    later = NOW + datetime.timedelta(hours=1)
    changed, outcomes = run(ca_dir, now=later, renew_issued_before=(NOW + datetime.timedelta(minutes=5)).isoformat())
    assert changed and {o["reason"] for o in outcomes} == {"issued before the renewal asked for"}
    assert Path(issued(ca_dir, "member", "key")).read_bytes() == key
    # a re-run with the same time finds them renewed
    changed, _ = run(ca_dir, now=later, renew_issued_before="2026-12-01T12:05:00Z")
    assert not changed


def test_a_renewal_time_that_is_no_time_is_refused(ca_dir):
    with pytest.raises(pki.PkiError, match="not an ISO 8601 time"):
        run(ca_dir, renew_issued_before="yesterday")


def test_certificate_from_another_ca_is_reissued(ca_dir, tmp_path):
    run(ca_dir)
    make_ca(ca_dir, name="stackbench cluster CA")  # same name, new key: issuer matches, signature does not
    changed, outcomes = run(ca_dir)
    assert changed and {o["reason"] for o in outcomes} == {"issued by another CA"}
    ca_cert = x509.load_pem_x509_certificate(Path(ca_dir, "ca.crt").read_bytes())
    load_cert(ca_dir, "member").verify_directly_issued_by(ca_cert)
    make_ca(ca_dir, name="another CA")
    assert {o["reason"] for o in run(ca_dir)[1]} == {"issued by another CA"}


def test_unreadable_or_foreign_key_certificate_is_reissued(ca_dir):
    run(ca_dir)
    with open(issued(ca_dir, "member", "crt"), "wb") as handle:
        handle.write(b"garbage")
    assert by_name(run(ca_dir)[1])["member"]["reason"] == "unreadable"
    # a certificate for another key (e.g. a key restored from elsewhere)
    with open(issued(ca_dir, "admin", "key"), "wb") as handle:
        handle.write(pki.key_pem(ec.generate_private_key(ec.SECP256R1())))
    got = by_name(run(ca_dir)[1])["admin"]
    assert (got["key"], got["action"], got["reason"]) == ("unchanged", "issued", "key differs")


def test_key_type_change_replaces_key_and_certificate(ca_dir):
    run(ca_dir)
    changed, outcomes = run(ca_dir, spec=pki.KeySpec(type="RSA", size=2048))
    assert changed
    assert {(o["key"], o["action"], o["reason"]) for o in outcomes} == {("replaced", "issued", "key replaced")}
    key = load_key(ca_dir, "member")
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    assert stat.S_IMODE(os.stat(issued(ca_dir, "member", "key")).st_mode) == 0o600
    assert load_cert(ca_dir, "member").public_key().public_numbers() == key.public_key().public_numbers()
    # and a curve change too
    _, outcomes = run(ca_dir, spec=pki.KeySpec(type="ECC", curve="secp384r1"))
    assert {o["key"] for o in outcomes} == {"replaced"}
    assert load_key(ca_dir, "member").curve.name == "secp384r1"
    assert not run(ca_dir, spec=pki.KeySpec(type="ECC", curve="secp384r1"))[0]


def test_wrong_key_mode_is_fixed(ca_dir):
    run(ca_dir)
    os.chmod(issued(ca_dir, "member", "key"), 0o644)
    changed, outcomes = run(ca_dir)
    assert changed and by_name(outcomes)["member"]["key"] == "mode fixed"
    assert by_name(outcomes)["member"]["action"] == "unchanged"
    assert stat.S_IMODE(os.stat(issued(ca_dir, "member", "key")).st_mode) == 0o600


def test_check_mode_writes_nothing(ca_dir):
    before = snapshot(ca_dir)
    changed, outcomes = run(ca_dir, check_mode=True)
    assert changed and {o["action"] for o in outcomes} == {"issued"}
    assert snapshot(ca_dir) == before
    assert not os.path.exists(os.path.join(ca_dir, "issued"))

    run(ca_dir)
    before = snapshot(ca_dir)
    changed, outcomes = run(ca_dir, host_sans=[*HOST_SANS, "DNS:new"], spec=pki.KeySpec(type="RSA"),
                            check_mode=True)
    assert changed and {o["key"] for o in outcomes} == {"replaced"}
    assert snapshot(ca_dir) == before
    assert not run(ca_dir, check_mode=True)[0]


def test_check_mode_without_a_ca_reports_and_goes_on(tmp_path):
    changed, outcomes = pki.ensure_certificates(str(tmp_path / "none"), "cp1", CERTS, HOST_SANS, check_mode=True)
    assert changed and {o["reason"] for o in outcomes} == {"no CA yet"}
    assert not (tmp_path / "none").exists()
    with pytest.raises(pki.PkiError, match="no CA"):
        pki.ensure_certificates(str(tmp_path / "none"), "cp1", CERTS, HOST_SANS)


def test_outcomes_carry_no_key_material(ca_dir):
    _, outcomes = run(ca_dir)
    assert all(set(o) == {"name", "key", "action", "reason"} for o in outcomes)
    assert "PRIVATE" not in repr(outcomes)


@pytest.mark.parametrize(("certs", "message"), [
    ([{"name": "a", "common_name": "a", "usages": ["bogus"]}], "unknown usages"),
    ([{"name": "a", "common_name": "a", "usages": ["client"]}] * 2, "unique"),
    ([{"name": "../a", "common_name": "a", "usages": ["client"]}], "plain file stem"),
    ([{"name": "a", "common_name": "a", "usages": ["client"], "sans": ["URI:x"]}], "DNS:name or IP:address"),
    ([{"name": "a", "common_name": "a", "usages": ["client"], "sans": ["IP:999.1.1.1"]}], "IP:999"),
])
def test_bad_requests_are_refused(ca_dir, certs, message):
    with pytest.raises(pki.PkiError, match=message):
        run(ca_dir, certs=certs)


def test_eku_and_sans_computation_match_issue_yml():
    assert pki.eku_for(["peer"]) == ("serverAuth", "clientAuth")
    assert pki.eku_for(["client", "server"]) == ("serverAuth", "clientAuth")
    assert pki.eku_for(["client"]) == ("clientAuth",)
    assert pki.sans_for({"sans": ["DNS:b", "DNS:a"]}, ["DNS:b", "IP:::1"]) == ("DNS:a", "DNS:b", "IP:::1")
    assert pki.sans_for({"host_sans": False, "sans": ["DNS:x"]}, ["DNS:b"]) == ("DNS:x",)
