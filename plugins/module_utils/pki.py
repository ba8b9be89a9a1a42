"""Per-host TLS material issued by the cluster CA on the controller (the pki role's logic).

Runs on the controller only (delegate_to: localhost), with the `cryptography` library the role's
preflight asserts. One call handles every certificate of one host, so a warm run that changes
nothing costs one module call per host instead of six per certificate.

Layout (the role's, unchanged): `<ca_dir>/ca.{crt,key}`, `<ca_dir>/issued/<host>/<name>.{key,crt}`.
A certificate is kept when it is still right (see `certificate_problem`), else it is re-issued
with the fields the role always gave: subject O (optional) + CN, SANs (DNS/IP), EKU from the
usages, basicConstraints CA:FALSE, keyUsage digitalSignature+keyEncipherment (critical), subject
and authority key identifiers, validity `validity_days` from now. A key of another type, curve or
size than asked is replaced (and its certificate re-issued); a kept key keeps its certificate.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.stackbench.cluster.plugins.module_utils.install_files import write_atomic
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CURVES: dict[str, type[ec.EllipticCurve]] = {
    curve.name: curve
    for curve in (ec.SECP192R1, ec.SECP224R1, ec.SECP256R1, ec.SECP384R1, ec.SECP521R1, ec.SECP256K1,
                  ec.BrainpoolP256R1, ec.BrainpoolP384R1, ec.BrainpoolP512R1)
}
EKU_OIDS = {"serverAuth": ExtendedKeyUsageOID.SERVER_AUTH, "clientAuth": ExtendedKeyUsageOID.CLIENT_AUTH}
KEY_MODE = 0o600
CERT_MODE = 0o644
DIR_MODE = 0o700


class PkiError(Exception):
    """Bad input or CA material the module cannot work with."""


@dataclass(frozen=True)
class KeySpec:
    """The key every issued certificate gets: ECC (curve) or RSA (size)."""

    type: str = "ECC"
    curve: str = "secp256r1"
    size: int = 2048

    def __post_init__(self) -> None:
        if self.type not in ("ECC", "RSA"):
            raise PkiError(f"key type {self.type!r}: ECC or RSA")
        if self.type == "ECC" and self.curve not in CURVES:
            raise PkiError(f"curve {self.curve!r} is not one of {sorted(CURVES)}")
        if self.type == "RSA" and self.size < 1024:
            raise PkiError(f"RSA key size {self.size} is too small")

    def generate(self) -> Any:
        if self.type == "ECC":
            return ec.generate_private_key(CURVES[self.curve]())
        return rsa.generate_private_key(public_exponent=65537, key_size=self.size)

    def matches(self, key: Any) -> bool:
        if self.type == "ECC":
            return isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == self.curve
        return isinstance(key, rsa.RSAPrivateKey) and key.key_size == self.size


@dataclass(frozen=True)
class Request:
    """One certificate as the role asks for it, resolved (SANs and EKU computed)."""

    name: str
    common_name: str
    organization: str | None
    sans: tuple[str, ...]
    eku: tuple[str, ...]


@dataclass
class Outcome:
    """What one certificate needed; never any key material."""

    name: str
    key: str = "unchanged"  # unchanged | created | replaced | mode fixed
    action: str = "unchanged"  # unchanged | issued
    reason: str = ""
    changed_paths: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.key != "unchanged" or self.action != "unchanged"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "key": self.key, "action": self.action, "reason": self.reason}


def eku_for(usages: Iterable[str]) -> tuple[str, ...]:
    """issue.yml's pki_issue_eku: serverAuth for server/peer, clientAuth for client/peer."""
    usages = set(usages)
    return tuple((["serverAuth"] if usages & {"server", "peer"} else [])
                 + (["clientAuth"] if usages & {"client", "peer"} else []))


def normalize_san(san: str) -> str:
    """`DNS:name` or `IP:address` (the address in its canonical form, so 0:0::1 equals ::1)."""
    kind, sep, value = san.partition(":")
    if not sep or not value or kind not in ("DNS", "IP"):
        raise PkiError(f"SAN {san!r}: use DNS:name or IP:address")
    if kind == "IP":
        try:
            value = str(ipaddress.ip_address(value))
        except ValueError as exc:
            raise PkiError(f"SAN {san!r}: {exc}") from None
    return f"{kind}:{value}"


def sans_for(cert: Mapping[str, Any], host_sans: Iterable[str]) -> tuple[str, ...]:
    """issue.yml's pki_issue_sans: (host SANs unless host_sans is false) + extra SANs, unique, sorted."""
    wanted = (list(host_sans) if cert.get("host_sans", True) else []) + list(cert.get("sans") or [])
    return tuple(sorted({normalize_san(s) for s in wanted}))


def build_request(cert: Mapping[str, Any], host_sans: Iterable[str]) -> Request:
    for key in ("name", "common_name", "usages"):
        if not cert.get(key):
            raise PkiError(f"certificate {cert.get('name', '?')!r}: {key} is required")
    name = str(cert["name"])
    if "/" in name or name in (".", ".."):
        raise PkiError(f"certificate name {name!r} must be a plain file stem")
    bad = set(cert["usages"]) - {"server", "client", "peer"}
    if bad:
        raise PkiError(f"certificate {name!r}: unknown usages {sorted(bad)}")
    return Request(name=name, common_name=str(cert["common_name"]), organization=cert.get("organization") or None,
                   sans=sans_for(cert, host_sans), eku=eku_for(cert["usages"]))


def _subject(request: Request) -> x509.Name:
    attributes = []
    if request.organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, request.organization))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, request.common_name))
    return x509.Name(attributes)


def _general_name(san: str) -> x509.GeneralName:
    kind, _, value = san.partition(":")
    return x509.DNSName(value) if kind == "DNS" else x509.IPAddress(ipaddress.ip_address(value))


def certificate_sans(cert: x509.Certificate) -> set[str]:
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    out = {f"DNS:{n}" for n in names.get_values_for_type(x509.DNSName)}
    out |= {f"IP:{a}" for a in names.get_values_for_type(x509.IPAddress)}
    return out


def certificate_eku(cert: x509.Certificate) -> set[str]:
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return set()
    names = {oid: name for name, oid in EKU_OIDS.items()}
    return {names.get(oid, oid.dotted_string) for oid in usages}


def _public_der(key: Any) -> bytes:
    """A public key (or a private key's public half) as DER SubjectPublicKeyInfo."""
    if hasattr(key, "private_bytes"):
        key = key.public_key()
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def parse_time(text: str) -> datetime.datetime:
    """An ISO 8601 time (`Z` or an offset; a naive one is UTC) as an aware datetime."""
    try:
        moment = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise PkiError(f"not an ISO 8601 time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def _not_after(cert: x509.Certificate) -> datetime.datetime:
    return cert.not_valid_after_utc


def certificate_problem(pem: bytes | None, key: Any, ca_cert: x509.Certificate, request: Request,
                        now: datetime.datetime, renew_before_days: int,
                        renew_issued_before: datetime.datetime | None = None) -> str | None:
    """Why the certificate must be (re)issued, or None when it is still right."""
    if pem is None:
        return "missing"
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:
        return "unreadable"
    if cert.issuer != ca_cert.subject:
        return "issued by another CA"
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return "issued by another CA"
    if _public_der(cert.public_key()) != _public_der(key):
        return "key differs"
    subject = cert.subject
    cn = [a.value for a in subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    org = [a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    if cn != [request.common_name] or org != ([request.organization] if request.organization else []):
        return "subject differs"
    if certificate_sans(cert) != set(request.sans):
        return "sans differ"
    if certificate_eku(cert) != set(request.eku):
        return "usages differ"
    if _not_after(cert) <= now + datetime.timedelta(days=renew_before_days):
        return "expires within the renewal window"
    if renew_issued_before is not None and cert.not_valid_before_utc < renew_issued_before:
        return "issued before the renewal asked for"
    return None


def issue_certificate(key: Any, ca_cert: x509.Certificate, ca_key: Any, request: Request,
                      now: datetime.datetime, validity_days: int) -> x509.Certificate:
    """A leaf certificate for `key` signed by the CA, with the role's fields."""
    start = now.replace(microsecond=0)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_subject(request))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=validity_days))
    )
    if request.sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([_general_name(s) for s in request.sans]),
                                        critical=False)
    builder = (
        builder.add_extension(
            x509.KeyUsage(digital_signature=True, key_encipherment=True, content_commitment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                          encipher_only=False, decipher_only=False),
            critical=True)
        .add_extension(x509.ExtendedKeyUsage([EKU_OIDS[u] for u in request.eku]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    return builder.sign(ca_key, hashes.SHA256())


def key_pem(key: Any) -> bytes:
    """The key as community.crypto wrote it (traditional `EC/RSA PRIVATE KEY` PEM), unencrypted."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def atomic_write(path: str, data: bytes, mode: int) -> None:
    """Write `data` to `path` by a temp file in the same directory (0600 from its creation, so a key is
    never readable by others, not even briefly), given `mode` before the rename."""
    write_atomic(path, data, mode=mode)


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _load_key(pem: bytes | None) -> Any:
    if pem is None:
        return None
    try:
        return serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        return None


def load_ca(ca_dir: str) -> tuple[x509.Certificate, Any] | None:
    """The cluster CA (certificate, key), or None when it does not exist yet."""
    cert_pem, key_pem_bytes = _read(os.path.join(ca_dir, "ca.crt")), _read(os.path.join(ca_dir, "ca.key"))
    if cert_pem is None or key_pem_bytes is None:
        return None
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise PkiError(f"{ca_dir}/ca.crt: {exc}") from None
    key = _load_key(key_pem_bytes)
    if key is None:
        raise PkiError(f"{ca_dir}/ca.key is not an unencrypted PEM private key")
    if _public_der(cert.public_key()) != _public_der(key):
        raise PkiError(f"{ca_dir}/ca.key does not belong to {ca_dir}/ca.crt")
    return cert, key


def ensure_certificate(host_dir: str, request: Request, spec: KeySpec, ca: tuple[x509.Certificate, Any] | None,
                       now: datetime.datetime, validity_days: int, renew_before_days: int,
                       check_mode: bool, renew_issued_before: datetime.datetime | None = None) -> Outcome:
    """Make `<host_dir>/<name>.key` and `.crt` right; in check mode only say what would change."""
    outcome = Outcome(name=request.name)
    key_path = os.path.join(host_dir, f"{request.name}.key")
    crt_path = os.path.join(host_dir, f"{request.name}.crt")

    key = _load_key(_read(key_path))
    if key is None or not spec.matches(key):
        outcome.key = "created" if not os.path.exists(key_path) else "replaced"
        key = spec.generate()  # generated in check mode too (not written): the certificate check needs one
        if not check_mode:
            atomic_write(key_path, key_pem(key), KEY_MODE)
        outcome.changed_paths.append(key_path)
    elif os.stat(key_path).st_mode & 0o7777 != KEY_MODE:
        outcome.key = "mode fixed"
        if not check_mode:
            os.chmod(key_path, KEY_MODE)
        outcome.changed_paths.append(key_path)

    if ca is None:  # only in check mode: the CA is made by the tasks before, so it would be new
        reason = "no CA yet"
    elif outcome.key in ("created", "replaced"):
        reason = f"key {outcome.key}"
    else:
        reason = certificate_problem(_read(crt_path), key, ca[0], request, now, renew_before_days, renew_issued_before)
    if reason is not None:
        outcome.action, outcome.reason = "issued", reason
        if not check_mode:
            assert ca is not None
            cert = issue_certificate(key, ca[0], ca[1], request, now, validity_days)
            atomic_write(crt_path, cert.public_bytes(serialization.Encoding.PEM), CERT_MODE)
        outcome.changed_paths.append(crt_path)
    elif os.stat(crt_path).st_mode & 0o7777 != CERT_MODE:
        outcome.action, outcome.reason = "mode fixed", "certificate mode"
        if not check_mode:
            os.chmod(crt_path, CERT_MODE)
        outcome.changed_paths.append(crt_path)
    return outcome


def ensure_certificates(ca_dir: str, host: str, certificates: Iterable[Mapping[str, Any]],
                        host_sans: Iterable[str] = (), spec: KeySpec | None = None, validity_days: int = 365,
                        renew_before_days: int = 30, check_mode: bool = False,
                        now: datetime.datetime | None = None, renew_issued_before: str = ""
                        ) -> tuple[bool, list[dict[str, Any]]]:
    """Every certificate of `host`: (changed, one outcome dict per certificate). `renew_issued_before`
    (ISO 8601) re-issues every certificate issued before that time: a renewal asked for now."""
    spec = spec or KeySpec()
    now = now or datetime.datetime.now(datetime.UTC)
    if renew_before_days >= validity_days:
        raise PkiError(f"renew_before_days ({renew_before_days}) must be below validity_days ({validity_days})")
    if not host or "/" in host or host in (".", ".."):
        raise PkiError(f"host {host!r} is not a usable directory name")
    host_sans = list(host_sans)
    requests = [build_request(c, host_sans) for c in certificates]
    names = [r.name for r in requests]
    if len(set(names)) != len(names):
        raise PkiError(f"certificate names must be unique per host: {names}")
    ca = load_ca(ca_dir)
    if ca is None and not check_mode:
        raise PkiError(f"no CA in {ca_dir} (ca.crt and ca.key): the role's ca.yml makes it first")
    host_dir = os.path.join(ca_dir, "issued", host)
    dir_changed = False
    if not os.path.isdir(host_dir):
        dir_changed = True
        if not check_mode:
            os.makedirs(host_dir, mode=DIR_MODE, exist_ok=True)
            os.chmod(host_dir, DIR_MODE)
    issued_before = parse_time(renew_issued_before) if renew_issued_before else None
    outcomes = [ensure_certificate(host_dir, r, spec, ca, now, validity_days, renew_before_days, check_mode,
                                   issued_before) for r in requests]
    changed = dir_changed or any(o.changed for o in outcomes)
    return changed, [o.as_dict() for o in outcomes]
