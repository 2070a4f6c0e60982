"""GA/T 947.4 ``ZFY_INFO``: the recorder's identity block (DESIGN.md §6).

Packed, no padding, each field GBK text NUL-terminated inside its fixed size::

    char cSerial[8];     // device serial (产品序号), 7 characters
    char userNo[7];      // 警号, the officer's badge number
    char userName[33];   // officer name
    char unitNo[13];     // unit code (单位编号)
    char unitName[33];   // unit name

Packing refuses a field whose GBK form does not fit with its NUL (``PolicyViolationError``: never
truncate an identity). Unpacking refuses anything that is not exactly 94 bytes of NUL-terminated GBK
(``VerificationError``: the recorder's answer is malformed).
"""

from __future__ import annotations

from dataclasses import dataclass

from evidence.errors import PolicyViolationError, VerificationError
from evidence.ids import DeviceSerial, OfficerNo
from evidence.records import Officer

ENCODING = "gbk"
FIELDS: tuple[tuple[str, int], ...] = (
    ("cSerial", 8),
    ("userNo", 7),
    ("userName", 33),
    ("unitNo", 13),
    ("unitName", 33),
)
ZFY_INFO_BYTES = sum(size for _, size in FIELDS)  # 94


@dataclass(frozen=True, slots=True)
class ZfyInfo:
    """A decoded ``ZFY_INFO``: the device serial and the officer it is issued to."""

    serial: DeviceSerial
    officer: Officer

    def pack(self) -> bytes:
        """The 94-byte C struct."""
        values = (
            self.serial,
            self.officer.officer_no,
            self.officer.name,
            self.officer.unit_no,
            self.officer.unit_name,
        )
        out = bytearray()
        for (field, size), value in zip(FIELDS, values, strict=True):
            try:
                encoded = value.encode(ENCODING)
            except UnicodeEncodeError as exc:
                raise PolicyViolationError(
                    f"ZFY_INFO.{field} {value!r} is not representable in GBK"
                ) from exc
            if b"\x00" in encoded or len(encoded) > size - 1:
                raise PolicyViolationError(
                    f"ZFY_INFO.{field} {value!r} takes {len(encoded)} GBK bytes; {size - 1} fit"
                )
            out += encoded.ljust(size, b"\x00")
        return bytes(out)

    @classmethod
    def unpack(cls, data: bytes) -> ZfyInfo:
        """Decode the C struct a recorder returned."""
        if len(data) != ZFY_INFO_BYTES:
            raise VerificationError(
                f"ZFY_INFO is {len(data)} bytes, expected {ZFY_INFO_BYTES}", step="zfy_info"
            )
        values: list[str] = []
        offset = 0
        for field, size in FIELDS:
            raw = data[offset : offset + size]
            offset += size
            end = raw.find(b"\x00")
            if end < 0:
                raise VerificationError(f"ZFY_INFO.{field} is not NUL-terminated", step="zfy_info")
            try:
                values.append(raw[:end].decode(ENCODING))
            except UnicodeDecodeError as exc:
                raise VerificationError(
                    f"ZFY_INFO.{field} is not GBK text", step="zfy_info"
                ) from exc
        serial, officer_no, name, unit_no, unit_name = values
        if not serial or not officer_no:
            raise VerificationError("ZFY_INFO has an empty serial or 警号", step="zfy_info")
        officer = Officer(
            officer_no=OfficerNo(officer_no), name=name, unit_no=unit_no, unit_name=unit_name
        )
        return cls(serial=DeviceSerial(serial), officer=officer)
