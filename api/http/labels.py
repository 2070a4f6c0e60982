"""Chinese first (docs/web.md): the words the pages use for the ledger's codes (entry kinds,
access actions, copies, media kinds, the step that quarantined a clip), with the English code
as the quiet second word. Template filters registered by ``web.templates``."""

from __future__ import annotations

from evidence.records import Clip

ROLE_NAMES = {"officer": "民警", "leader": "领导", "auditor": "法制", "admin": "管理员",
              "station": "采集站", "device": "记录仪（网络上传）"}
ENTRY_KINDS = {
    "acquired": "采集", "derived": "生成播放副本", "stored": "存储", "quarantined": "隔离",
    "released": "释放记录仪空间", "linked": "关联执法环节", "unlinked": "解除关联",
    "accessed": "调阅", "exported": "导出", "retention_set": "设置保存期限",
    "legal_hold": "法律保全", "disposed": "处置", "key_rotated": "更换密钥",
    "anchored": "外部锚定", "device_registered": "登记记录仪", "clock_observed": "记录仪时钟",
    "fixity_checked": "定期核验", "case_opened": "立案", "case_step": "执法环节",
    "step_kind_defined": "定义执法环节", "account_changed": "账号变更", "case_officer": "办案民警",
    "note": "备注",
}
ACTIONS = {"play": "播放", "download": "下载", "export": "导出"}
QUARANTINE_STEPS = {
    "commit": "接收时文件不可用（例如 0 字节的空文件）",
    "probe": "文件已损坏或不完整，无法识别为音视频",
    "derive": "无法生成播放副本",
    "deriving": "无法生成播放副本",
    "remux": "无法生成播放副本（无损转封装校验不一致）",
    "thumbnails": "无法生成缩略图：画面无法解码",
}
MEDIA_KINDS = {"photo": "照片 photo", "audio": "录音 audio", "video": "视频 video"}
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
AUDIO_SUFFIXES = (".wav", ".m4a", ".mp3", ".aac", ".amr")


def entry_kind(code: str) -> str:
    """``采集 acquired``: the Chinese name first, the ledger's code second."""
    name = ENTRY_KINDS.get(code)
    return f"{name} {code}" if name else code


def action(code: str) -> str:
    name = ACTIONS.get(code)
    return f"{name} {code}" if name else code


def quarantine(clip: Clip) -> str:
    """Why a clip is quarantined, in Chinese (by the step that refused it); the tool's own
    words stay on the page beside it, in English."""
    return QUARANTINE_STEPS.get(clip.quarantine_step or "", "文件无法处理")


def media_kind(clip: Clip) -> str:
    """``photo``, ``audio`` or ``video``: by the media stage's action, else by the name the
    recorder gave the file (before the media stage has run)."""
    if clip.media_action == "keep":
        return "photo"
    if clip.media_action == "audio":
        return "audio"
    if clip.media_action is None:
        name = clip.name_on_device.lower()
        if name.endswith(PHOTO_SUFFIXES):
            return "photo"
        if name.endswith(AUDIO_SUFFIXES):
            return "audio"
    return "video"


def clip_state(clip: Clip) -> str:
    if clip.disposed_index is not None:
        return "已处置 disposed"
    if clip.quarantine_reason:
        return f"已隔离 quarantined：{quarantine(clip)}"
    if clip.original is None:
        return "待存储 not stored yet"
    return "已存储并核验 stored" + (" · 有播放副本 playable" if clip.playback else "")
