"""The outbox relay: publishes committed events in commit order, each marked sent once acknowledged."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

from trading_core.errors import EventBusError
from trading_core.ports import EventBus, OrderStore
from trading_core.values import EventId

log = logging.getLogger("trading_core.relay")


class OutboxRelay:
    """Moves events from the store's outbox to the bus.

    A batch is published in order and stops at the first failure, so a later event never
    overtakes an earlier one; what was acknowledged is marked sent, the rest stays for the next
    round. The bus deduplicates on event id, so a crash between publish and mark costs nothing.
    `wake()` says events were committed: a waiting `run` relays them at once rather than at its
    next look.
    """

    def __init__(self, store: OrderStore, bus: EventBus, *, batch_size: int = 200) -> None:
        self._store = store
        self._bus = bus
        self._batch_size = batch_size
        self._woken = asyncio.Event()
        self.published = 0
        self.last_error: str | None = None

    def wake(self) -> None:
        """Events were committed to the outbox: relay them now (a plain call, for `engine.subscribe`)."""
        self._woken.set()

    async def relay_once(self) -> int:
        """Publish one batch; returns how many events went out."""
        sent: list[EventId] = []
        async with self._store.claim_outbox(self._batch_size) as batch:
            try:
                for message in batch.messages:
                    await self._bus.publish(message)
                    sent.append(message.event_id)
            except EventBusError as e:
                self.last_error = str(e)
                log.warning("event bus unavailable after %d of %d events: %s", len(sent), len(batch.messages), e)
            if sent:
                await batch.mark_sent(sent)
        if sent:
            self.last_error = None
        self.published += len(sent)
        return len(sent)

    async def prune(self, sent_before: datetime, *, batch: int = 10_000) -> int:
        """Forget every event the bus acknowledged before `sent_before`, a batch at a time."""
        total = 0
        while True:
            pruned = await self._store.prune_outbox(sent_before, batch)
            total += pruned
            if pruned < batch:
                return total

    async def flush(self) -> int:
        """Publish until the outbox is empty or the bus fails; returns how many went out."""
        total = 0
        while True:
            count = await self.relay_once()
            total += count
            if count < self._batch_size:
                return total

    async def run(self, *, idle_seconds: float = 0.1, max_backoff_seconds: float = 10.0) -> None:
        """Relay until cancelled, backing off while the bus is down.

        With nothing to relay it looks again after `idle_seconds`, or as soon as `wake()` is called
        (events another process wrote wait for the look); while the bus is down, only the backoff.
        """
        backoff = idle_seconds
        while True:
            self._woken.clear()  # what is committed from here on wakes the wait below
            count = await self.flush()
            if self.last_error is None:
                backoff = idle_seconds
                if count:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._woken.wait(), idle_seconds)
                continue
            backoff = min(backoff * 2, max_backoff_seconds)
            await asyncio.sleep(backoff)
