"""移送 packages (docs/export.md): a case exported from a demo station verifies with its own
``verify.py`` in an interpreter that can import only the standard library, cryptography and
gmalglib (no liuhen); tampering with an original, the manifest, a proof, the checkpoint's
signature, or removing an item fails naming the item and the step; the same export twice writes
the same bytes outside custody.json; every export is an audited ``exported`` entry."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from api.compose import open_station, services
from api.settings import Settings
from evidence.records import EntryKind
from integrity.entry import decode_entry
from tests.integration.test_cli import demo, liuhen

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

ONLY = '''
import sys

ALLOWED = {"cryptography", "_cffi_backend", "cffi", "gmalglib", "sitecustomize"}

class _Only:
    """Standard library + cryptography + gmalglib: an auditor's machine without liuhen."""

    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top not in sys.stdlib_module_names and top not in ALLOWED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _Only())
'''
CASE = "京公(治)行罚决字〔2026〕7号"


@dataclass
class World:
    data: Path
    package: Path
    items: list[str]


def run_verify(package: Path, tmp: Path, *args: str,
               only: str = ONLY) -> subprocess.CompletedProcess[str]:
    site = tmp / "only-site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(only)
    return subprocess.run([sys.executable, str(package / "verify.py"), *args],
                          capture_output=True, text=True, check=False, cwd=tmp,
                          env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}, timeout=120)


def _entries(data: Path, kind: EntryKind) -> list[tuple[int, str, dict[str, object]]]:
    station = open_station(Settings(data_dir=data))
    try:
        found = []
        for index, raw, _leaf in station.ledger.store.entry_rows():
            entry = decode_entry(raw)
            if entry.kind is kind:
                found.append((index, entry.subject, dict(entry.body)))
        return found
    finally:
        station.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("export")
    data = root / "d"
    demo(data)
    items = [s for _, s, _ in _entries(data, EntryKind.ACQUIRED)][:3]
    station = open_station(Settings(data_dir=data))
    try:
        cases = services(station.ledger, station.blobs).cases
        cases.open_case(CASE, title="查封某仓库", unit_no="110101", major=False, actor="000123")
        step = cases.record_step(CASE, code="chafeng", actor="000123")
        for sha in items:
            cases.link(CASE, step.step_id, sha, actor="000123")
    finally:
        station.close()
    package = root / "pkg"
    code, output = liuhen("export", "case", CASE, "-o", str(package), "--to", "某某区人民检察院",
                          "--purpose", "移送审查起诉", "--actor", "000123",
                          "--data-dir", str(data))
    assert code == 0, output
    assert "已导出移送包" in output
    yield World(data=data, package=package, items=items)


def _copy(world: World, tmp_path: Path) -> Path:
    target = tmp_path / "pkg"
    shutil.copytree(world.package, target)
    return target


def test_a_case_package_verifies_with_its_own_script_and_nothing_of_liuhen(
        world: World, tmp_path: Path) -> None:
    block = run_verify(world.package, tmp_path, "-c")  # the block holds: bad usage, exit 2
    assert block.returncode == 2
    done = run_verify(world.package, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "移送包核验通过" in done.stdout
    assert "SHA-256 与 SM3 两棵树" in done.stdout
    assert f"{len(world.items)} 个片段" in done.stdout
    manifest = json.loads((world.package / "manifest.json").read_text("utf-8"))
    assert [i["sha256"] for i in manifest["items"]] == world.items
    # with the auditor's own trust root
    done = run_verify(world.package, tmp_path, "--trust-root", str(world.data / "keyring.json"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_without_gmalglib_an_sm2_signed_package_says_so_and_never_ok(
        world: World, tmp_path: Path) -> None:
    done = run_verify(world.package, tmp_path, only=ONLY.replace('"gmalglib", ', ""))
    assert done.returncode == 75, done.stdout + done.stderr
    assert "缺少 gmalglib" in done.stderr and "核验通过" not in done.stdout
    assert "Traceback" not in done.stderr


def test_a_manifest_path_outside_the_package_is_refused(world: World, tmp_path: Path) -> None:
    package = _copy(world, tmp_path)
    manifest = json.loads((package / "manifest.json").read_text("utf-8"))
    manifest["files"][0]["path"] = "/etc/hostname"
    (package / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    _fails(package, tmp_path, "P4", "manifest.json")  # the ledger pins the manifest first


def test_the_clearance_list_has_the_art14_columns(world: World) -> None:
    csv = (world.package / "清单.csv").read_bytes()
    assert csv.startswith(b"\xef\xbb\xbf")  # Excel reads the BOM as UTF-8
    header, *rows = csv[3:].decode().splitlines()
    for column in ("名称", "类别", "格式", "大小", "完整性校验值 SHA-256", "完整性校验值 SM3",
                   "提取时间", "提取人", "记录仪", "警号"):
        assert column in header
    assert len(rows) == len(world.items)
    assert all(sha in csv.decode("utf-8-sig") for sha in world.items)
    page = (world.package / "清单.html").read_text("utf-8")
    assert "电子数据清单" in page and "某某区人民检察院" in page and "<script" not in page


def _fails(package: Path, tmp_path: Path, step: str, named: str) -> None:
    done = run_verify(package, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"核验失败 [{step}]" in done.stderr, done.stderr
    assert named in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_a_flipped_byte_in_an_original_names_the_item(world: World, tmp_path: Path) -> None:
    package = _copy(world, tmp_path)
    manifest = json.loads((package / "manifest.json").read_text("utf-8"))
    item = manifest["items"][1]
    path = package / item["file"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    _fails(package, tmp_path, "P6", item["file"])


def test_an_edited_manifest_or_clearance_list_fails(world: World, tmp_path: Path) -> None:
    package = _copy(world, tmp_path)
    path = package / "manifest.json"
    path.write_bytes(path.read_bytes().replace(b"\"purpose\": \"", b"\"purpose\": \"x"))
    _fails(package, tmp_path, "P4", "manifest.json")
    package = _copy(world, tmp_path / "2")
    path = package / "清单.csv"
    path.write_bytes(path.read_bytes().replace(b",", b";", 1))
    _fails(package, tmp_path, "P6", "清单.csv")


def test_a_removed_item_is_named(world: World, tmp_path: Path) -> None:
    package = _copy(world, tmp_path)
    manifest = json.loads((package / "manifest.json").read_text("utf-8"))
    (package / manifest["items"][0]["file"]).unlink()
    _fails(package, tmp_path, "P6", manifest["items"][0]["file"])


def test_an_altered_proof_names_the_entry(world: World, tmp_path: Path) -> None:
    package = _copy(world, tmp_path)
    custody = json.loads((package / "custody.json").read_text("utf-8"))
    entry = next(e for e in custody["entries"] if e["proof"])
    first = bytearray(base64.b64decode(entry["proof"][0]))
    first[0] ^= 1
    entry["proof"][0] = base64.b64encode(bytes(first)).decode()
    (package / "custody.json").write_text(json.dumps(custody), "utf-8")
    _fails(package, tmp_path, "P3", f"账本条目 {entry['index']}")
    # the SM3 path too
    package = _copy(world, tmp_path / "2")
    custody = json.loads((package / "custody.json").read_text("utf-8"))
    entry = next(e for e in custody["entries"] if e["sm3_proof"])
    entry["sm3_proof"] = entry["sm3_proof"][:-1]
    (package / "custody.json").write_text(json.dumps(custody), "utf-8")
    _fails(package, tmp_path, "P3", "SM3")


def test_an_altered_checkpoint_signature_fails(world: World, tmp_path: Path) -> None:
    package = _copy(world, tmp_path)
    custody = json.loads((package / "custody.json").read_text("utf-8"))
    text, _, sigs = custody["checkpoint"].rpartition("\n\n")
    first, *rest = sigs.split("\n")
    name, b64 = first[2:].split(" ")
    blob = bytearray(base64.b64decode(b64))
    blob[-1] ^= 1
    first = f"\u2014 {name} {base64.b64encode(bytes(blob)).decode()}"
    custody["checkpoint"] = text + "\n\n" + "\n".join([first, *rest])
    (package / "custody.json").write_text(json.dumps(custody), "utf-8")
    _fails(package, tmp_path, "P2", "checkpoint")


def test_the_same_export_twice_is_byte_identical_outside_custody(
        world: World, tmp_path: Path) -> None:
    again = tmp_path / "again"
    code, output = liuhen("export", "case", CASE, "-o", str(again), "--to", "某某区人民检察院",
                          "--purpose", "移送审查起诉", "--actor", "000123",
                          "--data-dir", str(world.data))
    assert code == 0, output
    files = sorted(p.relative_to(world.package) for p in world.package.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for rel in files:
        if rel.name != "custody.json":
            assert (world.package / rel).read_bytes() == (again / rel).read_bytes(), rel
    assert run_verify(again, tmp_path).returncode == 0


def test_every_export_is_an_audited_exported_entry(world: World, tmp_path: Path) -> None:
    exported = _entries(world.data, EntryKind.EXPORTED)
    assert exported, "no exported entry"
    _, subject, body = exported[0]
    import hashlib
    assert subject == hashlib.sha256((world.package / "manifest.json").read_bytes()).hexdigest()
    assert body == {"case": CASE, "items": world.items, "variant": "original",
                    "recipient": "某某区人民检察院", "purpose": "移送审查起诉", "approval": None}
    code, output = liuhen("audit", "--deep", "--data-dir", str(world.data))
    assert code == 0 and "audit OK" in output, output


def test_a_clip_selection_of_playback_copies(world: World, tmp_path: Path) -> None:
    package = tmp_path / "sel"
    code, output = liuhen("export", "clips", world.items[0], "-o", str(package), "--playback",
                          "--to", "某某区人民法院", "--data-dir", str(world.data))
    assert code == 0, output
    manifest = json.loads((package / "manifest.json").read_text("utf-8"))
    assert manifest["variant"] == "playback" and manifest["case"] == ""
    assert manifest["items"][0]["file_sha256"] != world.items[0]  # the copy, not the original
    done = run_verify(package, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_bad_requests_are_refused_and_write_nothing(world: World, tmp_path: Path) -> None:
    code, output = liuhen("export", "clips", "0" * 64, "-o", str(tmp_path / "x"),
                          "--data-dir", str(world.data))
    assert code != 0 and not (tmp_path / "x").exists(), output
    code, output = liuhen("export", "case", CASE, "-o", str(world.package),
                          "--data-dir", str(world.data))
    assert code != 0 and "非空" in output, output
