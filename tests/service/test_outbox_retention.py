"""Published events are pruned from the outbox after `database.outboxRetention`; 0 keeps them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from adapters.codec import event_payload
from adapters.memory import InMemoryEventBus, InMemoryOrderStore
from adapters.paper import PaperExchange
from apps.bootstrap import build
from apps.container import OUTBOX_PRUNE
from tests.contract.builders import new_order, submitted
from tests.service.conftest import settings_with
from trading_core.clock import SystemClock
from trading_core.relay import OutboxRelay


async def test_the_relay_prunes_in_batches_until_nothing_old_is_left() -> None:
    store = InMemoryOrderStore(payload_of=event_payload)
    relay = OutboxRelay(store, InMemoryEventBus())
    events = [submitted(new_order()) for _ in range(25)]
    await store.add_orders([], events)
    assert await relay.flush() == 25

    assert await relay.prune(datetime.now(UTC) - timedelta(hours=1), batch=10) == 0
    assert await relay.prune(datetime.now(UTC) + timedelta(minutes=1), batch=10) == 25
    assert not store.tables.event_ids


async def test_the_service_runs_the_prune_job_only_when_a_retention_is_set() -> None:
    for retention, running in (("168", True), ("0", False)):
        container = build(
            settings_with(TRADING_ENGINE_DATABASE_OUTBOX_RETENTION=retention),
            store=InMemoryOrderStore(payload_of=event_payload),
            broker=PaperExchange(SystemClock()),
            bus=InMemoryEventBus(),
        )
        await container.open()
        try:
            assert container.background.is_running(OUTBOX_PRUNE) is running
        finally:
            await container.close()
