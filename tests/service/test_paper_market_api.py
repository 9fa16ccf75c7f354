"""The paper market through the API: the operator's price endpoint (paper only), a resting limit
filling when the price crosses it, and /health saying what opens the market."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from adapters.memory import InMemoryEventBus
from adapters.paper import PaperExchange
from apps.bootstrap import build
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

    assert (unknown.status_code, unknown.json()["code"]) == (404, "NOT_FOUND")
    assert (stringly.status_code, stringly.json()["code"]) == (400, "INVALID_REQUEST")
    assert negative.status_code == 400  # the amount's own rule answers (INVALID_ORDER, as for an order's price)
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
