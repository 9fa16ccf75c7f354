"""What only the in-memory store promises: payloads are built lazily, once, only for a relay."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.memory import InMemoryOrderStore
from tests.contract.builders import new_order, payload_of, submitted
from trading_core.events import Event


class CountingCodec:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, event: Event) -> Mapping[str, Any]:
        self.calls += 1
        return payload_of(event)


async def test_a_payload_is_built_only_when_a_relay_reads_it_and_only_once() -> None:
    codec = CountingCodec()
    store = InMemoryOrderStore(payload_of=codec)
    order = new_order()
    event = submitted(order)
    async with store.unit_of_work() as uow:
        await uow.add_order(order)
        await uow.add_events([event])
        await uow.commit()
    after_commit = codec.calls

    async with store.claim_outbox() as batch:
        (message,) = batch.messages
        header = (message.event_id, message.type, message.occurred_at)
        after_header = codec.calls
        first = message.payload
    async with store.claim_outbox() as batch:  # not marked sent: claimed again
        second = batch.messages[0].payload

    assert after_commit == 0
    assert header == (event.event_id, "trade.order.submitted", event.ts_event)
    assert after_header == 0
    assert first == second == payload_of(event)
    assert codec.calls == 1


async def test_a_rolled_back_unit_never_builds_a_payload() -> None:
    codec = CountingCodec()
    store = InMemoryOrderStore(payload_of=codec)

    async with store.unit_of_work() as uow:
        await uow.add_events([submitted(new_order())])

    async with store.claim_outbox() as batch:
        assert batch.messages == []
    assert codec.calls == 0
