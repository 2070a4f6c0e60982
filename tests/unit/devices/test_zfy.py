"""ZFY_INFO pack/unpack (GA/T 947.4): layout, GBK, limits, malformed answers."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.zfy import FIELDS, ZFY_INFO_BYTES, ZfyInfo
from evidence.errors import PolicyViolationError, VerificationError
from evidence.ids import DeviceSerial, OfficerNo
from evidence.records import Officer

OFFICER = Officer(OfficerNo("010203"), "欧阳建国", "110105000000", "北京市公安局朝阳分局")
INFO = ZfyInfo(serial=DeviceSerial("LH00001"), officer=OFFICER)


def field_bytes(packed: bytes, name: str) -> bytes:
    offset = 0
    for field, size in FIELDS:
        if field == name:
            return packed[offset : offset + size]
        offset += size
    raise KeyError(name)


def test_layout_is_the_packed_c_struct() -> None:
    packed = INFO.pack()
    assert ZFY_INFO_BYTES == 8 + 7 + 33 + 13 + 33 == len(packed)
    assert field_bytes(packed, "cSerial") == b"LH00001\x00"
    assert field_bytes(packed, "userNo") == b"010203\x00"
    assert field_bytes(packed, "userName") == "欧阳建国".encode("gbk").ljust(33, b"\x00")
    assert field_bytes(packed, "unitNo") == b"110105000000\x00"
    assert field_bytes(packed, "unitName").rstrip(b"\x00").decode("gbk") == "北京市公安局朝阳分局"


def test_round_trip_keeps_gbk_names() -> None:
    assert ZfyInfo.unpack(INFO.pack()) == INFO


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"serial": DeviceSerial("LH000001")}, "cSerial"),  # 8 chars: no room for the NUL
        ({"officer_no": OfficerNo("0102030")}, "userNo"),
        ({"name": "张" * 17}, "userName"),  # 34 GBK bytes > 32
        ({"unit_no": "1" * 13}, "unitNo"),
        ({"unit_name": "公安局" * 6}, "unitName"),  # 36 bytes
    ],
)
def test_over_long_fields_are_refused_not_truncated(change: dict[str, str], field: str) -> None:
    change = dict(change)
    serial = change.pop("serial", INFO.serial)
    officer = dataclasses.replace(OFFICER, **change)  # type: ignore[arg-type]  # str fields only
    with pytest.raises(PolicyViolationError, match=field):
        ZfyInfo(serial=DeviceSerial(serial), officer=officer).pack()


def test_longest_fitting_fields_pack() -> None:
    officer = Officer(OfficerNo("123456"), "张" * 16, "1" * 12, "公" * 16)
    assert ZfyInfo.unpack(ZfyInfo(DeviceSerial("1234567"), officer).pack()).officer == officer


def test_text_outside_gbk_is_refused() -> None:
    officer = Officer(OfficerNo("010203"), "Zoë 🚓", "1", "2")
    with pytest.raises(PolicyViolationError, match="GBK"):
        ZfyInfo(DeviceSerial("LH1"), officer).pack()


def test_embedded_nul_is_refused() -> None:
    officer = Officer(OfficerNo("01\x0003"), "张伟", "1", "2")
    with pytest.raises(PolicyViolationError, match="userNo"):
        ZfyInfo(DeviceSerial("LH1"), officer).pack()


@pytest.mark.parametrize("size", [0, 93, 95, 200])
def test_unpack_refuses_wrong_size(size: int) -> None:
    with pytest.raises(VerificationError, match="ZFY_INFO is"):
        ZfyInfo.unpack(bytes(size))


def test_unpack_refuses_unterminated_field() -> None:
    packed = bytearray(INFO.pack())
    packed[0:8] = b"ABCDEFGH"
    with pytest.raises(VerificationError, match="cSerial is not NUL-terminated"):
        ZfyInfo.unpack(bytes(packed))


def test_unpack_refuses_invalid_gbk() -> None:
    packed = bytearray(INFO.pack())
    packed[15:17] = b"\xff\xff"  # first bytes of userName
    with pytest.raises(VerificationError, match="userName is not GBK"):
        ZfyInfo.unpack(bytes(packed))


def test_unpack_refuses_empty_identity() -> None:
    with pytest.raises(VerificationError, match="empty"):
        ZfyInfo.unpack(bytes(ZFY_INFO_BYTES))


def gbk_text(max_bytes: int) -> st.SearchStrategy[str]:
    alphabet = st.sampled_from("0123456789ABCXYZabc张王李赵刘陈杨黄公安局派出所分队朝阳区·")
    return st.text(alphabet, max_size=max_bytes).filter(lambda s: len(s.encode("gbk")) <= max_bytes)


@given(
    serial=gbk_text(7).filter(bool),
    officer_no=gbk_text(6).filter(bool),
    name=gbk_text(32),
    unit_no=gbk_text(12),
    unit_name=gbk_text(32),
)
def test_every_fitting_identity_round_trips(
    serial: str, officer_no: str, name: str, unit_no: str, unit_name: str
) -> None:
    info = ZfyInfo(DeviceSerial(serial), Officer(OfficerNo(officer_no), name, unit_no, unit_name))
    packed = info.pack()
    assert len(packed) == ZFY_INFO_BYTES
    assert ZfyInfo.unpack(packed) == info
