"""移送 packages (docs/export.md): a case's clips, or a selection, written to a folder that an
auditor outside the bureau checks with one command, ``python3 verify.py``, and no liuhen.

A package holds the originals (or the playback copies), ``manifest.json`` naming every file by
SHA-256 and size, the 电子数据清单 (两高一部 电子数据规定 Art. 14) as ``清单.csv`` and
``清单.html``, ``custody.json`` (the items' ledger entries with inclusion proofs in both trees
under one checkpoint, its timestamp tokens, the trust root) and ``verify.py``
(cases/verify_package.py, copied verbatim). Everything but ``custody.json`` is a function of
the ledger's entries about the items and the request only: the same export twice gives the
same bytes. The export itself is an ``exported`` entry whose subject is the manifest's SHA-256,
so the manifest (and through it every file) is proven by the ledger.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import html
import io
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from evidence.bodies import ExportedBody
from evidence.errors import NotFoundError, PolicyViolationError, VerificationError
from evidence.records import Clip, EntryKind, StoredObject
from integrity import merkle
from integrity.entry import decode_entry
from integrity.trust import TrustRoot
from ledger.appending import LedgerWriter
from ledger.files import write_atomic
from ledger.ports import LedgerReader

FORMAT = "liuhen/export/v1"
VERIFIER = Path(__file__).with_name("verify_package.py")
VARIANTS = ("original", "playback")
_CHUNK = 1 << 20
_UNSAFE = re.compile(r"[^0-9A-Za-z._\-\u4e00-\u9fff]")
_CATEGORIES = {"video": "视频", "audio": "音频", "image": "图片"}
_VIDEO = {".mp4", ".mov", ".avi", ".mkv", ".ts", ".264", ".h264", ".265", ".h265"}
_AUDIO = {".wav", ".mp3", ".amr", ".aac", ".m4a"}
_IMAGE = {".jpg", ".jpeg", ".png", ".bmp"}
COLUMNS = ("序号", "名称", "类别", "格式", "大小（字节）", "完整性校验值 SHA-256",
           "完整性校验值 SM3", "提取时间", "提取人", "记录仪", "警号", "包内文件")
"""The 电子数据清单's columns (Art. 14: 名称、类别、格式、大小、完整性校验值、提取时间、提取人、
记录仪、警号), in this order in both the CSV and the page."""


@dataclass(frozen=True, slots=True)
class ExportRequest:
    items: tuple[str, ...]
    """The originals' SHA-256, in the package's order."""
    case: str
    """The case id, or empty for a clip selection."""
    variant: str
    recipient: str
    purpose: str
    actor: str


@dataclass(frozen=True, slots=True)
class ExportResult:
    folder: Path
    index: int
    """The ``exported`` entry's ledger index."""
    manifest_sha256: str
    files: int
    bytes: int


def _category(suffix: str) -> str:
    kind = ("video" if suffix in _VIDEO else "audio" if suffix in _AUDIO
            else "image" if suffix in _IMAGE else "")
    return _CATEGORIES.get(kind, "其他")


def _copy(source: BinaryIO, target: Path, expected: str) -> tuple[str, str, int]:
    """Copy ``source`` to ``target`` hashing it; VerificationError when its SHA-256 is not
    ``expected`` (a stored object that no longer is what the ledger names)."""
    sha, sm3, size = hashlib.sha256(), hashlib.new("sm3"), 0
    with target.open("xb") as fh:
        while chunk := source.read(_CHUNK):
            sha.update(chunk)
            sm3.update(chunk)
            fh.write(chunk)
            size += len(chunk)
    if sha.hexdigest() != expected:
        target.unlink()
        raise VerificationError(f"存储对象 {target.name} 的 SHA-256 {sha.hexdigest()} 与账本 "
                                f"{expected} 不符 (stored object does not match the ledger)",
                                step="export-copy")
    return sha.hexdigest(), sm3.hexdigest(), size


def _ledger_facts(store: LedgerReader, sha256: str) -> dict[str, str]:
    """The 清单's facts of one original, from its ``acquired`` entry (the ledger, not the
    catalogue: the package proves them with that very entry)."""
    for row in store.find(sha256):
        entry = decode_entry(row.data)
        if entry.kind is EntryKind.ACQUIRED:
            body = entry.body
            return {"name": str(body["name_on_device"]), "device": str(body["device"]),
                    "officer": str(body["officer"]), "sm3": str(body.get("sm3") or ""),
                    "at": entry.at.isoformat(), "by": f"{entry.station}/{entry.actor}",
                    "size": str(body["size"])}
    raise NotFoundError(f"账本中没有 {sha256} 的采集（acquired）条目 (no `acquired` entry)")


def clearance_csv(rows: Sequence[Sequence[str]]) -> bytes:
    """The 清单 as CSV: UTF-8 with a BOM (Excel opens it as UTF-8), CRLF lines."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return b"\xef\xbb\xbf" + buf.getvalue().encode()


def clearance_html(rows: Sequence[Sequence[str]], *, title: str, recipient: str,
                   purpose: str) -> bytes:
    """The 清单 as a printable page (A4 landscape), no script, no outside resource."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>\n"
                   for row in rows)
    return (
        "<!doctype html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
        f"<title>电子数据清单 {html.escape(title)}</title><style>"
        "@page{size:A4 landscape;margin:12mm}body{font:10pt sans-serif}"
        "table{border-collapse:collapse;width:100%}th,td{border:1px solid #000;padding:2px 4px;"
        "word-break:break-all;vertical-align:top}</style></head><body>\n"
        f"<h1>电子数据清单</h1>\n<p>{html.escape(title)}　接收单位：{html.escape(recipient)}"
        f"　用途：{html.escape(purpose)}</p>\n"
        f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}</tbody></table>\n"
        "<p>核验：在本目录运行 <code>python3 verify.py</code>（需 Python 3 与 cryptography）。"
        "</p>\n</body></html>\n").encode()


def _file_entry(path: str, sha256: str, size: int) -> dict[str, object]:
    return {"path": path, "sha256": sha256, "size": size}


@dataclass
class Exporter:
    """Writes 移送 packages. ``clip_of`` reads the catalogue (NotFoundError for an unknown
    clip), ``open_object`` a stored object's plaintext, ``publish`` signs (and anchors) a
    checkpoint over the current head."""

    store: LedgerReader
    writer: LedgerWriter
    trust: Callable[[], TrustRoot]
    clip_of: Callable[[str], Clip]
    open_object: Callable[[StoredObject], BinaryIO]
    publish: Callable[[], object]

    def export(self, request: ExportRequest, folder: Path) -> ExportResult:
        if request.variant not in VARIANTS:
            raise PolicyViolationError(f"导出类型应为 original 或 playback，实为 "
                                       f"{request.variant!r} (variant must be original or "
                                       "playback)")
        if not request.items:
            raise PolicyViolationError("没有可导出的片段 (nothing to export)")
        if len(set(request.items)) != len(request.items):
            raise PolicyViolationError("片段重复 (an item is listed twice)")
        if folder.exists() and any(folder.iterdir()):
            raise PolicyViolationError(f"目标目录 {folder} 非空：不覆盖任何文件 (the output "
                                       "folder is not empty; nothing is overwritten)")
        # Everything is checked before a byte is written.
        plan = []
        for sha in request.items:
            clip = self.clip_of(sha)
            obj = clip.original if request.variant == "original" else clip.playback
            if obj is None:
                what = "原件" if request.variant == "original" else "播放副本"
                raise NotFoundError(f"片段 {sha} 没有{what}存储对象 (no stored "
                                    f"{request.variant} for this clip)")
            plan.append((sha, obj, _ledger_facts(self.store, sha)))
        (folder / "items").mkdir(parents=True, exist_ok=True)
        files: list[dict[str, object]] = []
        items: list[dict[str, object]] = []
        rows: list[list[str]] = []
        total = 0
        for n, (sha, obj, facts) in enumerate(plan, 1):
            name = PurePosixPath(facts["name"].replace("\\", "/")).name
            suffix = PurePosixPath(name).suffix.lower()
            if request.variant == "playback":
                suffix = PurePosixPath(obj.key).suffix.lower() or ".mp4"
            safe = _UNSAFE.sub("_", PurePosixPath(name).stem)[:60] or "clip"
            rel = f"items/{n:03d}_{safe}{suffix}"
            with self.open_object(obj) as source:
                file_sha, file_sm3, size = _copy(source, folder / rel, obj.sha256)
            total += size
            files.append(_file_entry(rel, file_sha, size))
            items.append({"sha256": sha, "file": rel, "file_sha256": file_sha,
                          "file_sm3": file_sm3, "name": facts["name"],
                          "device": facts["device"], "officer": facts["officer"]})
            rows.append([str(n), facts["name"], _category(suffix), suffix.lstrip(".").upper(),
                         str(size), file_sha, file_sm3, facts["at"], facts["by"],
                         facts["device"], facts["officer"], rel])
        title = f"案件 {request.case}" if request.case else "片段选取 (clip selection)"
        listing = {"清单.csv": clearance_csv(rows),
                   "清单.html": clearance_html(rows, title=title, recipient=request.recipient,
                                             purpose=request.purpose),
                   "verify.py": VERIFIER.read_bytes()}
        for rel, data in listing.items():
            write_atomic(folder / rel, data)
            files.append(_file_entry(rel, hashlib.sha256(data).hexdigest(), len(data)))
        manifest = {"format": FORMAT, "case": request.case, "variant": request.variant,
                    "recipient": request.recipient, "purpose": request.purpose,
                    "items": items, "files": files}
        manifest_bytes = (json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True)
                          + "\n").encode()
        write_atomic(folder / "manifest.json", manifest_bytes)
        manifest_sha = hashlib.sha256(manifest_bytes).hexdigest()
        body = ExportedBody(case=request.case, items=request.items, variant=request.variant,
                            recipient=request.recipient, purpose=request.purpose, approval=None)
        receipt = self.writer.append(body, subject=manifest_sha, actor=request.actor)
        self.publish()
        write_atomic(folder / "custody.json",
                     self._custody(request.items, receipt.index))
        return ExportResult(folder=folder, index=receipt.index, manifest_sha256=manifest_sha,
                            files=len(files) + 2, bytes=total)

    def _custody(self, items: Sequence[str], exported: int) -> bytes:
        """The custody slice: every entry about the items (``accessed`` left out, as in
        ledger/proofs.py) and the ``exported`` one, proven under the latest checkpoint."""
        checkpoint = self.store.latest_checkpoint()
        if checkpoint is None or checkpoint.head.size <= exported:
            raise NotFoundError("导出条目尚未被检查点覆盖 (no checkpoint covers the export)")
        size = checkpoint.head.size
        rows = [r for sha in items for r in self.store.find(sha)
                if decode_entry(r.data).kind is not EntryKind.ACCESSED]
        rows.append(self.store.entry(exported))
        b64 = base64.b64encode
        entries = []
        for row in sorted({r.index: r for r in rows}.values(), key=lambda r: r.index):
            entry: dict[str, object] = {
                "index": row.index, "entry": b64(row.data).decode(),
                "proof": [b64(h).decode() for h in self.store.inclusion_proof(row.index, size)]}
            if checkpoint.sm3 is not None:
                entry["sm3_proof"] = [b64(h).decode() for h in self.store.inclusion_proof(
                    row.index, size, tree_hash=merkle.SM3)]
            entries.append(entry)
        custody = {"format": FORMAT, "exported": exported,
                   "checkpoint": checkpoint.note.decode(), "entries": entries,
                   "timestamps": [{"tsa": name, "token": b64(token).decode()}
                                  for name, token in self.store.timestamps(size)],
                   "trust_root": self.trust().to_dict()}
        return (json.dumps(custody, ensure_ascii=False, indent=1) + "\n").encode()
