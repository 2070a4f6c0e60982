"""A C2PA manifest on the playback copy: "derived from the original with this SHA-256, by this
station" (issue 5, stretch), signed with the station's key through c2pa-python.

What the manifest says (C2PA 2.x, embedded in the MP4 as a ``uuid`` box, hard-bound to the rest
of the file by a ``c2pa.hash.bmff.v3`` assertion):

- ``cn.liuhen.original``: the original's SHA-256 (the ledger's subject), the station, the
  derivative's role and the action that made it (``remux``, ``transcode``, ...);
- ``c2pa.actions.v2``: ``c2pa.created`` by the station's software with the same parameters. The
  original is not embedded as an ingredient: C2PA would re-read and describe it, and the
  ledger's ``derived`` entry already binds the pair; a viewer follows the hash to the ledger.

Who may sign (threat model): the signature proves only that the holder of the station's key made
this file; C2PA validators accept it when they trust the chain's root. The chain must be issued
by a CA (the bureau's): the C2PA SDK refuses a self-signed leaf, and requires digitalSignature key
usage, an extended key usage such as emailProtection or documentSigning, and subject and
authority key identifiers (tests/integration/test_media_c2pa.py builds such a chain). No time-stamp
authority is asked (``tsa_url`` None: stations may have no network), so the signature is only
as good as the certificate's validity at the time a validator checks it; the ledger's RFC 3161
anchors carry the time.

Embedding writes a new file: its bytes (and so its SHA-256) differ from the unsigned copy, while
its media packets do not (``-f streamhash`` is unchanged), so a caller signs before hashing and
storing the derivative. Not wired into the station yet: the composition root has no station
certificate to give it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import c2pa  # type: ignore[import-untyped]  # c2pa-python ships no type information

from evidence.errors import PolicyViolationError, VerificationError
from evidence.ids import Sha256Hex

ASSERTION = "cn.liuhen.original"
ALGORITHMS = {"es256": c2pa.C2paSigningAlg.ES256, "es384": c2pa.C2paSigningAlg.ES384,
              "ed25519": c2pa.C2paSigningAlg.ED25519}
MIME = {".mp4": "video/mp4", ".m4a": "audio/mp4"}
# IPTC's term for what a body-worn recorder makes; the copy shows the same captured scene.
DIGITAL_CAPTURE = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"


@dataclass(frozen=True)
class C2paIdentity:
    """The station's C2PA signing identity, built once by the composition root.

    ``sign`` signs the bytes C2PA hands it (the claim) with the station's private key, so the
    key may stay in an HSM; ``alg`` names its algorithm (``es256``, ``es384``, ``ed25519``);
    ``chain_pem`` is the leaf certificate followed by its issuers, PEM."""

    station: str
    sign: Callable[[bytes], bytes]
    alg: str
    chain_pem: str


def embed_manifest(src: Path, dest: Path, *, identity: C2paIdentity, original: Sha256Hex,
                   role: str, action: str, software: str = "liuhen") -> None:
    """Write ``dest``: ``src`` (an MP4 or M4A derivative) with a signed C2PA manifest naming
    ``original``. ``src`` is only read. PolicyViolationError for an algorithm or a format the
    manifest cannot carry; VerificationError when the SDK refuses the identity (for instance
    a self-signed leaf or a missing key usage) or the media."""
    if identity.alg not in ALGORITHMS:
        raise PolicyViolationError(f"C2PA signing algorithm {identity.alg!r}: use one of "
                                   f"{', '.join(sorted(ALGORITHMS))}")
    mime = MIME.get(src.suffix.lower())
    if mime is None:
        raise PolicyViolationError(f"no C2PA manifest for {src.suffix or 'extensionless'} files")
    facts = {"sha256": original, "station": identity.station, "role": role, "action": action}
    manifest = {
        "claim_generator_info": [{"name": software}],
        "title": f"{original}.{role}{src.suffix}",
        "format": mime,
        "assertions": [
            {"label": "c2pa.actions.v2", "data": {"actions": [{
                "action": "c2pa.created", "softwareAgent": {"name": software},
                "digitalSourceType": DIGITAL_CAPTURE, "parameters": {"liuhen": facts}}]}},
            {"label": ASSERTION, "data": facts},
        ],
    }
    tmp = dest.with_name(f".{dest.name}.c2pa.part")
    try:
        with c2pa.Signer.from_callback(identity.sign, ALGORITHMS[identity.alg],
                                       identity.chain_pem, None) as signer, \
                c2pa.Builder(manifest) as builder, \
                src.open("rb") as source, tmp.open("w+b") as out:
            builder.sign(signer, mime, source, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
    except c2pa.C2paError as exc:
        raise VerificationError(f"C2PA signing refused: {exc}", step="c2pa") from exc
    finally:
        tmp.unlink(missing_ok=True)


def read_manifest(path: Path, *, trust_anchors_pem: str) -> dict[str, object]:
    """The ``cn.liuhen.original`` facts of ``path``'s active manifest, after the SDK validated
    it against ``trust_anchors_pem`` (the bureau's root certificates). VerificationError when
    there is none, when the SDK says it is not valid (any change to the file's bytes, a broken
    signature) or when its chain does not lead to one of those roots."""
    mime = MIME.get(path.suffix.lower(), "video/mp4")
    settings = {"verify": {"verify_trust": True},
                "trust": {"trust_anchors": trust_anchors_pem}}
    try:
        with c2pa.Context.from_dict(settings) as context, path.open("rb") as fh, \
                c2pa.Reader(mime, fh, context=context) as reader:
            state = reader.get_validation_state()
            results = reader.get_validation_results() or {}
            active = reader.get_active_manifest() or {}
    except c2pa.C2paError as exc:
        raise VerificationError(f"no readable C2PA manifest: {exc}", step="c2pa") from exc
    failures = (results.get("activeManifest") or {}).get("failure") or []
    if state != "Trusted" or failures:
        codes = ", ".join(str(f.get("code")) for f in failures) or str(state)
        raise VerificationError(f"C2PA manifest not trusted: {codes}", step="c2pa")
    for assertion in active.get("assertions") or []:
        if assertion.get("label") == ASSERTION:
            return dict(assertion.get("data") or {})
    raise VerificationError(f"C2PA manifest has no {ASSERTION} assertion", step="c2pa")
