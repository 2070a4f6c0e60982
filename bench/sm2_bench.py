"""SM2 signatures per second (issue 14, docs/adr/0009-sm2-library.md): liuhen's SM2
(integrity.sm2 on gmalglib, as ``Sm2Signer`` and the note verifier use it) over a checkpoint text,
beside ``openssl speed -seconds 2 sm2`` (Debian's OpenSSL 3, C, no Python), the same OpenSSL
through EVP from Python (ctypes, bench/sm2_evp.py), Ed25519 (cryptography) and the pure-Python
gmssl package, all measured in this run; then what a dual-signed checkpoint costs to open, and
the full audit of 1M entries with Ed25519 + SM2 signatures beside the Ed25519-only audit (issue 14
asks ≤ 2× for both trees and both signatures; the SM3 tree's share is measured with it)."""

from __future__ import annotations

import re
import statistics
import subprocess
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from gmssl import sm2 as gmssl_sm2

from bench.common import RUNS, make_entries, median_time, report
from bench.sm2_evp import Evp
from evidence.records import LedgerEntry, PublicKey, TreeHead
from integrity import sm2
from integrity.audit import StoredCheckpoint, StoredCommit, audit
from integrity.merkle import TreeBuilder, leaf_hash
from integrity.notes import (
    Signer,
    checkpoint_text,
    commit_text,
    open_checkpoint,
    sign_checkpoint,
    sign_note,
)
from tests.support.keys import signer, sm2_signer
from tests.support.memledger import ORIGIN

OPS = 2_000
GMSSL_OPS = 20  # pure Python: tens per second
HEAD = TreeHead(1_000_000, bytes(range(32)))
N = 1_000_000
COMMIT_EVERY = 1_000  # as bench/integrity_bench.py
CHECKPOINT_EVERY = 100_000


def _rate(fn: Callable[[], object], ops: int) -> float:
    """Median operations per second over RUNS runs of ``ops`` calls."""
    rates = []
    for _ in range(RUNS):
        start = time.perf_counter()
        for _ in range(ops):
            fn()
        rates.append(ops / (time.perf_counter() - start))
    return statistics.median(rates)


def openssl_speed() -> tuple[float, float]:
    """Median (sign/s, verify/s) of ``openssl speed -seconds 2 sm2`` over RUNS runs."""
    signs, verifies = [], []
    for _ in range(RUNS):
        out = subprocess.run(["openssl", "speed", "-seconds", "2", "sm2"], capture_output=True,
                             text=True, check=True).stdout
        found = re.search(r"SM2 \(CurveSM2\)\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)", out)
        if found is None:
            raise RuntimeError(f"cannot read openssl speed output:\n{out}")
        signs.append(float(found.group(1)))
        verifies.append(float(found.group(2)))
    return statistics.median(signs), statistics.median(verifies)


def run() -> None:
    print(f"-- SM2 signatures (medians of {RUNS} runs)", flush=True)
    message = checkpoint_text(ORIGIN, HEAD)
    private = sm2.generate_private_key()
    public = sm2.public_key(private)
    key = sm2.SigningKey(private)
    der = key.sign(message)
    ed = Ed25519PrivateKey.generate()
    ed_sig, ed_pub = ed.sign(message), ed.public_key()

    sm2_sign = _rate(lambda: key.sign(message), OPS)
    sm2_sign_once = _rate(lambda: sm2.sign(private, message), OPS)
    sm2_verify = _rate(lambda: sm2.verify(public, message, der), OPS)
    evp = Evp(private)
    if not evp.verify(message, der) or evp.verify(message + b"x", der):
        raise RuntimeError("OpenSSL EVP disagrees with integrity.sm2")
    sm2.verify(public, message, evp.sign(message))
    evp_sign = _rate(lambda: evp.sign(message), OPS)
    evp_verify = _rate(lambda: evp.verify(message, der), OPS)
    ed_sign = _rate(lambda: ed.sign(message), OPS)
    ed_verify = _rate(lambda: ed_pub.verify(ed_sig, message), OPS)
    ossl_sign, ossl_verify = openssl_speed()
    peer = gmssl_sm2.CryptSM2(private_key=private.hex(), public_key=public[1:].hex())
    peer.public_key = public[1:].hex()  # see tests/conformance/test_sm2_interop.py
    r, s = decode_dss_signature(der)
    raw = f"{r:064x}{s:064x}"
    gm_verify = _rate(lambda: peer.verify_with_sm3(raw, message), GMSSL_OPS)
    gm_sign = _rate(lambda: peer.sign_with_sm3(message), GMSSL_OPS)

    report("SM2 sign, liuhen (gmalglib, key loaded once), checkpoint text", sm2_sign, "op/s",
           peer="openssl speed -seconds 2 sm2 sign", peer_value=ossl_sign)
    report("SM2 verify, liuhen (gmalglib)", sm2_verify, "op/s",
           peer="openssl speed -seconds 2 sm2 verify", peer_value=ossl_verify)
    report("SM2 sign, liuhen (gmalglib, key loaded once)", sm2_sign, "op/s",
           peer="OpenSSL 3 EVP via ctypes", peer_value=evp_sign)
    report("SM2 sign, integrity.sm2.sign (key loaded per call)", sm2_sign_once, "op/s",
           peer="OpenSSL 3 EVP via ctypes", peer_value=evp_sign)
    report("SM2 verify, liuhen (gmalglib)", sm2_verify, "op/s",
           peer="OpenSSL 3 EVP via ctypes", peer_value=evp_verify)
    report("SM2 sign, liuhen (gmalglib)", sm2_sign, "op/s", peer="Ed25519 sign (cryptography)",
           peer_value=ed_sign)
    report("SM2 verify, liuhen (gmalglib)", sm2_verify, "op/s",
           peer="Ed25519 verify (cryptography)", peer_value=ed_verify)
    report("SM2 sign, gmssl 3.2.2 (pure Python)", gm_sign, "op/s", peer="liuhen (gmalglib)",
           peer_value=sm2_sign)
    report("SM2 verify, gmssl 3.2.2 (pure Python)", gm_verify, "op/s", peer="liuhen (gmalglib)",
           peer_value=sm2_verify)

    # What an audit pays per checkpoint or commit once notes carry both signature lines.
    log_ed, log_sm2 = signer("log", "log"), sm2_signer("log", "log")
    both = sign_checkpoint(ORIGIN, HEAD, [log_ed, log_sm2]).note
    ed_only = sign_checkpoint(ORIGIN, HEAD, [log_ed]).note
    keys_both, keys_ed = [log_ed.public, log_sm2.public], [log_ed.public]
    open_both = _rate(lambda: open_checkpoint(both, origin=ORIGIN, keys=keys_both), OPS)
    open_ed = _rate(lambda: open_checkpoint(ed_only, origin=ORIGIN, keys=keys_ed), OPS)
    report("open a checkpoint signed Ed25519 + SM2", open_both, "op/s",
           peer="signed Ed25519 only", peer_value=open_ed)
    run_audit()


def _audit_time(rows: list[LedgerEntry], stations: list[Signer], logs: list[Signer]) -> float:
    """Median time of the full audit of ``rows`` committed and checkpointed by these signers."""
    commits, checkpoints, builder = [], [], TreeBuilder()
    for start in range(0, N, COMMIT_EVERY):
        for row in rows[start:start + COMMIT_EVERY]:
            builder.append(row.leaf_hash)
        head = TreeHead(builder.size, builder.root())
        commits.append(StoredCommit(start, head.size,
                                    sign_note(commit_text(ORIGIN, start, head), stations)))
        if head.size % CHECKPOINT_EVERY == 0:
            checkpoints.append(StoredCheckpoint(head.size,
                                                sign_checkpoint(ORIGIN, head, logs).note))
    keys: list[PublicKey] = [s.public for s in [*stations, *logs]]
    return median_time(lambda: audit(rows, commits=commits, checkpoints=checkpoints,
                                     origin=ORIGIN, keys=keys))


def run_audit() -> None:
    datas = make_entries(N)
    rows = [LedgerEntry(i, d, leaf_hash(d)) for i, d in enumerate(datas)]
    station, log = signer("station-01", "station"), signer("log", "log")
    station_sm2, log_sm2 = sm2_signer("station-01", "station"), sm2_signer("log", "log")
    both = _audit_time(rows, [station, station_sm2], [log, log_sm2])
    ed_only = _audit_time(rows, [station], [log])
    report(f"full audit of {N:,} entries, Ed25519 + SM2 signatures", both, "s",
           peer="Ed25519 only", peer_value=ed_only, goal="<= 2x, with the SM3 tree too")
