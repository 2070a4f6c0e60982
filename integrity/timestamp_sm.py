"""RFC 3161 time-stamp tokens with SM3 imprints signed SM2-with-SM3 (GM/T 0033, GB/T 20520), pure.

The same contract as ``integrity/timestamp.py``: the stored bytes are the TSA's whole DER
``TimeStampResp``; ``verify_sm_token`` returns a ``TimestampInfo`` or raises
``VerificationError(step="timestamp")`` whose reason starts with the failing step of
docs/verification.md part D. ``verify_timestamp`` is what callers use: it sends a token to this
verifier when it names a 国密 algorithm (SM3 imprint or SM2 signature), else to
``timestamp.verify_token`` (rfc3161-client knows neither SM3 nor SM2). Parsing is asn1crypto's;
signatures are ``integrity/sm2.py``'s with the default user ID ``1234567812345678``.

Steps (docs/verification.md part D):

- D1 the bytes are one strict-DER TimeStampResp (rust-asn1's parse, as in C1: no BER, no
  trailing data, sorted SETs) holding CMS SignedData over id-ct-TSTInfo with exactly one SignerInfo;
- D2 PKIStatus is granted (0);
- D3 the message imprint is SM3 (1.2.156.10197.1.401) and equals SM3(``message``);
- D4 the SignerInfo digests with SM3 and its messageDigest attribute equals SM3(eContent);
- D5 its contentType attribute is id-ct-TSTInfo (RFC 5652 §11.1);
- D6 the SignerInfo is signed SM2-with-SM3 (1.2.156.10197.1.501, or sm2-1 1.2.156.10197.1.301.1
  as GM/T 0010 writes it) by the embedded certificate it names, over the DER SET OF its signed
  attributes (RFC 5652 §5.4);
- D7 that certificate chains, through CA certificates embedded in the token, to one of the
  configured SM2 roots; every certificate's SM2 signature over its TBSCertificate verifies under
  its issuer's key (a root embedded in the token is never trusted for being there);
- D8 every certificate of the chain is valid at the token's genTime;
- D9 the signer certificate carries a *critical* extendedKeyUsage with id-kp-timeStamping
  (RFC 3161 §2.3).

Not checked, as for SHA-256 tokens: revocation (no CRL/OCSP in the pure core) and the ESS
signingCertificate(V2) attribute (the signer is identified by issuer and serial, and D6 proves
its key signed). A token's identity is its SHA-256 in the ``anchored`` entry, never "it verifies".
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from asn1crypto import cms, core, pem, tsp, x509
from rfc3161_client import decode_timestamp_response

from evidence.errors import VerificationError
from integrity import sm2
from integrity.timestamp import MAX_TOKEN_BYTES, STEP, TimestampInfo, verify_token

SM3_OID = "1.2.156.10197.1.401"
SM2_WITH_SM3_OID = "1.2.156.10197.1.501"
SM2_SIGN_OID = "1.2.156.10197.1.301.1"  # sm2-1, what GM/T 0010 puts in SignerInfo
SM2_CURVE_OID = "1.2.156.10197.1.301"
_SM2_SIGNATURES = {SM2_WITH_SM3_OID, SM2_SIGN_OID}
_TST_INFO_OID = "1.2.840.113549.1.9.16.1.4"  # id-ct-TSTInfo, RFC 3161 §2.4.2
_MAX_CHAIN = 4  # signer, up to two intermediates, root


class TimeStampResp(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped
    """RFC 3161 §2.4.2 TimeStampResp; asn1crypto's own makes timeStampToken mandatory, but a
    rejection carries only its PKIStatusInfo."""

    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True})]


def sm3(data: bytes) -> bytes:
    """SM3 (GB/T 32905) digest of ``data``."""
    return hashlib.new("sm3", data).digest()


def build_sm3_request(message: bytes, *, nonce: bool = True) -> bytes:
    """DER TimeStampReq for SM3(``message``), certReq true, no policy (GM/T 0033 §6).

    ``nonce=True`` adds a random 64-bit nonce; ``message`` must be non-empty (ValueError).
    """
    if not message:
        raise ValueError("cannot timestamp an empty message")
    request: dict[str, object] = {
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": SM3_OID},
                            "hashed_message": sm3(message)},
        "cert_req": True,
    }
    if nonce:
        request["nonce"] = secrets.randbits(63) | 1 << 62  # positive, 8 DER bytes
    return bytes(tsp.TimeStampReq(request).dump())


def is_sm_token(token: bytes) -> bool:
    """True when the token names SM3 as its imprint or SM2 as its signature: it is this
    module's to verify. Unparsable bytes are not (``_kind`` is None for them)."""
    return _kind(token) == "sm"


def _kind(token: bytes) -> str | None:
    """``sm`` or ``other`` by the algorithms a leniently parsed token names; None when even a
    lenient parse fails (the strict steps C1/D1 then say why)."""
    try:
        response = TimeStampResp.load(token)
        signed = response["time_stamp_token"]["content"]
        tst_info = signed["encap_content_info"]["content"].parsed
        imprint = tst_info["message_imprint"]["hash_algorithm"]["algorithm"].dotted
        signatures = {si["signature_algorithm"]["algorithm"].dotted
                      for si in signed["signer_infos"]}
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return "sm" if imprint == SM3_OID or signatures & _SM2_SIGNATURES else "other"


def verify_timestamp(token: bytes, *, message: bytes, roots: Sequence[bytes]) -> TimestampInfo:
    """Verify a stored TimeStampResp of either kind over ``message`` against ``roots`` (PEM or
    DER certificates; international and SM2 roots side by side): SM2/SM3 tokens by
    ``verify_sm_token``, the others by ``timestamp.verify_token``. Bytes that do not parse go to
    the SHA-256 verifier (C1), or to this one (D1) when only SM2 roots are configured."""
    kind = _kind(token) if len(token) <= MAX_TOKEN_BYTES else None  # C1/D1 refuse the size
    certificates = _load_certificates(roots)
    international = [bytes(c.dump()) for c in certificates if not _is_sm2(c)]
    if kind == "sm" or (kind is None and not international):
        return _verify_sm(token, message, [c for c in certificates if _is_sm2(c)])
    if not international:  # roots given, all SM2: the token cannot chain to any of them
        raise VerificationError("(C4) the trust root holds SM2 TSA roots only; this token is "
                                "not SM2/SM3", step=STEP)
    return verify_token(token, message=message, roots=international)


def _fail(step: str, reason: str) -> VerificationError:
    return VerificationError(f"({step}) {reason}", step=STEP)


def _load_certificates(roots: Sequence[bytes]) -> list[x509.Certificate]:
    """Every certificate in ``roots`` (each item DER, or PEM with one or more); ValueError when
    none or one does not parse (a configuration error, as in ``timestamp``)."""
    certificates = []
    for blob in roots:
        if blob.lstrip().startswith(b"-----BEGIN"):
            ders = [der for _, _, der in pem.unarmor(blob, multiple=True)]
        else:
            ders = [blob]
        for der in ders:
            certificate = x509.Certificate.load(der, strict=True)
            _ = certificate.native  # parse every field now: a bad root is a config error
            certificates.append(certificate)
    if not certificates:
        raise ValueError("no TSA root certificates given: refusing to verify against nothing")
    return certificates


def _same_name(a: x509.Name, b: x509.Name) -> bool:
    """RFC 5280 §7.1 name match; identical encodings (the usual case) short-cut the costly
    normalised comparison."""
    return bool(a.dump() == b.dump() or a == b)


def _is_sm2(certificate: x509.Certificate) -> bool:
    """Whether the certificate's key is id-ecPublicKey on the SM2 curve (1.2.156.10197.1.301)."""
    algorithm = certificate["tbs_certificate"]["subject_public_key_info"]["algorithm"]
    if algorithm["algorithm"].native != "ec" or algorithm["parameters"].name != "named":
        return False
    return bool(algorithm["parameters"].chosen.dotted == SM2_CURVE_OID)


def _point(certificate: x509.Certificate) -> bytes:
    return bytes(certificate["tbs_certificate"]["subject_public_key_info"]["public_key"].native)


def _attribute(signed_attrs: Any, name: str) -> Any:
    """The single value of the one signed attribute ``name``; None when absent."""
    found = [a for a in signed_attrs if a["type"].native == name]
    if not found:
        return None
    if len(found) != 1 or len(found[0]["values"]) != 1:
        raise ValueError(f"signed attribute {name} must occur once with one value")
    return found[0]["values"][0]


def _parse(token: bytes) -> tuple[Any, Any, Any, bytes]:
    """(D1) response, SignedData, the one SignerInfo, eContent bytes; ValueError otherwise."""
    decode_timestamp_response(token)  # strict DER (rust-asn1, as C1): no BER, sorted SETs
    response = TimeStampResp.load(token, strict=True)
    if response["status"]["status"].native != "granted":  # (D2) reports it; no token to parse
        return response, None, None, b""
    _ = response.native  # parse every field now, so a bad one fails here and not later
    content_info = response["time_stamp_token"]
    if content_info["content_type"].native != "signed_data":
        raise ValueError("TimeStampToken is not CMS SignedData")
    signed = content_info["content"]
    encap = signed["encap_content_info"]
    if encap["content_type"].dotted != _TST_INFO_OID:
        raise ValueError("eContentType is not id-ct-TSTInfo")
    signer_infos = list(signed["signer_infos"])
    if len(signer_infos) != 1:
        raise ValueError(f"{len(signer_infos)} SignerInfos, not exactly one")
    econtent = bytes(encap["content"].contents)
    tsp.TSTInfo.load(econtent, strict=True)
    return response, signed, signer_infos[0], econtent


def _chain(signer: x509.Certificate, embedded: list[x509.Certificate],
           anchors: list[x509.Certificate]) -> list[x509.Certificate]:
    """(D7) signer → embedded CAs → a configured root, each signature checked; the path."""
    path = [signer]
    current = signer
    for _ in range(_MAX_CHAIN):
        issuer_name = current["tbs_certificate"]["issuer"]
        for anchor in anchors:
            if (_same_name(anchor["tbs_certificate"]["subject"], issuer_name)
                    and _signed_by(current, anchor)):
                return [*path, anchor]
        parents = [c for c in embedded if _same_name(c["tbs_certificate"]["subject"], issuer_name)
                   and c is not current and c.ca and _is_sm2(c) and _signed_by(current, c)]
        if not parents:
            break
        current = parents[0]
        path.append(current)
    raise _fail("D7", "signer certificate does not chain to a configured SM2 TSA root")


def _signed_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """``certificate``'s SM2-with-SM3 signature over its TBSCertificate, under ``issuer``'s key."""
    if certificate["signature_algorithm"]["algorithm"].dotted not in _SM2_SIGNATURES:
        return False
    try:
        sm2.verify(_point(issuer), certificate["tbs_certificate"].dump(),
                   bytes(certificate["signature_value"].native), step=STEP)
    except VerificationError:
        return False
    return True


def verify_sm_token(token: bytes, *, message: bytes, roots: Sequence[bytes]) -> TimestampInfo:
    """Verify an SM2/SM3 TimeStampResp over ``message`` against the SM2 roots among ``roots``.

    Returns what the token asserts (``hash_hex`` is the SM3 imprint); raises
    ``VerificationError(step="timestamp")`` naming the failed step D1–D9 of the module
    docstring; ValueError when ``roots`` is empty or unparsable.
    """
    return _verify_sm(token, message, [c for c in _load_certificates(roots) if _is_sm2(c)])


def _verify_sm(token: bytes, message: bytes, anchors: list[x509.Certificate]) -> TimestampInfo:
    if len(token) > MAX_TOKEN_BYTES:
        raise _fail("D1", f"token is {len(token)} bytes, more than {MAX_TOKEN_BYTES}")
    try:
        response, signed, signer_info, econtent = _parse(token)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise _fail("D1", f"malformed TimeStampResp: {exc}") from exc
    # (D2) granted, before touching the token a rejection lacks.
    status = response["status"]
    if signed is None:
        raise _fail("D2", f"PKIStatus is {status['status'].native}, not granted: "
                          f"{status['status_string'].native}")
    tst_info = signed["encap_content_info"]["content"].parsed

    # (D3) the imprint is SM3 over exactly these bytes.
    imprint = tst_info["message_imprint"]
    if imprint["hash_algorithm"]["algorithm"].dotted != SM3_OID:
        raise _fail("D3", f"message imprint uses {imprint['hash_algorithm']['algorithm'].dotted}"
                          ", not SM3")
    digest = sm3(message)
    hashed = bytes(imprint["hashed_message"].native)
    if hashed != digest:
        raise _fail("D3", f"message imprint {hashed.hex()} does not match SM3 of the message "
                          f"{digest.hex()}: the token covers other bytes")

    # (D4) messageDigest binds the signed attributes to this TSTInfo; (D5) contentType.
    signed_attrs = signer_info["signed_attrs"]
    if signed_attrs.native is None:  # RFC 3161 §2.4.2 needs them (ESS signingCertificate)
        raise _fail("D4", "SignerInfo has no signed attributes")
    if signer_info["digest_algorithm"]["algorithm"].dotted != SM3_OID:
        raise _fail("D4", "SignerInfo digest algorithm is "
                          f"{signer_info['digest_algorithm']['algorithm'].dotted}, not SM3")
    try:
        message_digest = _attribute(signed_attrs, "message_digest")
        content_type = _attribute(signed_attrs, "content_type")
    except ValueError as exc:
        raise _fail("D4", str(exc)) from exc
    if message_digest is None or bytes(message_digest.native) != sm3(econtent):
        raise _fail("D4", "messageDigest attribute is missing or is not SM3 of the TSTInfo")
    if content_type is None or content_type.dotted != _TST_INFO_OID:
        raise _fail("D5", "contentType attribute is missing or is not id-ct-TSTInfo")

    # (D6) the SM2 signature of the named signer over DER(SET OF signed attributes).
    algorithm = signer_info["signature_algorithm"]["algorithm"].dotted
    if algorithm not in _SM2_SIGNATURES:
        raise _fail("D6", f"SignerInfo is signed with {algorithm}, not SM2-with-SM3")
    embedded = [c.chosen for c in signed["certificates"] if c.name == "certificate"]
    signer = _named_signer(signer_info["sid"], embedded)
    if not _is_sm2(signer):
        raise _fail("D6", "signer certificate does not hold an SM2 key")
    signed_bytes = b"\x31" + signed_attrs.dump()[1:]  # [0] IMPLICIT → SET OF, RFC 5652 §5.4
    try:
        sm2.verify(_point(signer), signed_bytes, bytes(signer_info["signature"].native),
                   step=STEP)
    except VerificationError as exc:
        raise _fail("D6", f"SignerInfo signature rejected: {exc.reason}") from exc

    # (D7) chain to a configured root; (D8) all valid at genTime; (D9) critical EKU.
    gen_time: datetime = tst_info["gen_time"].native.astimezone(UTC)
    path = _chain(signer, embedded, anchors)
    for certificate in path:
        validity = certificate["tbs_certificate"]["validity"]
        if not validity["not_before"].native <= gen_time <= validity["not_after"].native:
            raise _fail("D8", f"certificate {certificate.subject.human_friendly} is not valid at "
                              f"genTime {gen_time.isoformat()}")
    if ("extended_key_usage" not in signer.critical_extensions
            or "time_stamping" not in (signer.extended_key_usage_value.native or [])):
        raise _fail("D9", "signer certificate lacks a critical timeStamping extendedKeyUsage")

    return TimestampInfo(
        gen_time=gen_time,
        serial=int(tst_info["serial_number"].native),
        policy_oid=str(tst_info["policy"].dotted),
        tsa_name=_rfc4514(signer),
        hash_hex=hashed.hex(),
    )


def _named_signer(sid: Any, embedded: list[x509.Certificate]) -> x509.Certificate:
    """(D6) the embedded certificate the SignerInfo's sid names (issuer+serial or SKI)."""
    for certificate in embedded:
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            if (_same_name(certificate.issuer, wanted["issuer"])
                    and certificate.serial_number == wanted["serial_number"].native):
                return certificate
        elif certificate.key_identifier == sid.chosen.native:
            return certificate
    raise _fail("D6", "signer certificate not found in the token")


def _rfc4514(certificate: x509.Certificate) -> str:
    """The subject as RFC 4514 text (last RDN first), as ``timestamp`` reports it."""
    parts = []
    for rdn in reversed(certificate.subject.chosen):
        for attribute in rdn:
            name = _SHORT_NAMES.get(attribute["type"].native, attribute["type"].dotted)
            value = str(attribute["value"].native)
            parts.append(f"{name}={_escape(value)}")
    return ",".join(parts)


_SHORT_NAMES = {"common_name": "CN", "organization_name": "O", "organizational_unit_name": "OU",
                "country_name": "C", "locality_name": "L", "state_or_province_name": "ST"}


def _escape(value: str) -> str:
    escaped = "".join(f"\\{ch}" if ch in ',+"\\<>;' else ch for ch in value)
    if escaped.startswith(("#", " ")):
        escaped = "\\" + escaped
    return escaped[:-1] + "\\ " if escaped.endswith(" ") else escaped


__all__ = ["SM2_WITH_SM3_OID", "SM3_OID", "build_sm3_request", "is_sm_token", "sm3",
           "verify_sm_token", "verify_timestamp"]
