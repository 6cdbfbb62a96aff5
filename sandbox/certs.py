"""A private CA, a server certificate and client certificates, so TLS works exactly as against a real cluster.

The CA is kept in the state directory and reused across restarts, so
kubeconfigs written earlier stay valid.  The same CA is the clusters' client
CA: like a kube-apiserver started with ``--client-ca-file``, every cluster
accepts client certificates it signed (user = subject CN, groups = subject O);
:func:`mint_client_cert` issues them.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class TlsMaterial:
    ca_pem: bytes
    cert_path: Path
    key_path: Path
    ca_path: Path

    def server_context(self) -> ssl.SSLContext:
        """The clusters' TLS context: serves ``server.crt`` and asks for (but does not demand) a
        client certificate signed by the CA.  A presented certificate that does not verify fails
        the handshake, as on a real API server; clients without one go on to token auth."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(self.cert_path), str(self.key_path))
        ctx.load_verify_locations(cafile=str(self.ca_path))
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx

    def mint_client_cert(self, common_name: str, groups: tuple[str, ...] | list[str] = (),
                         days: int = 3650) -> tuple[bytes, bytes]:
        """A client certificate and key (PEM) for user ``common_name`` in ``groups``, signed by this CA."""
        return mint_client_cert(self.ca_path.parent, common_name, groups, days=days)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def ensure_tls(directory: Path) -> TlsMaterial:
    """Create (or load) ``ca.crt``/``ca.key`` and ``server.crt``/``server.key`` in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_crt, ca_key = directory / "ca.crt", directory / "ca.key"
    srv_crt, srv_key = directory / "server.crt", directory / "server.key"
    now = datetime.datetime.now(datetime.UTC)
    if ca_crt.exists() and ca_key.exists():
        ca_cert = x509.load_pem_x509_certificate(ca_crt.read_bytes())
        loaded = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        ca_private = loaded
    else:
        ca_private = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sandbox-ca")])
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(ca_private.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_private.public_key()), critical=False)
            .sign(ca_private, hashes.SHA256())
        )
        ca_key.write_bytes(_key_pem(ca_private))
        ca_key.chmod(0o600)
        ca_crt.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        srv_crt.unlink(missing_ok=True)
    if not (srv_crt.exists() and srv_key.exists()):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"),
                x509.DNSName("kubernetes"),
                x509.DNSName("kubernetes.default.svc"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            ]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_private.public_key()),
                           critical=False)
            .sign(ca_private, hashes.SHA256())
        )
        srv_key.write_bytes(_key_pem(key))
        srv_key.chmod(0o600)
        srv_crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return TlsMaterial(ca_crt.read_bytes(), srv_crt, srv_key, ca_crt)


def mint_client_cert(directory: Path, common_name: str, groups: tuple[str, ...] | list[str] = (),
                     days: int = 3650) -> tuple[bytes, bytes]:
    """Issue a client certificate with the CA in ``directory`` (``ca.crt``/``ca.key`` from
    :func:`ensure_tls`): subject CN = ``common_name`` (the user), one O per group.  Returns
    ``(cert_pem, key_pem)``.  ``system:masters`` among the groups makes it a sandbox admin."""
    ca_cert = x509.load_pem_x509_certificate((directory / "ca.crt").read_bytes())
    ca_private = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), password=None)
    assert isinstance(ca_private, ec.EllipticCurvePrivateKey)
    now = datetime.datetime.now(datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([*(x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups),
                         x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, key_cert_sign=False,
                                     crl_sign=False, content_commitment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False),
                       critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_private.public_key()),
                       critical=False)
        .sign(ca_private, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)
