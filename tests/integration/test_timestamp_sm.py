"""SM2/SM3 RFC 3161 tokens end to end: a real SM2 TSA on loopback (tests/support/sm2tsa.py), our
HTTP client asking for SM3 imprints, our verifier (docs/verification.md part D), the ``openssl``
CLI as the interop peer; then a ledger anchored by an SM2 TSA and an ``openssl ts`` TSA together,
audited and its bundle verified offline, and the same with one SM2 token tampered."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from asn1crypto import pem, tsp, x509

from api.compose import open_jobs
from api.settings import Settings
from evidence.errors import UnavailableError, VerificationError
from evidence.records import EntryKind
from integrity import sm2
from integrity.timestamp import build_request
from integrity.timestamp_sm import (
    SM3_OID,
    build_sm3_request,
    is_sm_token,
    sm3,
    verify_sm_token,
    verify_timestamp,
)
from jobs.runner import run_job
from storage.tsa import HttpTimestampAuthority
from tests.integration.test_cli import _drop_triggers, demo, liuhen
from tests.integration.test_jobs_retention import FakeClock, entries, make_clip
from tests.support.sm2tsa import POLICY_OID, Fault, SmTsa, issue_certificate, sm2_tsa
from tests.support.tsa import LocalTsa, local_tsa

MESSAGE = b"liuhen.example-bureau/ledger/v1\n42\nq2Lu4c7mN5Sgq1sbU8vW9T3cZtd0dJ+y0QkO4pR1s0s=\n"

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def sm_tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmTsa]:
    with sm2_tsa(tmp_path_factory.mktemp("sm2-tsa")) as running:
        yield running


@pytest.fixture(scope="module")
def other_sm_tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmTsa]:
    with sm2_tsa(tmp_path_factory.mktemp("sm2-evil"), name="evil SM2 TSA") as running:
        yield running


@pytest.fixture(scope="module")
def intl_tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTsa]:
    with local_tsa(tmp_path_factory.mktemp("intl-tsa")) as running:
        yield running


@pytest.fixture(scope="module")
def token(sm_tsa: SmTsa) -> bytes:
    return HttpTimestampAuthority(sm_tsa.url, name="sm2", imprint="sm3").timestamp(MESSAGE)


def _der(cert_pem: bytes) -> bytes:
    return bytes(pem.unarmor(cert_pem)[2])


def _with_fault(tsa: SmTsa, fault: Fault) -> bytes:
    tsa.fault = fault
    try:
        return HttpTimestampAuthority(tsa.url, name="sm2", imprint="sm3").timestamp(MESSAGE)
    finally:
        tsa.fault = "none"


def _fails_at(step: str, token: bytes, roots: list[bytes], message: bytes = MESSAGE) -> str:
    with pytest.raises(VerificationError) as caught:
        verify_timestamp(token, message=message, roots=roots)
    assert caught.value.step == "timestamp"
    assert caught.value.reason.startswith(f"({step}) "), caught.value.reason
    return caught.value.reason


# --- the token and its interop ----------------------------------------------------------------

def test_sm2_token_verifies_for_its_message(sm_tsa: SmTsa, intl_tsa: LocalTsa,
                                            token: bytes) -> None:
    before = datetime.now(UTC)
    assert is_sm_token(token)
    info = verify_sm_token(token, message=MESSAGE, roots=[sm_tsa.root_pem])
    assert info.hash_hex == sm3(MESSAGE).hex() != hashlib.sha256(MESSAGE).hexdigest()
    assert info.policy_oid == POLICY_OID
    assert info.tsa_name == "CN=liuhen SM2 test TSA,O=liuhen tests"
    assert info.serial > 0
    assert info.gen_time.utcoffset() == timedelta(0)
    assert abs(info.gen_time - before) < timedelta(minutes=5)
    # The same through the dispatcher, with an international root beside the SM2 one, DER too.
    assert verify_timestamp(token, message=MESSAGE,
                            roots=[intl_tsa.root_pem, _der(sm_tsa.root_pem)]) == info


def test_sm3_imprint_equals_openssl_dgst_sm3(tmp_path: Path, token: bytes) -> None:
    (tmp_path / "m").write_bytes(MESSAGE)
    out = subprocess.run(["openssl", "dgst", "-sm3", "-r", str(tmp_path / "m")], check=True,
                         capture_output=True, text=True).stdout
    response = tsp.TimeStampResp.load(token)
    tst = response["time_stamp_token"]["content"]["encap_content_info"]["content"].parsed
    assert tst["message_imprint"]["hashed_message"].native.hex() == out.split()[0]


def test_openssl_parses_the_sm2_token(tmp_path: Path, token: bytes) -> None:
    (tmp_path / "resp.tsr").write_bytes(token)
    text = subprocess.run(["openssl", "ts", "-reply", "-in", str(tmp_path / "resp.tsr"),
                           "-text"], check=True, capture_output=True, text=True).stdout
    assert "Status: Granted." in text
    assert "Hash Algorithm: sm3" in text
    assert f"Policy OID: {POLICY_OID}" in text
    digest = sm3(MESSAGE)
    first_row = " ".join(f"{b:02x}" for b in digest[:8]) + "-" + " ".join(
        f"{b:02x}" for b in digest[8:16])
    assert first_row in text
    # The embedded SignedData is a CMS structure openssl reads too.
    (tmp_path / "tok.der").write_bytes(
        tsp.TimeStampResp.load(token)["time_stamp_token"].dump())
    printed = subprocess.run(["openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in",
                              str(tmp_path / "tok.der")], check=True, capture_output=True,
                             text=True).stdout
    assert "1.2.156.10197.1.501" in printed or "SM2-with-SM3" in printed


def test_liuhen_verifies_the_cli_made_certificate_and_openssl_the_liuhen_made_one(
        sm_tsa: SmTsa, tmp_path: Path) -> None:
    root = x509.Certificate.load(_der(sm_tsa.root_pem))
    point = bytes(root["tbs_certificate"]["subject_public_key_info"]["public_key"].native)
    cli_made = x509.Certificate.load(_der(sm_tsa.tsa_cert_pem))
    assert cli_made["signature_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.501"
    sm2.verify(point, cli_made["tbs_certificate"].dump(), cli_made["signature_value"].native)
    with pytest.raises(VerificationError):  # the CLI's own ID was the default one, not empty
        sm2.verify(point, cli_made["tbs_certificate"].dump(),
                   cli_made["signature_value"].native, uid=b"")
    now = datetime.now(UTC).replace(microsecond=0)
    ours = issue_certificate(issuer_der=_der(sm_tsa.root_pem), issuer_key=sm_tsa.root_key,
                             subject_key=sm2.generate_private_key(), cn="made by liuhen",
                             not_before=now - timedelta(days=1),
                             not_after=now + timedelta(days=1), eku=True, serial=77)
    (tmp_path / "root.pem").write_bytes(sm_tsa.root_pem)
    (tmp_path / "ours.pem").write_bytes(pem.armor("CERTIFICATE", ours))
    done = subprocess.run(["openssl", "verify", "-vfyopt", "distid:1234567812345678",
                           "-purpose", "timestampsign", "-CAfile", str(tmp_path / "root.pem"),
                           str(tmp_path / "ours.pem")], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0 and "OK" in done.stdout, done.stdout + done.stderr


# --- each tamper fails at its named step ------------------------------------------------------

def test_flipped_imprint_fails_at_d3(sm_tsa: SmTsa, token: bytes) -> None:
    at = token.index(sm3(MESSAGE))
    flipped = bytearray(token)
    flipped[at + 5] ^= 0x01
    _fails_at("D3", bytes(flipped), [sm_tsa.root_pem])
    _fails_at("D3", token, [sm_tsa.root_pem], message=MESSAGE + b"x")


def test_sha256_imprint_presented_as_sm3_fails_at_d3(sm_tsa: SmTsa) -> None:
    request = tsp.TimeStampReq({
        "version": "v1", "cert_req": True,
        "message_imprint": {"hash_algorithm": {"algorithm": SM3_OID},
                            "hashed_message": hashlib.sha256(MESSAGE).digest()}}).dump()
    reply = httpx.post(sm_tsa.url, content=request).content
    reason = _fails_at("D3", reply, [sm_tsa.root_pem])
    assert "does not match SM3" in reason


def test_signed_field_changed_fails_at_d4(sm_tsa: SmTsa, token: bytes) -> None:
    response = tsp.TimeStampResp.load(token)
    tst = response["time_stamp_token"]["content"]["encap_content_info"]["content"].parsed
    serial = tst["serial_number"].contents
    at = token.index(b"\x02" + bytes([len(serial)]) + serial)
    changed = bytearray(token)
    changed[at + 2 + len(serial) - 1] ^= 0x40
    _fails_at("D4", bytes(changed), [sm_tsa.root_pem])


def test_content_type_attribute_not_tstinfo_fails_at_d5(sm_tsa: SmTsa) -> None:
    _fails_at("D5", _with_fault(sm_tsa, "content_type"), [sm_tsa.root_pem])


def test_chain_through_an_embedded_intermediate_ca_verifies(sm_tsa: SmTsa,
                                                            other_sm_tsa: SmTsa) -> None:
    token = _with_fault(sm_tsa, "intermediate")
    info = verify_timestamp(token, message=MESSAGE, roots=[sm_tsa.root_pem])
    assert info.tsa_name == "CN=liuhen SM2 test TSA (via intermediate),O=liuhen tests"
    response = tsp.TimeStampResp.load(token)
    assert len(response["time_stamp_token"]["content"]["certificates"]) == 2
    _fails_at("D7", token, [other_sm_tsa.root_pem])


def test_sm2_1_signature_oid_is_accepted(sm_tsa: SmTsa) -> None:
    token = _with_fault(sm_tsa, "sm2_1_oid")
    assert b"\x06\x09\x2a\x81\x1c\xcf\x55\x01\x82\x2d\x01" in token  # OID 1.2.156.10197.1.301.1
    assert is_sm_token(token)
    verify_timestamp(token, message=MESSAGE, roots=[sm_tsa.root_pem])


def test_signature_by_another_key_fails_at_d6(sm_tsa: SmTsa) -> None:
    _fails_at("D6", _with_fault(sm_tsa, "other_key"), [sm_tsa.root_pem])


def test_wrong_root_fails_at_d7(sm_tsa: SmTsa, other_sm_tsa: SmTsa, intl_tsa: LocalTsa,
                                token: bytes) -> None:
    _fails_at("D7", token, [other_sm_tsa.root_pem])
    _fails_at("D7", token, [intl_tsa.root_pem])  # only international roots configured
    # A token from the other SM2 TSA, which embeds its CA-signed cert, is not trusted either.
    foreign = HttpTimestampAuthority(other_sm_tsa.url, name="x", imprint="sm3").timestamp(MESSAGE)
    _fails_at("D7", foreign, [sm_tsa.root_pem])


def test_expired_certificate_fails_at_d8(sm_tsa: SmTsa) -> None:
    _fails_at("D8", _with_fault(sm_tsa, "expired"), [sm_tsa.root_pem])


def test_missing_eku_fails_at_d9(sm_tsa: SmTsa) -> None:
    _fails_at("D9", _with_fault(sm_tsa, "no_eku"), [sm_tsa.root_pem])


def test_not_der_fails_at_d1(sm_tsa: SmTsa, token: bytes) -> None:
    _fails_at("D1", token + b"\x00", [sm_tsa.root_pem])
    _fails_at("D1", token[:-3], [sm_tsa.root_pem])
    # BER, not DER: the outer length in a non-minimal long form (0x83 00 xx xx for 0x82 xx xx).
    assert token[:2] == b"\x30\x82"
    ber = b"\x30\x83\x00" + token[2:]
    assert is_sm_token(ber)  # a lenient parser takes it; the strict one does not
    _fails_at("D1", ber, [sm_tsa.root_pem])


def test_rejection_fails_at_d2(sm_tsa: SmTsa) -> None:
    rejection = sm_tsa.reply(build_request(MESSAGE))  # a SHA-256 request: badAlg
    reason = _fails_at("D2", rejection, [sm_tsa.root_pem])
    assert "rejection" in reason and "SM3 imprints only" in reason


def test_no_root_at_all_is_a_configuration_error(token: bytes) -> None:
    with pytest.raises(ValueError, match="no TSA root"):
        verify_timestamp(token, message=MESSAGE, roots=[])


# --- the client and the two kinds side by side ------------------------------------------------

def test_sm2_tsa_refuses_a_sha256_request_and_the_client_says_unavailable(
        sm_tsa: SmTsa) -> None:
    with pytest.raises(UnavailableError, match="SM3 imprints only"):
        HttpTimestampAuthority(sm_tsa.url, name="sm2 as sha256").timestamp(MESSAGE)


def test_sm3_request_to_a_tsa_without_sm3_is_unavailable(intl_tsa: LocalTsa) -> None:
    # The openssl ts TSA is configured for SHA-2 digests only: it rejects (badAlg).
    with pytest.raises(UnavailableError, match="did not grant"):
        HttpTimestampAuthority(intl_tsa.url, name="intl as sm3", imprint="sm3").timestamp(MESSAGE)


def test_international_token_verifies_beside_sm2_roots(sm_tsa: SmTsa,
                                                        intl_tsa: LocalTsa) -> None:
    intl = HttpTimestampAuthority(intl_tsa.url, name="intl").timestamp(MESSAGE)
    assert not is_sm_token(intl)
    info = verify_timestamp(intl, message=MESSAGE, roots=[sm_tsa.root_pem, intl_tsa.root_pem])
    assert info.hash_hex == hashlib.sha256(MESSAGE).hexdigest()
    reason = _fails_at("C4", intl, [sm_tsa.root_pem])
    assert "SM2 TSA roots only" in reason


def test_request_is_reproducible_without_nonce() -> None:
    assert build_sm3_request(MESSAGE, nonce=False) == build_sm3_request(MESSAGE, nonce=False)
    assert build_sm3_request(MESSAGE) != build_sm3_request(MESSAGE)
    with pytest.raises(ValueError):
        build_sm3_request(b"")


# --- a ledger anchored by both TSAs ---------------------------------------------------------

def test_ledger_anchored_by_both_tsas_audits_clean_and_a_tampered_sm2_token_fails(
        tmp_path: Path, sm_tsa: SmTsa, intl_tsa: LocalTsa) -> None:
    roots = []
    for name, blob in (("sm2", sm_tsa.root_pem), ("intl", intl_tsa.root_pem)):
        (tmp_path / f"{name}.pem").write_bytes(blob)
        roots.append(str(tmp_path / f"{name}.pem"))
    env = {"LIUHEN_TSA_URLS": json.dumps([intl_tsa.url]),
           "LIUHEN_TSA_SM2_URLS": json.dumps([sm_tsa.url]),
           "LIUHEN_TSA_ROOTS": json.dumps(roots)}
    data = tmp_path / "d"
    demo(data, env)
    code, output = liuhen("audit", "--data-dir", str(data), env=env)
    assert code == 0, output
    # An auditor without the TSA roots cannot vouch for the tokens: A8 says so.
    no_roots = {k: v for k, v in env.items() if k != "LIUHEN_TSA_ROOTS"}
    code, refused = liuhen("audit", "--data-dir", str(data), env=no_roots)
    assert code == 1 and "[A8]" in refused and "no TSA root" in refused, refused
    tokens = _drop_triggers(data / "ledger.db").execute(
        "select checkpoint_size, tsa, token from ledger_timestamps").fetchall()
    assert {tsa for _, tsa, _ in tokens} == {sm_tsa.url, intl_tsa.url}
    # Both tokens over every anchored checkpoint, each of its kind.
    by_size: dict[int, dict[str, bytes]] = {}
    for size, tsa, blob in tokens:
        by_size.setdefault(size, {})[tsa] = blob
    assert all(len(pair) == 2 for pair in by_size.values())
    assert all(is_sm_token(p[sm_tsa.url]) and not is_sm_token(p[intl_tsa.url])
               for p in by_size.values())
    assert f"{len(tokens)} RFC 3161 timestamp tokens verified" in output
    bundle = data / "demo.bundle.json"
    code, output = liuhen("verify-bundle", str(bundle), "--trust-root",
                          str(data / "keyring.json"))
    assert code == 0, output
    assert f"timestamped by {sm_tsa.url}" in output and f"timestamped by {intl_tsa.url}" in output
    # The stored SM2 token with one byte of its signature flipped: the audit fails at A8 (D6).
    size, _, sm_token = next(t for t in tokens if t[1] == sm_tsa.url)
    conn = _drop_triggers(data / "ledger.db")
    conn.execute("update ledger_timestamps set token = ? where checkpoint_size = ? and tsa = ?",
                 (_flip_signature(sm_token), size, sm_tsa.url))
    conn.commit()
    conn.close()
    code, output = liuhen("audit", "--data-dir", str(data), env=env)
    assert code == 1, output
    assert "[A8]" in output and "(D6)" in output and f"index {size}" in output, output
    # The same flip in the offline bundle's SM2 token: verify-bundle fails at B6, naming D6.
    value = json.loads(bundle.read_text())
    (stamp,) = [s for s in value["timestamps"] if s["tsa"] == sm_tsa.url]
    stamp["token"] = base64.b64encode(_flip_signature(base64.b64decode(stamp["token"]))).decode()
    bundle.write_text(json.dumps(value))
    code, output = liuhen("verify-bundle", str(bundle), "--trust-root",
                          str(data / "keyring.json"))
    assert code == 1 and "[B6]" in output and "(D6)" in output, output


def _flip_signature(token: bytes) -> bytes:
    """One bit of the SignerInfo's signature (the token's last field) flipped."""
    flipped = bytearray(token)
    flipped[-3] ^= 0x01
    return bytes(flipped)


def test_anchoring_refuses_an_sm2_token_whose_root_is_not_configured(
        tmp_path: Path, sm_tsa: SmTsa, intl_tsa: LocalTsa, ledger_url: str) -> None:
    """Verified before kept: the SM2 TSA's token fails D7 and is not stored; the international
    TSA's is; the next run with the SM2 root configured anchors the SM2 TSA too."""
    (tmp_path / "intl.pem").write_bytes(intl_tsa.root_pem)
    (tmp_path / "sm2.pem").write_bytes(sm_tsa.root_pem)
    settings = Settings(data_dir=tmp_path / "data", database_url=ledger_url,
                        tsa_urls=[intl_tsa.url], tsa_sm2_urls=[sm_tsa.url],
                        tsa_roots=[tmp_path / "intl.pem"])
    runtime = open_jobs(settings, clock=FakeClock())
    try:
        make_clip(runtime.context, tmp_path / "src", b"clip for two TSAs")
        outcome = run_job(runtime.context, "anchor")
        (finding,) = outcome.findings
        assert finding.subject == sm_tsa.url and "(D7)" in finding.detail, finding
        checkpoint = runtime.ledger.store.latest_checkpoint()
        assert checkpoint is not None
        assert [n for n, _ in runtime.ledger.store.timestamps(checkpoint.head.size)] == [
            intl_tsa.url]
    finally:
        runtime.close()
    runtime = open_jobs(settings.model_copy(update={
        "tsa_roots": [tmp_path / "intl.pem", tmp_path / "sm2.pem"]}), clock=FakeClock())
    try:
        outcome = run_job(runtime.context, "anchor")
        assert outcome.findings == [], outcome.findings
        anchored = {str(body["tsa"]) for _, body in entries(runtime.context, EntryKind.ANCHORED)}
        assert anchored == {intl_tsa.url, sm_tsa.url}
        latest = runtime.ledger.store.latest_checkpoint()
        assert latest is not None
        tokens = dict(runtime.ledger.store.timestamps(latest.head.size))
        assert set(tokens) == {intl_tsa.url, sm_tsa.url} and is_sm_token(tokens[sm_tsa.url])
    finally:
        runtime.close()


def test_every_single_bit_flip_fails_cleanly_or_changes_nothing_asserted(
        sm_tsa: SmTsa, token: bytes) -> None:
    """Each byte of the token with its low bit flipped: a VerificationError naming a D step
    (never another exception out of the parser), or — in the few fields no signature covers
    (versions, SignedData's digestAlgorithms) — the same assertion as the intact token."""
    intact = verify_timestamp(token, message=MESSAGE, roots=[sm_tsa.root_pem])
    steps: set[str] = set()
    for at in range(len(token)):
        flipped = bytearray(token)
        flipped[at] ^= 0x01
        try:
            info = verify_timestamp(bytes(flipped), message=MESSAGE, roots=[sm_tsa.root_pem])
        except VerificationError as exc:
            assert exc.step == "timestamp"
            steps.add(exc.reason[:4] if exc.reason.startswith("(") else "C")
        else:
            assert info == intact, at
    assert {"(D1)", "(D3)", "(D4)", "(D6)", "(D7)"} <= steps, steps
