"""Certificates for TLS tests, made with ``cryptography`` (no Barbican, no openssl CLI).

:func:`make_ca` makes a self-signed CA; :meth:`Ca.issue` a leaf certificate
signed by it (server or client, with DNS names), as PEM or as a PKCS12 bundle
(:meth:`Leaf.pkcs12`); :meth:`Ca.crl` a CRL revoking given serial numbers.
Keys are EC P-256: quick to make.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime.datetime.now(datetime.UTC)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@dataclass(frozen=True)
class Leaf:
    cn: str
    certificate: str
    private_key: str
    serial: int
    fingerprint_sha1: str

    @property
    def pem(self) -> str:
        return self.certificate + self.private_key

    def pkcs12(self) -> bytes:
        """The certificate and its key as one PKCS12 bundle without a pass phrase
        (what Octavia's cookbook stores as a single secret)."""
        key = serialization.load_pem_private_key(self.private_key.encode(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return pkcs12.serialize_key_and_certificates(
            self.cn.encode(), key, x509.load_pem_x509_certificate(self.certificate.encode()),
            None, serialization.NoEncryption())


@dataclass
class Ca:
    name: str
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    issued: list[int] = field(default_factory=list)

    @property
    def certificate(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def issue(self, cn: str, dns: tuple[str, ...] = (), *, client: bool = False) -> Leaf:
        key = ec.generate_private_key(ec.SECP256R1())
        serial = x509.random_serial_number()
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                                            x509.NameAttribute(NameOID.ORGANIZATION_NAME,
                                                               "Tricircle Tests")]))
                   .issuer_name(self.cert.subject).public_key(key.public_key())
                   .serial_number(serial)
                   .not_valid_before(NOW - datetime.timedelta(days=1))
                   .not_valid_after(NOW + datetime.timedelta(days=30))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), False))
        if dns:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), False)
        cert = builder.sign(self.key, hashes.SHA256())
        self.issued.append(serial)
        return Leaf(cn, cert.public_bytes(serialization.Encoding.PEM).decode(), _pem_key(key),
                    serial, cert.fingerprint(hashes.SHA1()).hex())

    def crl(self, revoked: tuple[int, ...] = ()) -> str:
        builder = (x509.CertificateRevocationListBuilder().issuer_name(self.cert.subject)
                   .last_update(NOW - datetime.timedelta(hours=1))
                   .next_update(NOW + datetime.timedelta(days=30)))
        for serial in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial)
                .revocation_date(NOW - datetime.timedelta(minutes=5)).build())
        return builder.sign(self.key, hashes.SHA256()).public_bytes(
            serialization.Encoding.PEM).decode()


def make_ca(name: str) -> Ca:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW - datetime.timedelta(days=1))
            .not_valid_after(NOW + datetime.timedelta(days=60))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False,
                                         decipher_only=False), True)
            .sign(key, hashes.SHA256()))
    return Ca(name, key, cert)
