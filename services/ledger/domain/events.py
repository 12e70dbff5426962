"""Events: the facts the ledger records, one frozen dataclass per kind, and their codec.

An event is never changed once stored, so each carries everything needed to derive its postings
(``accounts.transfers``) without the state it was decided against: a projection or an auditor
replaying the stream needs no other input.  Each kind has a stable ``event_type`` and a
``schema_version``; data written under an older version is lifted by ``UPCASTERS`` on read, so the
stored rows are never migrated in place (the hash chain covers them).

``effective_date`` is the business date the event belongs to (what ``as_of`` filters on), as
opposed to when it was recorded (``known_at``, kept by the store).
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

from ledger.domain.commands import AreaSpec, Decision, ReportingObligation
from ledger.domain.errors import UnknownEventType, UnreadableEvent

# --- grant events ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GrantRegistered:
    event_type: ClassVar[str] = "GrantRegistered"
    schema_version: ClassVar[int] = 1

    grant_id: str
    name: str
    funder: str
    decision: Decision
    spend_from: date
    spend_to: date
    areas: tuple[AreaSpec, ...]
    reporting: tuple[ReportingObligation, ...]
    repayment_reference: str | None

    @property
    def effective_date(self) -> date:
        return self.decision.date


@dataclass(frozen=True, slots=True)
class AwardAmended:
    event_type: ClassVar[str] = "AwardAmended"
    schema_version: ClassVar[int] = 1

    grant_id: str
    area: str
    previous: int  # the award before: the posting is the difference, without state
    awarded: int
    decision: Decision
    reason: str

    @property
    def effective_date(self) -> date:
        return self.decision.date


@dataclass(frozen=True, slots=True)
class ReceiptRecorded:
    event_type: ClassVar[str] = "ReceiptRecorded"
    schema_version: ClassVar[int] = 1

    grant_id: str
    amount: int
    received_on: date
    reference: str

    @property
    def effective_date(self) -> date:
        return self.received_on


@dataclass(frozen=True, slots=True)
class ActivityAllocated:
    event_type: ClassVar[str] = "ActivityAllocated"
    schema_version: ClassVar[int] = 1

    grant_id: str
    code: str
    area: str
    name: str
    amount: int
    responsible: str
    decision: Decision
    new_activity: bool
    exit_plan: str | None

    @property
    def effective_date(self) -> date:
        return self.decision.date


@dataclass(frozen=True, slots=True)
class BudgetReallocated:
    event_type: ClassVar[str] = "BudgetReallocated"
    schema_version: ClassVar[int] = 1

    grant_id: str
    from_activity: str
    to_activity: str
    area: str  # both activities are in it (rule 3)
    amount: int
    reason: str
    decision: Decision

    @property
    def effective_date(self) -> date:
        return self.decision.date


@dataclass(frozen=True, slots=True)
class SpendRecorded:
    """One spend line, placed: on an activity, on an area (unclassified), or on the grant."""

    event_type: ClassVar[str] = "SpendRecorded"
    # 2: a SIE line's line_id carries its fiscal year ("2022:A-1-1"; see ``sie_line_id_v2``).
    schema_version: ClassVar[int] = 2

    grant_id: str
    transaction_id: str
    source: str
    line_id: str
    voucher: str | None
    booked_on: date
    amount: int
    cost_object: str
    area: str | None  # None: the cost object serves several areas and no activity was named
    activity: str | None
    account: str | None
    kind: str
    text: str | None

    @property
    def effective_date(self) -> date:
        return self.booked_on


@dataclass(frozen=True, slots=True)
class SpendReversed:
    """A reversal entry (rättelse): cancels ``reversal_of`` where that line sits now."""

    event_type: ClassVar[str] = "SpendReversed"
    schema_version: ClassVar[int] = 1

    grant_id: str
    transaction_id: str  # the reversal entry's own id
    reversal_of: str
    source: str
    line_id: str
    booked_on: date  # the reversal's booking date, not the original line's
    amount: int  # the reversed line's amount; the reversal entry itself is its negation
    cost_object: str
    area: str | None  # the reversed line's placement at the time of the reversal
    activity: str | None
    reason: str

    @property
    def effective_date(self) -> date:
        return self.booked_on


@dataclass(frozen=True, slots=True)
class SpendClassified:
    """Unclassified spend put on an activity.

    Its business date is the line's booking date: classification says where that spend belonged
    all along, so balances as of a date move with it (``known_at`` still shows the earlier view).
    """

    event_type: ClassVar[str] = "SpendClassified"
    schema_version: ClassVar[int] = 1

    grant_id: str
    transaction_id: str
    booked_on: date
    amount: int
    cost_object: str
    from_area: str | None  # None: it was grant-level unclassified spend
    activity: str
    area: str  # the activity's area
    reason: str

    @property
    def effective_date(self) -> date:
        return self.booked_on


@dataclass(frozen=True, slots=True)
class RepaymentRecorded:
    event_type: ClassVar[str] = "RepaymentRecorded"
    schema_version: ClassVar[int] = 1

    grant_id: str
    area: str
    amount: int
    paid_on: date
    reference: str | None

    @property
    def effective_date(self) -> date:
        return self.paid_on


@dataclass(frozen=True, slots=True)
class Release:
    """An activity's unspent budget returned to its area's unallocated at year close."""

    activity: str
    area: str
    amount: int


@dataclass(frozen=True, slots=True)
class YearClosed:
    event_type: ClassVar[str] = "YearClosed"
    schema_version: ClassVar[int] = 1

    grant_id: str
    year: int
    decision: Decision
    released: tuple[Release, ...]

    @property
    def effective_date(self) -> date:
        return date(self.year, 12, 31)


GrantEvent = (
    GrantRegistered
    | AwardAmended
    | ReceiptRecorded
    | ActivityAllocated
    | BudgetReallocated
    | SpendRecorded
    | SpendReversed
    | SpendClassified
    | RepaymentRecorded
    | YearClosed
)


# --- the periods stream ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PeriodClosed:
    event_type: ClassVar[str] = "PeriodClosed"
    schema_version: ClassVar[int] = 1

    period: str  # "YYYY-MM"

    @property
    def effective_date(self) -> date:
        return date.fromisoformat(f"{self.period}-01")


Event = GrantEvent | PeriodClosed

EVENT_TYPES: dict[str, type[Event]] = {
    cls.event_type: cls
    for cls in (
        GrantRegistered,
        AwardAmended,
        ReceiptRecorded,
        ActivityAllocated,
        BudgetReallocated,
        SpendRecorded,
        SpendReversed,
        SpendClassified,
        RepaymentRecorded,
        YearClosed,
        PeriodClosed,
    )
}

JsonData = dict[str, Any]

_SIE_YEAR_KEY = re.compile(r"[0-9]{4}(?:-[0-9]{2})?:")


def sie_line_id_v2(data: JsonData) -> JsonData:
    """SpendRecorded 1 -> 2: a SIE line's key gains its fiscal year.

    ERPs restart voucher numbers every fiscal year, so "A-1-1" named a different line each
    year.  A line imported under the old key is known by the year of its booking date: regions
    keep the calendar year as their fiscal year (kommunallagen 11:1).  Other sources' keys are
    theirs and stay as they are.
    """
    line_id = data.get("line_id")
    legacy = isinstance(line_id, str) and not _SIE_YEAR_KEY.match(line_id)
    if data.get("source") == "sie" and legacy:
        data = {**data, "line_id": f"{str(data['booked_on'])[:4]}:{line_id}"}
    return data


# (event_type, n) -> a function lifting data of schema version n to n + 1.
UPCASTERS: dict[tuple[str, int], Callable[[JsonData], JsonData]] = {
    ("SpendRecorded", 1): sie_line_id_v2,
}


# --- codec -----------------------------------------------------------------------------------


def encode(event: Event) -> tuple[str, int, JsonData]:
    """``(event_type, schema_version, data)`` with data of JSON types only (dates as ISO text)."""
    return event.event_type, event.schema_version, _codec(type(event)).encode(event)


def decode(event_type: str, schema_version: int, data: Mapping[str, Any]) -> Event:
    """Build the event stored as ``data`` under ``schema_version``, upcasting it first if older."""
    cls = EVENT_TYPES.get(event_type)
    if cls is None:
        raise UnknownEventType(event_type, schema_version)
    if schema_version != cls.schema_version:
        data = _upcast(event_type, schema_version, cls.schema_version, dict(data))
    try:
        event: Event = _codec(cls).decode(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UnreadableEvent(event_type, schema_version, f"{type(exc).__name__}: {exc}") from exc
    return event


def _upcast(event_type: str, version: int, current: int, data: JsonData) -> JsonData:
    if version > current:
        raise UnreadableEvent(
            event_type, version, f"written by a newer schema than this code knows ({current})"
        )
    while version < current:
        lift = UPCASTERS.get((event_type, version))
        if lift is None:
            raise UnreadableEvent(event_type, version, f"no upcaster from version {version}")
        data = lift(data)
        version += 1
    return data


# One converter per field, worked out once per class from its type hints: decoding a million
# events then costs a dict copy, a few date parses and the constructor call each.
_Convert = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Codec:
    encode: Callable[[Any], JsonData]
    decode: Callable[[Mapping[str, Any]], Any]


_CODECS: dict[type, _Codec] = {}


def _codec(cls: type) -> _Codec:
    codec = _CODECS.get(cls)
    if codec is None:
        codec = _CODECS[cls] = _dataclass_codec(cls)
    return codec


def _dataclass_codec(cls: type) -> _Codec:
    hints = typing.get_type_hints(cls)
    converters = [(f.name, *_converters(hints[f.name])) for f in dataclasses.fields(cls)]
    encoders = tuple((name, enc) for name, enc, _ in converters)
    decoders = tuple((name, dec) for name, _, dec in converters if dec is not None)

    encode = _compiled_encoder(cls, encoders)

    def construct(data: Mapping[str, Any]) -> Any:
        fields = dict(data)  # never write into the caller's mapping (it may be a stored row)
        for name, dec in decoders:
            fields[name] = dec(fields[name])
        return cls(**fields)

    slots: list[Any] = [cls.__dict__.get(name) for name, _, _ in converters]
    if hasattr(cls, "__post_init__") or not all(
        isinstance(slot, types.MemberDescriptorType) for slot in slots
    ):
        return _Codec(encode, construct)

    # A frozen dataclass's __init__ sets each field through object.__setattr__, which is most of
    # the cost of a decode; writing the slots directly halves it.  Only for data with exactly the
    # fields: anything else goes through the constructor, which fills in defaults or names the
    # missing or unexpected field.
    setters = tuple(
        (name, dec, slot.__set__) for (name, _, dec), slot in zip(converters, slots, strict=True)
    )
    new = object.__new__

    def decode(data: Mapping[str, Any]) -> Any:
        if len(data) != len(setters):
            return construct(data)
        obj: Any = new(cls)
        for name, dec, set_slot in setters:
            value = data[name]
            set_slot(obj, value if dec is None else dec(value))
        return obj

    return _Codec(encode, decode)


def _compiled_encoder(
    cls: type, encoders: tuple[tuple[str, _Convert | None], ...]
) -> Callable[[Any], JsonData]:
    """``{field: value-or-converted}`` as one dict display: a batch encodes thousands of events,
    and attribute loads in compiled code cost a fraction of a loop over ``getattr``."""
    env: dict[str, Any] = {}
    items = []
    for i, (name, enc) in enumerate(encoders):
        if not name.isidentifier():  # pragma: no cover - dataclass fields always are
            raise TypeError(f"{cls.__name__}.{name} is not a field name")
        if enc is None:
            items.append(f"{name!r}: obj.{name}")
        else:
            env[f"_e{i}"] = enc
            items.append(f"{name!r}: _e{i}(obj.{name})")
    source = "def encode(obj):\n    return {" + ", ".join(items) + "}\n"
    exec(compile(source, f"<encode {cls.__name__}>", "exec"), env)  # noqa: S102 - field names only
    encode: Callable[[Any], JsonData] = env["encode"]
    return encode


def _converters(hint: Any) -> tuple[_Convert | None, _Convert | None]:
    """``(encode, decode)`` for a field type; ``None`` where the JSON value is the value."""
    if hint in (str, int, bool):
        return None, None
    if hint is date:
        return date.isoformat, date.fromisoformat
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union) and len(args) == 2 and type(None) in args:
        return _optional(*_converters(next(a for a in args if a is not type(None))))
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return _sequence(*_converters(args[0]))
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        nested = _codec(hint)
        return nested.encode, nested.decode
    raise TypeError(f"the event codec has no converter for {hint!r}")


def _optional(
    enc: _Convert | None, dec: _Convert | None
) -> tuple[_Convert | None, _Convert | None]:
    def maybe(convert: _Convert | None) -> _Convert | None:
        if convert is None:
            return None
        inner = convert
        return lambda value: None if value is None else inner(value)

    return maybe(enc), maybe(dec)


def _sequence(enc: _Convert | None, dec: _Convert | None) -> tuple[_Convert, _Convert]:
    def encode(values: Any) -> list[Any]:
        return list(values) if enc is None else [enc(v) for v in values]

    def decode(values: Any) -> tuple[Any, ...]:
        return tuple(values) if dec is None else tuple(dec(v) for v in values)

    return encode, decode
