"""Typed entry bodies (evidence/bodies): the same bytes as before, read back strictly.

1. Every entry written through ``LedgerWriter.append`` and a body dataclass is byte for byte the
   entry the dict-taking writer wrote before (entry_body_vectors.txt, made at commit a605b66).
2. For every body type, ``from_body(to_body(x)) == x``, through canonical JSON.
3. A missing or mistyped field raises MalformedEntryError naming the kind and the field; it is
   never read as ``""`` or ``0``.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evidence.bodies import (
    ALERT_RULES,
    ALL_BODIES,
    AccessDecidedBody,
    AccessedBody,
    AccessRequestedBody,
    AccountChangedBody,
    AcquiredBody,
    AlertAcknowledgedBody,
    AnchoredBody,
    CaseOfficerBody,
    CaseOpenedBody,
    CaseStepBody,
    ClockObservedBody,
    CopyReleasedBody,
    Derivative,
    DerivedBody,
    DeviceRegisteredBody,
    DisposedBody,
    DisposedObject,
    EntryBody,
    ExportedBody,
    FixityCheckedBody,
    FixityRunBody,
    GrantExpiredBody,
    GrantUsedBody,
    InventoryFindingBody,
    KeyRotatedBody,
    LegalHoldBody,
    LinkedBody,
    MediaQuarantinedBody,
    QuarantinedBody,
    ReleasedBody,
    RetentionSetBody,
    StationCheckpointBody,
    StationRegisteredBody,
    StepKindDefinedBody,
    StoredBody,
    UnlinkedBody,
    read_body,
)
from evidence.bodies.accounts import ACCOUNT_CHANGES
from evidence.bodies.approvals import GRANT_ACTIONS
from evidence.bodies.casework import CASE_DUTIES
from evidence.errors import MalformedEntryError, VerificationError
from evidence.ids import Origin, StationId
from evidence.records import Checkpoint, EntryKind, Receipt, TreeHead
from evidence.steps import RecordingRule
from integrity.canonical import MAX_SAFE_INT, canonical_json, parse_canonical
from integrity.entry import DOMAIN, decode_entry
from ledger.appending import LedgerWriter

VECTORS = Path(__file__).with_name("entry_body_vectors.txt")
CST = timezone(timedelta(hours=8))
AT = datetime(2026, 11, 24, 16, 57, 3, 123456, tzinfo=CST)
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
OTHER = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
MTIME = datetime(2026, 11, 24, 8, 0, 1, 500000, tzinfo=UTC)
RETAIN = datetime(2027, 5, 23, 8, 57, 4, tzinfo=UTC)
NAME = "DCIM/执法_0001.MP4"
GBK_NAME = "DCIM/\ufffd\ufffd.MP4"
GBK_HEX = "4443494d2fd6b4b72e4d5034"
PROBE: dict[str, object] = {
    "format_name": "mov,mp4,m4a,3gp,3g2,mj2", "duration_ms": 2000, "size": 4096,
    "video": {"codec": "h264", "width": 64, "height": 48}, "audio": None, "creation_time": None,
    "tags": {"major_brand": "isom"}, "other_streams": [], "prober": "ffprobe"}
PLAN: dict[str, object] = {"action": "remux", "role": "playback",
                           "reason": "h264 yuv420p, no audio", "args": ["-c", "copy"],
                           "copied": ["video"]}
FRAME: dict[str, object] = {"name": "t0.jpg", "sha256": OTHER, "size": 99, "requested_ms": 200,
                            "actual_ms": 200}
THUMBS: dict[str, object] = {
    "frames": [FRAME], "strip": None,
    "missed": [{"requested_ms": 1800, "actual_ms": None, "reason": "past the end"}],
    "stored": [{**FRAME, "key": "derived/t0.jpg", "version_id": "v3"}]}
DERIVATIVE = Derivative(
    parent=SHA, role="playback", action="remux", name=f"{SHA}.playback.mp4", sha256=OTHER,
    size=4000, argv=("ffmpeg", "-i", "{input}", "-c", "copy", "{output}"),
    ffmpeg_version="ffmpeg version 5.1.6", key=f"derived/9f/{SHA}/{OTHER}.mp4", version_id="v2")
FIXITY = FixityCheckedBody(check="rehash", role="original", store="file:///x", key="k",
                           version_id="v1", periods=(9490, 9491), period_days=1, ok=True)

WRITTEN: dict[str, tuple[str, str, EntryBody]] = {
    "acquired": (SHA, "000123", AcquiredBody(
        device="ZFY00042", name_on_device=NAME, size=4096, officer="000123",
        unit_no="110101000000", clock_offset_ms=-1375, device_mtime=MTIME,
        capture_time=MTIME + timedelta(milliseconds=1375))),
    "acquired_gbk_no_clock": (OTHER, "000123", AcquiredBody(
        device="ZFY00042", name_on_device=GBK_NAME, name_bytes_hex=GBK_HEX, size=0,
        officer="000123", unit_no="", clock_offset_ms=None, device_mtime=MTIME)),
    "quarantined_commit": (OTHER, "station-01", QuarantinedBody(
        device="ZFY00042", name_on_device=GBK_NAME, name_bytes_hex=GBK_HEX, size=0,
        reason="zero-byte file: nothing to recover; ledgered as received")),
    "released": (SHA, "station-01", ReleasedBody(device="ZFY00042", name_on_device=NAME,
                                                 mode="delete")),
    "stored": (SHA, "station-01", StoredBody(
        device="ZFY00042", name_on_device=NAME, store="s3://bucket/station-01",
        key=f"originals/9f/{SHA}", version_id="v.1-x", size=4096, lock_mode="COMPLIANCE",
        retain_until=RETAIN)),
    "device_registered": ("ZFY00042", "station-01", DeviceRegisteredBody(
        id_code="ZFY01", officer="000123", officer_name="张三", unit_no="110101000000",
        unit_name="某派出所", previous_officer=None)),
    "device_reassigned": ("ZFY00042", "station-01", DeviceRegisteredBody(
        id_code="ZFY01", officer="000124", officer_name="李四", unit_no="110101000000",
        unit_name="某派出所", previous_officer="000123")),
    "clock_observed": ("ZFY00042", "station-01", ClockObservedBody(
        device_time=datetime(2026, 11, 24, 16, 57, 1, 748000, tzinfo=CST), station_time=AT,
        offset_ms=-1375, synced=True)),
    "derived": (SHA, "station-01", DerivedBody(
        parent=SHA, probe=PROBE, plan=PLAN, ffmpeg_version="ffmpeg version 5.1.6",
        derivatives=(DERIVATIVE,),
        streamhash={"0": "SHA256=ab"}, thumbnails=THUMBS)),
    "derived_audio": (SHA, "station-01", DerivedBody(
        parent=SHA, probe={**PROBE, "duration_ms": None}, plan=PLAN,
        ffmpeg_version="ffmpeg version 5.1.6", derivatives=(), streamhash={}, thumbnails=None)),
    "quarantined_media": (SHA, "station-01", MediaQuarantinedBody(
        step="probe", reason="moov atom not found")),
    "disposed": (SHA, "job:disposal", DisposedBody(
        certificate=f"disposals/{SHA}.note", certificate_sha256=OTHER, reason="保存期满",
        retention_class="standard", retain_until=RETAIN, policy="bureau", policy_sha256=SHA,
        objects=(DisposedObject(role="original", key="k1", version_id="v1"),
                 DisposedObject(role="playback", key="k2", version_id="v2")),
        bytes_fate="kept-until-lock-expiry")),
    "disposed_no_date": (SHA, "admin", DisposedBody(
        certificate=f"disposals/{SHA}.note", certificate_sha256=OTHER, reason="r",
        retention_class="standard", retain_until=None, policy="bureau", policy_sha256=SHA,
        objects=(), bytes_fate="kept-until-lock-expiry")),
    "retention_set": (SHA, "000123", RetentionSetBody(
        retention_class="case", retain_until=datetime(2046, 1, 1, tzinfo=CST),
        reason="linked to case C-1 step s1", permanent=False)),
    "legal_hold": (SHA, "admin", LegalHoldBody(on=True, reason="行政复议")),
    "fixity_ok": (SHA, "job:fixity", FIXITY),
    "fixity_failed": (SHA, "job:fixity", dataclasses.replace(
        FIXITY, check="head", periods=(), ok=False, finding="original k version v1: gone")),
    "fixity_inventory": ("derived/x", "job:fixity", InventoryFindingBody(
        key="derived/x", store="",
        finding="derived/x (not in the ledger) has version a, delete marker b")),
    "fixity_run": ("fixity-run", "job:fixity", FixityRunBody(
        mode="sample", period_days=30, window_start=datetime(2026, 11, 1, tzinfo=UTC),
        window_end=AT, store="file:///x", objects=12, checked=3, failed=0, rehash=True,
        inventory_versions=14, inventory_findings=0, untracked_keys=2, ok=True)),
    "case_opened": ("C-2026-001", "000123", CaseOpenedBody(
        title="查封某仓库", unit_no="110101000000", major=True)),
    "case_step": ("C-2026-001", "000123", CaseStepBody(
        step="s1", code="chafeng", started_at=datetime(2026, 11, 24, 9, tzinfo=CST),
        ended_at=datetime(2026, 11, 24, 10, 30, tzinfo=CST), officer="000123")),
    "case_step_open": ("C-2026-001", "000123", CaseStepBody(
        step="s2", code="diaocha", started_at=None, ended_at=None, officer=None)),
    "step_kind_defined": ("xuncha", "admin", StepKindDefinedBody(name="巡查",
                                                                  rule=RecordingRule.SHOULD)),
    "linked": (SHA, "000123", LinkedBody(case="C-2026-001", step="s1")),
    "unlinked": (SHA, "000124", UnlinkedBody(case="C-2026-001", step="s1")),
    "accessed": (SHA, "000123", AccessedBody(action="play", variant="playback",
                                             purpose="复核执法过程", role="officer")),
    "accessed_case": (SHA, "000123", AccessedBody(
        action="play", variant="playback", purpose="复核执法过程", role="officer",
        case="C-2026-001")),
    "key_rotated": ("397a4f12", "admin", KeyRotatedBody(role="log", old="o+11111111+AQ",
                                                        new="o+397a4f12+AQ")),
    "account_changed": ("000123", "cli:root", AccountChangedBody(
        change="user_added", name="张三", unit="110101000000", roles=("officer", "leader"))),
    "case_officer": ("C-2026-001", "000123", CaseOfficerBody(officer="000124", duty="协办",
                                                             on=True)),
    "access_requested": ("000124", "000124", AccessRequestedBody(
        clips=(SHA,), purpose="复核执法过程", actions=("view",), minutes=120)),
    "access_requested_case": ("000124", "000124", AccessRequestedBody(
        clips=(), purpose="案件审核", actions=("view", "download_original"), minutes=60,
        case="C-2026-001")),
    "access_decided": ("000124", "000123", AccessDecidedBody(
        request=41, approved=True, reason="同意", expires_at=datetime(2026, 11, 24, 11,
                                                                   tzinfo=UTC))),
    "access_refused": ("000124", "000123", AccessDecidedBody(
        request=42, approved=False, reason="与案件无关")),
    "grant_used": (SHA, "000124", GrantUsedBody(request=41, action="view",
                                                variant="playback")),
    "grant_expired": ("000124", "liuhen", GrantExpiredBody(
        request=41, expired_at=datetime(2026, 11, 24, 11, tzinfo=UTC))),
    "alert_acknowledged": ("off_hours:123", "000125", AlertAcknowledgedBody(
        rule="off_hours", note="已核实：值班期间复核")),
    "exported": (OTHER, "000123", ExportedBody(
        case="A2026-001", items=(SHA,), variant="original", recipient="某某区人民检察院",
        purpose="移送审查起诉", approval=None)),
    "anchored": (bytes(range(32)).hex(), "checkpointer", AnchoredBody(
        checkpoint_size=7, tsa="http://127.0.0.1:9/tsa", token_sha256=OTHER,
        gen_time="2026-11-24T08:57:05+00:00", tsa_serial="123456789012345678901234567890")),
    "station_registered": ("pcs-a", "cli:root", StationRegisteredBody(
        origin="liuhen.example-bureau/station/pcs-a", log_keys=("o+11111111+AQ",),
        station_keys=("s+22222222+AQ",))),
    "station_checkpoint": ("pcs-a", "station:pcs-a", StationCheckpointBody(
        origin="liuhen.example-bureau/station/pcs-a", size=7, root=SHA, note_sha256=OTHER,
        sm3_root=OTHER)),
    "copy_released": (SHA, "station:retention", CopyReleasedBody(
        index=12, store="file:///var/lib/liuhen/objects", key=f"originals/9f/{SHA}",
        version_id=OTHER, size=70016, sha256=OTHER, sm3=SHA,
        received_at=datetime(2026, 11, 1, 14, 30, tzinfo=UTC), keep_days=30)),
}


def _vectors() -> dict[str, bytes]:
    lines = [line for line in VECTORS.read_text("utf-8").splitlines()
             if line and not line.startswith("#")]
    return {name: DOMAIN + data.encode() for name, data in (ln.split(" ", 1) for ln in lines)}


class _Capture:
    def __init__(self) -> None:
        self.data: list[bytes] = []

    def append(self, data: bytes, kind: str, subject: str) -> Receipt:
        self.data.append(data)
        return Receipt(index=len(self.data) - 1, leaf_hash=b"", commit_note=b"")

    def latest_checkpoint(self) -> Checkpoint | None:
        return Checkpoint(origin=Origin("o"), head=TreeHead(7, bytes(range(32))), note=b"")


# --- 1. the same bytes as before ---------------------------------------------------------------

def test_every_vector_has_its_body_and_every_body_type_a_vector() -> None:
    assert set(_vectors()) == set(WRITTEN)
    assert {type(body) for _, _, body in WRITTEN.values()} == set(ALL_BODIES)


@pytest.mark.parametrize("name", sorted(WRITTEN))
def test_entries_written_through_typed_bodies_are_the_bytes_written_before(name: str) -> None:
    subject, actor, body = WRITTEN[name]
    capture = _Capture()
    writer = LedgerWriter(appender=capture, checkpoints=capture,
                          station=StationId("station-01"), clock=lambda: AT)
    writer.append(body, subject=subject, actor=actor)
    assert capture.data == [_vectors()[name]]
    # and the typed body reads back from those bytes, the right shape of its kind
    entry = decode_entry(capture.data[0])
    assert entry.kind is body.kind
    assert read_body(entry.kind, entry.body) == body


# --- 2. from_body(to_body(x)) == x --------------------------------------------------------------

JSON_SCALARS = (st.none() | st.booleans() | st.text()
                | st.integers(min_value=-MAX_SAFE_INT, max_value=MAX_SAFE_INT))
JSON = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(), inner, max_size=3), max_leaves=8)
JSON_OBJECTS = st.dictionaries(st.text(), JSON, max_size=4)
TIMES = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59),
                     timezones=st.just(UTC))
SPECIAL: dict[tuple[type, str], st.SearchStrategy[object]] = {
    # the catalogue reads probe.duration_ms: an integer or null, always written
    (DerivedBody, "probe"): st.builds(
        lambda facts, ms: {**facts, "duration_ms": ms}, JSON_OBJECTS,
        st.none() | st.integers(min_value=0, max_value=MAX_SAFE_INT)),
    # fields whose writers allow a fixed set of words
    (AccountChangedBody, "change"): st.sampled_from(ACCOUNT_CHANGES),
    (CaseOfficerBody, "duty"): st.sampled_from(CASE_DUTIES),
    (AlertAcknowledgedBody, "rule"): st.sampled_from(sorted(ALERT_RULES)),
    (ExportedBody, "variant"): st.sampled_from(("original", "playback")),
    # SM3 digests (国密 layer): 64 lowercase hex digits, or absent in older entries
    **{(cls, "sm3"): st.none() | st.text("0123456789abcdef", min_size=64, max_size=64)
       for cls in (AcquiredBody, StoredBody, Derivative)},
    (AccessRequestedBody, "actions"): st.lists(st.sampled_from(GRANT_ACTIONS),
                                               max_size=2).map(tuple),
    (GrantUsedBody, "action"): st.sampled_from(GRANT_ACTIONS),
}


SIMPLE: dict[object, st.SearchStrategy[object]] = {
    str: st.text(), bool: st.booleans(), datetime: TIMES, type(None): st.none(),
    int: st.integers(min_value=-MAX_SAFE_INT, max_value=MAX_SAFE_INT),
    Mapping[str, str]: st.dictionaries(st.text(), st.text(), max_size=3),
    Mapping[str, object]: JSON_OBJECTS}


def _strategy(hint: object) -> st.SearchStrategy[object]:
    """Values of a body field's type: its annotation, read the way the fields are declared."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        strategy: st.SearchStrategy[object] = st.one_of(*(_strategy(a) for a in args))
    elif origin is tuple:
        strategy = st.lists(_strategy(args[0]), max_size=3).map(tuple)
    elif isinstance(hint, type) and issubclass(hint, enum.Enum):
        strategy = st.sampled_from(list(hint))
    elif isinstance(hint, type) and dataclasses.is_dataclass(hint):
        strategy = _builds(hint)
    else:
        strategy = SIMPLE[hint]
    return strategy


def _builds(cls: type) -> st.SearchStrategy[object]:
    hints = typing.get_type_hints(cls)
    return st.builds(cls, **{f.name: SPECIAL.get((cls, f.name), _strategy(hints[f.name]))
                             for f in dataclasses.fields(cls)})


ANY_BODY = st.sampled_from(ALL_BODIES).flatmap(_builds)


def _wire(body: EntryBody) -> dict[str, object]:
    """``body.to_body()`` as it comes back from the entry's canonical JSON."""
    parsed = parse_canonical(canonical_json(body.to_body()))
    assert isinstance(parsed, dict)
    return parsed


@given(ANY_BODY)
def test_every_body_reads_back_from_its_canonical_json(body: object) -> None:
    assert isinstance(body, ALL_BODIES)
    assert type(body).from_body(_wire(body)) == body


@given(ANY_BODY)
def test_read_body_tells_the_shapes_of_a_kind_apart(body: object) -> None:
    assert isinstance(body, ALL_BODIES)
    if isinstance(body, FixityCheckedBody) and body.check == "inventory":
        return  # the inventory's shape, by definition
    assert read_body(body.kind, _wire(body)) == body


# --- 3. strict reading -----------------------------------------------------------------------

def _wrong(value: object) -> tuple[object, ...]:
    """JSON values of other types than ``value`` (a boolean is not an integer, nor null text)."""
    if isinstance(value, bool):
        return "true", 1
    if isinstance(value, int):
        return "7", True
    if isinstance(value, str):
        return 7, ["7"]
    if value is None:  # null where null is allowed: text, an integer, a time or an object
        return [], True
    return ([], "x") if isinstance(value, dict) else ({}, "x")


@given(ANY_BODY)
def test_a_missing_field_is_named_with_the_kind(body: object) -> None:
    assert isinstance(body, ALL_BODIES)
    cls = type(body)
    wire = _wire(body)
    optional: frozenset[str] = getattr(cls, "OPTIONAL_KEYS", frozenset())
    for key in wire:
        without = {k: v for k, v in wire.items() if k != key}
        if key in optional:  # written only when known: absent reads as unknown
            parsed = cls.from_body(without)
            for f in dataclasses.fields(body):
                expected = None if f.name == key else getattr(body, f.name)
                assert getattr(parsed, f.name) == expected
            continue
        with pytest.raises(MalformedEntryError) as caught:
            cls.from_body(without)
        assert (caught.value.kind, caught.value.field) == (body.kind.value, key)
        assert f"账本条目 {body.kind.value} 的 body.{key} 缺失" in str(caught.value)


@given(ANY_BODY)
def test_a_field_of_the_wrong_type_is_named_with_the_kind(body: object) -> None:
    assert isinstance(body, ALL_BODIES)
    wire = _wire(body)
    for key, value in wire.items():
        for wrong in _wrong(value):
            with pytest.raises(MalformedEntryError) as caught:
                type(body).from_body({**wire, key: wrong})
            assert caught.value.kind == body.kind.value
            assert caught.value.field == key, (key, value, wrong)


@pytest.mark.parametrize(("kind", "body", "field", "words"), [
    (EntryKind.CASE_STEP, {"step": "s1", "code": "chafeng", "ended_at": None, "officer": None,
                           "started_at": "999-06-01T00:00:00.000000000Z"},
     "started_at", "不是账本时间格式"),
    (EntryKind.CASE_STEP, {"step": "s1", "code": "chafeng", "started_at": None,
                           "ended_at": None, "officer": {"no": 1}}, "officer",
     "应为文本，实为 object"),
    (EntryKind.STEP_KIND_DEFINED, {"name": "外来", "rule": "sometimes"}, "rule",
     "应为 required, should, optional 之一"),
    (EntryKind.ACQUIRED, {**WRITTEN["acquired"][2].to_body(), "size": True}, "size",
     "应为整数，实为 boolean"),
    (EntryKind.CASE_OPENED, {"title": "t", "unit_no": "", "major": 1}, "major",
     "应为布尔值，实为 integer"),
    (EntryKind.DERIVED, {**WRITTEN["derived"][2].to_body(), "probe": {"duration_ms": "2s"}},
     "probe.duration_ms", "应为整数，实为 text"),
    (EntryKind.DERIVED, {**WRITTEN["derived"][2].to_body(), "derivatives": [{
        **DERIVATIVE.to_body(), "size": None}]}, "derivatives[0].size", "应为整数，实为 null"),
    (EntryKind.DISPOSED, {**WRITTEN["disposed"][2].to_body(), "objects": ["k1"]}, "objects[0]",
     "应为对象，实为 text"),
    (EntryKind.FIXITY_CHECKED, {**WRITTEN["fixity_ok"][2].to_body(), "periods": [1, "2"]},
     "periods[1]", "应为整数，实为 text"),
    (EntryKind.FIXITY_CHECKED, {**WRITTEN["fixity_inventory"][2].to_body(), "ok": True}, "ok",
     "应为 False，实为 True"),
])
def test_a_malformed_field_is_named_in_chinese_first(kind: EntryKind, body: dict[str, object],
                                                     field: str, words: str) -> None:
    with pytest.raises(MalformedEntryError) as caught:
        read_body(kind, body)
    assert (caught.value.kind, caught.value.field) == (kind.value, field)
    assert str(caught.value).startswith(f"账本条目 {kind.value} 的 body.{field} {words}")
    assert isinstance(caught.value, VerificationError)  # never retried, never folded


def test_no_body_type_for_kinds_liuhen_never_writes() -> None:
    for kind in (EntryKind.NOTE,):
        with pytest.raises(ValueError, match="writes no"):
            read_body(kind, {})


@pytest.mark.parametrize("bad", ["", "ABC", "A" * 64, "g" * 64, "0" * 63])
def test_an_sm3_that_is_not_64_lowercase_hex_is_refused(bad: str) -> None:
    body = dict(WRITTEN["acquired"][2].to_body(), sm3=bad)
    with pytest.raises(MalformedEntryError, match="sm3"):
        AcquiredBody.from_body(body)
    legacy = WRITTEN["acquired"][2].to_body()
    assert "sm3" not in legacy and AcquiredBody.from_body(legacy).sm3 is None
