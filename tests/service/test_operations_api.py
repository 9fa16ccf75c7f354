"""Health, metrics and access control."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from adapters.codec import event_payload
from adapters.memory import InMemoryEventBus, InMemoryOrderStore
from adapters.paper import PaperExchange
from apps.bootstrap import build
from apps.service.app import create_app
from tests.service import api_spec as spec
from tests.service.conftest import conforms, container_for, settings_with
from trading_core import OrderRequest, TestClock
from trading_core.orders import Order
from trading_core.values import new_client_order_id, new_order_id

Client = AsyncTestClient[Any]
TOKEN = "s3cret-token-for-tests"


async def test_health_has_the_spec_shape_and_counts(api: Client) -> None:
    await api.post("/api/v1/orders", json={"symbol": "AAPL", "side": "buy", "quantity": 1, "type": "market"})
    await api.post(
        "/api/v1/orders", json={"symbol": "MSFT", "side": "buy", "quantity": 1, "type": "limit", "limitPrice": 1}
    )

    response = await api.get("/health")

    health = conforms(response.json(), spec.HEALTH)
    assert response.status_code == 200
    assert health["status"] == "healthy"
    assert set(health["checks"].values()) == {"connected"}
    assert health["openPositions"] == 1
    assert health["pendingOrders"] == 1
    assert health["lastOrderAt"] is not None


def _sample(text: str, name: str) -> float:
    line = next(line for line in text.splitlines() if line.startswith(name + " ") or line.startswith(name + "{"))
    return float(line.rsplit(" ", 1)[1])


async def test_metrics_change_as_orders_fill(api: Client) -> None:
    before = (await api.get("/metrics")).text

    await api.post("/api/v1/orders", json={"symbol": "AAPL", "side": "buy", "quantity": 10, "type": "market"})
    after = (await api.get("/metrics")).text

    assert "trading_orders_total" not in before.split("# TYPE trading_orders_total counter")[1].split("#")[0]
    assert 'trading_orders_total{status="filled"} 1' in after
    assert 'trading_orders_total{status="submitted"} 1' in after
    assert 'trading_order_latency_ms_count{stage="submitted"} 1' in after
    assert _sample(after, "trading_positions_count") == 1
    assert _sample(after, "trading_buying_power") < _sample(before, "trading_buying_power")
    assert "trading_daily_pnl" in after
    assert 'http_requests_total{method="POST",route="/api/v1/orders",status="201"} 1' in after


async def test_metrics_are_prometheus_text(api: Client) -> None:
    response = await api.get("/metrics")

    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    for name in ("trading_orders_total", "trading_order_latency_ms", "trading_positions_count"):
        assert f"# TYPE {name} " in response.text


async def test_the_drift_metric_moves_when_the_brokers_account_differs_from_ours() -> None:
    """Someone else trades on the account: the broker's cash and buying power move, ours do not.

    The scrape reads the account when a read is due; the first read that differs is confirmed
    by a second one before the difference is counted and the broker's figures are taken.
    """
    clock = TestClock(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))
    exchange = PaperExchange(clock)
    settings = settings_with(TRADING_ENGINE_SYNC_ACCOUNT_SYNC_INTERVAL="10000")
    container = build(
        settings,
        store=InMemoryOrderStore(payload_of=event_payload),
        broker=exchange,
        bus=InMemoryEventBus(),
        clock=clock,
    )
    async with AsyncTestClient(create_app(container)) as api:
        before = (await api.get("/metrics")).text
        foreign = OrderRequest.create(symbol="MSFT", side="buy", type="market", quantity=10)
        await exchange.submit_order(
            Order.from_request(foreign, order_id=new_order_id(), client_order_id=new_client_order_id(), now=clock.now())
        )

        clock.advance(timedelta(seconds=10))
        first = (await api.get("/metrics")).text  # a read: it differs, so it is read again before it counts
        clock.advance(timedelta(seconds=2))
        second = (await api.get("/metrics")).text
        account = (await api.get("/api/v1/account")).json(parse_float=Decimal)

    assert "trading_account_drift_total{" not in before + first
    assert 'trading_account_drift_total{figure="cash"} 1' in second
    assert 'trading_account_drift_total{figure="buying_power"} 1' in second
    assert 'figure="equity"' not in second  # cash went into shares at their price
    assert _sample(second, "trading_buying_power") == float(account["buyingPower"])


@pytest.fixture
async def secured(exchange: PaperExchange, bus: InMemoryEventBus) -> AsyncIterator[Client]:
    app = create_app(container_for(settings_with(TRADING_API_TOKEN=TOKEN), exchange, bus))
    async with AsyncTestClient(app) as client:
        yield client


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", "Bearer", f"Bearer {TOKEN}x"])
async def test_with_a_token_every_api_endpoint_needs_it(secured: Client, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}

    responses = [
        await secured.get("/api/v1/account", headers=headers),
        await secured.post("/api/v1/orders", json={}, headers=headers),
        await secured.get("/schema/openapi.json", headers=headers),
    ]

    assert [r.status_code for r in responses] == [401, 401, 401]
    assert responses[0].json()["code"] == "UNAUTHORIZED"
    assert responses[0].headers["www-authenticate"].startswith("Bearer")


async def test_with_a_token_health_and_metrics_stay_open(secured: Client) -> None:
    assert (await secured.get("/health")).status_code == 200
    assert (await secured.get("/metrics")).status_code == 200


async def test_the_right_token_is_let_through(secured: Client) -> None:
    response = await secured.get("/api/v1/account", headers={"Authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 200


async def test_health_never_shows_a_secret(secured: Client) -> None:
    assert TOKEN not in (await secured.get("/health")).text
