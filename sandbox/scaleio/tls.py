"""Per-sandbox TLS: one CA, and server certificates it signs for each gateway address.

Layout under a TLS dir (normally ``<system state dir>/tls``, which agent roots see at the same path):

- ``ca.pem``   the CA certificate. Clients verify the gateway against it (PyPowerFlex
  ``certificate_path``, ``requests`` ``verify=``); it is the file the sandbox exposes.
- ``ca.key``   the CA private key (0600), so a gateway started inside an agent can get a certificate for
  that agent's address without any other party.
- ``server-<ip>.pem`` / ``server-<ip>.key`` (0600): a certificate whose SubjectAltName is that IP.

Creation is serialised with an flock on ``.lock`` so concurrent gateways never race on the CA.
EC P-256 keys: fast to generate on a shared 2-core machine.
"""
from __future__ import annotations

import contextlib
import datetime
import fcntl
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT = "ca.pem"
CA_KEY = "ca.key"
VALIDITY = datetime.timedelta(days=825)


@contextlib.contextmanager
def _locked(tls_dir: Path):
    tls_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(tls_dir / ".lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write atomically (temp + rename) so a reader never sees half a PEM."""
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def ensure_ca(tls_dir) -> Path:
    """Create the CA in ``tls_dir`` unless it exists; return the path of ``ca.pem``."""
    tls_dir = Path(tls_dir)
    with _locked(tls_dir):
        if not (tls_dir / CA_CERT).exists() or not (tls_dir / CA_KEY).exists():
            key = ec.generate_private_key(ec.SECP256R1())
            name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dcos-scaleio sandbox"),
                              x509.NameAttribute(NameOID.COMMON_NAME, "dcos-scaleio sandbox CA")])
            ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
            cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                    .public_key(key.public_key()).serial_number(x509.random_serial_number())
                    .not_valid_before(_now() - datetime.timedelta(minutes=5))
                    .not_valid_after(_now() + VALIDITY)
                    .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                    .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                 content_commitment=False, key_encipherment=False,
                                                 data_encipherment=False, key_agreement=False,
                                                 encipher_only=False, decipher_only=False), critical=True)
                    .add_extension(ski, critical=False)
                    .sign(key, hashes.SHA256()))
            _write(tls_dir / CA_KEY, _key_pem(key), 0o600)
            _write(tls_dir / CA_CERT, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return tls_dir / CA_CERT


def issue_server_cert(tls_dir, ip: str, *, dns_names=()) -> tuple[Path, Path]:
    """A server certificate for ``ip`` (SubjectAltName IP, plus ``dns_names``), signed by the CA.

    Reuses an existing certificate for the same IP. Returns ``(cert_path, key_path)``.
    """
    tls_dir = Path(tls_dir)
    ipaddress.IPv4Address(ip)   # validated: it becomes part of a file name
    ensure_ca(tls_dir)
    cert_path, key_path = tls_dir / f"server-{ip}.pem", tls_dir / f"server-{ip}.key"
    with _locked(tls_dir):
        if cert_path.exists() and key_path.exists():
            return cert_path, key_path
        ca_key = serialization.load_pem_private_key((tls_dir / CA_KEY).read_bytes(), password=None)
        ca_cert = x509.load_pem_x509_certificate((tls_dir / CA_CERT).read_bytes())
        key = ec.generate_private_key(ec.SECP256R1())
        sans = [x509.IPAddress(ipaddress.IPv4Address(ip))] + [x509.DNSName(d) for d in dns_names]
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ip)]))
                .issuer_name(ca_cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(_now() - datetime.timedelta(minutes=5))
                .not_valid_after(_now() + VALIDITY)
                .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                               critical=False)
                .sign(ca_key, hashes.SHA256()))
        _write(key_path, _key_pem(key), 0o600)
        _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return cert_path, key_path
