"""Encryption at rest (docs/adr/0010-sm4-envelope.md): SM4-GCM on the upload path beside the same
library's SM4-GCM over the same bytes in memory (goal ≥ 0.85×), with AES-GCM from the same
library and ``openssl speed -evp sm4-ctr`` (and ``-evp sm4-gcm`` where the CLI has it: OpenSSL
3.0 does not) as context. Medians of several runs, throughput in MB/s (10^6 bytes)."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import shutil
import statistics
import subprocess
import tempfile
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bench.common import median_time, report
from evidence.ids import Origin, Sha256Hex
from integrity import sm4stream as s4
from storage.kekfile import KekFileKeyService
from storage.ledger_store import SqlLedgerStore
from storage.localstore import LocalWormStore
from storage.object_keys import SqlObjectKeys
from storage.sealedstore import SealedStore, seal_file

SIZE = 64 * 1024 * 1024
RUNS = 7
ORIGIN = Origin("liuhen.bench/ledger/v1")


def _in_memory(algorithm: algorithms.SM4 | algorithms.AES, data: bytes) -> None:
    enc = Cipher(algorithm, modes.GCM(secrets.token_bytes(12))).encryptor()
    enc.update(data)
    enc.finalize()


def _openssl_speed(cipher: str) -> float | None:
    """MB/s for 64 KiB blocks from ``openssl speed -evp CIPHER``; None when the CLI lacks it."""
    if shutil.which("openssl") is None:
        return None
    done = subprocess.run(["openssl", "speed", "-evp", cipher, "-seconds", "2", "-bytes",
                           "65536"], capture_output=True, text=True, timeout=60, check=False)
    match = re.search(rf"^{re.escape(cipher)}\s+([0-9.]+)k\s*$", done.stdout,
                      re.IGNORECASE | re.MULTILINE)
    return float(match.group(1)) / 1000 if done.returncode == 0 and match else None


def run() -> None:
    print(f"-- SM4-GCM at rest, {SIZE // (1024 * 1024)} MiB", flush=True)
    with tempfile.TemporaryDirectory(prefix="liuhen-sm4-bench-") as tmp:
        root = Path(tmp)
        data = secrets.token_bytes(SIZE)
        source = root / "clip.orig"
        source.write_bytes(data)
        sha = Sha256Hex(hashlib.sha256(data).hexdigest())
        key = secrets.token_bytes(s4.KEY_BYTES)
        header = s4.Header(prefix=secrets.token_bytes(s4.PREFIX_BYTES))
        mb = SIZE / 1e6

        # Interleaved, so that both see the same load on a shared machine.
        mems, paths = [], []
        for _ in range(RUNS):
            mems.append(median_time(lambda: _in_memory(algorithms.SM4(key), data), runs=1))
            paths.append(median_time(lambda: seal_file(source, root / "clip.sm4", key=key,
                                                       header=header, sha256=sha, size=SIZE),
                                     runs=1))
        t_mem, t_path = statistics.median(mems), statistics.median(paths)
        t_aes = median_time(lambda: _in_memory(algorithms.AES(secrets.token_bytes(16)), data))
        report("SM4-GCM on the upload path (staging file -> sealed spool, both SHA-256s)",
               mb / t_path, "MB/s", peer="cryptography SM4-GCM in memory, same bytes",
               peer_value=mb / t_mem, goal=">= 0.85x")
        report("cryptography AES-GCM in memory, same bytes", mb / t_aes, "MB/s",
               peer="cryptography SM4-GCM in memory", peer_value=mb / t_mem)
        for cipher in ("sm4-ctr", "sm4-gcm"):
            speed = _openssl_speed(cipher)
            if speed is None:
                print(f"   openssl speed -evp {cipher}: not available in this OpenSSL")
                continue
            report(f"openssl speed -evp {cipher} (64 KiB blocks)", speed, "MB/s",
                   peer="cryptography SM4-GCM in memory", peer_value=mb / t_mem)

        ledger = SqlLedgerStore.open(f"sqlite:///{root / 'ledger.db'}", origin=ORIGIN,
                                     clock=lambda: datetime.now(UTC))
        try:
            with warnings.catch_warnings():  # the local store's honest warning is expected here
                warnings.simplefilter("ignore")
                logging.getLogger("storage.localstore").setLevel(logging.ERROR)
                local = LocalWormStore(root / "objects", clock=lambda: datetime.now(UTC))
            store = SealedStore(local, keys=KekFileKeyService(root / "kek"),
                                records=SqlObjectKeys(ledger.engine,
                                                      clock=lambda: datetime.now(UTC)))
            count = iter(range(1_000_000))

            def put() -> None:
                store.put(f"originals/{next(count)}", source, sha256=sha, size=SIZE,
                          retain_until=datetime.now(UTC) + timedelta(days=200))

            def put_plain() -> None:
                local.put(f"plain/{next(count)}", source, sha256=sha, size=SIZE,
                          retain_until=datetime.now(UTC) + timedelta(days=200))

            t_put = median_time(put)
            t_plain = median_time(put_plain)
        finally:
            ledger.close()
        report("whole put into the local WORM store, sealed", mb / t_put, "MB/s",
               peer="the same put unencrypted", peer_value=mb / t_plain)
