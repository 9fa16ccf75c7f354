"""`start_paper_engine`: the engine in one process hands its events to listeners and keeps no outbox."""

from __future__ import annotations

from decimal import Decimal

from adapters.inprocess import start_paper_engine
from trading_core import Event, OrderRequest


async def test_events_go_to_listeners_and_nothing_piles_up_in_an_outbox() -> None:
    engine, exchange = await start_paper_engine()
    exchange.set_price("AAPL", Decimal("190.00"))
    heard: list[Event] = []
    engine.subscribe(heard.append)

    for side in ("buy", "sell", "buy"):
        await engine.submit(OrderRequest.create(symbol="AAPL", side=side, type="market", quantity=2))

    assert [e.TYPE for e in heard] == [
        *("trade.order.submitted", "trade.order.filled", "trade.position.opened"),
        *("trade.order.submitted", "trade.order.filled", "trade.position.closed"),
        *("trade.order.submitted", "trade.order.filled", "trade.position.opened"),
    ]
    async with engine.store.claim_outbox(limit=100) as batch:
        assert batch.messages == []
    assert (await engine.get_position("AAPL")).quantity == 2
