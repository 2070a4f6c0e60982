#!/usr/bin/env python3
"""核验 liuhen 移送包 (verify a liuhen export package): run ``python3 verify.py`` in the package.

Needs Python 3.11+ and ``cryptography``; ``gmalglib`` too when the trust root holds SM2 keys
(docs/adr/0015). No liuhen, no database, no network. Exit 0: every step held; 1: a step
failed (the message names the item and the step, Chinese first); 75: this machine lacks a
library the package needs (the evidence did not fail). ``--trust-root FILE`` uses the
auditor's own trust root (keyring.json) instead of the one the package carries.

Steps (docs/export.md):
  P1 package   manifest.json and custody.json parse, formats liuhen/export/v1
  P2 checkpoint the checkpoint note is signed by a log key of the trust root valid at its size
  P3 inclusion every entry is included at its index under the checkpoint's SHA-256 root, and
               under its SM3 root when the checkpoint has an ``sm3`` line
  P4 exported  the ``exported`` entry's subject is the SHA-256 of manifest.json, its items are
               the manifest's items
  P5 item      each item has its ``acquired`` entry; a playback copy its ``derived`` entry
  P6 file      every file the manifest lists has its SHA-256 and size; no file is missing or
               extra; each item's file is its original (or playback copy) by SHA-256 and SM3
  P7 timestamp every RFC 3161 token's message imprint is the checkpoint body's digest
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

FORMAT = "liuhen/export/v1"
ENTRY_DOMAIN = b"liuhen/entry/v1\n"
ED25519_TYPE = b"\x01"
SM2_TYPE = b"\xff" + b"gbt32918-sm2-sm3"
SM2_UID = b"1234567812345678"
DASH = "\u2014 "
SHA256_OID_DER = bytes.fromhex("0609608648016503040201")
SM3_OID_DER = bytes.fromhex("06082a811ccf55018311")


class Failed(Exception):
    def __init__(self, step: str, item: str, zh: str, en: str) -> None:
        super().__init__(f"核验失败 [{step}] {item}：{zh}\n"
                         f"VERIFICATION FAILED [{step}] {item}: {en}")


class Missing(Exception):
    pass


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _hash(name: str, data: bytes) -> bytes:
    return hashlib.new(name, data).digest()


def _root_from_path(index: int, size: int, leaf: bytes, path: list[bytes],
                    algorithm: str) -> bytes | None:
    """RFC 9162 §2.1.3.2; None when the path does not fit the tree."""
    if index >= size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = _hash(algorithm, b"\x01" + p + r)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = _hash(algorithm, b"\x01" + r + p)
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


def _keys(trust: dict[str, Any]) -> list[tuple[str, bytes, str, bytes, int, int | None]]:
    """(name, key id, algorithm, raw key, valid_from, valid_until) of the trust root's log keys."""
    found = []
    for item in trust["keys"]:
        if item["role"] != "log":
            continue
        name, hex_id, b64 = item["vkey"].split("+", 2)
        blob = _b64(b64)
        algorithm, raw = (("sm2", blob[len(SM2_TYPE):]) if blob.startswith(SM2_TYPE)
                          else ("ed25519", blob[1:]) if blob.startswith(ED25519_TYPE)
                          else ("", b""))
        if not algorithm:
            continue
        kind = SM2_TYPE if algorithm == "sm2" else ED25519_TYPE
        if hashlib.sha256(name.encode() + b"\n" + kind + raw).digest()[:4].hex() != hex_id:
            raise Failed("P2", "trust root", f"密钥 {name} 的 key id 不符",
                         f"key {name}: wrong key id")
        found.append((name, bytes.fromhex(hex_id), algorithm, raw, int(item["valid_from"]),
                      item.get("valid_until")))
    return found


def _signature_ok(algorithm: str, raw: bytes, text: bytes, signature: bytes) -> bool:
    if algorithm == "ed25519":
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        try:
            Ed25519PublicKey.from_public_bytes(raw).verify(signature, text)
        except (InvalidSignature, ValueError):
            return False
        return True
    try:
        from gmalglib.sm2 import SM2
    except ImportError as exc:
        raise Missing("缺少 gmalglib：信任根含 SM2 密钥（国密），本机无法验证其签名。"
                      "请安装 gmalglib 后重试\n(gmalglib is not installed: SM2 signatures "
                      "cannot be checked here)") from exc
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
    try:
        r, s = decode_dss_signature(signature)
        return bool(SM2(pk=raw, uid=SM2_UID).verify(text, r.to_bytes(32, "big")
                                                    + s.to_bytes(32, "big")))
    except (ValueError, OverflowError):
        return False


def check_checkpoint(note: bytes, trust: dict[str, Any]) -> dict[str, Any]:
    """(P2) origin, size, roots of a note signed by every algorithm its log key holds."""
    cut = note.rfind(b"\n\n")
    if cut < 0:
        raise Failed("P2", "checkpoint", "检查点格式错误", "malformed checkpoint note")
    text, sig_lines = note[:cut + 1], note[cut + 2:].decode("utf-8", "replace").split("\n")[:-1]
    lines = text.decode().split("\n")[:-1]
    try:
        origin, size = lines[0], int(lines[1])
        root = _b64(lines[2])
        sm3 = [x.split(" ") for x in lines[3:] if x.startswith("sm3 ")]
        sm3_root = _b64(sm3[0][2]) if sm3 else None
        if sm3 and (len(sm3) > 1 or int(sm3[0][1]) != size):
            raise ValueError("sm3 line")
    except (IndexError, ValueError, binascii.Error) as exc:
        raise Failed("P2", "checkpoint", "检查点正文格式错误", f"malformed checkpoint body: {exc}"
                     ) from exc
    if origin != trust["origin"]:
        raise Failed("P2", "checkpoint", f"检查点来源 {origin} 不是信任根的 {trust['origin']}",
                     "checkpoint origin is not the trust root's")
    keys = {(name, kid): (alg, raw, lo, hi) for name, kid, alg, raw, lo, hi in _keys(trust)}
    signed: set[tuple[str, str]] = set()
    for line in sig_lines:
        if not line.startswith(DASH):
            raise Failed("P2", "checkpoint", "签名行格式错误", "malformed signature line")
        name, _, b64 = line[len(DASH):].partition(" ")
        try:
            blob = _b64(b64)
        except binascii.Error as exc:
            raise Failed("P2", "checkpoint", "签名不是 base64", "signature is not base64") from exc
        key = keys.get((name, blob[:4]))
        if key is None:
            continue  # another key (a witness): ignored, as the signed-note spec says
        alg, raw, lo, hi = key
        if not _signature_ok(alg, raw, text, blob[4:]):
            raise Failed("P2", "checkpoint", f"{name} 的 {alg} 签名无效",
                         f"bad {alg} signature by {name}")
        if not (lo <= size and (hi is None or size < hi)):
            raise Failed("P2", "checkpoint", f"{name} 的密钥在树大小 {size} 处不在有效期内",
                         f"key {name} is not valid at tree size {size}")
        signed.add((name, alg))
    if not signed:
        raise Failed("P2", "checkpoint", "没有信任根中日志密钥的签名",
                     "no signature by a trusted log key")
    for (name, _kid), (alg, _raw, lo, hi) in keys.items():
        valid = lo <= size and (hi is None or size < hi)
        if valid and name in {n for n, _ in signed} and (name, alg) not in signed:
            raise Failed("P2", "checkpoint", f"{name} 缺少 {alg} 签名",
                         f"{name} holds a {alg} key but did not sign with it")
    return {"size": size, "root": root, "sm3_root": sm3_root, "body": text}


def check_entries(custody: dict[str, Any], head: dict[str, Any]) -> dict[int, Any]:
    """(P3) every entry is included under both roots; returns the parsed entries by index."""
    parsed: dict[int, Any] = {}
    for item in custody["entries"]:
        index = int(item["index"])
        what = f"账本条目 {index} (ledger entry {index})"
        data = _b64(item["entry"])
        path = [_b64(h) for h in item["proof"]]
        leaf = _hash("sha256", b"\x00" + data)
        if _root_from_path(index, head["size"], leaf, path, "sha256") != head["root"]:
            raise Failed("P3", what, "不在检查点的 SHA-256 树中（包含证明不成立）",
                         "not included under the checkpoint's SHA-256 root")
        if head["sm3_root"] is not None:
            sm3_path = [_b64(h) for h in item.get("sm3_proof") or []]
            leaf = _hash("sm3", b"\x00" + data)
            if _root_from_path(index, head["size"], leaf, sm3_path, "sm3") != head["sm3_root"]:
                raise Failed("P3", what, "不在检查点的 SM3 树中（包含证明不成立）",
                             "not included under the checkpoint's SM3 root")
        if not data.startswith(ENTRY_DOMAIN):
            raise Failed("P3", what, "不是 v1 账本条目", "not a v1 ledger entry")
        parsed[index] = json.loads(data[len(ENTRY_DOMAIN):])
    return parsed


def _digests(path: Path) -> tuple[str, str, int]:
    sha, sm3, size = hashlib.sha256(), hashlib.new("sm3"), 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            sha.update(chunk)
            sm3.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), sm3.hexdigest(), size


def verify(folder: Path, trust_file: Path | None = None) -> list[str]:
    """Run P1–P7 over the package in ``folder``; raise Failed at the first failure."""
    try:
        manifest_bytes = (folder / "manifest.json").read_bytes()
        manifest = json.loads(manifest_bytes)
        custody = json.loads((folder / "custody.json").read_bytes())
        if manifest.get("format") != FORMAT or custody.get("format") != FORMAT:
            raise ValueError(f"format is not {FORMAT}")
        trust = (json.loads(trust_file.read_bytes()) if trust_file is not None
                 else custody["trust_root"])
    except (OSError, ValueError, KeyError) as exc:
        raise Failed("P1", "manifest.json/custody.json", "移送包无法读取", str(exc)) from exc
    head = check_checkpoint(custody["checkpoint"].encode(), trust)
    entries = check_entries(custody, head)
    said = [f"检查点 {trust['origin']} 树大小 {head['size']} 签名有效 (checkpoint signed)",
            f"{len(entries)} 条账本条目包含证明通过"
            + ("（SHA-256 与 SM3 两棵树）" if head["sm3_root"] else "（SHA-256）")]
    # (P4) the export entry pins the manifest.
    exported = entries.get(int(custody["exported"]))
    if exported is None or exported["kind"] != "exported":
        raise Failed("P4", "exported", "移送包中没有导出（exported）条目", "no exported entry")
    if exported["subject"] != hashlib.sha256(manifest_bytes).hexdigest():
        raise Failed("P4", "manifest.json",
                     "manifest.json 的 SHA-256 不是导出条目所记录的（清单被改动）",
                     "manifest.json is not the one the exported entry names (altered)")
    items = manifest["items"]
    if exported["body"]["items"] != [i["sha256"] for i in items]:
        raise Failed("P4", "manifest.json", "manifest 的片段与导出条目不符",
                     "manifest items differ from the exported entry")
    # (P5) each item's own entries.
    by_subject: dict[str, list[Any]] = {}
    for entry in entries.values():
        by_subject.setdefault(entry["subject"], []).append(entry)
    for item in items:
        sha, what = item["sha256"], f"片段 {item['name']} ({item['sha256'][:16]}…)"
        own = by_subject.get(sha, [])
        if not any(e["kind"] == "acquired" for e in own):
            raise Failed("P5", what, "没有采集（acquired）条目", "no acquired entry for this item")
        if manifest["variant"] == "original":
            expected = {sha}
        else:
            expected = {d["sha256"] for e in own if e["kind"] == "derived"
                        for d in e["body"]["derivatives"] if d["role"] == "playback"}
        if item["file_sha256"] not in expected:
            raise Failed("P5", what, "包内文件不是账本记录的原件/播放副本",
                         "the item's file is not the ledgered original/playback copy")
    # (P6) every file, nothing missing, nothing extra.
    listed = {f["path"]: f for f in manifest["files"]}
    by_file = {i["file"]: i for i in items}
    for rel, f in listed.items():
        what = (f"片段 {by_file[rel]['name']} ({rel})" if rel in by_file else rel)
        path = folder / rel
        if ".." in Path(rel).parts or Path(rel).is_absolute() or not path.is_file():
            raise Failed("P6", what, "文件缺失", "file missing")
        sha, sm3, size = _digests(path)
        if sha != f["sha256"] or size != f["size"]:
            raise Failed("P6", what, "文件的 SHA-256 或大小与 manifest 不符（文件被改动）",
                         "SHA-256 or size differs from the manifest (altered)")
        if rel in by_file and (sha != by_file[rel]["file_sha256"]
                               or sm3 != by_file[rel]["file_sm3"]):
            raise Failed("P6", what, "文件的 SHA-256/SM3 与片段记录不符", "digest differs")
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    extra = sorted(present - set(listed) - {"manifest.json", "custody.json"})
    if extra:
        raise Failed("P6", extra[0], "包内有 manifest 未列出的文件",
                     "a file the manifest does not list")
    said.append(f"{len(items)} 个片段、{len(listed)} 个文件完整性校验通过 (files intact)")
    # (P7) timestamps cover the checkpoint body.
    for stamp in custody["timestamps"]:
        token = _b64(stamp["token"])
        sha_ok = SHA256_OID_DER in token and _hash("sha256", head["body"]) in token
        sm3_ok = SM3_OID_DER in token and _hash("sm3", head["body"]) in token
        if not (sha_ok or sm3_ok):
            raise Failed("P7", f"时间戳 {stamp['tsa']}", "时间戳不覆盖该检查点",
                         "the token's imprint is not the checkpoint's digest")
        said.append(f"时间戳 {stamp['tsa']} 覆盖该检查点 (timestamp imprint matches; chain: "
                    "openssl ts -verify)")
    return said


def main(argv: list[str]) -> int:
    trust = None
    if len(argv) == 2 and argv[0] == "--trust-root":
        trust = Path(argv[1])
    elif argv:
        print("用法 usage: python3 verify.py [--trust-root keyring.json]", file=sys.stderr)
        return 2
    try:
        said = verify(Path(__file__).resolve().parent, trust)
    except Failed as exc:
        print(exc, file=sys.stderr)
        return 1
    except Missing as exc:
        print(exc, file=sys.stderr)
        return 75
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        print(f"核验失败 [P1] 移送包格式错误：{exc!r}\nVERIFICATION FAILED [P1] malformed "
              "package", file=sys.stderr)
        return 1
    for line in said:
        print(line)
    print("移送包核验通过 (package verified)" + ("" if trust else
          "；使用包内信任根，请用 --trust-root 指定您信任的密钥 (embedded trust root used)"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
