"""The 执法环节 catalogue of DESIGN.md §7 and its recording rules (extendable per bureau)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from evidence.ids import StepCode


class RecordingRule(enum.StrEnum):
    REQUIRED = "required"
    """Full-process audio-video recording is mandatory (查封扣押, 强制拆除, ...)."""
    SHOULD = "should"
    """Recording is expected (现场检查, 调查取证, 听证, ...)."""
    OPTIONAL = "optional"


@dataclass(frozen=True, slots=True)
class StepKind:
    code: StepCode
    name: str
    rule: RecordingRule


CATALOGUE: tuple[StepKind, ...] = (
    StepKind(StepCode("qidong"), "程序启动", RecordingRule.OPTIONAL),
    StepKind(StepCode("diaocha"), "调查取证", RecordingRule.SHOULD),
    StepKind(StepCode("xianchang"), "现场检查", RecordingRule.SHOULD),
    StepKind(StepCode("choucha"), "随机抽查", RecordingRule.SHOULD),
    StepKind(StepCode("baoquan"), "证据保全", RecordingRule.OPTIONAL),
    StepKind(StepCode("chafeng"), "查封扣押", RecordingRule.REQUIRED),
    StepKind(StepCode("tingzheng"), "听证", RecordingRule.SHOULD),
    StepKind(StepCode("qiangzhi"), "行政强制", RecordingRule.REQUIRED),
    StepKind(StepCode("chaichu"), "强制拆除", RecordingRule.REQUIRED),
    StepKind(StepCode("shencha"), "审查决定", RecordingRule.OPTIONAL),
    StepKind(StepCode("fazhi"), "法制审核", RecordingRule.OPTIONAL),
    StepKind(StepCode("songda_zhijie"), "直接送达", RecordingRule.OPTIONAL),
    StepKind(StepCode("songda_liuzhi"), "留置送达", RecordingRule.SHOULD),
    StepKind(StepCode("songda_gonggao"), "公告送达", RecordingRule.SHOULD),
    StepKind(StepCode("zhixing"), "执行", RecordingRule.OPTIONAL),
    StepKind(StepCode("jiean"), "结案归档", RecordingRule.OPTIONAL),
)
