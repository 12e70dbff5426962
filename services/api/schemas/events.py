"""Events as `GET /v1/events` answers them, typed per event type (a union on ``event_type``).

The models are read off the domain's event dataclasses, so the spec cannot drift from what is
recorded: each field keeps its type, money (``ledger.public_events.MONEY_FIELDS``) becomes a
kronor string, a date ISO text, a nested record (decision, area, release) its own object.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import date, datetime
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, WithJsonSchema, create_model

from ledger.domain.events import EVENT_TYPES
from ledger.public_events import MONEY_FIELDS, public_event
from ledger.store import StoredEvent

PublicMoney = Annotated[
    str,
    WithJsonSchema({"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{2}$", "examples": ["0.00"]}),
]


class _Public(BaseModel):
    model_config = ConfigDict(frozen=True)


_RECORDS: dict[type, type[BaseModel]] = {}


def _field_type(name: str, hint: Any) -> Any:
    if hint is int and name in MONEY_FIELDS:
        return PublicMoney
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, Union):
        options = tuple(_field_type(name, a) for a in typing.get_args(hint))
        return Union[options]  # noqa: UP007 - built from a runtime tuple
    if origin is tuple:
        return list[_field_type(name, typing.get_args(hint)[0])]  # type: ignore[misc]
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _record(hint)
    return hint


def _record(cls: type) -> type[BaseModel]:
    """A nested record (Decision, AreaSpec, Release, ...) as a model of its own, built once."""
    if cls not in _RECORDS:
        _RECORDS[cls] = create_model(f"{cls.__name__}Data", __base__=_Public, **_fields(cls))
    return _RECORDS[cls]


def _fields(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: (_field_type(f.name, hints[f.name]), ...) for f in dataclasses.fields(cls)}


def _doc(cls: type, event_type: str) -> str:
    doc = (cls.__doc__ or "").strip()
    # a dataclass without a docstring gets its signature as one: not for readers of the spec
    return doc if doc and not doc.startswith(f"{cls.__name__}(") else f"A {event_type} event."


def _event_model(event_type: str, cls: type) -> type[BaseModel]:
    return create_model(
        f"{event_type}Event",
        __base__=_Public,
        __doc__=_doc(cls, event_type),
        position=(int, ...),
        stream_id=(str, ...),
        stream_version=(int, ...),
        event_type=(Literal[event_type], ...),  # type: ignore[arg-type]
        schema_version=(int, ...),
        data=(_record(cls), ...),
        meta=(dict[str, Any], ...),
        effective_date=(date | None, ...),
        recorded_at=(datetime, ...),
        prev_hash=(str, ...),
        hash=(str, ...),
    )


EVENT_MODELS = tuple(_event_model(t, cls) for t, cls in EVENT_TYPES.items())
EventOut = Annotated[Union[EVENT_MODELS], Field(discriminator="event_type")]  # type: ignore[valid-type]  # noqa: UP007
_EVENT = TypeAdapter(EventOut)


def event_out(e: StoredEvent) -> Any:
    """The typed public event: ``public_event`` (the relay's shape too), validated once."""
    return _EVENT.validate_python(public_event(e))


def event_json(e: StoredEvent) -> bytes:
    """The event serialized exactly as an answer of ``GET /v1/events`` carries it (the relay)."""
    return _EVENT.dump_json(event_out(e), by_alias=True)
