"""Reading an entry body strictly (docs/ledger-format.md §1): every field its writer writes, of
the type and form it writes, or MalformedEntryError naming the kind and the field. Nothing is
turned into ``""`` or ``0``.

Fields a later version adds are ignored (bodies are additive); a field the writer always writes
is required, and a field it writes only when known (``capture_time``, an access's ``case``) is
absent otherwise, never null.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import ClassVar, Protocol, TypeVar

from evidence.errors import MalformedEntryError
from evidence.ids import is_sha256_hex
from evidence.ledgertime import parse_time
from evidence.records import EntryKind

JsonObject = Mapping[str, object]
"""A JSON object kept as written (ffprobe facts, a plan): ints, strings, bools, null, lists and
objects only."""

E = TypeVar("E", bound=enum.Enum)


class EntryBody(Protocol):
    """What every typed body offers: its entry kind and the exact dict its entry carries."""

    kind: ClassVar[EntryKind]

    def to_body(self) -> dict[str, object]: ...


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    for kind, name in ((int, "integer"), (str, "text"), (list, "array"), (dict, "object")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


class Fields:
    """Typed reads of one body (or one object nested in it, ``prefix`` naming where)."""

    def __init__(self, kind: EntryKind, body: Mapping[str, object], *, prefix: str = "") -> None:
        self._kind = kind
        self._body = body
        self._prefix = prefix

    def error(self, key: str, zh: str, en: str) -> MalformedEntryError:
        return MalformedEntryError(self._kind.value, self._prefix + key, zh, en)

    def _get(self, key: str) -> object:
        if key not in self._body:
            raise self.error(key, "缺失", "is missing")
        return self._body[key]

    def _wrong(self, key: str, value: object, zh: str, en: str) -> MalformedEntryError:
        got = _json_type(value)
        return self.error(key, f"应为{zh}，实为 {got}", f"must be {en}, not {got}")

    # --- required fields ------------------------------------------------------------------

    def text(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str):
            raise self._wrong(key, value, "文本", "text")
        return value

    def integer(self, key: str) -> int:
        value = self._get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self._wrong(key, value, "整数", "an integer")
        return value

    def flag(self, key: str) -> bool:
        value = self._get(key)
        if not isinstance(value, bool):
            raise self._wrong(key, value, "布尔值", "true or false")
        return value

    def time(self, key: str) -> datetime:
        text = self.text(key)
        try:
            return parse_time(text)
        except ValueError as exc:
            raise self.error(key, f"不是账本时间格式：{text!r}", str(exc)) from exc

    def obj(self, key: str) -> dict[str, object]:
        value = self._get(key)
        if not isinstance(value, dict):
            raise self._wrong(key, value, "对象", "an object")
        return value

    def choice(self, key: str, values: type[E]) -> E:
        text = self.text(key)
        try:
            return values(text)
        except ValueError:
            known = ", ".join(str(v.value) for v in values)
            raise self.error(key, f"应为 {known} 之一，实为 {text!r}",
                             f"must be one of {known}, not {text!r}") from None

    def texts(self, key: str) -> tuple[str, ...]:
        found: list[str] = []
        for n, item in enumerate(self._list(key)):
            if not isinstance(item, str):
                raise self._wrong(f"{key}[{n}]", item, "文本", "text")
            found.append(item)
        return tuple(found)

    def integers(self, key: str) -> tuple[int, ...]:
        found: list[int] = []
        for n, item in enumerate(self._list(key)):
            if not isinstance(item, int) or isinstance(item, bool):
                raise self._wrong(f"{key}[{n}]", item, "整数", "an integer")
            found.append(item)
        return tuple(found)

    def text_map(self, key: str) -> dict[str, str]:
        found: dict[str, str] = {}
        for name, item in self.obj(key).items():
            if not isinstance(item, str):
                raise self._wrong(f"{key}.{name}", item, "文本", "text")
            found[name] = item
        return found

    def objects(self, key: str) -> list[Fields]:
        """Each item of the array ``key``, an object, to be read field by field."""
        found = []
        for n, item in enumerate(self._list(key)):
            if not isinstance(item, dict):
                raise self._wrong(f"{key}[{n}]", item, "对象", "an object")
            found.append(Fields(self._kind, item, prefix=f"{self._prefix}{key}[{n}]."))
        return found

    def nested(self, key: str) -> Fields:
        return Fields(self._kind, self.obj(key), prefix=f"{self._prefix}{key}.")

    def _list(self, key: str) -> list[object]:
        value = self._get(key)
        if not isinstance(value, list):
            raise self._wrong(key, value, "数组", "an array")
        return value

    # --- fields written with null when unknown ----------------------------------------------

    def optional_text(self, key: str) -> str | None:
        return None if self._get(key) is None else self.text(key)

    def optional_integer(self, key: str) -> int | None:
        return None if self._get(key) is None else self.integer(key)

    def optional_time(self, key: str) -> datetime | None:
        return None if self._get(key) is None else self.time(key)

    def optional_obj(self, key: str) -> dict[str, object] | None:
        return None if self._get(key) is None else self.obj(key)

    # --- fields written only when known (absent otherwise) ------------------------------------

    def text_if_present(self, key: str) -> str | None:
        return self.text(key) if key in self._body else None

    def time_if_present(self, key: str) -> datetime | None:
        return self.time(key) if key in self._body else None

    def digest_if_present(self, key: str) -> str | None:
        """A 64-digit lowercase hex digest (SHA-256 or SM3), or None when absent."""
        if key not in self._body:
            return None
        value = self.text(key)
        if not is_sha256_hex(value):
            raise self.error(key, "应为 64 位小写十六进制摘要", "must be 64 lowercase hex digits")
        return value

    def expect(self, key: str, value: object) -> None:
        """``key`` holds exactly ``value`` (a constant of the body's shape)."""
        found = self._get(key)
        if found != value or type(found) is not type(value):
            raise self.error(key, f"应为 {value!r}，实为 {found!r}",
                             f"must be {value!r}, not {found!r}")


def put_if(body: dict[str, object], key: str, value: object) -> dict[str, object]:
    """``body`` with ``key`` set when ``value`` is not None (a field written only when known)."""
    if value is not None:
        body[key] = value
    return body
