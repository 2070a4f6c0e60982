"""Bodies of the entries supervision (调阅监督) writes (DESIGN.md §8; docs/supervision.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Self

from evidence.bodies.fields import Fields
from evidence.records import EntryKind

ALERT_RULES = {
    "bulk_view": "批量调阅", "off_hours": "非工作时间调阅", "outside_cases": "调阅非本人案件视频",
    "original_download": "下载原始文件", "dock_late": "超时未上传（执法记录仪逾期未接入）",
    "upload_late": "超时未上传（文件逾期入库）",
}
"""The rules an alert comes from (access/alerts.py), with the name the pages show."""


@dataclass(frozen=True, slots=True)
class AlertAcknowledgedBody:
    """``alert_acknowledged`` (subject: the alert's id, e.g. ``off_hours:123``; actor: the
    leader or auditor who acknowledged it): ``rule`` is one of ALERT_RULES, ``note`` what they
    found (required, 1-500 characters)."""

    kind: ClassVar[EntryKind] = EntryKind.ALERT_ACKNOWLEDGED

    rule: str
    note: str

    def to_body(self) -> dict[str, object]:
        return {"rule": self.rule, "note": self.note}

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Self:
        f = Fields(cls.kind, body)
        rule = f.text("rule")
        if rule not in ALERT_RULES:
            raise f.error("rule", f"不是已知的预警规则 {rule!r}",
                          f"is not a known alert rule {rule!r}")
        return cls(rule=rule, note=f.text("note"))
