"""RFC 3161 end to end: a real ``openssl ts`` TSA on loopback, our HTTP client, our verifier."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from evidence.errors import UnavailableError, VerificationError
from integrity.timestamp import TimestampInfo, build_request, verify_token
from storage.tsa import HttpTimestampAuthority
from tests.support.tsa import POLICY_OID, LocalTsa, local_tsa

MESSAGE = b"liuhen.example-bureau/ledger/v1\n42\nq2Lu4c7mN5Sgq1sbU8vW9T3cZtd0dJ+y0QkO4pR1s0s=\n"


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTsa]:
    with local_tsa(tmp_path_factory.mktemp("tsa")) as running:
        yield running


@pytest.fixture(scope="module")
def untrusted_tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTsa]:
    with local_tsa(tmp_path_factory.mktemp("evil-tsa"), name="evil TSA") as running:
        yield running


@pytest.fixture(scope="module")
def token(tsa: LocalTsa) -> bytes:
    return HttpTimestampAuthority(tsa.url, name="local").timestamp(MESSAGE)


def test_token_verifies_for_its_message(tsa: LocalTsa, token: bytes) -> None:
    before = datetime.now(UTC)
    info = verify_token(token, message=MESSAGE, roots=[tsa.root_pem])

    assert isinstance(info, TimestampInfo)
    assert info.hash_hex == hashlib.sha256(MESSAGE).hexdigest()
    assert info.policy_oid == POLICY_OID
    assert info.tsa_name == "CN=liuhen test TSA,O=liuhen tests"
    assert info.serial > 0
    assert info.gen_time.tzinfo is not None and info.gen_time.utcoffset() == timedelta(
        0
    )
    assert abs(info.gen_time - before) < timedelta(minutes=5)


def test_der_root_and_extra_roots_are_accepted(
    tsa: LocalTsa, untrusted_tsa: LocalTsa, token: bytes
) -> None:
    root_der = x509.load_pem_x509_certificate(tsa.root_pem).public_bytes(Encoding.DER)
    roots = [untrusted_tsa.root_pem, root_der, tsa.root_pem]  # duplicates are fine

    assert (
        verify_token(token, message=MESSAGE, roots=roots).hash_hex
        == hashlib.sha256(MESSAGE).hexdigest()
    )


def test_token_over_other_bytes_is_rejected(tsa: LocalTsa, token: bytes) -> None:
    with pytest.raises(VerificationError) as caught:
        verify_token(token, message=MESSAGE + b"x", roots=[tsa.root_pem])

    assert caught.value.step == "timestamp"
    assert "imprint" in caught.value.reason


def test_token_from_untrusted_tsa_is_rejected(
    tsa: LocalTsa, untrusted_tsa: LocalTsa
) -> None:
    foreign = HttpTimestampAuthority(untrusted_tsa.url, name="evil").timestamp(MESSAGE)
    verify_token(
        foreign, message=MESSAGE, roots=[untrusted_tsa.root_pem]
    )  # valid on its own

    with pytest.raises(VerificationError) as caught:
        verify_token(foreign, message=MESSAGE, roots=[tsa.root_pem])
    assert caught.value.step == "timestamp"


def test_token_carrying_its_own_root_is_not_trusted_for_it(
    tsa: LocalTsa, tmp_path: Path
) -> None:
    with local_tsa(tmp_path, name="self-rooted TSA", embed_root=True) as self_rooted:
        reply = _post_raw(self_rooted.url, build_request(MESSAGE))

    with pytest.raises(VerificationError):
        verify_token(reply, message=MESSAGE, roots=[tsa.root_pem])


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda t: t[: len(t) // 2], id="truncated_half"),
        pytest.param(lambda t: t[:-1], id="truncated_last_byte"),
        pytest.param(lambda t: t + b"\x00", id="trailing_byte"),
        pytest.param(lambda t: b"", id="empty"),
        pytest.param(lambda t: b"not a token at all", id="garbage"),
        pytest.param(lambda t: t[:-8] + bytes(8), id="signature_zeroed"),
    ],
)
def test_malformed_token_is_rejected(
    tsa: LocalTsa, token: bytes, mangle: Callable[[bytes], bytes]
) -> None:
    with pytest.raises(VerificationError) as caught:
        verify_token(mangle(token), message=MESSAGE, roots=[tsa.root_pem])
    assert caught.value.step == "timestamp"


def test_no_roots_fails_closed(token: bytes) -> None:
    with pytest.raises(ValueError, match="no TSA root"):
        verify_token(token, message=MESSAGE, roots=[])


def test_rejection_reply_is_not_a_token(tsa: LocalTsa) -> None:
    reply = _post_raw(
        tsa.url, b"\x30\x03\x02\x01\x01"
    )  # not a TimeStampReq: TSA says rejection

    with pytest.raises(VerificationError, match="not granted"):
        verify_token(reply, message=MESSAGE, roots=[tsa.root_pem])


def test_dead_port_is_unavailable() -> None:
    with (
        socket.socket() as sock
    ):  # reserve a port, then close it: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = HttpTimestampAuthority(
        f"http://127.0.0.1:{port}/", timeout_s=2.0, name="dead"
    )

    with pytest.raises(UnavailableError) as caught:
        client.timestamp(MESSAGE)
    assert caught.value.__cause__ is not None


def _post_raw(url: str, body: bytes) -> bytes:
    reply = httpx.post(
        url, content=body, headers={"Content-Type": "application/timestamp-query"}
    )
    reply.raise_for_status()
    return reply.content
