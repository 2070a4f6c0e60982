"""Ledger commands of ``liuhen``: audit, checkpoint, export-bundle, verify-bundle, trust-root,
keys; and verify and fixity, which check a clip or every stored original against the ledger.

Heavy modules are imported inside the commands: ``verify-bundle`` runs with the standard library,
cryptography and rfc3161-client only, without the database.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli._common import DataDir, Store, errors, opened, settings_for
from api.console import out

if TYPE_CHECKING:
    from api.settings import Settings

app = typer.Typer()
keys_app = typer.Typer(no_args_is_help=True, help="key management")


@app.command()
def audit(
    data_dir: DataDir = None,
    checkpoint: Annotated[list[Path] | None, typer.Option(
        "--checkpoint", help="a checkpoint note saved outside the database (repeatable); the "
        "station's own copy in DATA/checkpoints/latest.note is always used")] = None,
    deep: Annotated[bool, typer.Option(help="also parse every entry and check its "
                                       "prev_checkpoint")] = False,
    tiles: Annotated[str | None, typer.Option(
        "--tiles", help="audit the log from its C2SP tlog-tiles alone, no database: a URL "
        "prefix or a directory (DATA/log)")] = None,
    trust_root: Annotated[Path | None, typer.Option(
        "--trust-root", help="with --tiles: the auditor's trust root (keyring.json); default "
        "the data dir's")] = None,
) -> None:
    """Full audit: recompute every leaf, rebuild the tree, check every commit and checkpoint;
    on a bureau, then every station log it holds (S1–S5). With --tiles: the log from its tiles
    and entry bundles (T1–T6)."""
    if tiles is not None:
        _audit_tiles(tiles, trust_root or settings_for(data_dir).data_dir / "keyring.json",
                     deep=deep)
        return
    from api.compose import station_registry
    from ledger.audit import run_audit
    from ledger.stationaudit import audit_station

    with opened(data_dir) as ledger, errors():
        notes = [p.read_bytes() for p in checkpoint or []]
        if ledger.latest_note_path.exists():
            notes.append(ledger.latest_note_path.read_bytes())
        report = run_audit(ledger.store, ledger.trust, external=notes, deep=deep)
        out(f"audit OK: {report.head.size} entries, root {report.head.root.hex()}")
        if report.sm3_head is not None:
            out(f"  SM3 树根 (SM3 tree root) {report.sm3_head.root.hex()}")
        out(f"  {report.commits} signed commits, {report.checkpoints} checkpoints, "
            f"{report.external_checkpoints} held outside the database"
            + (", every entry parsed" if report.deep else ""))
        if report.timestamps:
            out(f"  {report.timestamps} RFC 3161 timestamp tokens verified (SHA-256 and SM2/SM3)")
        tail = report.head.size - report.latest_checkpoint
        if tail:
            out(f"  {tail} entries after the latest checkpoint are covered by station "
                "commits only; run `liuhen checkpoint` to publish one")
        # Intact, but written by an older or foreign version: searches and pages leave them out.
        unreadable = ledger.catalogue.unfoldable()
        if unreadable:
            out(f"  警告 WARNING: 目录无法读取 {len(unreadable)} 条账本记录，查询和页面中不显示 "
                f"({len(unreadable)} entries the catalogue cannot read are left out of searches "
                "and pages; they stay in the ledger, intact):")
        for item in unreadable:
            out(f"    entry {item.index} ({item.kind}): {item.reason}")
        # A bureau also holds its stations' logs: both hops of each (docs/verification.md §S).
        registry = station_registry(ledger)
        for record in registry.all():
            done = audit_station(registry, ledger.store, record)
            out(f"  站点 {done.station_id}：{done.entries} 条、{done.checkpoints} 个检查点核验通过 "
                "(station log verified)")


def _audit_tiles(where: str, trust_root: Path, *, deep: bool) -> None:
    from api.compose import tile_reader
    from integrity.trust import TrustRoot
    from ledger.tiles import audit_tiles

    with errors():
        trust = TrustRoot.from_json(trust_root.read_bytes())
        report = audit_tiles(tile_reader(where), trust, deep=deep)
    head = report.checkpoint.head
    out(f"瓦片审计通过 (audit from tiles OK): {report.entries} 条记录 (entries), "
        f"{report.tiles} 个瓦片 (tiles), root {head.root.hex()}")
    out(f"  检查点 {report.checkpoint.origin} size {head.size}: 签名有效 (signature valid)")
    if report.deep:
        out("  每条记录均已解析 (every entry parsed)")
    if report.sm3_checked:
        out("  SM3 树根与检查点一致 (the SM3 tree rebuilt from the entries matches the sm3 line)")


@app.command("verify-bundle")
def verify_bundle_cmd(
    bundle: Annotated[Path, typer.Argument(help="a .bundle.json exported by liuhen")],
    clip: Annotated[Path | None, typer.Option(help="the clip file the bundle is for")] = None,
    trust_root: Annotated[Path | None, typer.Option(
        "--trust-root", help="the auditor's trust root (keyring.json); without it the "
        "bundle's own is used and the result says so")] = None,
    tiles: Annotated[str | None, typer.Option(
        "--tiles", help="compute the inclusion proof from the log's C2SP tlog-tiles (a URL "
        "prefix or a directory) instead of trusting the bundle's copy")] = None,
) -> None:
    """Verify a proof bundle offline, without the database. Exit 0 only when every step holds."""
    from integrity.bundle import bundle_position, verify_bundle
    from integrity.hashing import digest_stream
    from integrity.trust import TrustRoot

    with errors():
        trust = TrustRoot.from_json(trust_root.read_bytes()) if trust_root else None
        clip_hash = None
        if clip is not None:
            with clip.open("rb") as fh:
                clip_hash = digest_stream(fh).sha256
        data = bundle.read_bytes()
        hashes = None
        if tiles is not None:  # only then the tiles' modules (httpx) are loaded
            from api.compose import tile_reader
            from ledger.tiles import TileProofs

            index, size = bundle_position(data)
            hashes = TileProofs(tile_reader(tiles)).inclusion_proof(index, size)
        report = verify_bundle(data, trust=trust, clip_sha256=clip_hash, hashes=hashes)
    if report.station is not None:
        hop = report.station
        out(f"站点一跳通过：站点 {hop.station_id} 第 {hop.index} 条（{hop.entry.kind.value} "
            f"{hop.entry.subject}）在站点检查点（大小 {hop.station_size}）中 "
            "(station hop verified)")
        out("局端一跳通过：该站点检查点记录在局端日志中 (bureau hop verified):")
    entry = report.entry
    out(f"bundle OK: entry {report.index} ({entry.kind.value} {entry.subject}) at "
        f"{entry.at.isoformat()} by {entry.station}/{entry.actor}")
    out(f"  included in checkpoint {report.checkpoint.origin} size {report.checkpoint.head.size}")
    if tiles is not None:
        out(f"  包含证明取自日志瓦片 (inclusion proof computed from the tiles at {tiles})")
    if report.sm3_checked:
        out("  SM3 树包含证明通过 (included in the SM3 tree the checkpoint's sm3 line commits to)")
    else:
        out("  检查点无 SM3 行（国密层之前的检查点）(checkpoint from before the SM3 tree: "
            "SHA-256 only)")
    for name, info in report.timestamps:
        out(f"  timestamped by {name} at {info.gen_time.isoformat()} (serial {info.serial})")
    if not report.timestamps:
        out("  no RFC 3161 timestamp in this bundle (checkpoint signature only)")
    if clip is not None:
        out(f"  clip {clip.name} matches the entry's SHA-256")
    if report.embedded_trust:
        out("  WARNING: verified against the bundle's own trust root; pass --trust-root with "
            "the keys you trust for evidence use")


@app.command("export-bundle")
def export_bundle_cmd(
    ref: Annotated[str, typer.Argument(help="clip SHA-256 (the entry's subject) or ledger index")],
    output: Annotated[Path, typer.Option("-o", "--output", help="where to write the bundle")],
    station: Annotated[str | None, typer.Option(
        "--station", help="on a bureau: the station the clip was ingested on (REF is then its "
        "SHA-256 or its index in that station's log); the bundle carries both hops")] = None,
    data_dir: DataDir = None,
) -> None:
    """Export an offline proof bundle for one entry (publishing a checkpoint first if needed)."""
    from ledger.files import write_atomic
    from ledger.proofs import export_bundle, find_entry

    if station is not None:
        _export_station_bundle(ref, output, station, data_dir)
        return
    with opened(data_dir) as ledger, errors():
        row = find_entry(ledger.store, ref)
        latest = ledger.store.latest_checkpoint()
        if latest is None or latest.head.size <= row.index:
            ledger.publish(actor="export-bundle")
        data = export_bundle(ledger.store, ledger.trust, ref)
        write_atomic(output, data)
        out(f"wrote {output} ({len(data)} bytes) for entry {row.index}")


def _export_station_bundle(ref: str, output: Path, station: str, data_dir: Path | None) -> None:
    """A station clip's bundle, both hops (docs/verification.md B8), against the bureau's
    latest checkpoint (published first, so it covers every accepted station checkpoint)."""
    from api.compose import station_registry
    from ledger.files import write_atomic
    from ledger.stationaudit import export_station_bundle

    with opened(data_dir) as ledger, errors():
        ledger.publish(actor="export-bundle")
        data = export_station_bundle(station_registry(ledger), ledger.store, ledger.trust,
                                     station, ref)
        write_atomic(output, data)
        out(f"wrote {output} ({len(data)} bytes) for station {station} entry {ref} "
            "(站点与局端两跳证明 both hops)")


@app.command()
def checkpoint(data_dir: DataDir = None) -> None:
    """Publish a checkpoint over the current tree and anchor it with the configured TSAs."""
    with opened(data_dir) as ledger:
        cp, anchored = ledger.publish(actor="cli")
        if cp is None:
            latest = ledger.store.latest_checkpoint()
            out(f"no new entries; latest checkpoint size {latest.head.size if latest else 0}")
        else:
            out(f"checkpoint size {cp.head.size} root {cp.head.root.hex()}")
        if anchored is not None:
            for name in anchored.anchored:
                out(f"  checkpoint {anchored.checkpoint.head.size} timestamped by {name}")
            for name, why in anchored.failed.items():
                out(f"  TSA {name} failed: {why} (retried on the next run)")
            if anchored.failed:
                raise typer.Exit(75)


@app.command("trust-root")
def trust_root_cmd(data_dir: DataDir = None) -> None:
    """Print this station's trust root (public keys, validity, TSA roots) for auditors; on a
    bureau also every approved or revoked station's keys (``stations``)."""
    import json

    from api.compose import load_trust, station_registry
    from integrity.notes import vkey

    with errors():
        trust = load_trust(settings_for(data_dir))
        document = trust.to_dict()
        with opened(data_dir) as ledger:
            # A bureau's trust root also lists its stations' keys (docs/adr/0014).
            stations = [r for r in station_registry(ledger).all() if r.status != "pending"]
        if stations:
            document["stations"] = [
                {"station_id": r.station_id, "origin": r.origin, "status": r.status,
                 "keys": [{"vkey": vkey(k), "role": k.role, "valid_from": k.valid_from,
                           "valid_until": k.valid_until} for k in r.keys]}
                for r in stations]
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


app.add_typer(keys_app, name="keys")


@keys_app.command("rotate-log")
def rotate_log(data_dir: DataDir = None) -> None:
    """Planned rotation of the log keys (Ed25519 and SM2): entries plus a checkpoint signed by
    the old and the new keys."""
    from api.compose import keyring
    from ledger.keyring import rotate_log_key

    with opened(data_dir) as ledger, errors():
        done = rotate_log_key(keyring(ledger.settings), trust=ledger.trust, logs=ledger.logs,
                              writer=ledger.writer, store=ledger.store,
                              latest_note=ledger.latest_note_path, actor="cli")
        ids = ", ".join(f"{s.public.algorithm} {s.public.key_id}" for s in done.logs)
        out(f"日志密钥已在树大小 {done.checkpoint.head.size} 处轮换；新密钥 {ids}\n"
            f"  log keys rotated at tree size {done.checkpoint.head.size}; new keys {ids}")


@keys_app.command("add-sm2")
def add_sm2(data_dir: DataDir = None) -> None:
    """Give a data dir made before 国密 an SM2 station key and an SM2 log key (run with the
    station stopped); from then on checkpoints and commits carry both signatures."""
    from api.compose import keyring
    from ledger.keyring import add_sm2_keys

    with opened(data_dir) as ledger, errors():
        done = add_sm2_keys(keyring(ledger.settings), trust=ledger.trust,
                            station=ledger.stations[0], log=ledger.logs[0], writer=ledger.writer,
                            store=ledger.store, latest_note=ledger.latest_note_path, actor="cli")
        size = done.checkpoint.head.size
        out(f"已添加 SM2 密钥：日志密钥自树大小 {size} 起、采集站密钥自 {size + 1} 起有效\n"
            f"  SM2 keys added: the log key is valid from tree size {size}, the station key from "
            f"{size + 1}")


@keys_app.command("rotate-kek")
def rotate_kek_command(data_dir: DataDir = None) -> None:
    """KEK 轮换：新建密钥加密密钥，重新封装全部数据密钥并记入账本；证据对象不改写。
    (Rotate the key-encryption key: every data key re-wrapped, the rotation ledgered; no
    stored object is rewritten.)"""
    from api.compose import kek_service, object_keys
    from ledger.kekrotation import rotate_kek

    with opened(data_dir) as ledger, errors():
        done = rotate_kek(kek_service(ledger.settings), object_keys(ledger), writer=ledger.writer,
                          actor="cli")
        out(f"KEK 已轮换：{done.old} → {done.new}，重新封装 {done.rewrapped} 个数据密钥，"
            f"账本条目 {done.index}")
        out(f"KEK rotated {done.old} -> {done.new}: {done.rewrapped} data keys re-wrapped, "
            f"ledger entry {done.index}")


@app.command()
def verify(
    clip: Annotated[str, typer.Argument(help="a clip file, or its SHA-256 or SM3")],
    data_dir: DataDir = None,
    store: Store = None,
) -> None:
    """Is this clip in the ledger, and is its stored original intact?"""
    with errors():
        _verify_clip(settings_for(data_dir, store=store), clip)


@app.command()
def fixity(
    data_dir: DataDir = None,
    store: Store = None,
    rehash: Annotated[bool, typer.Option(help="read every object back and re-hash it")] = True,
    decrypt: Annotated[int, typer.Option(
        "--decrypt", min=-1, help="also decrypt this many objects (a fixed sample; -1: all) and "
        "re-hash their plaintext against the ledger (objects encrypted at rest)")] = 0,
) -> None:
    """Re-check every stored original: its exact version still there, unreplaced, locked, and
    (by default) hashing to its SHA-256 — the stored bytes' own, ciphertext when encrypted at
    rest, so no key is needed. Exit 1 and a report when anything is wrong."""
    with errors():
        bad = _fixity_check(settings_for(data_dir, store=store), rehash=rehash, decrypt=decrypt)
    if bad:
        raise typer.Exit(1)


def _verify_clip(settings: Settings, ref: str) -> None:
    """Is this clip in the ledger, and is its stored original intact? Raises when not."""
    from api.compose import open_station
    from evidence.errors import NotFoundError
    from evidence.ids import Sha256Hex, is_sha256_hex
    from integrity.entry import decode_entry
    from integrity.hashing import digest_stream

    path = Path(ref)
    station = open_station(settings)
    try:
        if path.is_file():
            with path.open("rb") as fh:
                digests = digest_stream(fh)
            out(f"{path.name}: SHA-256 {digests.sha256}  SM3 {digests.sm3}")
            sha = digests.sha256
        elif is_sha256_hex(ref):
            # SHA-256 and SM3 digests look alike: the ledger's subjects are SHA-256, else the
            # catalogue's SM3 index names the clip (DESIGN.md §4 国密 layer).
            sha = Sha256Hex(ref)
            if not station.ledger.store.find(sha):
                station.ledger.catalogue.catch_up()
                by_sm3 = station.ledger.catalogue.sha256_of_sm3(ref)
                if by_sm3 is not None:
                    out(f"{ref}: 匹配 SM3 (matched the SM3 of clip {by_sm3})")
                    sha = by_sm3
        else:
            raise NotFoundError(f"{ref!r} 既不是文件，也不是 64 位小写十六进制的 SHA-256 或 SM3 "
                                "(neither a file nor a lowercase SHA-256 or SM3)")
        entries = [(row.index, decode_entry(row.data)) for row in station.ledger.store.find(sha)]
        acquired = [(i, e) for i, e in entries if e.kind.value == "acquired"]
        if not acquired:
            raise NotFoundError(f"本账本中没有 {sha} 的采集（acquired）条目 "
                                "(no `acquired` entry for it in this ledger)")
        for index, e in acquired:
            body = e.body
            out(f"  账本条目 {index}：采集 {body.get('name_on_device')}，记录仪 "
                f"{body.get('device')}（警号 {body.get('officer')}），{e.at.isoformat()} "
                f"(ledger entry {index}: acquired)")
        objects = [r.object for r in station.repo.by_sha256(sha) if r.object is not None]
        if not objects:
            raise NotFoundError(f"{sha} 已记入账本，但尚无存储对象记录 "
                                "(ledgered, but no stored object is recorded yet)")
        obj = objects[0]
        checked = station.blobs.verify(obj, rehash=True)
        out(f"  存储 {checked.store} {checked.key} 版本 {checked.version_id}：{checked.size} "
            f"字节重新计算哈希一致，{checked.lock_mode} 锁定至 {checked.retain_until.date()} "
            "(stored; re-hashed OK)")
        open_plain = getattr(station.blobs, "verify_plaintext", None)
        if checked.sealing is not None and open_plain is not None:
            open_plain(checked)
            out(f"  静态加密（{checked.sealing.algorithm}，KEK {checked.sealing.kek_id}）："
                "已解密，明文 SHA-256 一致 (encrypted at rest: decrypted, plaintext OK)")
        for index, e in entries:
            if e.kind.value == "quarantined":
                out(f"  已隔离（条目 {index}）：{e.body.get('reason')} (quarantined)")
        out("片段核验通过：已记入账本，存储中的原件完好 (clip verified: in the ledger and intact "
            "in storage)")
    finally:
        station.close()


def _fixity_check(settings: Settings, *, rehash: bool, decrypt: int = 0) -> int:
    """Verify every stored object recorded by this station; returns how many failed.
    ``decrypt`` objects (-1: all; the sample is the first by SHA-256 of the key, so it is
    fixed and spread over the store) are also decrypted and their plaintext re-hashed."""
    import hashlib

    from api.compose import open_station
    from evidence.errors import NotFoundError, VerificationError

    station = open_station(settings)
    try:
        seen: set[tuple[str, str, str]] = set()
        bad = checked = 0
        rows = [r for r in station.repo.all_files() if r.object is not None]
        ranked = sorted({r.object.key for r in rows if r.object is not None},
                        key=lambda k: hashlib.sha256(k.encode()).hexdigest())
        sample = set(ranked if decrypt < 0 else ranked[:decrypt])
        # Only the sealing store decrypts; a plaintext store's rehash already hashes plaintext.
        open_plain = getattr(station.blobs, "verify_plaintext", None)
        decrypted = 0
        for row in rows:
            obj = row.object
            if obj is None or (obj.store, obj.key, obj.version_id) in seen:
                continue
            seen.add((obj.store, obj.key, obj.version_id))
            try:
                station.blobs.verify(obj, rehash=rehash)
                if obj.key in sample:
                    if open_plain is not None:
                        open_plain(obj)
                    else:
                        station.blobs.verify(obj, rehash=True)
                    decrypted += 1
                checked += 1
            except (VerificationError, NotFoundError) as exc:
                bad += 1
                out(f"FIXITY FAILED {obj.key} (version {obj.version_id}, {row.serial} "
                    f"{row.path}): {exc}")
        out(f"fixity: {checked} objects OK, {bad} failed" + (" (re-hashed)" if rehash else "")
            + (f"; {decrypted} decrypted and re-hashed as plaintext" if decrypt else ""))
        return bad
    finally:
        station.close()
