"""The anchoring job against real RFC 3161 TSAs on loopback (``openssl ts``): every configured
TSA timestamps the latest checkpoint, each token becomes an ``anchored`` entry, a TSA that is
down is a finding (exit 75) that does not hold up the others and is retried next run."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.compose import open_jobs
from api.settings import Settings
from evidence.records import EntryKind
from jobs.runner import run_job
from tests.integration.test_jobs_retention import FakeClock, entries, make_clip
from tests.support.tsa import LocalTsa, local_tsa

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def tsas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalTsa, LocalTsa]]:
    with local_tsa(tmp_path_factory.mktemp("tsa-a"), name="TSA A") as a, \
            local_tsa(tmp_path_factory.mktemp("tsa-b"), name="TSA B") as b:
        yield a, b


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/"


def test_every_tsa_anchors_the_checkpoint_and_a_dead_one_is_retried(
        tsas: tuple[LocalTsa, LocalTsa], tmp_path: Path, ledger_url: str) -> None:
    a, b = tsas
    roots = []
    for tsa in (a, b):
        path = tmp_path / f"{tsa.name}.pem"
        path.write_bytes(tsa.root_pem)
        roots.append(path)
    dead = closed_port()
    settings = Settings(data_dir=tmp_path / "data", database_url=ledger_url,
                        tsa_urls=[a.url, b.url, dead], tsa_roots=roots)
    runtime = open_jobs(settings, clock=FakeClock())
    ctx = runtime.context
    try:
        make_clip(ctx, tmp_path / "src", b"anchored clip")
        outcome = run_job(ctx, "anchor")
        assert [f.subject for f in outcome.findings] == [dead]
        assert "timestamped now by 2 TSA(s)" in outcome.summary[0]
        anchored = entries(ctx, EntryKind.ANCHORED)
        assert sorted(str(body["tsa"]) for _, body in anchored) == sorted([a.url, b.url])
        checkpoint = runtime.ledger.store.latest_checkpoint()
        assert checkpoint is not None
        tokens = dict(runtime.ledger.store.timestamps(checkpoint.head.size))
        for subject, body in anchored:
            assert subject == checkpoint.head.root.hex()
            assert body["checkpoint_size"] == checkpoint.head.size
            assert body["token_sha256"] == hashlib.sha256(tokens[str(body["tsa"])]).hexdigest()
    finally:
        runtime.close()
    # Next run: the anchored entries grew the tree, so a new checkpoint is published and
    # stamped by both live TSAs; the dead one fails again, and the CLI says so with exit 75.
    result = CliRunner().invoke(app, ["jobs", "run", "anchor", "--once", "--data-dir",
                                      str(settings.data_dir)],
                                env={"LIUHEN_DATABASE_URL": ledger_url,
                                     "LIUHEN_TSA_URLS": f'["{a.url}", "{b.url}", "{dead}"]',
                                     "LIUHEN_TSA_ROOTS": f'["{roots[0]}", "{roots[1]}"]'})
    assert result.exit_code == 75, result.output
    assert f"UNAVAILABLE {dead}" in result.output and "published" in result.output
    runtime = open_jobs(settings)
    try:
        assert len(entries(runtime.context, EntryKind.ANCHORED)) == 4
    finally:
        runtime.close()


def test_without_tsas_the_checkpoint_is_signed_only(tmp_path: Path) -> None:
    runtime = open_jobs(Settings(data_dir=tmp_path / "data"), clock=FakeClock())
    try:
        assert "ledger is empty" in run_job(runtime.context, "anchor").summary[0]
        make_clip(runtime.context, tmp_path / "src", b"x")
        outcome = run_job(runtime.context, "anchor")
        assert outcome.ok and "no TSA configured" in outcome.summary[0]
        assert runtime.ledger.latest_note_path.exists()
    finally:
        runtime.close()
