"""Typed entry bodies: one frozen dataclass per shape of body liuhen writes (docs/ledger-format.md
§1), shared by the code that writes entries (``LedgerWriter.append``) and the read model that
folds them (storage/catalogue.py).

``to_body()`` is exactly the dict the entry carries (its canonical JSON is what is hashed, so a
changed key or type would change the ledger format); ``from_body()`` reads one back strictly,
raising MalformedEntryError that names the kind and the field. Times are ledger times
(evidence/ledgertime.py) on the wire and ``datetime`` here. Two kinds have more than one shape:
``quarantined`` (at commit, or by the media stage) and ``fixity_checked`` (one version, an
inventory finding, a run's summary); :func:`read_body` picks the shape.

liuhen writes no ``note`` entries: they have no body type.
"""

from __future__ import annotations

from collections.abc import Mapping

from evidence.bodies.accounts import AccountChangedBody
from evidence.bodies.approvals import (
    AccessDecidedBody,
    AccessRequestedBody,
    GrantExpiredBody,
    GrantUsedBody,
)
from evidence.bodies.bureau import StationCheckpointBody, StationRegisteredBody
from evidence.bodies.casework import (
    AccessedBody,
    CaseOfficerBody,
    CaseOpenedBody,
    CaseStepBody,
    LinkedBody,
    StepKindDefinedBody,
    UnlinkedBody,
)
from evidence.bodies.export import ExportedBody
from evidence.bodies.fields import EntryBody, JsonObject
from evidence.bodies.keeping import (
    DisposedBody,
    DisposedObject,
    FixityCheckedBody,
    FixityRunBody,
    InventoryFindingBody,
    LegalHoldBody,
    RetentionSetBody,
)
from evidence.bodies.keys import AnchoredBody, KeyRotatedBody
from evidence.bodies.station import (
    AcquiredBody,
    ClockObservedBody,
    CopyReleasedBody,
    Derivative,
    DerivedBody,
    DeviceRegisteredBody,
    MediaQuarantinedBody,
    QuarantinedBody,
    ReleasedBody,
    StoredBody,
)
from evidence.bodies.supervision import ALERT_RULES, AlertAcknowledgedBody
from evidence.records import EntryKind

__all__ = [
    "ALERT_RULES", "ALL_BODIES", "AccessDecidedBody", "AccessRequestedBody", "AccessedBody",
    "AccountChangedBody", "AcquiredBody", "AlertAcknowledgedBody", "AnchoredBody",
    "CaseOfficerBody", "CaseOpenedBody", "CaseStepBody", "ClockObservedBody", "CopyReleasedBody",
    "Derivative",
    "DerivedBody", "DeviceRegisteredBody",
    "DisposedBody", "DisposedObject", "EntryBody", "ExportedBody", "FixityCheckedBody",
    "FixityRunBody",
    "GrantExpiredBody", "GrantUsedBody", "InventoryFindingBody", "JsonObject", "KeyRotatedBody",
    "LegalHoldBody", "LinkedBody",
    "MediaQuarantinedBody", "QuarantinedBody", "ReleasedBody", "RetentionSetBody",
    "StationCheckpointBody", "StationRegisteredBody", "StepKindDefinedBody", "StoredBody",
    "UnlinkedBody", "read_body",
]

ALL_BODIES = (
    AcquiredBody, QuarantinedBody, MediaQuarantinedBody, StoredBody, ReleasedBody, DerivedBody,
    DeviceRegisteredBody, ClockObservedBody, CaseOpenedBody, CaseStepBody, StepKindDefinedBody,
    LinkedBody, UnlinkedBody, AccessedBody, RetentionSetBody, LegalHoldBody, DisposedBody,
    FixityCheckedBody, InventoryFindingBody, FixityRunBody, KeyRotatedBody, AnchoredBody,
    AccountChangedBody, CaseOfficerBody, StationRegisteredBody, StationCheckpointBody,
    AccessRequestedBody, AccessDecidedBody, GrantUsedBody, GrantExpiredBody, AlertAcknowledgedBody,
    ExportedBody,
    CopyReleasedBody,
)
"""Every body type, each kind's shapes in the order :func:`read_body` tells them apart."""

_ONE_SHAPE = {cls.kind: cls for cls in ALL_BODIES
              if cls.kind not in (EntryKind.QUARANTINED, EntryKind.FIXITY_CHECKED)}


def read_body(kind: EntryKind, body: Mapping[str, object]) -> EntryBody:
    """The typed body of an entry of ``kind``; MalformedEntryError when it is not one liuhen
    writes, ValueError for a kind liuhen never writes."""
    if kind is EntryKind.QUARANTINED:
        if "step" in body:  # the media stage's verdict, else quarantined at commit
            return MediaQuarantinedBody.from_body(body)
        return QuarantinedBody.from_body(body)
    if kind is EntryKind.FIXITY_CHECKED:
        if "mode" in body:
            return FixityRunBody.from_body(body)
        if body.get("check") == "inventory":
            return InventoryFindingBody.from_body(body)
        return FixityCheckedBody.from_body(body)
    if kind not in _ONE_SHAPE:
        raise ValueError(f"liuhen writes no {kind.value} entries: they have no body type")
    return _ONE_SHAPE[kind].from_body(body)
