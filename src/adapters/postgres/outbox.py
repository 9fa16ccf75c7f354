"""The outbox table: events written with their change, claimed by relays with SKIP LOCKED.

Payloads are JSON with exact numbers: a Decimal is written as a JSON number with all its digits
(msgspec's `decimal_format="number"`) and read back as a Decimal (`float_hook=Decimal`), so no
float is ever made on the way. JSONB keeps the digits and trailing zeros of a number (it may write
`1E+2` as `100`, the same value).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

import msgspec
import psycopg

from adapters.outbox import ClaimedBatch, OutboxMessage, PayloadOf
from adapters.postgres.errors import translated
from trading_core.errors import StoreError
from trading_core.events import Event
from trading_core.values import EventId

INSERT_EVENT: Final = "INSERT INTO trading.outbox (event_id, type, occurred_at, payload) VALUES (%s, %s, %s, %s::jsonb)"
CLAIM: Final = (
    "SELECT event_id::text, type, occurred_at, payload::text FROM trading.outbox"
    " WHERE sent_at IS NULL ORDER BY seq LIMIT %s FOR UPDATE SKIP LOCKED"
)
MARK_SENT: Final = "UPDATE trading.outbox SET sent_at = NOW() WHERE event_id = ANY(%s::uuid[]) AND sent_at IS NULL"


def _plain(value: Any) -> Any:
    """Identifiers are str subclasses (OrderId, Symbol): written as the strings they are."""
    if isinstance(value, str):
        return str(value)
    raise NotImplementedError(f"{type(value).__name__} is not JSON-ready")


_encoder: Final = msgspec.json.Encoder(decimal_format="number", enc_hook=_plain)
_decoder: Final = msgspec.json.Decoder(float_hook=Decimal)


def encode_payload(payload: Mapping[str, Any]) -> str:
    """JSON text for the payload column, Decimals written as exact JSON numbers."""
    try:
        return _encoder.encode(payload if isinstance(payload, dict) else dict(payload)).decode()
    except (TypeError, msgspec.EncodeError) as e:
        raise StoreError(f"event payload is not JSON-ready: {e}") from e


def decode_payload(text: str) -> Mapping[str, Any]:
    payload = _decoder.decode(text)
    if not isinstance(payload, dict):
        raise StoreError(f"outbox payload is not a JSON object, was {type(payload).__name__}")
    return payload


def event_params(event: Event, payload_of: PayloadOf) -> tuple[Any, ...]:
    if event.ts_event.tzinfo is None:
        raise StoreError(f"event {event.event_id} has a naive ts_event", details={"eventId": event.event_id})
    return (event.event_id, event.TYPE, event.ts_event, encode_payload(payload_of(event)))


class PostgresOutboxBatch(ClaimedBatch):
    """Rows claimed by one relay, locked in a transaction kept open until the batch is left.

    `mark_sent` records acknowledged rows in that transaction; leaving the batch commits the
    marks and releases the rows not marked, which the next claim (by any relay) sends again.
    """

    def __init__(self, conn: psycopg.AsyncConnection[Any], messages: list[OutboxMessage]) -> None:
        super().__init__(messages)
        self._conn = conn

    async def mark_sent(self, event_ids: Sequence[EventId]) -> None:
        """Record that the bus acknowledged these messages; they will not be claimed again."""
        self.check_marks(event_ids)
        if event_ids:
            with translated():
                await self._conn.execute(MARK_SENT, (list(event_ids),))


async def claim(conn: psycopg.AsyncConnection[Any], limit: int) -> PostgresOutboxBatch:
    """Lock and read the oldest unsent rows that no other relay holds (in the open transaction)."""
    with translated():
        cursor = await conn.execute(CLAIM, (limit,))
        rows = await cursor.fetchall()
    messages = [
        OutboxMessage(EventId(event_id), type_, occurred_at, decode_payload(payload))
        for event_id, type_, occurred_at, payload in rows
    ]
    return PostgresOutboxBatch(conn, messages)
