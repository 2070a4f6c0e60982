"""``liuhen export``: 移送 packages of a case or a clip selection (docs/export.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli._common import DataDir, Store, errors, settings_for
from api.console import out

if TYPE_CHECKING:
    from cases.export import ExportRequest

app = typer.Typer(no_args_is_help=True, help="移送包 (export packages for 检察院/法院)")

Output = Annotated[Path, typer.Option("-o", "--output", help="an empty or new folder")]
Playback = Annotated[bool, typer.Option("--playback", help="playback copies instead of the "
                                        "originals")]
To = Annotated[str, typer.Option("--to", help="接收单位 (the recipient)")]
Purpose = Annotated[str, typer.Option("--purpose", help="用途 (why it leaves the bureau)")]
Actor = Annotated[str, typer.Option("--actor", help="who exports (警号)")]


def _run(data_dir: Path | None, store: str | None, request: ExportRequest, output: Path,
         ) -> None:
    from api.compose import exporter, open_station

    station = open_station(settings_for(data_dir, store=store))
    try:
        done = exporter(station).export(request, output)
    finally:
        station.close()
    out(f"已导出移送包 {done.folder}：{len(request.items)} 个片段，{done.files} 个文件，"
        f"{done.bytes} 字节；导出条目 {done.index}，manifest SHA-256 {done.manifest_sha256}\n"
        f"  exported (ledger entry {done.index}); check it with: python3 "
        f"{done.folder / 'verify.py'}")


@app.command("case")
def export_case(case_id: str, *, output: Output, to: To = "", purpose: Purpose = "",
                playback: Playback = False, actor: Actor = "cli",
                data_dir: DataDir = None, store: Store = None) -> None:
    """A case's clips (those linked now), as one package."""
    from api.compose import open_ledger
    from cases.export import ExportRequest

    with errors():
        ledger = open_ledger(settings_for(data_dir, store=store))
        try:
            ledger.catalogue.catch_up()
            ledger.catalogue.case(case_id)  # NotFoundError for an unknown case
            links = ledger.catalogue.links(case_id=case_id, current_only=True)
        finally:
            ledger.close()
        items = tuple(dict.fromkeys(link.sha256 for link in links))
        request = ExportRequest(items=items, case=case_id,
                                variant="playback" if playback else "original",
                                recipient=to, purpose=purpose, actor=actor)
        _run(data_dir, store, request, output)


@app.command("clips")
def export_clips(sha256: Annotated[list[str], typer.Argument(help="originals' SHA-256")],
                 *, output: Output, to: To = "", purpose: Purpose = "",
                 playback: Playback = False, actor: Actor = "cli",
                 data_dir: DataDir = None, store: Store = None) -> None:
    """A selection of clips, as one package."""
    from cases.export import ExportRequest

    with errors():
        request = ExportRequest(items=tuple(sha256), case="",
                                variant="playback" if playback else "original",
                                recipient=to, purpose=purpose, actor=actor)
        _run(data_dir, store, request, output)
