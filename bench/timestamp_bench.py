"""Timestamp token verification per second: an SM2/SM3 token (part D, asn1crypto + gmalglib)
beside a SHA-256/ECDSA token (part C, rfc3161-client) from an ``openssl ts`` TSA, same run. The
audit verifies one token per TSA per anchored checkpoint (A8)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.common import median_time, report
from integrity.timestamp_sm import verify_timestamp
from storage.tsa import HttpTimestampAuthority
from tests.support.sm2tsa import sm2_tsa
from tests.support.tsa import local_tsa

MESSAGE = b"liuhen.bench/ledger/v1\n1000000\nq2Lu4c7mN5Sgq1sbU8vW9T3cZtd0dJ+y0QkO4pR1s0s=\n"
BATCH = 200


def run() -> None:
    print(f"-- timestamp tokens, {BATCH} verifications per run", flush=True)
    with tempfile.TemporaryDirectory() as work:
        (Path(work) / "sm").mkdir()
        (Path(work) / "intl").mkdir()
        with sm2_tsa(Path(work) / "sm") as sm, local_tsa(Path(work) / "intl") as intl:
            roots = [sm.root_pem, intl.root_pem]
            sm_token = HttpTimestampAuthority(sm.url, name="sm", imprint="sm3").timestamp(MESSAGE)
            intl_token = HttpTimestampAuthority(intl.url, name="intl").timestamp(MESSAGE)

    def verify(token: bytes) -> None:
        for _ in range(BATCH):
            verify_timestamp(token, message=MESSAGE, roots=roots)

    t_sm = median_time(lambda: verify(sm_token))
    t_intl = median_time(lambda: verify(intl_token))
    report("SM2/SM3 token verifications per second (D1-D9)", BATCH / t_sm, "/s",
           peer="SHA-256/ECDSA token (C1-C5)", peer_value=BATCH / t_intl)
