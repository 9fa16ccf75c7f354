"""Outbox messages as the stores hand them to a relay, and how a store turns an event into one.

The stores do not know the wire format: each takes `payload_of`, which turns a domain event into
its JSON-ready payload (the codec's job), and calls it only when a payload is needed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from trading_core.errors import StoreError
from trading_core.events import Event
from trading_core.ports import EventMessage
from trading_core.values import EventId

PayloadOf = Callable[[Event], Mapping[str, Any]]
"""Turns a domain event into its JSON-ready payload (Decimals stay Decimals)."""


@attrs.frozen
class OutboxMessage:
    """An outbox row as read back from a database."""

    event_id: EventId
    type: str
    occurred_at: datetime
    payload: Mapping[str, Any]


class LazyOutboxMessage:
    """An event waiting in memory; its payload is built on first access, then kept.

    `event_id` is copied into a slot: the relay, the claim and the bus read it several times per
    message, and a slot is read for a tenth of an event's field. `type` and `occurred_at` are read
    from the event when asked: at most once per message (a subject, a payload), and not at all
    by the in-memory bus without subscribers.
    """

    __slots__ = ("_payload", "_payload_of", "event", "event_id")

    def __init__(self, event: Event, payload_of: PayloadOf) -> None:
        self.event = event
        self.event_id: EventId = event.event_id
        self._payload_of = payload_of
        self._payload: Mapping[str, Any] | None = None

    @property
    def type(self) -> str:
        return self.event.TYPE

    @property
    def occurred_at(self) -> datetime:
        return self.event.ts_event

    @property
    def payload(self) -> Mapping[str, Any]:
        if self._payload is None:
            self._payload = self._payload_of(self.event)
        return self._payload

    def __repr__(self) -> str:
        return f"LazyOutboxMessage({self.type!r}, {self.event_id!r})"


class ClaimedBatch:
    """What every store's outbox batch shares: its messages, and which ids it may mark sent."""

    def __init__(self, messages: Sequence[EventMessage]) -> None:
        self._messages = messages
        self.ids = frozenset(m.event_id for m in messages)
        self.closed = False

    @property
    def messages(self) -> Sequence[EventMessage]:
        return self._messages

    def check_marks(self, event_ids: Sequence[EventId]) -> None:
        """Refuse marks on a closed batch or on messages this batch did not claim.

        Raises:
            StoreError: the batch is closed, or did not claim every one of `event_ids`.
        """
        if self.closed:
            raise StoreError("this outbox batch is closed; claim a new one")
        if not self.ids.issuperset(event_ids):
            strangers = [e for e in event_ids if e not in self.ids]
            raise StoreError(f"events {strangers} were not claimed by this batch")
