"""All transparency-dev/merkle RFC 9162 vectors, run from ../shared/conformance/rfc9162."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from evidence.errors import VerificationError
from integrity.merkle import verify_consistency, verify_inclusion

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "rfc9162"
CASES = sorted(VECTORS.rglob("*.json"))


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value) if value else b""


def test_vectors_present() -> None:
    assert len(CASES) == 196, f"expected 196 vectors under {VECTORS}, found {len(CASES)}"


@pytest.mark.parametrize("path", CASES, ids=lambda p: str(p.relative_to(VECTORS)))
def test_vector(path: Path) -> None:
    case = json.loads(path.read_text())
    proof = [_b64(h) for h in case["proof"] or []]
    kind = path.relative_to(VECTORS).parts[0]
    try:
        if kind == "inclusion":
            verify_inclusion(case["leafIdx"], case["treeSize"], _b64(case["leafHash"]), proof,
                             _b64(case["root"]))
        else:
            verify_consistency(case["size1"], case["size2"], proof, _b64(case["root1"]),
                               _b64(case["root2"]))
    except VerificationError:
        accepted = False
    else:
        accepted = True
    assert accepted is not case["wantErr"], case["desc"]
