"""What a new user meets first (issue 11 §6): the demo's simulator, the CLI's start, its data
directory, its messages and the pages' front door."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import pytest
from rich.console import Console
from typer.testing import CliRunner

from api.cli import app
from api.cli.station import CARD_START
from api.compose import open_station, simulated_recorders
from api.settings import Settings
from api.station import RichProgress
from devices.sim.cards import Media
from ingest.media import file_digests, find_ffmpeg, probe
from integrity.entry import decode_entry

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # the local store's warning


def test_simulator_clips_are_real_without_ffmpeg_on_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No ffmpeg on PATH and none in /usr/bin: the simulator makes its clips with the media
    stage's binary (the imageio-ffmpeg wheel), so they probe as the codecs they claim."""
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    tools = find_ffmpeg(search=[empty])  # the wheel alone
    simulated_recorders(tmp_path / "sim", 1, ffmpeg=tools.ffmpeg, card_start=CARD_START)
    media = tmp_path / "sim" / "media"
    facts = {name: probe(media / name, ffprobe=None, ffmpeg=tools.ffmpeg)
             for name in ("clip.mp4", "clip.avi", "audio.wav", "photo.jpg")}
    clip = facts["clip.mp4"]
    assert clip.video is not None and clip.video.codec == "h264"
    assert clip.audio is not None and clip.audio.codec == "aac"
    assert clip.duration_ms is not None and 900 <= clip.duration_ms <= 1100
    avi = facts["clip.avi"]
    assert avi.video is not None and avi.video.codec == "mjpeg"
    wav = facts["audio.wav"]
    assert wav.audio is not None and wav.audio.codec == "pcm_alaw"
    assert facts["photo.jpg"].video is not None
    card = next((tmp_path / "sim").glob("*-directory"))
    docked = sorted(p for p in card.rglob("*.MP4") if p.stat().st_size)
    assert (media / "clip.mp4").read_bytes() in [p.read_bytes() for p in docked]


def liuhen(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


def liuhen_process(*args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    """The CLI in a process of its own, as a person runs it (a hang fails the test)."""
    return subprocess.run([sys.executable, "-c", "from api.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=timeout_s, check=False)


def new_ledger(data: Path) -> None:
    open_station(Settings(data_dir=data)).close()


def test_ingest_runs_the_media_stage_like_the_station(tmp_path: Path, media: Media) -> None:
    data, card = tmp_path / "d", tmp_path / "card" / "DCIM"
    new_ledger(data)
    card.mkdir(parents=True)
    shutil.copy(media.clip_mp4, card / "A.MP4")
    shutil.copy(media.corrupt_mp4, card / "B.MP4")
    code, output = liuhen("ingest", str(card.parent), "--serial", "ZFY00042", "--officer",
                          "000123", "--data-dir", str(data))
    assert code == 0, output
    assert "隔离 DCIM/B.MP4：文件已损坏或不完整，无法识别为音视频（moov atom not found）" in output
    assert "媒体处理（合计）：生成 1 个播放副本，1 个被 ffprobe/ffmpeg 拒绝而隔离" in output
    station = open_station(Settings(data_dir=data))
    try:
        station.ledger.catalogue.catch_up()
        clip = station.ledger.catalogue.clip(file_digests(card / "A.MP4").sha256)
        assert clip.media_state == "derived" and clip.playback is not None
        derived = [decode_entry(r.data) for r in station.ledger.store.find(clip.sha256)]
        (entry,) = [e for e in derived if e.kind.value == "derived"]
        thumbs = cast(dict[str, Any], entry.body["thumbnails"])
        assert thumbs["stored"], "no thumbnails were stored"
    finally:
        station.close()


def test_ingest_refuses_a_fifo_without_opening_it(tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    data = tmp_path / "d"
    new_ledger(data)
    fifo = tmp_path / "card.img"
    os.mkfifo(fifo)
    done = liuhen_process("ingest", str(fifo), "--serial", "ZFY00042", "--officer", "000123",
                          "--data-dir", str(data), timeout_s=30)
    assert done.returncode == 3, done.stderr
    assert f"{fifo} 是FIFO（命名管道），不是文件夹、卡镜像或磁盘：拒绝读取" in done.stderr
    # Inside a folder: skipped with a message, never opened; the regular files are ingested.
    card = tmp_path / "card"
    card.mkdir()
    os.mkfifo(card / "fifo.MP4")
    (card / "note.txt").write_bytes(b"a regular file")
    with caplog.at_level(logging.WARNING):
        code, output = liuhen("ingest", str(card), "--serial", "ZFY00042", "--officer",
                              "000123", "--data-dir", str(data))
    assert code == 0, output
    assert "跳过 fifo.MP4：是FIFO（命名管道），不是普通文件，未打开" in caplog.text
    assert "1 个文件中 1 个已按原样存储并校验" in output


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One demo, as ``make demo`` runs it: ``.venv/bin`` is not on PATH."""
    data = tmp_path_factory.mktemp("demo") / "liuhen-data"
    code, output = liuhen("demo", "--data-dir", str(data), "--recorders", "2",
                          env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    assert code == 0, output
    return data, output


def test_demo_says_which_files_are_quarantined_and_why(demo_run: tuple[Path, str]) -> None:
    _, output = demo_run
    for serial, officer in (("LH00001", "010203"), ("LH00002", "020417")):
        stem = "DCIM/100MEDIA/20261124_08"
        # the reason in Chinese first, the tool's own words beside it
        broken = "文件已损坏或不完整，无法识别为音视频"
        assert f"隔离 {stem}5000_{serial}_{officer}_TRUNC.MP4：{broken}（truncated: " in output
        assert (f"隔离 {stem}5500_{serial}_{officer}_BAD.MP4：{broken}（moov atom not "
                "found") in output
        assert (f"隔离 DCIM/100MEDIA/20261124_090500_{serial}_{officer}_EMPTY.MP4："
                "接收时文件不可用（例如 0 字节的空文件）（zero-byte file") in output
    assert "LH00001（警号 010203）：10 个文件中 10 个已按原样存储并校验，其中 3 个已隔离" in output
    assert not re.search(r"\] verified ", output)  # no file is called just "verified"
    batches = [tuple(map(int, m)) for m in re.findall(
        r"媒体处理（本批）：生成 (\d+) 个播放副本，(\d+) 个", output)]
    total = re.search(r"媒体处理（合计）：生成 (\d+) 个播放副本，(\d+) 个", output)
    assert total is not None and batches
    derived, quarantined = sum(b[0] for b in batches), sum(b[1] for b in batches)
    assert (int(total.group(1)), int(total.group(2))) == (derived, quarantined)
    assert total.group(1) != "0"


def test_demo_next_hint_runs_as_printed(demo_run: tuple[Path, str]) -> None:
    """``liuhen`` is not on PATH after ``make demo``: the hint names the script by its path."""
    _, output = demo_run
    (hint,) = [line for line in output.splitlines() if line.startswith("next: ")]
    argv = shlex.split(hint.removeprefix("next: "))
    assert Path(argv[0]).is_absolute() and os.access(argv[0], os.X_OK), hint
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    assert done.returncode == 0, done.stderr
    assert "clip verified" in done.stdout


def test_the_data_dir_is_owner_only(demo_run: tuple[Path, str]) -> None:
    """Originals, thumbnails, the database and the keys show people at enforcement scenes or
    sign evidence: nobody but the station's user reads them."""
    data, _ = demo_run

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(data) == 0o700
    store = data / "objects"
    files = [p for p in store.rglob("*") if p.is_file()]
    assert any("/derived/" in str(p) for p in files)  # playback copies and thumbnails too
    assert {oct(mode(p)) for p in files} == {oct(0o400)}
    assert {oct(mode(p)) for p in [store, *store.rglob("*")] if p.is_dir()} == {oct(0o700)}
    for name in ("ledger.db", "ledger.db-wal", "ledger.db-shm"):
        if (data / name).exists() or name == "ledger.db":
            assert mode(data / name) == 0o600, name
    assert mode(data / "keys") == 0o700
    keys = [p for p in (data / "keys").rglob("*") if p.is_file()]  # signing keys and KEKs
    assert keys and {mode(k) for k in keys} == {0o600}
    assert {mode(d) for d in (data / "keys").rglob("*") if d.is_dir()} <= {0o700}


def test_the_demo_stores_only_ciphertext(demo_run: tuple[Path, str]) -> None:
    """Encryption at rest is on for a new data dir (docs/adr/0010-sm4-envelope.md): no 64-byte
    window of any original or derivative (taken every 1 KiB) appears in any file of the object
    store, while each still reads back, decrypted, with its ledgered SHA-256."""
    data, output = demo_run
    assert (data / "encryption").read_text().strip() == "sm4"
    assert "静态加密 SM4-GCM/liuhen-stream-v1" in output
    stored = [p.read_bytes() for p in (data / "objects").rglob("*") if p.is_file()]
    station = open_station(Settings(data_dir=data))
    try:
        catalogue = station.ledger.catalogue
        objects = []
        for serial in ("LH00001", "LH00002"):
            for row in station.repo.files(serial):
                assert row.object is not None and row.sha256 is not None
                objects.append(row.object)
                clip = catalogue.clip(row.sha256)
                objects += [o for o in (clip.playback, clip.proxy) if o is not None]
        plaintexts = []
        for obj in objects:
            with station.blobs.open(obj) as fh:
                plain = fh.read()
            assert hashlib.sha256(plain).hexdigest() == obj.sha256
            if len(plain) >= 64:
                plaintexts.append(plain)
    finally:
        station.close()
    assert len(plaintexts) >= 10 and any(len(p) > 4096 for p in plaintexts)

    def leaks(blobs: list[bytes]) -> int:
        return sum(any(plain[i:i + 64] in blob for blob in blobs
                       for i in range(0, len(plain) - 63, 1024)) for plain in plaintexts)

    assert leaks(stored) == 0
    assert leaks(plaintexts) == len(plaintexts)  # the scan finds plaintext where there is some


SHA = "ab" * 32
NEEDS_A_LEDGER = [
    ["audit"], ["checkpoint"], ["trust-root"], ["keys", "rotate-log"], ["verify", SHA],
    ["fixity"], ["export-bundle", SHA, "-o", "x.bundle.json"], ["tokens", "list"],
    ["tokens", "create", "--role", "auditor", "--name", "fz-9"], ["tokens", "revoke", "1"],
    ["jobs", "run", "fixity", "--once"], ["jobs", "hold", SHA, "--on", "--reason", "复议"],
    ["jobs", "dispose", SHA, "--reason", "到期"], ["jobs", "verify-certificate", "c.note"],
    ["ingest", ".", "--serial", "ZFY00042", "--officer", "000123"],
]


@pytest.mark.parametrize("command", NEEDS_A_LEDGER, ids=" ".join)
def test_a_mistyped_data_dir_is_refused_not_created(tmp_path: Path, command: list[str]) -> None:
    typo = tmp_path / "liuhen-dta"
    code, output = liuhen(*command, "--data-dir", str(typo))
    assert code == 4, output
    assert f"数据目录 {typo} 中没有账本（缺少 keyring.json）" in output
    assert "liuhen init --data-dir" in output
    assert not typo.exists()


def test_serve_refuses_a_folder_without_a_ledger(tmp_path: Path) -> None:
    """The headline case: ``serve`` on a typo used to start on a new, empty ledger."""
    typo = tmp_path / "liuhen-dta"
    typo.mkdir()  # even an existing folder: a ledger is more than a folder
    done = liuhen_process("serve", "--data-dir", str(typo), "--port", "0", timeout_s=30)
    assert done.returncode == 4, done.stderr
    assert "中没有账本" in done.stderr
    assert list(typo.iterdir()) == []


def test_init_creates_a_ledger_once_and_the_others_then_use_it(tmp_path: Path) -> None:
    data = tmp_path / "new"
    code, output = liuhen("init", "--data-dir", str(data))
    assert code == 0 and f"已在 {data} 新建账本" in output, output
    keyring = (data / "keyring.json").read_bytes()
    code, output = liuhen("init", "--data-dir", str(data))
    assert code == 0 and "已有账本（0 条记录），未改动" in output, output
    assert (data / "keyring.json").read_bytes() == keyring
    code, output = liuhen("audit", "--data-dir", str(data))
    assert code == 0 and "audit OK: 0 entries" in output, output
    (data / "ledger.db").unlink()  # keys without their database: refused, not recreated
    code, output = liuhen("audit", "--data-dir", str(data))
    assert code == 4 and "缺少 ledger.db" in output, output


HOSTILE = {
    "a\nFORGED 已按原样存储并校验.MP4": b"a newline in the name",
    "\x1b]0;pwned\x07.MP4": b"an OSC title sequence",
    "\x1b[2J\u202egnp.MP4": b"a CSI that clears the screen, and a bidi override",
}


def _no_control(text: str) -> None:
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text, text
    assert not any(line.startswith("FORGED") for line in text.splitlines()), text


def test_control_characters_in_names_are_shown_never_obeyed(tmp_path: Path) -> None:
    data, card = tmp_path / "d", tmp_path / "card"
    new_ledger(data)
    card.mkdir()
    for name, body in HOSTILE.items():
        (card / name).write_bytes(body)
    os.mkfifo(card / "\x1b]2;fifo\x07.MP4")  # skipped, and the log line says so
    done = liuhen_process("ingest", str(card), "--serial", "ZFY\x1b[31m042", "--officer",
                          "000123", "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    _no_control(done.stdout)
    _no_control(done.stderr)
    assert "a\\nFORGED 已按原样存储并校验.MP4: 已按原样存储并校验" in done.stdout
    assert "\\x1b]0;pwned\\x07.MP4" in done.stdout
    assert "\\x1b[2J\\u202egnp.MP4" in done.stdout
    assert "跳过 \\x1b]2;fifo\\x07.MP4" in done.stderr
    sha = file_digests(card / "\x1b]0;pwned\x07.MP4").sha256
    done = liuhen_process("verify", sha, "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    _no_control(done.stdout)
    assert "采集 \\x1b]0;pwned\\x07.MP4，记录仪 ZFY\\x1b[31m042" in done.stdout


def test_the_live_table_escapes_names_too() -> None:
    screen = io.StringIO()
    view = RichProgress(Console(file=screen, force_terminal=True, width=200))
    view.view.start()
    view.dock_started("ZFY\x1b]0;x\x07[bold]", files=1, total_bytes=10)
    view.file_done("ZFY\x1b]0;x\x07[bold]", "a\nFORGED.MP4", "verified", "zero\x1b]0;y\x07")
    view.dock_finished("ZFY\x1b]0;x\x07[bold]", ok=True, summary="1/1 \x1b]0;z\x07")
    view.view.stop()
    shown = screen.getvalue()
    assert "\x1b]" not in shown and "\x07" not in shown
    assert "\nFORGED" not in shown and "a\\nFORGED.MP4" in shown
    assert "ZFY\\x1b]0;x\\x07[bold]" in shown


HEAVY = ("cv2", "numpy", "matplotlib", "apscheduler", "alembic", "httpx", "fastapi",
         "starlette", "uvicorn", "jinja2", "boto3", "botocore", "c2pa", "rich")
_LOADED = ("import sys\nfrom api.cli import main\n"
           "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
           "print('loaded:', sorted(m for m in {heavy!r} if m in sys.modules))\n")


def test_commands_start_without_the_libraries_they_do_not_use(
        demo_run: tuple[Path, str]) -> None:
    """Start-up time is imports (bench/cli_bench.py measures it): ``import api.cli`` loads no
    adapter, and ``verify`` on a current ledger no OpenCV, Alembic, APScheduler, HTTP client or
    web stack."""
    data, output = demo_run
    bare = subprocess.run([sys.executable, "-c", "import sys, api.cli\nprint('loaded:', sorted("
                           f"m for m in {(*HEAVY, 'sqlalchemy', 'pydantic')!r} "
                           "if m in sys.modules))"],
                          capture_output=True, text=True, check=True)
    assert bare.stdout.strip() == "loaded: []"
    sha = re.search(r"verify ([0-9a-f]{64})", output)
    assert sha is not None
    done = subprocess.run([sys.executable, "-c", _LOADED.format(heavy=HEAVY), "verify",
                           sha.group(1), "--data-dir", str(data)],
                          capture_output=True, text=True, check=True)
    assert "clip verified" in done.stdout
    assert done.stdout.strip().endswith("loaded: []"), done.stdout


def test_the_schema_head_is_alembics_head() -> None:
    """Opening a current ledger skips Alembic by comparing with ``head_revision``, derived from
    the file names in versions/: it must be what Alembic itself computes."""
    from alembic.script import ScriptDirectory

    from storage.migrations import alembic_config, head_revision

    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == head_revision()
