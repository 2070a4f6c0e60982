"""Bodies of the entries case work and access supervision write (DESIGN.md §7, §8;
docs/ledger-format.md §1)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Self

from evidence.bodies.fields import Fields, put_if
from evidence.ledgertime import format_time
from evidence.records import EntryKind
from evidence.steps import RecordingRule


def _time_or_null(moment: datetime | None) -> str | None:
    return None if moment is None else format_time(moment)


@dataclass(frozen=True, slots=True)
class CaseOpenedBody:
    """``case_opened`` (subject: the case id). ``major``: a 重大执法决定 case, whose
    completeness report 法制审核 reads."""

    kind: ClassVar[EntryKind] = EntryKind.CASE_OPENED

    title: str
    unit_no: str
    major: bool

    def to_body(self) -> dict[str, object]:
        return {"title": self.title, "unit_no": self.unit_no, "major": self.major}

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Self:
        f = Fields(cls.kind, body)
        return cls(title=f.text("title"), unit_no=f.text("unit_no"), major=f.flag("major"))


@dataclass(frozen=True, slots=True)
class CaseStepBody:
    """``case_step`` (subject: the case id): step ``step`` of 执法环节 ``code`` and its window;
    a later entry for the same step corrects the window (times and officer null when unknown)."""

    kind: ClassVar[EntryKind] = EntryKind.CASE_STEP

    step: str
    code: str
    started_at: datetime | None
    ended_at: datetime | None
    officer: str | None

    def to_body(self) -> dict[str, object]:
        return {"step": self.step, "code": self.code,
                "started_at": _time_or_null(self.started_at),
                "ended_at": _time_or_null(self.ended_at), "officer": self.officer}

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Self:
        f = Fields(cls.kind, body)
        return cls(step=f.text("step"), code=f.text("code"),
                   started_at=f.optional_time("started_at"),
                   ended_at=f.optional_time("ended_at"), officer=f.optional_text("officer"))


@dataclass(frozen=True, slots=True)
class StepKindDefinedBody:
    """``step_kind_defined`` (subject: the 执法环节 code): a bureau's own step, or a new rule
    for one."""

    kind: ClassVar[EntryKind] = EntryKind.STEP_KIND_DEFINED

    name: str
    rule: RecordingRule

    def to_body(self) -> dict[str, object]:
        return {"name": self.name, "rule": self.rule.value}

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Self:
        f = Fields(cls.kind, body)
        return cls(name=f.text("name"), rule=f.choice("rule", RecordingRule))


@dataclass(frozen=True, slots=True)
class _StepRef:
    """A clip's reference to step ``step`` of case ``case`` (``linked`` and ``unlinked``)."""

    kind: ClassVar[EntryKind]

    case: str
    step: str

    def to_body(self) -> dict[str, object]:
        return {"case": self.case, "step": self.step}

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Self:
        f = Fields(cls.kind, body)
        return cls(case=f.text("case"), step=f.text("step"))


@dataclass(frozen=True, slots=True)
class LinkedBody(_StepRef):
    """``linked`` (subject: the clip's SHA-256): attached to step ``step`` of case ``case``."""

    kind: ClassVar[EntryKind] = EntryKind.LINKED


@dataclass(frozen=True, slots=True)
class UnlinkedBody(_StepRef):
    """``unlinked`` (subject: the clip's SHA-256): closes the latest open link of that clip to
    step ``step`` of case ``case``; nothing is ever deleted."""

    kind: ClassVar[EntryKind] = EntryKind.UNLINKED


@dataclass(frozen=True, slots=True)
class AccessedBody:
    """``accessed`` (subject: the clip's SHA-256; actor: who): one view or download (调阅) of
    a copy (``variant``), for a stated ``purpose``, within ``case`` when one was named."""

    kind: ClassVar[EntryKind] = EntryKind.ACCESSED
    OPTIONAL_KEYS: ClassVar[frozenset[str]] = frozenset({"case"})

    action: str
    """``play`` or ``download``."""
    variant: str
    """``original``, ``playback`` or ``proxy``."""
    purpose: str
    role: str
    case: str | None = None

    def to_body(self) -> dict[str, object]:
        return put_if({"action": self.action, "variant": self.variant, "purpose": self.purpose,
                       "role": self.role}, "case", self.case)

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Self:
        f = Fields(cls.kind, body)
        return cls(action=f.text("action"), variant=f.text("variant"),
                   purpose=f.text("purpose"), role=f.text("role"),
                   case=f.text_if_present("case"))


CASE_DUTIES = ("主办", "协办")
"""An officer's duty on a case: lead (主办) or assisting (协办)."""


@dataclass(frozen=True, slots=True)
class CaseOfficerBody:
    """``case_officer`` (subject: the case id; actor: who decided): ``officer`` (a 警号) works
    on the case as ``duty`` (主办/协办) from now on, or no longer when ``on`` is false."""

    kind: ClassVar[EntryKind] = EntryKind.CASE_OFFICER

    officer: str
    duty: str
    on: bool

    def to_body(self) -> dict[str, object]:
        return {"officer": self.officer, "duty": self.duty, "on": self.on}

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Self:
        f = Fields(cls.kind, body)
        duty = f.text("duty")
        if duty not in CASE_DUTIES:
            raise f.error("duty", f"应为 主办 或 协办，实为 {duty!r}",
                          f"must be 主办 or 协办, not {duty!r}")
        return cls(officer=f.text("officer"), duty=duty, on=f.flag("on"))
