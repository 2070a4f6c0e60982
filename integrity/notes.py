"""C2SP signed notes with Ed25519 and SM2 keys, and the two note bodies liuhen signs:

- ``tlog-checkpoint`` (origin, size, base64 root), signed by the log key, cosignable by witnesses;
- ``liuhen/commit/v1`` statements, signed by a station key for every ledger commit
  (docs/ledger-format.md §Commits).

Signature types (docs/ledger-format.md §4): Ed25519 is the spec's ``0x01``; SM2 (GB/T 32918.2
with SM3, user ID ``1234567812345678``, DER ``(r, s)``) has no assigned byte, so it uses the
spec's ``0xff`` followed by the identifier ``gbt32918-sm2-sm3``. Key ids follow the signed-note
spec for both: the first 4 bytes of SHA-256(name ‖ 0x0A ‖ signature type ‖ public key), the SM2
public key being its 65-byte uncompressed point.

Signing goes through the ``Signer`` port (a software key here, a 服务器密码机 behind an adapter);
verification is pure and needs only public keys.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import sha256
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from evidence.errors import VerificationError
from evidence.ids import KeyId, Origin
from evidence.records import Checkpoint, PublicKey, TreeHead
from integrity import sm2

ED25519 = "ed25519"
SM2 = "sm2"
ALGORITHMS = (ED25519, SM2)
SIGNATURE_TYPES = {ED25519: b"\x01", SM2: b"\xff" + b"gbt32918-sm2-sm3"}
"""Signed-note signature type identifier of each algorithm (module docstring)."""
_KEY_BYTES = {ED25519: 32, SM2: sm2.POINT_BYTES}
_DASH = "\u2014 "  # em dash + space opens every signature line
MAX_NOTE_BYTES = 16 * 1024  # notes are small; bound what a parser will read
MAX_SIGNATURES = 32  # bound DoS: a note with thousands of signature lines is refused
COMMIT_HEADER = "liuhen/commit/v1"


def key_id(name: str, raw_public: bytes, algorithm: str = ED25519) -> bytes:
    return sha256(name.encode() + b"\n" + SIGNATURE_TYPES[algorithm] + raw_public).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise ValueError(f"key name {name!r} must be non-empty, without spaces or '+'")


def public_key(name: str, raw: bytes, *, role: str, algorithm: str) -> PublicKey:
    """The PublicKey (with its signed-note key id) of ``raw`` under ``name``."""
    _check_name(name)
    return PublicKey(name=name, key_id=KeyId(key_id(name, raw, algorithm).hex()), raw=raw,
                     role=role, algorithm=algorithm)


class Signer(Protocol):
    """The Signer port: one private key, wherever it lives (a 0600 file, a GM/T 0018 SDF
    服务器密码机), known by its public key. ``sign`` returns the raw signature over ``message``:
    64 bytes for Ed25519 (RFC 8032), DER ``SEQUENCE {r, s}`` for SM2 (SM3, user ID
    ``1234567812345678``, GB/T 35276). Use cases hold Signers, never key bytes."""

    @property
    def public(self) -> PublicKey: ...

    def sign(self, message: bytes) -> bytes: ...


class Ed25519Signer:
    """A software Ed25519 key with the note name it signs under. Keys are handed in, never read."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey, *, role: str) -> None:
        self._key = private_key
        raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public = public_key(name, raw, role=role, algorithm=ED25519)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


class Sm2Signer:
    """A software SM2 key (its 32-byte scalar) with the note name it signs under."""

    def __init__(self, name: str, private: bytes, *, role: str) -> None:
        self._key = sm2.SigningKey(private)
        self.public = public_key(name, sm2.public_key(private), role=role, algorithm=SM2)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


def vkey(key: PublicKey) -> str:
    """The signed-note verifier key string ``name+hexid+base64(type ‖ key)``."""
    blob = SIGNATURE_TYPES[key.algorithm] + key.raw
    return f"{key.name}+{key.key_id}+{base64.b64encode(blob).decode()}"


def parse_vkey(text: str, *, role: str, valid_from: int = 0,
               valid_until: int | None = None) -> PublicKey:
    """A verifier key of either algorithm; VerificationError(step="keys") when malformed, of
    another signature type, or when its key id does not match."""
    try:
        name, hex_id, b64 = text.strip().split("+", 2)
        blob = base64.b64decode(b64, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise VerificationError(f"malformed verifier key {text!r}", step="keys") from exc
    for algorithm, prefix in SIGNATURE_TYPES.items():
        if blob.startswith(prefix) and len(blob) == len(prefix) + _KEY_BYTES[algorithm]:
            raw = blob[len(prefix):]
            break
    else:
        raise VerificationError(f"verifier key {name} is neither Ed25519 nor SM2", step="keys")
    if algorithm == SM2 and not sm2.is_public_key(raw):
        raise VerificationError(f"verifier key {name} is not a point on the SM2 curve",
                                step="keys")
    if key_id(name, raw, algorithm).hex() != hex_id:
        raise VerificationError(f"verifier key {name} has the wrong key id", step="keys")
    return PublicKey(name=name, key_id=KeyId(hex_id), raw=raw, role=role,
                     valid_from=valid_from, valid_until=valid_until, algorithm=algorithm)


@dataclass(frozen=True, slots=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes


def sign_note(text: bytes, signers: Sequence[Signer]) -> bytes:
    """A signed note: ``text`` (non-empty lines, ending in a newline), a blank line, signatures."""
    if not text.endswith(b"\n") or b"\n\n" in text or text.startswith(b"\n"):
        raise ValueError("note text must be non-empty lines each ending in a newline")
    if not signers:
        raise ValueError("a note needs at least one signer")
    return text + b"\n" + "".join(_sign_line(s, text) for s in signers).encode()


def _sign_line(signer: Signer, text: bytes) -> str:
    key = signer.public
    blob = bytes.fromhex(key.key_id) + signer.sign(text)
    return f"{_DASH}{key.name} {base64.b64encode(blob).decode()}\n"


def split_note(note: bytes) -> tuple[bytes, list[NoteSignature]]:
    """Split a signed note into its text and signature lines, without checking signatures."""
    step = "note"
    if len(note) > MAX_NOTE_BYTES:
        raise VerificationError("signed note is too large", step=step)
    cut = note.rfind(b"\n\n")
    if cut < 0 or not note.endswith(b"\n"):
        raise VerificationError("signed note has no blank line before its signatures", step=step)
    text, sig_block = note[: cut + 1], note[cut + 2:]
    try:
        lines = sig_block.decode("utf-8").split("\n")[:-1]
    except UnicodeDecodeError as exc:
        raise VerificationError("signature lines are not UTF-8", step=step) from exc
    if not lines or len(lines) > MAX_SIGNATURES:
        raise VerificationError(f"signed note has {len(lines)} signature lines", step=step)
    sigs = []
    for line in lines:
        if not line.startswith(_DASH):
            raise VerificationError("malformed signature line", step=step)
        try:
            name, b64 = line[len(_DASH):].split(" ")
            blob = base64.b64decode(b64, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise VerificationError("malformed signature line", step=step) from exc
        if len(blob) < 5:
            raise VerificationError("signature too short", step=step)
        sigs.append(NoteSignature(name=name, key_id=blob[:4], signature=blob[4:]))
    return text, sigs


def verify_note(note: bytes, keys: Sequence[PublicKey], *,
                size: int) -> tuple[bytes, list[PublicKey]]:
    """Check the note's signatures against ``keys`` valid at tree ``size``.

    Returns the note text and the keys whose signatures verified. Raises VerificationError when a
    signature from a known key is bad, when a known key signs outside its validity range
    (rotated or expired), when no trusted key signed at all, or when a signer whose name also
    holds a key of another algorithm valid at ``size`` did not sign with that one too (so an SM2
    line cannot be stripped from a note its signer must sign with SM2: docs/ledger-format.md §5).
    Signatures by unknown keys are ignored, as the signed-note spec requires, so witnesses can be
    added without breaking old verifiers.
    """
    step = "signature"
    text, sigs = split_note(note)
    by_id = {(k.name, bytes.fromhex(k.key_id)): k for k in keys}
    good: list[PublicKey] = []
    for sig in sigs:
        key = by_id.get((sig.name, sig.key_id))
        if key is None:
            continue
        if not _signature_ok(key, text, sig.signature):
            raise VerificationError(f"bad signature by {key.name} ({key.algorithm})", step=step,
                                    index=size)
        if not key.valid_at(size):
            raise VerificationError(
                f"key {key.name} ({key.key_id}) signed at tree size {size}, outside its validity "
                f"[{key.valid_from}, {key.valid_until})", step=step, index=size)
        good.append(key)
    if not good:
        names = ", ".join(s.name for s in sigs)
        raise VerificationError(f"no signature from a trusted key (signed by: {names})",
                                step=step, index=size)
    signed = {(k.name, k.algorithm) for k in good}
    signers = {k.name for k in good}
    for k in keys:
        if k.valid_at(size) and k.name in signers and (k.name, k.algorithm) not in signed:
            raise VerificationError(f"{k.name} holds a {k.algorithm} key valid at tree size {size} "
                                    f"but the note has no {k.algorithm} signature by it",
                                    step=step, index=size)
    return text, good


def _signature_ok(key: PublicKey, text: bytes, signature: bytes) -> bool:
    if key.algorithm == SM2:
        try:
            sm2.verify(key.raw, text, signature)
        except VerificationError:
            return False
        return True
    try:
        Ed25519PublicKey.from_public_bytes(key.raw).verify(signature, text)
    except InvalidSignature:
        return False
    return True


def _head_lines(lines: list[str], step: str) -> TreeHead:
    size_text, root_b64 = lines
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise VerificationError(f"bad tree size {size_text!r}", step=step)
    try:
        root_hash = base64.b64decode(root_b64, validate=True)
    except binascii.Error as exc:
        raise VerificationError("root is not base64", step=step) from exc
    if len(root_hash) != 32:
        raise VerificationError("root is not 32 bytes", step=step)
    return TreeHead(size=int(size_text), root=root_hash)


SM3_EXTENSION = "sm3"  # the extension line ``sm3 <size> <base64 SM3 root>``


def checkpoint_text(origin: Origin, head: TreeHead, *, sm3: TreeHead | None = None) -> bytes:
    """The tlog-checkpoint body: origin, size, base64 root, then, when ``sm3`` is given, ONE
    extension line ``sm3 <size> <base64 root>`` for the SM3 tree over the same entries
    (docs/ledger-format.md §9), so that one signature commits both trees."""
    text = f"{origin}\n{head.size}\n{base64.b64encode(head.root).decode()}\n"
    if sm3 is not None:
        if sm3.size != head.size:
            raise ValueError(f"SM3 tree size {sm3.size} is not the tree size {head.size}")
        text += f"{SM3_EXTENSION} {sm3.size} {base64.b64encode(sm3.root).decode()}\n"
    return text.encode()


def _sm3_extension(extensions: list[str], head: TreeHead, step: str) -> TreeHead | None:
    """The ``sm3`` extension line's tree head, None without one. More than one, another size
    than the checkpoint's, or a malformed root is refused; other extension lines are ignored
    (tlog-checkpoint: verifiers skip extensions they do not know)."""
    found = [line for line in extensions if line.startswith(SM3_EXTENSION + " ")]
    if not found:
        return None
    if len(found) > 1:
        raise VerificationError("checkpoint has more than one sm3 line", step=step,
                                index=head.size)
    parts = found[0].split(" ")
    if len(parts) != 3:
        raise VerificationError("malformed sm3 line", step=step, index=head.size)
    sm3 = _head_lines(parts[1:], step)
    if sm3.size != head.size:
        raise VerificationError(f"sm3 line names size {sm3.size}, the checkpoint {head.size}",
                                step=step, index=head.size)
    return sm3


def parse_checkpoint_text(text: bytes) -> tuple[Origin, TreeHead, TreeHead | None]:
    """(origin, SHA-256 tree head, SM3 tree head or None) of a checkpoint body."""
    step = "checkpoint"
    try:
        lines = text.decode("utf-8").split("\n")
    except UnicodeDecodeError as exc:
        raise VerificationError("checkpoint is not UTF-8", step=step) from exc
    if len(lines) < 4 or lines[-1] != "" or not lines[0]:
        raise VerificationError("checkpoint body needs origin, size and root lines", step=step)
    head = _head_lines(lines[1:3], step)
    # Lines after the third are extension lines (tlog-checkpoint); liuhen writes the sm3 one.
    return Origin(lines[0]), head, _sm3_extension(lines[3:-1], head, step)


def sign_checkpoint(origin: Origin, head: TreeHead, signers: Sequence[Signer], *,
                    sm3: TreeHead | None = None) -> Checkpoint:
    return Checkpoint(origin=origin, head=head, sm3=sm3,
                      note=sign_note(checkpoint_text(origin, head, sm3=sm3), signers))


def open_checkpoint(note: bytes, *, origin: Origin, keys: Sequence[PublicKey]) -> Checkpoint:
    """Parse and verify a checkpoint note; it must carry ``origin`` and a valid log signature."""
    text, _ = split_note(note)
    got_origin, head, sm3 = parse_checkpoint_text(text)
    if got_origin != origin:
        raise VerificationError(f"checkpoint origin {got_origin!r} is not {origin!r}",
                                step="checkpoint", index=head.size)
    verify_note(note, [k for k in keys if k.role == "log"], size=head.size)
    return Checkpoint(origin=origin, head=head, note=note, sm3=sm3)


def commit_text(origin: Origin, first: int, head: TreeHead) -> bytes:
    """The body a station signs for one commit: entries [first, head.size) and the tree after."""
    return (f"{COMMIT_HEADER}\n{origin}\n{first}\n{head.size}\n"
            f"{base64.b64encode(head.root).decode()}\n").encode()


def parse_commit_text(text: bytes) -> tuple[Origin, int, TreeHead]:
    step = "commit"
    lines = text.decode("utf-8", errors="replace").split("\n")
    if len(lines) != 6 or lines[0] != COMMIT_HEADER or lines[-1] != "" or not lines[2].isdigit():
        raise VerificationError("malformed commit statement", step=step)
    return Origin(lines[1]), int(lines[2]), _head_lines(lines[3:5], step)
