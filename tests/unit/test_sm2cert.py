"""integrity/sm2cert.py on what is not a certificate: whatever bytes come in, the answer is a
VerificationError naming step C1 (``certificate``), never another exception (the certificates
themselves are made by openssl in tests/integration/test_cert_login.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evidence.errors import VerificationError
from integrity.sm2cert import MAX_PEM_BYTES, _tbs_fields, claimed_officer_no, verify_certificate

NOW = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.mark.parametrize("pem", [
    b"", b"not a certificate",
    b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    b"-----BEGIN CERTIFICATE-----\n" + b"A" * MAX_PEM_BYTES + b"\n-----END CERTIFICATE-----\n",
])
def test_what_is_not_a_certificate_fails_at_c1(pem: bytes) -> None:
    with pytest.raises(VerificationError) as caught:
        verify_certificate(pem, ca=None, now=NOW)  # type: ignore[arg-type]  # C1 comes first
    assert caught.value.step == "certificate"
    assert claimed_officer_no(pem) is None


@given(st.binary(max_size=200))
def test_any_der_fails_the_walk_cleanly(der: bytes) -> None:
    try:
        _tbs_fields(b"\x30" + bytes([len(der)]) + der if len(der) < 0x80 else der)
    except VerificationError as exc:
        assert exc.step == "certificate"
