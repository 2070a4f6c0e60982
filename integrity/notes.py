"""C2SP signed notes with Ed25519 keys, and the two note bodies liuhen signs:

- ``tlog-checkpoint`` (origin, size, base64 root), signed by the log key, cosignable by witnesses;
- ``liuhen/commit/v1`` statements, signed by a station key for every ledger commit
  (docs/ledger-format.md §Commits).

Key ids follow the signed-note spec: the first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import sha256

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from evidence.errors import VerificationError
from evidence.ids import KeyId, Origin
from evidence.records import Checkpoint, PublicKey, TreeHead

_ED25519 = b"\x01"  # signed-note signature type for Ed25519
_DASH = "\u2014 "  # em dash + space opens every signature line
MAX_NOTE_BYTES = 16 * 1024  # notes are small; bound what a parser will read
MAX_SIGNATURES = 32  # bound DoS: a note with thousands of signature lines is refused
COMMIT_HEADER = "liuhen/commit/v1"


def key_id(name: str, raw_public: bytes) -> bytes:
    return sha256(name.encode() + b"\n" + _ED25519 + raw_public).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise ValueError(f"key name {name!r} must be non-empty, without spaces or '+'")


class Signer:
    """An Ed25519 private key with the note name it signs under. Keys are handed in, never read."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey, *, role: str) -> None:
        _check_name(name)
        self.name = name
        self.role = role
        self._key = private_key
        raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self._id = key_id(name, raw)
        self.public = PublicKey(name=name, key_id=KeyId(self._id.hex()), raw=raw, role=role)

    def sign_line(self, text: bytes) -> str:
        sig = self._key.sign(text)
        return f"{_DASH}{self.name} {base64.b64encode(self._id + sig).decode()}\n"


def vkey(key: PublicKey) -> str:
    """The signed-note verifier key string ``name+hexid+base64(0x01 ‖ key)``."""
    return f"{key.name}+{key.key_id}+{base64.b64encode(_ED25519 + key.raw).decode()}"


def parse_vkey(text: str, *, role: str, valid_from: int = 0,
               valid_until: int | None = None) -> PublicKey:
    try:
        name, hex_id, b64 = text.strip().split("+", 2)
        blob = base64.b64decode(b64, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise VerificationError(f"malformed verifier key {text!r}", step="keys") from exc
    if blob[:1] != _ED25519 or len(blob) != 33:
        raise VerificationError(f"verifier key {name} is not Ed25519", step="keys")
    if key_id(name, blob[1:]).hex() != hex_id:
        raise VerificationError(f"verifier key {name} has the wrong key id", step="keys")
    return PublicKey(name=name, key_id=KeyId(hex_id), raw=blob[1:], role=role,
                     valid_from=valid_from, valid_until=valid_until)


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
    return text + b"\n" + "".join(s.sign_line(text) for s in signers).encode()


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
    (rotated or expired), or when no trusted key signed at all. Signatures by unknown keys are
    ignored, as the signed-note spec requires, so witnesses can be added without breaking old
    verifiers.
    """
    step = "signature"
    text, sigs = split_note(note)
    by_id = {(k.name, bytes.fromhex(k.key_id)): k for k in keys}
    good: list[PublicKey] = []
    for sig in sigs:
        key = by_id.get((sig.name, sig.key_id))
        if key is None:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(key.raw).verify(sig.signature, text)
        except InvalidSignature as exc:
            raise VerificationError(f"bad signature by {key.name}", step=step, index=size) from exc
        if not key.valid_at(size):
            raise VerificationError(
                f"key {key.name} ({key.key_id}) signed at tree size {size}, outside its validity "
                f"[{key.valid_from}, {key.valid_until})", step=step, index=size)
        good.append(key)
    if not good:
        names = ", ".join(s.name for s in sigs)
        raise VerificationError(f"no signature from a trusted key (signed by: {names})",
                                step=step, index=size)
    return text, good


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
