"""The certificate report's reader (plugins/module_utils/x509_report.py, standard library only) checked
against the `cryptography` library on certificates made here, and the report it makes."""

from __future__ import annotations

import base64
import csv
import datetime
import io

import pytest
from ansible_collections.stackbench.cluster.plugins.module_utils import x509_report
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NOW = datetime.datetime(2026, 12, 2, 6, 0, tzinfo=datetime.UTC)
KEY = ec.generate_private_key(ec.SECP256R1())


Names = list[tuple[x509.ObjectIdentifier, str]]


def make(subject: Names, issuer: Names | None = None, days: int = 365, start: datetime.datetime = NOW,
         serial: int = 0x1234ABCD) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(oid, value) for oid, value in subject])
    issuer_name = x509.Name([x509.NameAttribute(oid, value) for oid, value in issuer]) if issuer else name
    return (x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name).public_key(KEY.public_key())
            .serial_number(serial).not_valid_before(start).not_valid_after(start + datetime.timedelta(days=days))
            .sign(KEY, hashes.SHA256()))


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


CA = make([(NameOID.COMMON_NAME, "stackbench-kubernetes cluster CA")], days=3650)
ADMIN = make([(NameOID.ORGANIZATION_NAME, "system:masters"), (NameOID.COMMON_NAME, "kubernetes-admin")],
             issuer=[(NameOID.COMMON_NAME, "stackbench-kubernetes cluster CA")])


def test_subject_issuer_serial_and_validity_match_the_cryptography_library():
    parsed = x509_report.parse_der(der(ADMIN))
    assert parsed.subject == "O=system:masters, CN=kubernetes-admin"
    assert parsed.issuer == "CN=stackbench-kubernetes cluster CA"
    assert parsed.serial == format(ADMIN.serial_number, "x") == "1234abcd"
    assert parsed.not_before == ADMIN.not_valid_before_utc
    assert parsed.not_after == ADMIN.not_valid_after_utc


def test_generalized_time_after_2049_and_non_ascii_names_are_read():
    late = make([(NameOID.COMMON_NAME, "Zürich ✓"), (NameOID.COUNTRY_NAME, "CH")], days=30 * 365)
    parsed = x509_report.parse_der(der(late))
    assert parsed.not_after.year == 2056 and parsed.not_after == late.not_valid_after_utc
    assert parsed.subject == "CN=Zürich ✓, C=CH"


def test_an_old_utc_time_before_2000_is_read_as_19xx():
    old = make([(NameOID.COMMON_NAME, "old")], start=datetime.datetime(1999, 1, 1, tzinfo=datetime.UTC),
               days=10)
    assert x509_report.parse_der(der(old)).not_before.year == 1999


@pytest.mark.parametrize("data", [b"", b"\x30", b"\x30\x05\x02\x01\x01", b"\x02\x01\x01", b"not a certificate"])
def test_bytes_that_are_not_a_certificate_are_refused(data):
    with pytest.raises(x509_report.CertificateError):
        x509_report.parse_der(data)


@pytest.mark.parametrize(("days", "left"), [(365, 364), (1, 0), (0, -1)])
def test_days_left_are_whole_days_floored(days, left):
    # a certificate issued a minute before NOW, valid `days`: on its last day 0 is left, then -1
    not_after = NOW - datetime.timedelta(minutes=1) + datetime.timedelta(days=days)
    assert x509_report.days_left(not_after, NOW) == left


def test_a_bundle_gives_one_entry_per_block_and_keys_are_never_read(tmp_path):
    (tmp_path / "pki" / "etcd").mkdir(parents=True)
    (tmp_path / "pki" / "ca.crt").write_bytes(pem(CA))
    (tmp_path / "pki" / "bundle.pem").write_bytes(pem(CA) + b"\n" + pem(ADMIN))
    (tmp_path / "pki" / "etcd" / "client.crt").write_bytes(pem(ADMIN))
    bait = b"-----BEGIN CERTIFICATE-----\nnot read\n-----END CERTIFICATE-----"
    (tmp_path / "pki" / "apiserver.key").write_bytes(bait)
    (tmp_path / "pki" / "tls-key.pem").write_bytes(bait)
    public = b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"
    (tmp_path / "pki" / "service-account.pub").write_bytes(public)
    found, errors = x509_report.scan([str(tmp_path / "pki"), str(tmp_path / "missing")], now=NOW)
    paths = [c.path.removeprefix(str(tmp_path) + "/") for c in found]
    assert paths == ["pki/bundle.pem #1", "pki/bundle.pem #2", "pki/ca.crt", "pki/etcd/client.crt"]
    assert errors == []
    assert {c.source for c in found} == {"file"} and found[1].subject == "O=system:masters, CN=kubernetes-admin"


def test_the_embedded_certificates_of_a_kubeconfig_are_listed_by_field_and_entry(tmp_path):
    data = base64.b64encode(pem(ADMIN)).decode()
    ca = base64.b64encode(pem(CA)).decode()
    (tmp_path / "admin.kubeconfig").write_text(
        "apiVersion: v1\nkind: Config\nclusters:\n  - name: stackbench\n    cluster:\n"
        f"      certificate-authority-data: {ca}\n      server: https://10.0.0.1:6443\n"
        f"users:\n  - name: kubernetes-admin\n    user:\n      client-certificate-data: {data}\n"
        "      client-key-data: bm90IHJlYWQ=\n")
    (tmp_path / "kubeconfig").write_text("users:\n  - name: x\n    user:\n      client-certificate: /etc/x.crt\n")
    found, errors = x509_report.scan([str(tmp_path)], now=NOW)
    assert errors == []
    assert [(c.path.removeprefix(str(tmp_path) + "/"), c.source, c.subject) for c in found] == [
        ("admin.kubeconfig (certificate-authority-data of stackbench)", "kubeconfig",
         "CN=stackbench-kubernetes cluster CA"),
        ("admin.kubeconfig (client-certificate-data of kubernetes-admin)", "kubeconfig",
         "O=system:masters, CN=kubernetes-admin"),
    ]


def test_a_broken_certificate_file_is_an_error_not_a_failure(tmp_path):
    (tmp_path / "broken.crt").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    (tmp_path / "good.crt").write_bytes(pem(CA))
    found, errors = x509_report.scan([str(tmp_path)], now=NOW)
    assert [c.path for c in found] == [str(tmp_path / "good.crt")]
    assert [e["path"] for e in errors] == [str(tmp_path / "broken.crt")]


def test_a_file_named_in_paths_is_read_whatever_its_name(tmp_path):
    (tmp_path / "cert").write_bytes(pem(CA))
    found, _ = x509_report.scan([str(tmp_path / "cert"), str(tmp_path / "cert")], now=NOW)
    assert len(found) == 1 and found[0].days_left == 3650


def report_rows():
    cert = x509_report.certificate(der(ADMIN), "/etc/kubernetes/admin/admin.crt", "file", NOW).as_dict()
    ca = x509_report.certificate(der(CA), "/x/pki/ca.crt", "file", NOW).as_dict()
    return x509_report.rows({"worker1": [cert], "controller": [ca], "cp1": [cert, ca]})


def test_rows_put_the_host_first_sorted_by_host_and_path():
    rows = report_rows()
    assert [(r["host"], r["path"]) for r in rows] == [
        ("controller", "/x/pki/ca.crt"), ("cp1", "/etc/kubernetes/admin/admin.crt"), ("cp1", "/x/pki/ca.crt"),
        ("worker1", "/etc/kubernetes/admin/admin.crt")]
    assert list(rows[0])[:1] == ["host"]


def test_the_table_has_the_columns_and_a_line_per_certificate():
    lines = x509_report.table(report_rows()).splitlines()
    assert lines[0].split() == ["host", "path", "subject", "issuer", "not", "after", "days", "left"]
    assert set(lines[1]) <= {"-", " "} and len(lines) == 2 + 4
    assert lines[2].startswith("controller  /x/pki/ca.crt") and lines[2].endswith(" 3650")
    assert all(len(line) <= len(lines[1]) for line in lines)


def test_the_csv_reads_back_with_every_column():
    rows = report_rows()
    back = list(csv.DictReader(io.StringIO(x509_report.csv_text(rows))))
    assert [r["host"] for r in back] == [r["host"] for r in rows]
    assert list(back[0]) == ["host", "path", "subject", "issuer", "not_after", "days_left", "serial", "not_before",
                             "source"]
    assert back[1]["subject"] == "O=system:masters, CN=kubernetes-admin" and back[1]["days_left"] == "365"


def test_the_summary_names_the_soonest_and_those_within_the_warning():
    rows = report_rows()
    summary = x509_report.summary(rows, warn_days=400)
    assert summary["certificates"] == 4 and summary["hosts"] == 3
    assert summary["soonest"]["days_left"] == 365
    assert summary["expiring"] == ["cp1:/etc/kubernetes/admin/admin.crt", "worker1:/etc/kubernetes/admin/admin.crt"]
    assert x509_report.summary([], 30) == {"certificates": 0, "hosts": 0, "soonest": None, "expiring": []}
