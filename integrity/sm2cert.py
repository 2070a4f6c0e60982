"""An officer's SM2 certificate, checked against the bureau's CA (GB/T 39786-2021 level 3
login by cryptography; docs/access.md §9, ADR 0016). Pure: handed the
certificate, the CA certificate, the CRL and the time; never reads a file or a clock.

The steps, each named in the VerificationError that refuses:

- C1 ``certificate``: one PEM certificate, signed with SM2-with-SM3 (1.2.156.10197.1.501),
  carrying an SM2 public key; not a CA certificate.
- C2 ``issuer``: issued by the bureau's CA (issuer name = the CA's subject), its signature the
  CA key's over the TBSCertificate (user ID ``1234567812345678``, integrity/sm2.py).
- C3 ``validity``: notBefore ≤ now < notAfter, for the certificate and for the CA.
- C4 ``revocation``: when the bureau configures a CRL, it is the CA's (issuer, SM2 signature),
  current (thisUpdate ≤ now < nextUpdate: a stale list fails closed, refresh the file) and does
  not name the certificate's serial number.
- C5 ``subject``: the 警号 is the subject's serialNumber attribute (2.5.4.5), else its CN;
  the caller canonicalises it (evidence/identity.py) and maps it to an account.
- C6 ``signature``: the answer to a login challenge is the certificate key's SM2 signature
  over the challenge's bytes (:func:`verify_answer`).

Threat model: the CA key is the bureau's; whoever holds a certificate's private key and an
unrevoked, current certificate is that officer. Chains (intermediate CAs) are not accepted:
the bureau configures the CA that issues officers' certificates directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.x509.oid import NameOID, ObjectIdentifier

from evidence.errors import VerificationError
from integrity import sm2

SM2_WITH_SM3 = ObjectIdentifier("1.2.156.10197.1.501")
MAX_PEM_BYTES = 16_384  # bound what is parsed for a presented certificate


@dataclass(frozen=True, slots=True)
class BureauCA:
    """The CA that issues officers' certificates, and its CRL if the bureau keeps one.
    Built with :meth:`load`, which refuses a CA that is not an SM2 certificate."""

    cert: x509.Certificate
    point: bytes
    crl: x509.CertificateRevocationList | None = None

    @classmethod
    def load(cls, ca_pem: bytes, *, crl: bytes | None = None) -> BureauCA:
        """The CA from its PEM certificate and optionally a CRL (PEM or DER); ValueError,
        naming the part, for anything else."""
        try:
            cert = x509.load_pem_x509_certificate(ca_pem)
        except ValueError as exc:
            raise ValueError(f"CA certificate is not a PEM certificate: {exc}") from exc
        try:
            point = _sm2_point(cert)
        except VerificationError as exc:
            raise ValueError(f"CA certificate: {exc}") from exc
        revoked = None
        if crl is not None:
            try:
                revoked = (x509.load_pem_x509_crl(crl) if crl.lstrip().startswith(b"-----")
                           else x509.load_der_x509_crl(crl))
            except ValueError as exc:
                raise ValueError(f"CRL is not a PEM or DER CRL: {exc}") from exc
        return cls(cert=cert, point=point, crl=revoked)


@dataclass(frozen=True, slots=True)
class OfficerCertificate:
    """A certificate that passed C1–C5: who it names, its serial, and its key."""

    officer_no: str
    serial: int
    point: bytes


def verify_certificate(pem: bytes, *, ca: BureauCA, now: datetime) -> OfficerCertificate:
    """C1–C5 above; VerificationError naming the step otherwise. ``now`` is timezone-aware."""
    try:
        return _verify(pem, ca=ca, now=now)
    except ValueError as exc:  # the library parses fields lazily: a malformed one, any step
        raise VerificationError(f"malformed certificate: {exc}", step="certificate") from exc


def _verify(pem: bytes, *, ca: BureauCA, now: datetime) -> OfficerCertificate:
    # C1: one SM2 certificate, not a CA
    if len(pem) > MAX_PEM_BYTES:
        raise VerificationError("certificate too large", step="certificate")
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise VerificationError("not a PEM certificate", step="certificate") from exc
    if cert.signature_algorithm_oid != SM2_WITH_SM3:
        raise VerificationError("not signed with SM2-with-SM3", step="certificate")
    point = _sm2_point(cert)
    try:
        if cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise VerificationError("a CA certificate cannot sign in", step="certificate")
    except x509.ExtensionNotFound:
        pass
    # C2: issued and signed by the bureau's CA
    if cert.issuer != ca.cert.subject:
        raise VerificationError("not issued by the bureau's CA", step="issuer")
    sm2.verify(ca.point, cert.tbs_certificate_bytes, cert.signature, step="issuer")
    # C3: within its validity, and the CA within its own
    for which, c in (("certificate", cert), ("CA certificate", ca.cert)):
        if now < c.not_valid_before_utc:
            raise VerificationError(f"{which} not valid yet (from {c.not_valid_before_utc})",
                                    step="validity")
        if now >= c.not_valid_after_utc:
            raise VerificationError(f"{which} expired at {c.not_valid_after_utc}",
                                    step="validity")
    # C4: not revoked by a current CRL of the CA
    if ca.crl is not None:
        _check_crl(ca, cert.serial_number, now=now)
    # C5: the 警号 the subject names
    officer_no = _subject_officer_no(cert)
    return OfficerCertificate(officer_no=officer_no, serial=cert.serial_number, point=point)


def verify_answer(cert: OfficerCertificate, challenge: bytes, signature: bytes) -> None:
    """C6: ``signature`` (DER) is the certificate key's SM2 signature over ``challenge``."""
    sm2.verify(cert.point, challenge, signature, step="signature")


def _check_crl(ca: BureauCA, serial: int, *, now: datetime) -> None:
    crl = ca.crl
    assert crl is not None  # noqa: S101 - checked by the caller
    if crl.issuer != ca.cert.subject or crl.signature_algorithm_oid != SM2_WITH_SM3:
        raise VerificationError("the CRL is not the bureau CA's", step="revocation")
    sm2.verify(ca.point, crl.tbs_certlist_bytes, crl.signature, step="revocation")
    if now < crl.last_update_utc or (crl.next_update_utc is not None
                                     and now >= crl.next_update_utc):
        raise VerificationError(f"the CRL is not current (next update {crl.next_update_utc})",
                                step="revocation")
    if crl.get_revoked_certificate_by_serial_number(serial) is not None:
        raise VerificationError(f"certificate {serial:x} is revoked", step="revocation")


def claimed_officer_no(pem: bytes) -> str | None:
    """What a certificate's subject claims (C5), unchecked and cut to 32 characters: for the
    failed sign-in log only; None when it cannot be read."""
    try:
        return _subject_officer_no(x509.load_pem_x509_certificate(pem[:MAX_PEM_BYTES]))[:32]
    except (ValueError, VerificationError):
        return None


def _subject_officer_no(cert: x509.Certificate) -> str:
    for oid in (NameOID.SERIAL_NUMBER, NameOID.COMMON_NAME):
        attrs = cert.subject.get_attributes_for_oid(oid)
        if attrs:
            value = attrs[0].value
            return value if isinstance(value, str) else value.decode("utf-8", "replace")
    raise VerificationError("the subject names no 警号 (serialNumber or CN)", step="subject")


def _sm2_point(cert: x509.Certificate) -> bytes:
    """The SM2 point of ``cert``'s SubjectPublicKeyInfo (the library cannot load SM2 keys)."""
    spki = _tbs_fields(cert.tbs_certificate_bytes)[6]
    try:
        return sm2.point_from_spki(spki)
    except VerificationError as exc:
        raise VerificationError("the certificate's key is not SM2", step="certificate") from exc


def _tbs_fields(der: bytes) -> list[bytes]:
    """The encoded fields of a TBSCertificate (RFC 5280 §4.1), the [0] version padded in when
    absent so that index 6 is always subjectPublicKeyInfo."""
    _, body = _tlv(der, 0)
    content = der[body[0]:body[1]]
    fields, at = [], 0
    while at < len(content):
        (start, _), (_, end) = _tlv(content, at)
        fields.append(content[start:end])
        at = end
    if not fields or fields[0][:1] != b"\xa0":
        fields.insert(0, b"")
    if len(fields) < 7:  # version … subjectPublicKeyInfo
        raise VerificationError("truncated TBSCertificate", step="certificate")
    return fields


def _tlv(der: bytes, at: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """((tag start, header end), (content start, content end)) of the DER element at ``at``."""
    try:
        first = der[at + 1]
        if first < 0x80:  # short form length
            length, head = first, 2
        else:
            n = first & 0x7F
            length, head = int.from_bytes(der[at + 2:at + 2 + n], "big"), 2 + n
    except IndexError as exc:
        raise VerificationError("truncated DER", step="certificate") from exc
    if at + head + length > len(der):
        raise VerificationError("truncated DER", step="certificate")
    return (at, at + head), (at + head, at + head + length)
