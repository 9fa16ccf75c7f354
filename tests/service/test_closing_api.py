"""Closing positions over HTTP, on PostgreSQL and the paper exchange: one close at a time per symbol.

The store is PostgreSQL so that concurrent requests really interleave (every store call waits on
a socket), as they do in the running service. Requests go through httpx's ASGI transport, which
runs them concurrently in the test's event loop (Litestar's test client handles one at a time);
the test client only runs the app's lifespan.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from adapters.codec import event_payload
from adapters.memory import InMemoryEventBus
from adapters.paper import PaperExchange
from adapters.postgres import PostgresOrderStore
from apps.bootstrap import build
from apps.config import Settings
from apps.service.app import create_app
from tests.service.conftest import settings_with
from trading_core.clock import SystemClock

Client = httpx.AsyncClient
FIVE = ("AAPL", "AMZN", "KO", "MSFT", "NVDA")


@pytest.fixture
def settings() -> Settings:
    # Positions up to the whole equity, so that the tests' positions meet no sizing limit.
    return settings_with(
        TRADING_ENGINE_RISK_MAX_POSITION_SIZE_PERCENT="100",
        TRADING_ENGINE_RISK_MAX_SECTOR_EXPOSURE_PERCENT="100",
    )


@pytest.fixture
async def api(settings: Settings, exchange: PaperExchange, postgres_url: str) -> AsyncIterator[Client]:
    store = await PostgresOrderStore.open(postgres_url, payload_of=event_payload)
    container = build(settings, store=store, broker=exchange, bus=InMemoryEventBus(), clock=SystemClock())
    try:
        app = create_app(container)
        async with (
            AsyncTestClient(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client,
        ):
            yield client
    finally:
        await store.close()


async def submit(api: Client, symbol: str, side: str, quantity: int, **fields: Any) -> Any:
    body = {"symbol": symbol, "side": side, "quantity": quantity, "type": "market", **fields}
    response = await api.post("/api/v1/orders", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def all_orders(api: Client) -> list[dict[str, Any]]:
    return list((await api.get("/api/v1/orders", params={"status": "all", "limit": 500})).json()["orders"])


async def held_at_broker(exchange: PaperExchange) -> dict[str, Decimal]:
    return {str(p.symbol): p.quantity for p in await exchange.list_positions()}


async def test_a_close_cancels_our_resting_stop_that_holds_part_of_the_position(
    api: Client, exchange: PaperExchange
) -> None:
    """Long 6 with a stop sell for 1 resting: the close cancels the stop, then sells all 6."""
    await submit(api, "KO", "buy", 6)
    stop = await submit(api, "KO", "sell", 1, type="stop", stopPrice=50, timeInForce="gtc")

    closed = await api.delete("/api/v1/positions/KO")

    assert closed.status_code == 200, closed.text
    assert (await api.get(f"/api/v1/orders/{stop['orderId']}")).json()["status"] == "cancelled"
    close = (await api.get(f"/api/v1/orders/{closed.json()['orderId']}")).json()
    assert (close["side"], close["quantity"], close["status"]) == ("sell", 6, "filled")
    assert await held_at_broker(exchange) == {}
    assert [o for o in await all_orders(api) if o["status"] == "rejected"] == []


async def test_two_concurrent_closes_of_one_position_send_one_sell_between_them(
    api: Client, exchange: PaperExchange
) -> None:
    await submit(api, "AAPL", "buy", 4)

    first, second = await asyncio.gather(api.delete("/api/v1/positions/AAPL"), api.delete("/api/v1/positions/AAPL"))

    sells = [o for o in await all_orders(api) if o["side"] == "sell"]
    assert [(o["quantity"], o["status"]) for o in sells] == [(4, "filled")]
    assert await held_at_broker(exchange) == {}
    # The close that came first sent the sell; the other found the position flat by its turn.
    assert sorted([first.status_code, second.status_code]) == [200, 404]
    answered = first if first.status_code == 200 else second
    assert answered.json()["orderId"] == sells[0]["orderId"]


async def test_three_concurrent_close_alls_leave_every_symbol_flat(api: Client, exchange: PaperExchange) -> None:
    for symbol in FIVE:
        await submit(api, symbol, "buy", 4)

    answers = await asyncio.gather(*(api.delete("/api/v1/positions") for _ in range(3)))

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert await held_at_broker(exchange) == {}
    sells = [o for o in await all_orders(api) if o["side"] == "sell"]
    assert sorted((o["symbol"], o["quantity"]) for o in sells) == [(s, 4) for s in FIVE]
    assert {i for a in answers for i in a.json()["orderIds"]} == {o["orderId"] for o in sells}


async def test_a_close_passes_in_reducing_only_state_after_cancelling_the_stop(
    api: Client, exchange: PaperExchange
) -> None:
    """After a daily-loss breach, closing a long with a stop sell resting is not refused as DAILY_LOSS_LIMIT."""
    await submit(api, "AAPL", "buy", 50)
    exchange.set_price("AAPL", Decimal(120))  # 3,500 lost on 100,000: over the 3 % limit
    stop = await submit(api, "AAPL", "sell", 1, type="stop", stopPrice=100, timeInForce="gtc")
    refused = await api.post("/api/v1/orders", json={"symbol": "MSFT", "side": "buy", "quantity": 1, "type": "market"})
    assert refused.json()["code"] == "DAILY_LOSS_LIMIT"

    closed = await api.delete("/api/v1/positions/AAPL")

    assert closed.status_code == 200, closed.text
    assert (await api.get("/api/v1/orders/" + stop["orderId"])).json()["status"] == "cancelled"
    assert await held_at_broker(exchange) == {}
    assert (await api.get("/api/v1/risk")).json()["tradingState"] == "reducing_only"
