"""The paper market through the API: the operator's price endpoint (paper only), a resting limit
filling when the price crosses it, and /health saying what opens the market."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from adapters.codec import event_payload
from adapters.memory import InMemoryEventBus
from adapters.paper import PaperExchange
from apps.bootstrap import build
from apps.container import UPDATES
from apps.service.app import create_app
from tests.service.conftest import settings_with


async def test_a_resting_buy_limit_fills_when_the_operator_moves_the_price_through_it(
    api: AsyncTestClient[Any],
) -> None:
    placed = await api.post(
        "/api/v1/orders",
        json={"symbol": "AAPL", "side": "buy", "quantity": 2, "type": "limit", "limitPrice": 180},
    )
    order_id = placed.json()["orderId"]
    assert (await api.get(f"/api/v1/orders/{order_id}")).json()["status"] == "new"

    moved = await api.put("/api/v1/paper/prices/AAPL", json={"price": 179.5})

    assert (moved.status_code, moved.json()) == (
        200,
        {"symbol": "AAPL", "price": 179.5, "previousPrice": 190},
    )
    order = (await api.get(f"/api/v1/orders/{order_id}")).json()
    assert (order["status"], order["filledQuantity"]) == ("filled", 2)
    position = (await api.get("/api/v1/positions/AAPL")).json()
    assert position["currentPrice"] == 179.5


async def test_a_price_for_an_unlisted_symbol_or_in_a_string_is_refused_and_changes_nothing(
    api: AsyncTestClient[Any], exchange: PaperExchange
) -> None:
    unknown = await api.put("/api/v1/paper/prices/ZZZZ", json={"price": 10})
    stringly = await api.put("/api/v1/paper/prices/AAPL", json={"price": "10"})
    negative = await api.put("/api/v1/paper/prices/AAPL", json={"price": -1})
    zero = await api.put("/api/v1/paper/prices/AAPL", json={"price": 0})

    assert (unknown.status_code, unknown.json()["code"]) == (404, "NOT_FOUND")
    assert (stringly.status_code, stringly.json()["code"]) == (400, "INVALID_REQUEST")
    for refused in (negative, zero):  # the amount's own rule, said as this body's error, not an order's
        assert (refused.status_code, refused.json()["code"]) == (400, "INVALID_REQUEST"), refused.text
        assert refused.json()["details"] == {"field": "price"}
        assert "price must be greater than 0" in refused.json()["message"]
    assert exchange.price("AAPL") == 190


async def test_the_endpoint_is_bearer_protected_like_the_api(exchange: PaperExchange) -> None:
    settings = settings_with(TRADING_API_TOKEN="s3cret-token-for-tests")
    from tests.service.conftest import container_for

    app = create_app(container_for(settings, exchange, InMemoryEventBus()))
    async with AsyncTestClient(app) as client:
        bare = await client.put("/api/v1/paper/prices/AAPL", json={"price": 10})
        signed = await client.put(
            "/api/v1/paper/prices/AAPL",
            json={"price": 10},
            headers={"Authorization": "Bearer s3cret-token-for-tests"},
        )

    assert (bare.status_code, signed.status_code) == (401, 200)


def test_the_endpoint_is_absent_when_the_broker_is_alpaca() -> None:
    settings = settings_with(TRADING_ENGINE_BROKER_TYPE="alpaca", ALPACA_API_KEY="key", ALPACA_SECRET_KEY="secret")
    paper = create_app(settings_with())
    alpaca = create_app(build(settings))

    assert "/api/v1/paper/prices/{symbol}" in paper.openapi_schema.paths  # type: ignore[operator]
    assert "/api/v1/paper/prices/{symbol}" not in alpaca.openapi_schema.paths  # type: ignore[operator]
    assert not any(route.path.startswith("/api/v1/paper") for route in alpaca.routes)


async def test_health_says_the_market_is_always_open_in_that_mode(api: AsyncTestClient[Any]) -> None:
    body = (await api.get("/health")).json()

    assert body["marketHours"] == "always-open"


async def test_health_names_the_nyse_calendar_when_the_exchange_follows_it() -> None:
    from adapters.calendar import NyseCalendar
    from adapters.paper import PaperConfig
    from tests.service.conftest import container_for
    from trading_core.clock import SystemClock

    exchange = PaperExchange(SystemClock(), config=PaperConfig(calendar=NyseCalendar()))
    app = create_app(container_for(settings_with(), exchange, InMemoryEventBus()))
    async with AsyncTestClient(app) as client:
        body = (await client.get("/health")).json()

    assert body["marketHours"] == "XNYS"


async def test_the_session_job_past_the_calendars_end_stops_with_one_error_instead_of_restarting(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The NYSE calendar ends with 2100: the job that follows it cannot go on, and says so once."""
    from adapters.calendar import NyseCalendar
    from adapters.memory import InMemoryOrderStore
    from adapters.paper import PaperConfig
    from trading_core.clock import TestClock

    clock = TestClock(datetime(2100, 12, 30, 15, tzinfo=UTC))
    exchange = PaperExchange(clock, config=PaperConfig(calendar=NyseCalendar()))
    clock.advance(timedelta(days=1, hours=7))  # 2100-12-31 after the close: no session is left
    container = build(
        settings_with(),
        store=InMemoryOrderStore(payload_of=event_payload),
        broker=exchange,
        bus=InMemoryEventBus(),
        clock=clock,
    )
    caplog.set_level(logging.INFO, logger="apps.background")
    await container.open()
    try:
        for _ in range(100):
            if not container.background.is_running("paper-sessions"):
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.6)  # past the first restart's backoff (0.5 s), had there been one

        stopped = [r for r in caplog.records if "paper-sessions" in r.getMessage()]
        assert not container.background.is_running("paper-sessions")
        assert container.background.restarts["paper-sessions"] == 0
        assert [(r.levelno, r.exc_info) for r in stopped] == [(logging.ERROR, None)]
        assert "no session in the year after 2100-12-31" in stopped[0].getMessage()
        assert container.background.is_running(UPDATES)  # the rest of the service goes on
    finally:
        await container.close()


async def test_in_the_pre_market_an_extended_hours_order_fills_and_a_regular_one_waits() -> None:
    from adapters.calendar import NyseCalendar
    from adapters.memory import InMemoryOrderStore
    from adapters.paper import PaperConfig
    from trading_core.clock import TestClock

    clock = TestClock(datetime(2025, 12, 1, 13, tzinfo=UTC))  # Monday, 08:00 in New York
    exchange = PaperExchange(clock, config=PaperConfig(calendar=NyseCalendar()))
    container = build(
        settings_with(),
        store=InMemoryOrderStore(payload_of=event_payload),
        broker=exchange,
        bus=InMemoryEventBus(),
        clock=clock,
    )
    body = {"symbol": "AAPL", "side": "buy", "quantity": 2, "type": "limit", "limitPrice": 191}
    async with AsyncTestClient(create_app(container)) as api:
        extended = (await api.post("/api/v1/orders", json={**body, "extendedHours": True})).json()
        regular = (await api.post("/api/v1/orders", json=body)).json()
        market = await api.post("/api/v1/orders", json={**body, "type": "market", "limitPrice": None})
        await container.engine.process_updates()
        extended_now = (await api.get(f"/api/v1/orders/{extended['orderId']}")).json()
        regular_now = (await api.get(f"/api/v1/orders/{regular['orderId']}")).json()
        position = (await api.get("/api/v1/positions/AAPL")).json()

    assert (extended_now["status"], extended_now["filledQuantity"]) == ("filled", 2)
    assert (regular_now["status"], regular_now["filledQuantity"]) == ("new", 0)  # at the broker, for 09:30
    assert position["quantity"] == 2
    assert (market.status_code, market.json()["code"]) == (422, "MARKET_CLOSED")
