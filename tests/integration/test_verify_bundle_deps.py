"""``liuhen verify-bundle`` on a machine without the 国密 libraries (docs/adr/0015): with
gmalglib and asn1crypto made unimportable (a sitecustomize that blocks them, in a fresh
interpreter), a bundle checked against Ed25519 keys still verifies, SM3 path included; a trust
root holding SM2 keys, or an SM2/SM3 timestamp, ends in a clear Chinese message naming the
missing library, never in a traceback or a false OK."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from integrity.trust import TrustRoot
from tests.integration.test_cli import demo

BLOCKER = '''
import sys

class _Blocked:
    """No gmalglib, no asn1crypto: as on an auditor's machine with stdlib + cryptography."""

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {"gmalglib", "asn1crypto"}:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _Blocked())
'''


def _blocked(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    site = tmp_path / "blocked-site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(BLOCKER)
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, check=False,
                          env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}, timeout=120)


def test_the_block_holds(tmp_path: Path) -> None:
    done = _blocked(tmp_path, "-c", "import gmalglib")
    assert done.returncode != 0 and "No module named 'gmalglib'" in done.stderr


def test_verify_bundle_without_gmalglib_and_asn1crypto(tmp_path: Path) -> None:
    root = tmp_path / "d"
    demo(root)
    bundle = root / "demo.bundle.json"
    made = TrustRoot.from_json((root / "keyring.json").read_bytes())
    assert {k.algorithm for k in made.keys} == {"ed25519", "sm2"}
    ed25519 = tmp_path / "ed25519-keyring.json"
    ed25519.write_bytes(made.with_keys([k for k in made.keys
                                        if k.algorithm == "ed25519"]).to_json())
    cli = ("-c", "from api.cli import main; main()", "verify-bundle", str(bundle))
    # The SHA-256/Ed25519 parts and the SM3 path (hashlib's SM3): no 国密 library needed.
    done = _blocked(tmp_path, *cli, "--trust-root", str(ed25519))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "bundle OK" in done.stdout and "SM3 树包含证明通过" in done.stdout
    # The full trust root holds SM2 keys: a clear message, not a traceback, not an OK.
    done = _blocked(tmp_path, *cli, "--trust-root", str(root / "keyring.json"))
    assert done.returncode == 75 and "bundle OK" not in done.stdout, done.stdout + done.stderr
    assert "缺少 gmalglib" in done.stdout + done.stderr, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    # The same bundle on a machine with the libraries verifies both signatures.
    done = subprocess.run([sys.executable, *cli, "--trust-root", str(root / "keyring.json")],
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0 and "bundle OK" in done.stdout, done.stdout + done.stderr


def test_sm2_sm3_timestamps_without_asn1crypto_say_so(tmp_path: Path) -> None:
    """A token naming any 国密 OID (arc 1.2.156.10197) cannot be checked without asn1crypto:
    UnavailableError naming it; any other token still goes to the SHA-256 verifier."""
    script = '''
from evidence.errors import UnavailableError, VerificationError
from integrity.bundle import verify_timestamp
sm_oid = bytes.fromhex("06082a811ccf5501837 5".replace(" ", ""))
try:
    verify_timestamp(b"\\x30\\x0a" + sm_oid, message=b"m", roots=[])
except UnavailableError as exc:
    print("SM:", exc)
try:
    verify_timestamp(b"\\x30\\x03\\x02\\x01\\x00", message=b"m", roots=[])
except UnavailableError as exc:
    print("OTHER: unavailable", exc)
except (VerificationError, ValueError) as exc:
    print("OTHER: to the SHA-256 verifier:", exc)
'''
    done = _blocked(tmp_path, "-c", script)
    assert done.returncode == 0, done.stderr
    assert "SM: 缺少 asn1crypto" in done.stdout, done.stdout
    assert "OTHER: to the SHA-256 verifier: no TSA root" in done.stdout, done.stdout
