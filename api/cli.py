"""The ``liuhen`` command line (Typer). Commands import adapters lazily: ``verify-bundle`` runs
with the standard library, cryptography and rfc3161-client only, without the database."""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli_jobs import app as jobs_app
from api.cli_serve import serve, tokens_app
from api.console import PrintableFormatter, fail_line, out
from evidence.errors import (
    ConflictError,
    LiuhenError,
    NotFoundError,
    PolicyViolationError,
    UnavailableError,
    VerificationError,
)

if TYPE_CHECKING:
    from api.compose import Ledger
    from api.settings import Settings

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="留痕 liuhen: evidence ingestion and a signed, timestamped Merkle ledger.")

# Exit codes: 1 verification failed; sysexits-style codes for the other families.
EXIT_CODES: dict[type[LiuhenError], int] = {
    VerificationError: 1,
    PolicyViolationError: 3,
    NotFoundError: 4,
    ConflictError: 5,
    UnavailableError: 75,  # EX_TEMPFAIL: retry later
}

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="station data directory "
                                              "(default $LIUHEN_DATA_DIR or ./liuhen-data)")]
Store = Annotated[str | None, typer.Option(
    "--store", help="where originals go: s3://BUCKET/PREFIX (S3 Object Lock; endpoint and "
    "credentials from LIUHEN_S3_* and boto3's chain) or file:///dir (default "
    "$LIUHEN_STORE_URL, else DATA/objects)")]


def _fail(exc: LiuhenError) -> typer.Exit:
    code = next((c for t, c in EXIT_CODES.items() if isinstance(exc, t)), 2)
    label = "VERIFICATION FAILED" if isinstance(exc, VerificationError) else type(exc).__name__
    fail_line(f"{label}: {exc}")
    return typer.Exit(code)


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except LiuhenError as exc:
        raise _fail(exc) from exc


def settings_for(data_dir: Path | None, *, store: str | None = None,
                 create: bool = False) -> Settings:
    """Settings from LIUHEN_* variables, with the command line's --data-dir/--store on top.

    Only ``demo``, ``station`` and ``init`` pass ``create``: every other command refuses a data
    directory without a ledger (NotFoundError, exit 4) instead of making a new ledger with new
    keys in a mistyped folder."""
    from api.settings import Settings

    given: dict[str, object] = {}
    if data_dir is not None:
        given["data_dir"] = data_dir
    if store is not None:
        given["store_url"] = store
    settings = Settings(**given)  # type: ignore[arg-type]
    missing = None if create else settings.missing_ledger()
    if missing is not None:
        raise NotFoundError(
            f"数据目录 {settings.data_dir} 中没有账本（缺少 {missing}）：请检查 --data-dir 或 "
            f"LIUHEN_DATA_DIR 是否写错；要新建账本，请运行 liuhen init --data-dir "
            f"{settings.data_dir}")
    return settings


@contextmanager
def opened(data_dir: Path | None) -> Iterator[Ledger]:
    from api.compose import open_ledger

    with _errors():
        ledger = open_ledger(settings_for(data_dir))
        try:
            yield ledger
        finally:
            ledger.close()


@app.command()
def audit(
    data_dir: DataDir = None,
    checkpoint: Annotated[list[Path] | None, typer.Option(
        "--checkpoint", help="a checkpoint note saved outside the database (repeatable); the "
        "station's own copy in DATA/checkpoints/latest.note is always used")] = None,
    deep: Annotated[bool, typer.Option(help="also parse every entry and check its "
                                       "prev_checkpoint")] = False,
) -> None:
    """Full audit: recompute every leaf, rebuild the tree, check every commit and checkpoint."""
    from ledger.audit import run_audit

    with opened(data_dir) as ledger, _errors():
        notes = [p.read_bytes() for p in checkpoint or []]
        if ledger.latest_note_path.exists():
            notes.append(ledger.latest_note_path.read_bytes())
        report = run_audit(ledger.store, ledger.trust, external=notes, deep=deep)
        out(f"audit OK: {report.head.size} entries, root {report.head.root.hex()}")
        out(f"  {report.commits} signed commits, {report.checkpoints} checkpoints, "
            f"{report.external_checkpoints} held outside the database"
            + (", every entry parsed" if report.deep else ""))
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


@app.command("verify-bundle")
def verify_bundle_cmd(
    bundle: Annotated[Path, typer.Argument(help="a .bundle.json exported by liuhen")],
    clip: Annotated[Path | None, typer.Option(help="the clip file the bundle is for")] = None,
    trust_root: Annotated[Path | None, typer.Option(
        "--trust-root", help="the auditor's trust root (keyring.json); without it the "
        "bundle's own is used and the result says so")] = None,
) -> None:
    """Verify a proof bundle offline, without the database. Exit 0 only when every step holds."""
    from integrity.bundle import verify_bundle
    from integrity.hashing import sha256_stream
    from integrity.trust import TrustRoot

    with _errors():
        trust = TrustRoot.from_json(trust_root.read_bytes()) if trust_root else None
        clip_hash = None
        if clip is not None:
            with clip.open("rb") as fh:
                clip_hash, _ = sha256_stream(fh)
        report = verify_bundle(bundle.read_bytes(), trust=trust, clip_sha256=clip_hash)
    entry = report.entry
    out(f"bundle OK: entry {report.index} ({entry.kind.value} {entry.subject}) at "
        f"{entry.at.isoformat()} by {entry.station}/{entry.actor}")
    out(f"  included in checkpoint {report.checkpoint.origin} size {report.checkpoint.head.size}")
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
    data_dir: DataDir = None,
) -> None:
    """Export an offline proof bundle for one entry (publishing a checkpoint first if needed)."""
    from ledger.files import write_atomic
    from ledger.proofs import export_bundle, find_entry

    with opened(data_dir) as ledger, _errors():
        row = find_entry(ledger.store, ref)
        latest = ledger.store.latest_checkpoint()
        if latest is None or latest.head.size <= row.index:
            ledger.publish(actor="export-bundle")
        data = export_bundle(ledger.store, ledger.trust, ref)
        write_atomic(output, data)
        out(f"wrote {output} ({len(data)} bytes) for entry {row.index}")


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
    """Print this station's trust root (public keys, validity, TSA roots) for auditors."""
    from api.compose import load_trust

    with _errors():
        sys.stdout.write(load_trust(settings_for(data_dir)).to_json().decode())


keys_app = typer.Typer(no_args_is_help=True, help="key management")
app.add_typer(keys_app, name="keys")
app.add_typer(jobs_app, name="jobs")
app.command()(serve)
app.add_typer(tokens_app, name="tokens")


@keys_app.command("rotate-log")
def rotate_log(data_dir: DataDir = None) -> None:
    """Planned rotation of the log key: an entry plus a checkpoint signed by both keys."""
    from api.compose import keyring
    from ledger.keyring import rotate_log_key

    with opened(data_dir) as ledger, _errors():
        done = rotate_log_key(keyring(ledger.settings), trust=ledger.trust, log=ledger.log,
                              writer=ledger.writer, store=ledger.store,
                              latest_note=ledger.latest_note_path, actor="cli")
        out(f"log key rotated at tree size {done.checkpoint.head.size}; new key "
            f"{done.log.public.key_id}")


@app.command()
def init(data_dir: DataDir = None) -> None:
    """Create a new ledger in the data directory: station and log keys, keyring, database.
    Besides demo and station, the only command that creates one; an existing ledger is left
    as it is."""
    from api.compose import open_ledger

    with _errors():
        settings = settings_for(data_dir, create=True)
        existed = settings.missing_ledger() is None
        ledger = open_ledger(settings)
        try:
            size = ledger.store.head().size
        finally:
            ledger.close()
    where = settings.data_dir
    if existed:
        out(f"{where} 中已有账本（{size} 条记录），未改动")
        return
    out(f"已在 {where} 新建账本：密钥在 {where / 'keys'}，公钥清单 {where / 'keyring.json'}")
    out("  请把 liuhen trust-root 的输出交给审计方保存（信任根）")


@app.command()
def demo(data_dir: DataDir = None, store: Store = None,
         recorders: Annotated[int, typer.Option(help="simulated recorders to dock")] = 3) -> None:
    """Dock simulated recorders on the embedded defaults (SQLite + local store under DATA),
    print what was ingested and the checkpoint, and verify one clip's bundle offline."""
    from api.demo import run_demo

    with _errors():
        run_demo(settings_for(data_dir, store=store, create=True), recorders=recorders, out=out)


@app.command()
def station(
    data_dir: DataDir = None,
    store: Store = None,
    simulate: Annotated[int, typer.Option(help="dock N simulated recorders instead of USB")] = 0,
    once: Annotated[bool, typer.Option(help="exit when the docked recorders are done")] = False,
) -> None:
    """The docking-station daemon: watch the ports, dock recorders, ingest with live progress."""
    from api.cli_station import print_results, station_run

    with _errors():
        station_obj, run = station_run(settings_for(data_dir, store=store, create=True),
                                       simulate=simulate, once=once, out=out)
        try:
            print_results(station_obj, run, out)
        finally:
            station_obj.close()
        if run.errors or any(r.failed for r in run.results):
            raise typer.Exit(75)


@app.command()
def ingest(
    path: Annotated[Path, typer.Argument(help="a mounted recorder, SD card folder or card image")],
    serial: Annotated[str, typer.Option(help="the recorder's serial")],
    officer: Annotated[str, typer.Option(help="警号 of the officer the recorder belongs to")],
    data_dir: DataDir = None,
    store: Store = None,
) -> None:
    """Ingest a recorder that is already mounted, an SD card or a folder of recordings."""
    from api.cli_station import ingest_path, print_results

    with _errors():
        station_obj, run = ingest_path(settings_for(data_dir, store=store), path, serial=serial,
                                       officer=officer, out=out)
        try:
            print_results(station_obj, run, out)
        finally:
            station_obj.close()
        if any(r.failed for r in run.results):
            raise typer.Exit(75)


@app.command()
def verify(
    clip: Annotated[str, typer.Argument(help="a clip file, or its SHA-256")],
    data_dir: DataDir = None,
    store: Store = None,
) -> None:
    """Is this clip in the ledger, and is its stored original intact?"""
    from api.cli_station import verify_clip

    with _errors():
        verify_clip(settings_for(data_dir, store=store), clip, out)


@app.command()
def fixity(
    data_dir: DataDir = None,
    store: Store = None,
    rehash: Annotated[bool, typer.Option(help="read every object back and re-hash it")] = True,
) -> None:
    """Re-check every stored original: its exact version still there, unreplaced, locked, and
    (by default) hashing to its SHA-256. Exit 1 and a report when anything is wrong."""
    from api.cli_station import fixity_check

    with _errors():
        bad = fixity_check(settings_for(data_dir, store=store), rehash=rehash, out=out)
    if bad:
        raise typer.Exit(1)


def main(argv: list[str] | None = None) -> None:
    # Adapters report through logging; the local store's UnsafeStoreWarning is also logged by
    # the store itself, so the Python warning would only print it twice.
    # Log records repeat file names from recorders: escaped like every other line printed.
    handler = logging.StreamHandler()
    handler.setFormatter(PrintableFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    warnings.filterwarnings("ignore", message="LocalWormStore at ")
    app(argv)
