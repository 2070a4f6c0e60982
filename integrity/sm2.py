"""SM2 signatures (GB/T 32918.2 with SM3, GB/T 35276 encodings), pure: the one module that
names the SM2 library (docs/adr/0009-sm2-library.md).

The user ID (distinguishing identifier) is ``1234567812345678`` (GB/T 35276 §11 default), set
explicitly on both signing and verifying. OpenSSL 3.0 uses an *empty* ID when none is set, and a
signature made that way fails in every other implementation; ``verify`` refuses such signatures
under the default ID, which ../shared/conformance/sm/vectors.json checks.

Encodings, chosen for interop with the ``openssl`` CLI and other implementations:

- signatures: DER ``SEQUENCE { r INTEGER, s INTEGER }`` (GB/T 35276 §7.3);
- public keys: the 65-byte uncompressed point ``04 ‖ x ‖ y``, or its SubjectPublicKeyInfo
  (id-ecPublicKey with the SM2 curve OID 1.2.156.10197.1.301), which ``openssl pkey -pubin``
  reads;
- private keys: the 32-byte scalar, or its PKCS#8 DER in exactly the layout ``openssl genpkey
  -algorithm SM2`` writes (RFC 5915 ECPrivateKey with the public point); PEM armour and files
  are the key file adapter's business (storage/keyfiles.py).
"""

from __future__ import annotations

import secrets
from functools import lru_cache

from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from evidence.errors import UnavailableError, VerificationError

try:
    from gmalglib.sm2 import SM2
    MISSING_LIBRARY: str | None = None
except ImportError:  # an offline verifier without it still checks SHA-256/Ed25519 (ADR 0015)
    MISSING_LIBRARY = "gmalglib"

DEFAULT_ID = b"1234567812345678"  # GB/T 35276 §11; never leave it to a library's default
SCALAR_BYTES = 32
POINT_BYTES = 65  # 04 ‖ x ‖ y
# SubjectPublicKeyInfo up to the BIT STRING's content: SEQUENCE { SEQUENCE { id-ecPublicKey,
# sm2p256v1 (1.2.156.10197.1.301) }, BIT STRING (0 unused bits) }, then the 65-byte point.
_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")
_R_S_BYTES = 32
# PrivateKeyInfo (RFC 5208) as OpenSSL 3 writes an SM2 key: SEQUENCE { version 0, the same
# AlgorithmIdentifier as above, OCTET STRING { ECPrivateKey { version 1, privateKey OCTET STRING
# (32), [1] publicKey BIT STRING } } }: the scalar, then the point.
_PKCS8_PREFIX = bytes.fromhex("308187020100301306072a8648ce3d020106082a811ccf5501822d046d306b"
                              "0201010420")
_PKCS8_MIDDLE = bytes.fromhex("a144034200")


def require() -> None:
    """UnavailableError, in Chinese first, when gmalglib is not installed: an SM2 key or
    signature is at hand and nothing here can check it (docs/adr/0015)."""
    if MISSING_LIBRARY is not None:
        raise UnavailableError(
            "缺少 gmalglib：无法生成或验证 SM2 签名（国密）。请在本机安装 gmalglib 后重试，"
            "见 docs/adr/0015-offline-verifier-dependencies.md\n"
            "(gmalglib is not installed: SM2 signatures cannot be checked here; install it)")


def generate_private_key() -> bytes:
    """A fresh private scalar from the OS's CSPRNG, checked valid by the library."""
    require()
    while True:
        candidate = secrets.token_bytes(SCALAR_BYTES)
        if SM2.is_sk_valid(candidate):
            return candidate


def public_key(private: bytes) -> bytes:
    """The uncompressed public point of ``private``."""
    _check_private(private)
    return bytes(SM2.get_pk(private))


def sign(private: bytes, message: bytes, *, uid: bytes = DEFAULT_ID) -> bytes:
    """DER SM2 signature over SM3(Z_A ‖ message), Z_A computed with ``uid`` (GB/T 32918.2 §6)."""
    return SigningKey(private, uid=uid).sign(message)


class SigningKey:
    """One private key made ready once (the library derives the public point and Z_A when the
    key is loaded: a third to three fifths of a one-off ``sign``), for a signer that signs many
    times. The per-signature nonce k comes from ``secrets.token_bytes`` (the OS CSPRNG), set
    explicitly as the user ID is, never left to the library's default generator."""

    def __init__(self, private: bytes, *, uid: bytes = DEFAULT_ID) -> None:
        _check_private(private)
        self._sm2 = SM2(sk=private, uid=uid, rnd_fn=secrets.token_bytes)

    def sign(self, message: bytes) -> bytes:
        """DER SM2 signature over ``message`` (as ``sign`` above)."""
        raw = self._sm2.sign(message)
        r, s = int.from_bytes(raw[:_R_S_BYTES], "big"), int.from_bytes(raw[_R_S_BYTES:], "big")
        return encode_dss_signature(r, s)


def verify(public: bytes, message: bytes, signature: bytes, *, uid: bytes = DEFAULT_ID,
           step: str = "signature") -> None:
    """Raise VerificationError(step) unless ``signature`` (DER) is ``public``'s over ``message``;
    UnavailableError without gmalglib."""
    require()
    if not SM2.is_pk_valid(public) or len(public) != POINT_BYTES:
        raise VerificationError("SM2 public key is not a valid uncompressed point", step=step)
    try:
        r, s = decode_dss_signature(signature)
        raw = r.to_bytes(_R_S_BYTES, "big") + s.to_bytes(_R_S_BYTES, "big")
    except (ValueError, OverflowError) as exc:
        raise VerificationError("SM2 signature is not DER (r, s)", step=step) from exc
    if encode_dss_signature(r, s) != signature:
        raise VerificationError("SM2 signature is not strict DER", step=step)
    if not _verifier(public, uid).verify(message, raw):
        raise VerificationError("bad SM2 signature", step=step)


def is_public_key(public: bytes) -> bool:
    """Whether ``public`` is a 65-byte uncompressed point on the SM2 curve."""
    require()
    return len(public) == POINT_BYTES and public[0] == 0x04 and bool(SM2.is_pk_valid(public))


def spki_der(public: bytes) -> bytes:
    """SubjectPublicKeyInfo DER of an uncompressed SM2 point (what ``openssl pkey`` reads)."""
    if len(public) != POINT_BYTES or public[0] != 0x04:
        raise ValueError("an SM2 public key is a 65-byte uncompressed point")
    return _SPKI_PREFIX + public


def point_from_spki(der: bytes) -> bytes:
    """The uncompressed point inside an SM2 SubjectPublicKeyInfo; VerificationError otherwise."""
    if len(der) != len(_SPKI_PREFIX) + POINT_BYTES or not der.startswith(_SPKI_PREFIX):
        raise VerificationError("not an SM2 SubjectPublicKeyInfo", step="keys")
    point = der[len(_SPKI_PREFIX):]
    require()
    if not SM2.is_pk_valid(point):
        raise VerificationError("SM2 public key is not on the curve", step="keys")
    return point


def pkcs8_der(private: bytes) -> bytes:
    """PKCS#8 DER of ``private`` with its public point (what ``openssl pkey -in`` reads)."""
    return _PKCS8_PREFIX + private + _PKCS8_MIDDLE + public_key(private)


def private_from_pkcs8(der: bytes) -> bytes:
    """The scalar inside an SM2 PKCS#8 key in the layout above; ValueError for anything else,
    or when the embedded public point is not the scalar's."""
    size = len(_PKCS8_PREFIX) + SCALAR_BYTES + len(_PKCS8_MIDDLE) + POINT_BYTES
    cut = len(_PKCS8_PREFIX) + SCALAR_BYTES
    if (len(der) != size or not der.startswith(_PKCS8_PREFIX)
            or der[cut:cut + len(_PKCS8_MIDDLE)] != _PKCS8_MIDDLE):
        raise ValueError("not an SM2 PKCS#8 private key")
    private = der[len(_PKCS8_PREFIX):cut]
    if public_key(private) != der[cut + len(_PKCS8_MIDDLE):]:
        raise ValueError("SM2 PKCS#8 key's public point does not match its private scalar")
    return private


@lru_cache(maxsize=256)
def _verifier(public: bytes, uid: bytes) -> SM2:
    """A verifier per (key, user ID), made once: an audit verifies thousands of notes with the
    same few keys. gmalglib holds the GIL throughout, so one object serves every thread."""
    return SM2(pk=public, uid=uid)


def _check_private(private: bytes) -> None:
    require()
    if len(private) != SCALAR_BYTES or not SM2.is_sk_valid(private):
        raise ValueError("an SM2 private key is a valid 32-byte scalar")
