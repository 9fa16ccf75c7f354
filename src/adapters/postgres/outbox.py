"""The outbox table: events written with their change, claimed by relays with SKIP LOCKED.

Payloads are JSON with exact numbers: a Decimal is written as a JSON number with all its digits
(msgspec's `decimal_format="number"`) and read back as a Decimal (`float_hook=Decimal`), so no
float is ever made on the way. JSONB keeps the digits and trailing zeros of a number (it may write
`1E+2` as `100`, the same value).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

import msgspec
import psycopg

from adapters.outbox import ClaimedBatch, PayloadOf
from adapters.postgres.errors import translated
from trading_core.errors import StoreError
from trading_core.events import Event
from trading_core.values import EventId

INSERT_EVENT: Final = "INSERT INTO trading.outbox (event_id, type, occurred_at, payload) VALUES (%s, %s, %s, %s::jsonb)"
INSERT_EVENTS: Final = (
    "INSERT INTO trading.outbox (event_id, type, occurred_at, payload)"
    " SELECT e.event_id, e.type, e.occurred_at, e.payload"
    " FROM jsonb_to_recordset(%s::jsonb) AS e(event_id uuid, type text, occurred_at timestamptz, payload jsonb)"
)
"""Any number of events in one statement of one parameter (`encode_events`); rows come in array order,
which is the order `seq` numbers them in. A payload is the same JSONB as `INSERT_EVENT` writes."""
CLAIM: Final = (
    "SELECT event_id::text, type, occurred_at, payload::text FROM trading.outbox"
    " WHERE sent_at IS NULL ORDER BY seq LIMIT %s FOR UPDATE SKIP LOCKED"
)
PRUNE: Final = (
    "DELETE FROM trading.outbox WHERE seq IN (SELECT seq FROM trading.outbox WHERE sent_at < %s ORDER BY seq LIMIT %s)"
)
"""The oldest sent rows first: the walk of the seq index from its start meets them before any other."""
MARK_SENT: Final = "UPDATE trading.outbox SET sent_at = NOW() WHERE event_id = ANY(%s::uuid[]) AND sent_at IS NULL"
MARKS_NEED_NO_FLUSH: Final = "SET LOCAL synchronous_commit TO OFF"
"""A relay's marks commit without waiting for the WAL to reach the disk: a mark a crash loses only
has its events sent again, which the bus drops by event id. The relay runs a claim per change
committed, so a flush each would make it the bottleneck."""


def _plain(value: Any) -> Any:
    """Identifiers are str subclasses (OrderId, Symbol): written as the strings they are."""
    if isinstance(value, str):
        return str(value)
    raise NotImplementedError(f"{type(value).__name__} is not JSON-ready")


_encoder: Final = msgspec.json.Encoder(decimal_format="number", enc_hook=_plain)
_decoder: Final = msgspec.json.Decoder(float_hook=Decimal)


def encode_payload(payload: Mapping[str, Any]) -> str:
    """JSON text for the payload column, Decimals written as exact JSON numbers.

    Raises:
        StoreError: the payload is not JSON-ready.
    """
    try:
        return _encoder.encode(_dict(payload)).decode()
    except (TypeError, msgspec.EncodeError) as e:
        raise StoreError(f"event payload is not JSON-ready: {e}") from e


def decode_payload(text: str) -> Mapping[str, Any]:
    """The stored payload of an outbox message.

    Raises:
        StoreError: it is not a JSON object.
    """
    payload = _decoder.decode(text)
    if not isinstance(payload, dict):
        raise StoreError(f"outbox payload is not a JSON object, was {type(payload).__name__}")
    return payload


def event_params(event: Event, payload_of: PayloadOf) -> tuple[Any, ...]:
    """`INSERT_EVENT`'s parameters."""
    return (event.event_id, event.TYPE, _aware(event), encode_payload(payload_of(event)))


def encode_events(events: Sequence[Event], payload_of: PayloadOf) -> str:
    """`INSERT_EVENTS`' parameter: the events as one JSON array, in order.

    Raises:
        StoreError: a payload is not JSON-ready.
    """
    records = [
        {"event_id": str(e.event_id), "type": e.TYPE, "occurred_at": _aware(e), "payload": _dict(payload_of(e))}
        for e in events
    ]
    try:
        return _encoder.encode(records).decode()
    except (TypeError, msgspec.EncodeError) as e:
        raise StoreError(f"event payload is not JSON-ready: {e}") from e


def _dict(payload: Mapping[str, Any]) -> dict[str, Any]:
    return payload if isinstance(payload, dict) else dict(payload)


def _aware(event: Event) -> datetime:
    if event.ts_event.tzinfo is None:
        raise StoreError(f"event {event.event_id} has a naive ts_event", details={"eventId": event.event_id})
    return event.ts_event


class StoredOutboxMessage:
    """An outbox row as claimed: its payload's JSON is decoded on first access, then kept.

    A bus that forwards messages without reading their payloads (the in-process one) never
    pays for the decoding; one that reads them pays once, as before.
    """

    __slots__ = ("_payload", "_text", "event_id", "occurred_at", "type")

    def __init__(self, event_id: EventId, type_: str, occurred_at: datetime, text: str) -> None:
        self.event_id = event_id
        self.type = type_
        self.occurred_at = occurred_at
        self._text = text
        self._payload: Mapping[str, Any] | None = None

    @property
    def payload(self) -> Mapping[str, Any]:
        """The event's payload, decoded when first read."""
        if self._payload is None:
            self._payload = decode_payload(self._text)
        return self._payload

    def __repr__(self) -> str:
        return f"StoredOutboxMessage({self.type!r}, {self.event_id!r})"


class PostgresOutboxBatch(ClaimedBatch):
    """Rows claimed by one relay, locked in a transaction kept open until the batch is left.

    `mark_sent` records acknowledged rows in that transaction; leaving the batch commits the
    marks and releases the rows not marked, which the next claim (by any relay) sends again.
    """

    def __init__(self, conn: psycopg.AsyncConnection[Any], messages: list[StoredOutboxMessage]) -> None:
        super().__init__(messages)
        self._conn = conn

    async def mark_sent(self, event_ids: Sequence[EventId]) -> None:
        """Record that the bus acknowledged these messages; they will not be claimed again."""
        self.check_marks(event_ids)
        if event_ids:
            with translated():
                await self._conn.execute(MARKS_NEED_NO_FLUSH)
                await self._conn.execute(MARK_SENT, (list(event_ids),))


async def claim(conn: psycopg.AsyncConnection[Any], limit: int) -> PostgresOutboxBatch:
    """Lock and read the oldest unsent rows that no other relay holds (in the open transaction)."""
    with translated():
        cursor = await conn.execute(CLAIM, (limit,))
        rows = await cursor.fetchall()
    messages = [StoredOutboxMessage(EventId(event_id), type_, at, text) for event_id, type_, at, text in rows]
    return PostgresOutboxBatch(conn, messages)
