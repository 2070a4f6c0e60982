"""RFC 3161 time-stamp requests and token verification (DESIGN.md §4), pure.

Bytes and trust anchors in; a ``TimestampInfo`` out or ``VerificationError(step="timestamp")``
raised. Fetching a token is the TSA adapter's job (``storage/tsa.py``); nothing here does I/O.

What we keep: the **whole DER ``TimeStampResp``** exactly as the TSA returned it (PKIStatusInfo +
TimeStampToken, about 1 KB with the signer certificate), not the bare TimeStampToken ContentInfo:
rfc3161-client parses and verifies only full responses, and keeping the TSA's bytes verbatim means
no re-encoding stands between what the TSA sent and what an auditor checks. The bare token is
``decode_timestamp_response(resp).time_stamp_token()`` if an export format ever needs it.

Verification steps (``VerificationError.reason`` says which failed):

1. the bytes parse as one strict-DER TimeStampResp (rust-asn1 refuses BER, trailing bytes and
   unsorted SETs — so a TSA configured to embed its chain, e.g. ``openssl ts`` with ``certs =``,
   may produce tokens that do not parse; configure it to send the signer certificate only);
2. PKIStatus is ``granted`` (0); ``grantedWithMods`` is refused, as rfc3161-client does;
3. the message imprint uses SHA-256 and equals SHA-256(``message``) (RFC 3161 §2.4.2);
4. the CMS signature verifies and the signer certificate chains to one of ``roots``, valid at
   the token's genTime (RFC 3161 §2.4.2, rfc3161-client / OpenSSL ``PKCS7_verify``);
5. the signer certificate carries a *critical* extendedKeyUsage that includes
   id-kp-timeStamping (RFC 3161 §2.3); checked by rfc3161-client.

Threat-model notes:

- Revocation of the TSA certificate is not checked (no CRL/OCSP in the pure core); a compromised
  TSA is handled by removing its root from the trust root.
- A token is **malleable** in fields the CMS signature does not cover (SignedData and SignerInfo
  version, the signatureAlgorithm OID): a few single-byte changes still verify. A token's identity
  is therefore its SHA-256 as recorded in the ``anchored`` ledger entry, never "it verifies".
- SM2/SM3 tokens (GM/T 0033, Chinese TSAs) do not verify here: step 3 requires a SHA-256
  imprint (rfc3161-client knows only SHA-256/384/512). ``integrity/timestamp_sm.py`` verifies
  them with the same contract, and its ``verify_timestamp`` dispatches a token to the verifier
  of its kind: callers use that one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    TimeStampResponse,
    VerifierBuilder,
    decode_timestamp_response,
)
from rfc3161_client import VerificationError as Rfc3161VerificationError

from evidence.errors import VerificationError

STEP = "timestamp"
SHA256_OID = x509.ObjectIdentifier("2.16.840.1.101.3.4.2.1")  # id-sha256, RFC 5758 §2
MAX_TOKEN_BYTES = 64 * 1024  # bound DoS: real responses are 1-8 KB even with a chain


@dataclass(frozen=True, slots=True)
class TimestampInfo:
    """What a verified token asserts: ``hash_hex`` existed no later than ``gen_time``."""

    gen_time: datetime
    """TSTInfo genTime, timezone-aware UTC."""
    serial: int
    """TSTInfo serialNumber: unique per TSA (RFC 3161 §2.4.2)."""
    policy_oid: str
    """TSA policy under which the token was issued, dotted decimal."""
    tsa_name: str
    """RFC 4514 subject of the certificate that signed the token (the verified signer)."""
    hash_hex: str
    """Message imprint: lowercase hex SHA-256 of the timestamped message."""


def build_request(message: bytes, *, nonce: bool = True) -> bytes:
    """DER TimeStampReq for SHA-256(``message``), certReq true, no policy.

    ``nonce=True`` adds a random 64-bit nonce (RFC 3161 §2.4.1); pass ``False`` for
    reproducible request bytes. ``message`` must be non-empty (ValueError otherwise).
    """
    if not message:
        raise ValueError("cannot timestamp an empty message")
    request = (
        TimestampRequestBuilder()
        .data(message)
        .hash_algorithm(HashAlgorithm.SHA256)
        .nonce(nonce=nonce)
        .cert_request(cert_request=True)
        .build()
    )
    return request.as_bytes()


def _load_roots(roots: Sequence[bytes]) -> list[x509.Certificate]:
    """Parse trust anchors: each item is one DER certificate or PEM text with one or more.

    Raises ValueError on an empty list or an unparsable certificate: a bad trust root is a
    configuration error, not evidence that fails verification.
    """
    certificates: list[x509.Certificate] = []
    for blob in roots:
        if blob.lstrip().startswith(b"-----BEGIN"):
            certificates.extend(x509.load_pem_x509_certificates(blob))
        else:
            certificates.append(x509.load_der_x509_certificate(blob))
    if not certificates:
        raise ValueError(
            "no TSA root certificates given: refusing to verify against nothing"
        )
    return list(dict.fromkeys(certificates))  # rfc3161-client refuses duplicate roots


def _fail(reason: str) -> VerificationError:
    return VerificationError(reason, step=STEP)


def _signer_certificate(response: TimeStampResponse) -> x509.Certificate:
    """The embedded certificate named by the single SignerInfo's issuerAndSerialNumber."""
    # Step 4 already required exactly one SignerInfo.
    (signer_info,) = response.signed_data.signer_infos
    for der in response.signed_data.certificates:
        certificate = x509.load_der_x509_certificate(der)
        if (
            certificate.issuer == signer_info.issuer
            and certificate.serial_number == signer_info.serial_number
        ):
            return certificate
    raise _fail("signer certificate not found in the token")


def verify_token(
    token: bytes, *, message: bytes, roots: Sequence[bytes]
) -> TimestampInfo:
    """Verify a stored TimeStampResp over ``message`` against the TSA trust anchors ``roots``.

    Returns what the token asserts; raises ``VerificationError(step="timestamp")`` when any step
    in the module docstring fails, ValueError when ``roots`` is empty or unparsable.
    """
    anchors = _load_roots(roots)
    if len(token) > MAX_TOKEN_BYTES:
        raise _fail(f"token is {len(token)} bytes, more than {MAX_TOKEN_BYTES}")

    # (1) strict DER TimeStampResp; (2) granted, before touching the token a rejection lacks.
    try:
        response = decode_timestamp_response(token)
        status = response.status
        if status != PKIStatus.GRANTED:
            raise _fail(
                f"PKIStatus is {status}, not granted (0): {response.status_string}"
            )
        tst_info = response.tst_info
        imprint = tst_info.message_imprint
    except ValueError as exc:
        raise _fail(f"malformed TimeStampResp: {exc}") from exc

    # (3) the imprint covers exactly these bytes.
    if imprint.hash_algorithm != SHA256_OID:
        raise _fail(
            f"message imprint uses {imprint.hash_algorithm.dotted_string}, not SHA-256"
        )
    digest = hashlib.sha256(message).digest()
    if imprint.message != digest:
        raise _fail(
            f"message imprint {imprint.message.hex()} does not match SHA-256 of the message "
            f"{digest.hex()}: the token covers other bytes"
        )

    # (4) signature and chain to a root at genTime; (5) critical timeStamping EKU on the signer.
    builder = VerifierBuilder()
    for anchor in anchors:
        builder = builder.add_root_certificate(anchor)
    try:
        builder.build().verify(response, digest)
        signer = _signer_certificate(response)
    except Rfc3161VerificationError as exc:
        raise _fail(f"token signature or TSA certificate rejected: {exc}") from exc
    except ValueError as exc:  # an embedded certificate that does not parse
        raise _fail(f"malformed certificate in token: {exc}") from exc

    # rfc3161-client returns aware UTC already; normalise defensively.
    gen_time = tst_info.gen_time
    if gen_time.tzinfo is None:
        gen_time = gen_time.replace(tzinfo=UTC)
    return TimestampInfo(
        gen_time=gen_time.astimezone(UTC),
        serial=tst_info.serial_number,
        policy_oid=tst_info.policy.dotted_string,
        tsa_name=signer.subject.rfc4514_string(),
        hash_hex=imprint.message.hex(),
    )
