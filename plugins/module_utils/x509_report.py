"""Which X.509 certificates a host holds and when each expires: PEM files and the certificates
embedded in kubeconfigs, read with a small DER reader (subject, issuer, serial, validity), and the
report made of them (text table, CSV, JSON rows).

Runs on managed hosts (the certificates_scan module) and on the controller (certificates_report);
standard library only, so hosts need no crypto library. It never reads or returns key material:
only `-----BEGIN CERTIFICATE-----` blocks are decoded, and files named like keys are not opened.
"""

from __future__ import annotations

import base64
import binascii
import csv
import datetime
import io
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----\s*(.+?)\s*-----END CERTIFICATE-----", re.S)
# kubeconfig fields that embed a certificate (base64 of PEM)
KUBECONFIG_FIELDS = ("client-certificate-data", "certificate-authority-data")
KUBECONFIG_LINE = re.compile(r"^\s*(client-certificate-data|certificate-authority-data):\s*[\"']?([A-Za-z0-9+/=]+)")
CERT_SUFFIXES = (".crt", ".pem", ".cert", ".cer")
KEY_HINTS = (".key", "-key.pem", "_key.pem")
MAX_FILE_BYTES = 1 << 20  # a certificate file or kubeconfig is small; anything bigger is not one

ATTRIBUTE_NAMES = {
    "2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O", "2.5.4.11": "OU",
    "2.5.4.5": "serialNumber", "1.2.840.113549.1.9.1": "emailAddress", "0.9.2342.19200300.100.1.25": "DC",
}
COLUMNS = ("host", "path", "subject", "issuer", "not_after", "days_left")
HEADINGS = {"host": "host", "path": "path", "subject": "subject", "issuer": "issuer", "not_after": "not after",
            "days_left": "days left"}


class CertificateError(ValueError):
    """Bytes that are not a DER X.509 certificate."""


@dataclass(frozen=True)
class Certificate:
    """What the report shows of one certificate."""

    path: str  # the file, or `FILE (FIELD of USER/CLUSTER)` for a kubeconfig's embedded one
    subject: str
    issuer: str
    serial: str  # hex
    not_before: str  # ISO 8601, UTC (Z)
    not_after: str
    days_left: int  # whole days from now to not_after, negative once expired
    source: str  # file | kubeconfig

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---- DER ------------------------------------------------------------------------------------


def _tlv(data: bytes, offset: int) -> tuple[int, bytes, int]:
    """(tag, value, offset after) of the DER element at `offset`."""
    if offset + 2 > len(data):
        raise CertificateError("truncated element")
    tag, first = data[offset], data[offset + 1]
    offset += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or offset + count > len(data):
            raise CertificateError("bad length")
        length = int.from_bytes(data[offset:offset + count], "big")
        offset += count
    if offset + length > len(data):
        raise CertificateError("truncated value")
    return tag, data[offset:offset + length], offset + length


def _children(value: bytes) -> list[tuple[int, bytes]]:
    out, offset = [], 0
    while offset < len(value):
        tag, child, offset = _tlv(value, offset)
        out.append((tag, child))
    return out


def _oid(value: bytes) -> str:
    if not value:
        raise CertificateError("empty OID")
    first = value[0]
    parts = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    number = 0
    for byte in value[1:]:
        number = (number << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(number)
            number = 0
    return ".".join(str(p) for p in parts)


def _string(tag: int, value: bytes) -> str:
    if tag == 0x1E:  # BMPString
        return value.decode("utf-16-be", "replace")
    if tag == 0x1C:  # UniversalString
        return value.decode("utf-32-be", "replace")
    if tag == 0x14:  # T61String, read as Latin-1 as most tools do
        return value.decode("latin-1")
    return value.decode("utf-8", "replace")  # UTF8String, PrintableString, IA5String, ...


def _name(value: bytes) -> str:
    """A Name as `CN=..., O=...`-style text, in the certificate's order (as `openssl x509 -noout -subject`)."""
    parts = []
    for _, rdn in _children(value):
        for _, attribute in _children(rdn):
            (oid_tag, oid), (tag, text) = _children(attribute)[:2]
            if oid_tag != 0x06:
                raise CertificateError("bad attribute")
            oid_text = _oid(oid)
            parts.append(f"{ATTRIBUTE_NAMES.get(oid_text, oid_text)}={_string(tag, text)}")
    return ", ".join(parts)


def _time(tag: int, value: bytes) -> datetime.datetime:
    text = value.decode("ascii")
    if tag == 0x17:  # UTCTime YYMMDDHHMMSSZ: years 50-99 are 19xx (RFC 5280)
        stamp = datetime.datetime.strptime(text, "%y%m%d%H%M%SZ")
        if stamp.year >= 2050:
            stamp = stamp.replace(year=stamp.year - 100)
    elif tag == 0x18:  # GeneralizedTime YYYYMMDDHHMMSSZ
        stamp = datetime.datetime.strptime(text, "%Y%m%d%H%M%SZ")
    else:
        raise CertificateError(f"bad time tag {tag:#x}")
    return stamp.replace(tzinfo=datetime.UTC)


@dataclass(frozen=True)
class Parsed:
    subject: str
    issuer: str
    serial: str
    not_before: datetime.datetime
    not_after: datetime.datetime


def parse_der(der: bytes) -> Parsed:
    """Subject, issuer, serial and validity of a DER certificate."""
    try:
        tag, certificate, _ = _tlv(der, 0)
        if tag != 0x30:
            raise CertificateError("not a SEQUENCE")
        tag, tbs = _children(certificate)[0]
        fields = _children(tbs)
        if fields and fields[0][0] == 0xA0:  # [0] EXPLICIT version
            fields = fields[1:]
        (serial_tag, serial), _algorithm, (issuer_tag, issuer), (validity_tag, validity), (subject_tag, subject) = \
            fields[:5]
        if (serial_tag, issuer_tag, validity_tag, subject_tag) != (0x02, 0x30, 0x30, 0x30):
            raise CertificateError("unexpected TBSCertificate layout")
        (before_tag, before), (after_tag, after) = _children(validity)[:2]
        return Parsed(subject=_name(subject), issuer=_name(issuer),
                      serial=format(int.from_bytes(serial, "big", signed=False), "x"),
                      not_before=_time(before_tag, before), not_after=_time(after_tag, after))
    except (IndexError, ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, CertificateError):
            raise
        raise CertificateError(str(exc)) from None


def pem_certificates(data: bytes) -> list[bytes]:
    """The DER of every CERTIFICATE block in `data`."""
    out = []
    for block in PEM_BLOCK.findall(data):
        try:
            out.append(base64.b64decode(b"".join(block.split()), validate=True))
        except (binascii.Error, ValueError) as exc:
            raise CertificateError(f"bad base64: {exc}") from None
    return out


def days_left(not_after: datetime.datetime, now: datetime.datetime) -> int:
    """Whole days from `now` to `not_after` (floored: 0 on the last day, negative once expired)."""
    return int((not_after - now).total_seconds() // 86400)


def _iso(stamp: datetime.datetime) -> str:
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def certificate(der: bytes, path: str, source: str, now: datetime.datetime) -> Certificate:
    parsed = parse_der(der)
    return Certificate(path=path, subject=parsed.subject, issuer=parsed.issuer, serial=parsed.serial,
                       not_before=_iso(parsed.not_before), not_after=_iso(parsed.not_after),
                       days_left=days_left(parsed.not_after, now), source=source)


# ---- files ----------------------------------------------------------------------------------


def is_kubeconfig(path: str) -> bool:
    name = os.path.basename(path)
    return name == "kubeconfig" or name.endswith((".kubeconfig", ".conf")) or name == "config"


def is_certificate_file(path: str) -> bool:
    name = os.path.basename(path).lower()
    return name.endswith(CERT_SUFFIXES) and not name.endswith(KEY_HINTS)


def kubeconfig_certificates(text: str) -> Iterator[tuple[str, bytes]]:
    """(label, DER) of each certificate embedded in a kubeconfig, labelled by field and the entry's name."""
    entry = ""
    for line in text.splitlines():
        named = re.match(r"^\s*-?\s*name:\s*[\"']?([^\"'#]+?)[\"']?\s*$", line)
        if named:
            entry = named.group(1)
        found = KUBECONFIG_LINE.match(line)
        if not found:
            continue
        field, data = found.groups()
        try:
            pem = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CertificateError(f"{field}: bad base64: {exc}") from None
        for index, der in enumerate(pem_certificates(pem)):
            label = f"{field} of {entry}" if entry else field
            yield (f"{label} #{index + 1}" if index else label), der


def candidate_files(paths: Iterable[str]) -> Iterator[str]:
    """Every certificate file and kubeconfig under `paths` (files or directories), sorted, once each."""
    seen: set[str] = set()
    for root in paths:
        if os.path.isfile(root):
            found = [root]
        elif os.path.isdir(root):
            found = []
            for directory, dirs, files in os.walk(root):
                dirs.sort()
                found += [os.path.join(directory, f) for f in sorted(files)]
            found = [f for f in found if is_certificate_file(f) or is_kubeconfig(f)]
        else:
            continue
        for path in found:
            if path not in seen:
                seen.add(path)
                yield path


def scan(paths: Iterable[str], now: datetime.datetime | None = None) -> tuple[list[Certificate], list[dict[str, str]]]:
    """(certificates, errors) of every certificate file and kubeconfig under `paths`."""
    now = now or datetime.datetime.now(datetime.UTC)
    found: list[Certificate] = []
    errors: list[dict[str, str]] = []
    for path in candidate_files(paths):
        if os.path.basename(path).lower().endswith(KEY_HINTS):
            continue
        try:
            if os.path.getsize(path) > MAX_FILE_BYTES:
                continue
            with open(path, "rb") as handle:
                data = handle.read()
            if is_kubeconfig(path) and not is_certificate_file(path):
                for label, der in kubeconfig_certificates(data.decode("utf-8", "replace")):
                    found.append(certificate(der, f"{path} ({label})", "kubeconfig", now))
            else:
                blocks = pem_certificates(data)
                for index, der in enumerate(blocks):
                    shown = f"{path} #{index + 1}" if len(blocks) > 1 else path
                    found.append(certificate(der, shown, "file", now))
        except (OSError, CertificateError) as exc:
            errors.append({"path": path, "error": str(exc)})
    return found, errors


# ---- the report -------------------------------------------------------------------------------


def rows(by_host: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """One row per certificate of every host, `host` first, sorted by host then path."""
    out = [{"host": host, **dict(cert)} for host, certs in by_host.items() for cert in certs]
    return sorted(out, key=lambda r: (str(r["host"]), str(r["path"])))


def table(report_rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows as an aligned text table (host, path, subject, issuer, not after, days left)."""
    cells = [[HEADINGS[c] for c in COLUMNS]] + [[str(r.get(c, "")) for c in COLUMNS] for r in report_rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    lines = []
    for number, row in enumerate(cells):
        padded = [cell.rjust(widths[i]) if COLUMNS[i] == "days_left" else cell.ljust(widths[i])
                  for i, cell in enumerate(row)]
        lines.append("  ".join(padded).rstrip())
        if number == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def csv_text(report_rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows as CSV, the table's columns then the serial, not-before and source."""
    columns = [*COLUMNS, "serial", "not_before", "source"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in report_rows:
        writer.writerow([row.get(c, "") for c in columns])
    return out.getvalue()


def summary(report_rows: Sequence[Mapping[str, Any]], warn_days: int) -> dict[str, Any]:
    """How many certificates, the soonest expiry, and those within `warn_days` (or expired)."""
    soonest = min(report_rows, key=lambda r: r["days_left"], default=None)
    expiring = [f"{r['host']}:{r['path']}" for r in report_rows if r["days_left"] <= warn_days]
    return {"certificates": len(report_rows), "hosts": len({r["host"] for r in report_rows}),
            "soonest": None if soonest is None else {k: soonest[k] for k in ("host", "path", "not_after",
                                                                               "days_left")},
            "expiring": expiring}
