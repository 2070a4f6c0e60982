"""Signing in with an SM2 certificate (docs/access.md §9): the bureau's CA,
the officers' certificates and the CRL are made with the ``openssl`` CLI (OpenSSL 3.0, SM2 with
SM3, user ID 1234567812345678), the challenge is signed with ``openssl pkeyutl``. A good answer
signs in; a wrong key, an expired and a not-yet-valid certificate (the injected clock), a
revoked one, one from another CA with the same name, a replayed or expired challenge, a
certificate naming no account and a gateway header from an untrusted address are each refused
with 401 and logged as a failed sign-in with the step that refused."""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from cryptography import x509
from sqlalchemy import select
from typer.testing import CliRunner

from api.cli import app as cli
from api.compose import CA_FILE, CRL_FILE, certificate_sign_in
from devices.sim.cards import Media
from evidence.errors import PolicyViolationError
from storage.account_tables import FAILURES
from tests.integration.test_api_support import BACKENDS, World, world_fixture

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

OPENSSL = "/usr/bin/openssl"
DISTID = "distid:1234567812345678"
CA_CONFIG = """[ca]
default_ca = bureau
[bureau]
database = index.txt
crlnumber = crlnumber
default_md = sm3
default_crl_days = 30
"""


def _openssl(cwd: Path, *args: str) -> None:
    done = subprocess.run([OPENSSL, *args], cwd=cwd, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr


@dataclass(frozen=True)
class Pki:
    root: Path

    def pem(self, name: str) -> str:
        return (self.root / f"{name}.pem").read_text()

    def sign(self, key: str, message: str) -> str:
        (self.root / "msg").write_text(message)
        _openssl(self.root, "pkeyutl", "-sign", "-inkey", f"{key}.key", "-rawin", "-in", "msg",
                 "-out", "sig", "-pkeyopt", DISTID)
        return base64.b64encode((self.root / "sig").read_bytes()).decode()

    def validity(self, name: str) -> tuple[datetime, datetime]:
        cert = x509.load_pem_x509_certificate((self.root / f"{name}.pem").read_bytes())
        return cert.not_valid_before_utc, cert.not_valid_after_utc


def _ca(root: Path, name: str) -> None:
    _openssl(root, "genpkey", "-algorithm", "SM2", "-out", f"{name}.key")
    _openssl(root, "req", "-new", "-x509", "-key", f"{name}.key", "-sm3", "-sigopt", DISTID,
             "-subj", "/CN=Bureau CA", "-days", "3650", "-out", f"{name}.pem")


def _issue(root: Path, name: str, subject: str, *, ca: str, serial: int) -> None:
    _openssl(root, "genpkey", "-algorithm", "SM2", "-out", f"{name}.key")
    _openssl(root, "req", "-new", "-key", f"{name}.key", "-sm3", "-sigopt", DISTID, "-subj",
             subject, "-out", f"{name}.csr")
    _openssl(root, "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey",
             f"{ca}.key", "-sm3", "-sigopt", DISTID, "-vfyopt", DISTID, "-set_serial",
             str(serial), "-days", "30", "-out", f"{name}.pem")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("pki")
    _ca(root, "ca")
    _ca(root, "other-ca")  # same name, another key: only the signature tells them apart
    _issue(root, "good", "/CN=Officer/serialNumber=100001", ca="ca", serial=1)
    _issue(root, "revoked", "/CN=100002", ca="ca", serial=2)
    _issue(root, "stranger", "/CN=100099", ca="ca", serial=3)  # no account
    _issue(root, "forged", "/CN=Officer/serialNumber=100001", ca="other-ca", serial=4)
    _openssl(root, "genpkey", "-algorithm", "SM2", "-out", "wrong.key")
    (root / "index.txt").write_text("")
    (root / "crlnumber").write_text("01\n")
    (root / "ca.cnf").write_text(CA_CONFIG)
    _openssl(root, "ca", "-config", "ca.cnf", "-revoke", "revoked.pem", "-keyfile", "ca.key",
             "-cert", "ca.pem")
    _openssl(root, "ca", "-config", "ca.cnf", "-gencrl", "-keyfile", "ca.key", "-cert",
             "ca.pem", "-sigopt", DISTID, "-out", "crl.pem")
    return Pki(root)


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


CLOCK = FakeClock()


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          media: Media, pki: Pki) -> Iterator[World]:
    for w in world_fixture(request, tmp_path_factory, media, docked=False, clock=CLOCK):
        data = w.casework.ledger.settings.data_dir
        (data / CA_FILE).write_text(pki.pem("ca"))
        (data / CRL_FILE).write_text(pki.pem("crl"))
        acc = w.casework.accounts
        acc.add_unit("110000000000", "市局", parent=None, actor="test")
        for number in ("100001", "100002"):
            acc.add_user(number, name=f"民警{number}", unit="110000000000", roles=["officer"],
                         password=None, actor="test")
        yield w


@pytest.fixture
def clock(world: World, pki: Pki) -> FakeClock:
    CLOCK.now = pki.validity("good")[0] + timedelta(hours=1)  # within the certificates and CRL
    world.client.cookies.clear()
    return CLOCK


def _challenge(world: World) -> str:
    r = world.client.post("/api/login/challenge")
    assert r.status_code == 200, r.text
    challenge: str = r.json()["challenge"]
    assert challenge.startswith("liuhen-login:")
    return challenge


def _answer(world: World, pki: Pki, cert: str, key: str, challenge: str | None = None) -> int:
    challenge = challenge or _challenge(world)
    r = world.client.post("/api/login/certificate", json={
        "challenge": challenge, "certificate": pki.pem(cert),
        "signature": pki.sign(key, challenge)})
    world.client.cookies.clear()
    if r.status_code == 401:
        assert "证书登录失败" in r.json()["detail"]
    status: int = r.status_code
    return status


def _last_failure(world: World) -> tuple[str, str]:
    with world.casework.ledger.store.engine.connect() as conn:
        row = conn.execute(select(FAILURES.c.officer_no, FAILURES.c.reason)
                           .order_by(FAILURES.c.id.desc()).limit(1)).one()
    return row.officer_no, row.reason


def _failures(world: World) -> int:
    with world.casework.ledger.store.engine.connect() as conn:
        return len(conn.execute(select(FAILURES.c.id)).all())


def test_a_signed_challenge_signs_the_officer_in(world: World, pki: Pki,
                                                 clock: FakeClock) -> None:
    before = _failures(world)
    challenge = _challenge(world)
    r = world.client.post("/api/login/certificate", json={
        "challenge": challenge, "certificate": pki.pem("good"),
        "signature": pki.sign("good", challenge)})
    world.client.cookies.clear()
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["officer_no"] == "100001" and body["token"].startswith("lhs_")
    me = world.client.get("/api/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.json()["name"] == "100001"
    assert _failures(world) == before
    # the same answer again: the challenge was used
    r = world.client.post("/api/login/certificate", json={
        "challenge": challenge, "certificate": pki.pem("good"),
        "signature": pki.sign("good", challenge)})
    world.client.cookies.clear()
    assert r.status_code == 401
    assert _last_failure(world) == ("100001", "certificate:challenge")


@pytest.mark.parametrize(("cert_key", "reason"), [
    ("good:wrong", "certificate:signature"),         # someone else's key
    ("revoked:revoked", "certificate:revocation"),   # on the CA's CRL
    ("forged:forged", "certificate:issuer"),         # another CA under the same name
    ("stranger:stranger", "certificate:unknown"),    # a good certificate, no account
])
def test_bad_certificates_and_keys_are_refused_and_logged(
        world: World, pki: Pki, clock: FakeClock, cert_key: str, reason: str) -> None:
    cert, key = cert_key.split(":")
    assert _answer(world, pki, cert, key) == 401
    assert _last_failure(world)[1] == reason


@pytest.mark.parametrize("when", ["before", "after"])
def test_certificates_outside_their_validity_are_refused(
        world: World, pki: Pki, clock: FakeClock, when: str) -> None:
    start, end = pki.validity("good")
    clock.now = start - timedelta(minutes=1) if when == "before" else end
    assert _answer(world, pki, "good", "good") == 401
    assert _last_failure(world) == ("100001", "certificate:validity")


def test_an_expired_challenge_is_refused(world: World, pki: Pki, clock: FakeClock) -> None:
    challenge = _challenge(world)
    clock.now += timedelta(minutes=2)
    assert _answer(world, pki, "good", "good", challenge) == 401
    assert _last_failure(world) == ("100001", "certificate:challenge")


def test_without_a_configured_ca_every_certificate_is_refused(
        world: World, pki: Pki, clock: FakeClock) -> None:
    ca = world.casework.ledger.settings.data_dir / CA_FILE
    ca.rename(ca.with_suffix(".off"))
    try:
        assert _answer(world, pki, "good", "good") == 401
        assert _last_failure(world)[1] == "certificate:no-ca"
    finally:
        ca.with_suffix(".off").rename(ca)


def _gateway(world: World, pki: Pki, cert: str) -> int:
    r = world.client.post("/ui/signin/certificate", follow_redirects=False,
                          headers={"X-Client-Cert": quote(pki.pem(cert))})
    ok = r.status_code == 303 and "liuhen_token=" in r.headers.get("set-cookie", "")
    world.client.cookies.clear()
    return 303 if ok else r.status_code


def test_a_gateway_certificate_counts_only_from_a_trusted_address(
        world: World, pki: Pki, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = world.casework.ledger.settings
    monkeypatch.setattr(settings, "trusted_proxies", "10.0.0.9")  # not the test client
    assert _gateway(world, pki, "good") == 401
    assert _last_failure(world) == ("100001", "certificate:untrusted-proxy")
    monkeypatch.setattr(settings, "trusted_proxies", "10.0.0.9, testclient")
    assert _gateway(world, pki, "good") == 303
    assert _gateway(world, pki, "revoked") == 401  # checked again, the gateway trusted or not
    assert _last_failure(world) == ("100002", "certificate:revocation")


def test_the_client_signs_in_with_an_openssl_key_file(world: World, pki: Pki,
                                                      clock: FakeClock) -> None:
    """``liuhen login``'s path (api/compose.certificate_sign_in, storage/bureau_client.py)
    against the app in process (TestClient's ASGI transport: the real routes, no socket)."""
    transport = world.client._transport  # TestClient's in-process transport
    answer = certificate_sign_in("http://testserver", cert_pem=pki.pem("good"),
                                 key_pem=(pki.root / "good.key").read_bytes(),
                                 transport=transport)
    assert answer["officer_no"] == "100001" and answer["token"].startswith("lhs_")
    with pytest.raises(PolicyViolationError, match="证书登录失败"):
        certificate_sign_in("http://testserver", cert_pem=pki.pem("good"),
                            key_pem=(pki.root / "wrong.key").read_bytes(), transport=transport)
    assert _last_failure(world) == ("100001", "certificate:signature")


def test_liuhen_login_refuses_a_key_that_is_not_sm2(pki: Pki, tmp_path: Path) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    done = CliRunner().invoke(cli, ["login", "--cert", str(pki.root / "good.pem"), "--key",
                                    str(bad), "--bureau", "http://127.0.0.1:9"])
    assert done.exit_code == 3, done.output  # bad input, before any connection
    assert "SM2 PKCS#8" in done.output
