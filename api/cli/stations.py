"""Station commands of ``liuhen`` (docs/station.md §Joining a bureau, §Sync):

``stations join``     on a station: keys, the origin rule, a registration filed with the bureau
``stations approve``  on the bureau (an admin): a ``station_registered`` entry
``stations revoke``   on the bureau: pushes from the station are refused from now on
``stations list``     on the bureau: every station, its status, the size held, any flag
``stations audit``    on the bureau: every station log it holds, re-verified
``sync``              on a station: push entries and checkpoints to the bureau
"""

from __future__ import annotations

import getpass
import json
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from api.cli._common import DataDir, errors, opened, settings_for
from api.console import out
from api.stationlink import BureauLink, read_link, write_link
from evidence.errors import ConflictError, NotFoundError, UnavailableError
from evidence.timewindows import Schedule

app = typer.Typer(no_args_is_help=True, help="站点与局端 stations and the bureau (两级日志)")
sync_app = typer.Typer()

StationIdArg = Annotated[str, typer.Argument(help="站点编号 station id (a-z 0-9 -)")]


def _actor() -> str:
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return "cli:" + "".join(c for c in who if c.isalnum() or c in "-_.")[:40]


@app.command("join")
def join(bureau: Annotated[str, typer.Option("--bureau", help="局端 URL, e.g. "
                                             "https://liuhen.example-bureau")],
         station_id: Annotated[str, typer.Option("--station-id", help="站点编号")],
         token: Annotated[str | None, typer.Option(
             "--token", help="the station token `liuhen stations approve` printed on the "
             "bureau: run join again with it once approved")] = None,
         data_dir: DataDir = None) -> None:
    """On a station: make its keys (if needed) under origin ``<bureau host>/station/<id>`` and
    file its registration with the bureau (pending until an admin approves it); with --token,
    keep the station token the approval issued (in bureau.json, 0600) for sync."""
    from api.compose import bureau_client, open_ledger
    from ledger.stations import station_origin

    with errors():
        settings = settings_for(data_dir, create=True)
        client = bureau_client(bureau)
        try:
            bureau_origin = client.bureau_origin()
            origin = station_origin(bureau_origin, station_id)
            link = read_link(settings.data_dir)
            if link is not None and (link.station_id, link.origin) != (station_id, origin):
                raise ConflictError(f"数据目录 {settings.data_dir} 已作为站点 {link.station_id}"
                                    f"（{link.origin}）加入局端 {link.bureau_url}")
            if link is None and settings.missing_ledger() is None:
                raise ConflictError(
                    f"数据目录 {settings.data_dir} 已有 origin 为 {settings.origin} 的账本；站点的"
                    f"日志须以 {origin} 为 origin 新建，请使用新的数据目录 (a station log starts "
                    "under its own origin: use a new data dir)")
            ledger = open_ledger(settings.model_copy(update={"origin": origin,
                                                             "station_id": station_id}))
            try:
                keys = [k for k in ledger.trust.to_dict()["keys"]  # type: ignore[attr-defined]
                        if k["role"] in ("log", "station")]
            finally:
                ledger.close()
            write_link(settings.data_dir, BureauLink(
                bureau_url=bureau, bureau_origin=bureau_origin, station_id=station_id,
                origin=origin, token=token or (link.token if link is not None else None)))
            status = client.register(station_id, origin=origin, keys=keys)
        finally:
            client.close()
        out(f"站点 {station_id} 已向局端登记，状态：{status}；日志 origin {origin}")
        out(f"  registered with {bureau}; an admin approves it there with "
            f"`liuhen stations approve {station_id}`. Keys (compare on approval):")
        for k in keys:
            out(f"  {k['role']:8} {k['vkey']}")


@app.command("approve")
def approve(station_id: StationIdArg, data_dir: DataDir = None) -> None:
    """On the bureau: approve a registered station (a ``station_registered`` entry) and issue
    its API token (role station, named by the station id), shown once."""
    from api.compose import bureau_stations, token_repo, utc_now

    with opened(data_dir) as ledger, errors():
        record = bureau_stations(ledger).approve(station_id, actor=_actor())
        secret, _ = token_repo(ledger).issue(name=record.station_id, role="station",
                                             now=utc_now())
        out(f"站点 {record.station_id} 已批准（{record.origin}）。站点令牌只显示这一次，"
            "请在站点上运行：")
        out(f"  liuhen stations join --bureau URL --station-id {record.station_id} "
            f"--token {secret}")
        out("  station approved; its token is shown once")


@app.command("revoke")
def revoke(station_id: StationIdArg, data_dir: DataDir = None) -> None:
    """On the bureau: refuse every further push from this station."""
    from api.compose import bureau_stations

    with opened(data_dir) as ledger, errors():
        bureau_stations(ledger).revoke(station_id, actor=_actor())
        out(f"站点 {station_id} 已吊销 (station revoked)")


@app.command("list")
def list_cmd(data_dir: DataDir = None) -> None:
    """On the bureau: every station, its status, how much of its log is held, any flag."""
    from api.compose import station_registry

    with opened(data_dir) as ledger, errors():
        for r in station_registry(ledger).all():
            flag = f"  ⚠ {r.flagged}" if r.flagged else ""
            out(f"{r.station_id}  {r.status}  {r.size}  {r.origin}{flag}")


@app.command("audit")
def audit(data_dir: DataDir = None) -> None:
    """On the bureau: re-verify every station log it holds (both hops)."""
    from api.compose import station_registry
    from ledger.stationaudit import audit_station

    with opened(data_dir) as ledger, errors():
        for record in station_registry(ledger).all():
            report = audit_station(station_registry(ledger), ledger.store, record)
            out(f"站点 {record.station_id}：{report.entries} 条、{report.checkpoints} 个检查点"
                "核验通过 (station log verified)")


@app.command("proof")
def proof(station_id: StationIdArg,
          index: Annotated[int, typer.Argument(help="the entry's index in the station's log")],
          data_dir: DataDir = None) -> None:
    """On the bureau: print the two-hop proof (JSON) of a station entry."""
    from api.compose import station_registry
    from ledger.stationaudit import two_hop_proof

    with opened(data_dir) as ledger, errors():
        found = two_hop_proof(station_registry(ledger), ledger.store, station_id, index)
        sys.stdout.write(json.dumps(found.to_dict(), ensure_ascii=False, indent=2) + "\n")


@app.command("verify-proof")
def verify_proof(
        proof_file: Annotated[Path, typer.Argument(help="a proof from `stations proof`")],
        trust_root: Annotated[Path, typer.Option(
            "--trust-root", help="the bureau's trust root (`liuhen trust-root` on the bureau), "
            "which lists its stations' keys")]) -> None:
    """Offline: verify a station entry's two hops (H1–H5) against the bureau's trust root."""
    from integrity.stationproof import TwoHopProof, verify_two_hop
    from integrity.trust import TrustRoot

    with errors():
        bureau = TrustRoot.from_json(trust_root.read_bytes())
        found = TwoHopProof.from_dict(json.loads(proof_file.read_text(encoding="utf-8")))
        station = bureau.station(found.station_id)
        verify_two_hop(found, station_origin=station.origin, station_keys=station.keys,
                       bureau_keys=bureau.keys)
        out(f"两跳证明核验通过：站点 {found.station_id} 第 {found.index} 条在站点日志中，且其检查点"
            f"在局端日志第 {found.bureau_index} 条 (two-hop proof verified)")


@sync_app.command("sync")
def sync(data_dir: DataDir = None,
         once: Annotated[bool, typer.Option("--once", help="one pass, then exit")] = False,
         now: Annotated[bool, typer.Option(
             "--now", help="立即同步，不等上传时段 (sync now, outside the upload windows)")] = False
         ) -> None:
    """On a station: push its entries and checkpoints to the bureau it joined (resumable,
    idempotent); without --once, keeps syncing with backoff while the bureau is away. Only
    within the upload windows (LIUHEN_SYNC_WINDOWS) unless --now."""
    from api.compose import sync_schedule

    with errors():
        settings = settings_for(data_dir)
        link = read_link(settings.data_dir)
        if link is None:
            raise NotFoundError(f"数据目录 {settings.data_dir} 未加入局端：请先运行 liuhen "
                                "stations join (not joined to a bureau)")
        run_sync(settings.data_dir, link, once=once,
                 schedule=None if now else sync_schedule(settings))


def run_sync(data_dir: Path, link: BureauLink, *, once: bool, schedule: Schedule | None,
             clock: Callable[[], datetime] | None = None,
             sleep: Callable[[float], None] = time.sleep) -> None:
    """Sync passes with backoff (1 s doubling to 5 min) while the bureau is unreachable; a
    refusal by the bureau (a fork, a revoked station) stops with its error. Outside the upload
    windows of ``schedule``: ``once`` says so and returns (exit 0), otherwise waits for the
    next window. ``clock`` and ``sleep`` are injected by tests."""
    from api.compose import sync_once, utc_now

    clock = clock or utc_now
    backoff = 1.0
    while True:
        if schedule is not None and (wait := schedule.wait_s(clock())) > 0:
            opens = schedule.opens(clock())
            out(f"不在上传时段内（{schedule.spec}），下一时段 {opens:%Y-%m-%d %H:%M} 开始"
                + ("；如需立即同步请加 --now" if once else "，届时自动同步"))
            out(f"  outside the upload windows; the next opens at {opens.isoformat()}")
            if once:
                return
            sleep(wait)
            continue
        try:
            result = sync_once(settings_for(data_dir), link, sleep=sleep, clock=clock)
        except UnavailableError as exc:
            if once:
                raise
            out(f"局端暂不可用，{backoff:.0f} 秒后重试：{exc}")
            sleep(backoff)
            backoff = min(backoff * 2, 300.0)
            continue
        out(f"已同步：推送 {result.pushes} 次、{result.entries} 条，对象 {result.objects} 个；局端"
            f"确认至 {result.acknowledged}；释放本地副本 {result.released} 个")
        out(f"  synced: the bureau holds {result.acknowledged} entries")
        if once:
            return
        backoff = 1.0
        sleep(30.0)
