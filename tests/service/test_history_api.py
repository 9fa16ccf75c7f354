"""The history over HTTP: fills, closed positions and the portfolio's value over time (issue #19)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from adapters.memory import InMemoryEventBus
from adapters.paper import PaperExchange
from apps.service.app import create_app
from tests.service.conftest import container_for, settings_with

Client = AsyncTestClient[Any]
TREND = "0190a0e0-0000-7000-8000-000000000001"


async def trade(api: Client, side: str, quantity: int, **fields: Any) -> dict[str, Any]:
    body = {"symbol": "AAPL", "side": side, "quantity": quantity, "type": "market", **fields}
    response = await api.post("/api/v1/orders", json=body)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def round_trips(api: Client, exchange: PaperExchange) -> None:
    """Two round trips in AAPL, -370.00 then -260.00, the first of strategy TREND."""
    exchange.set_price("AAPL", Decimal("50.00"))
    await trade(api, "buy", 100, strategyId=TREND)
    exchange.set_price("AAPL", Decimal("46.30"))
    await trade(api, "sell", 100, strategyId=TREND)
    exchange.set_price("AAPL", Decimal("50.00"))
    await trade(api, "buy", 100)
    exchange.set_price("AAPL", Decimal("47.40"))
    await trade(api, "sell", 100)


async def test_fills_are_listed_newest_first_filtered_and_paged(api: Client, exchange: PaperExchange) -> None:
    await round_trips(api, exchange)

    every = (await api.get("/api/v1/fills")).json()
    assert [(f["side"], f["price"], f["realizedPnl"]) for f in every["fills"]] == [
        ("sell", 47.4, -260),
        ("buy", 50, 0),
        ("sell", 46.3, -370),
        ("buy", 50, 0),
    ]
    assert "nextCursor" not in every
    trend = (await api.get("/api/v1/fills", params={"strategyId": TREND, "side": "sell"})).json()
    assert [f["realizedPnl"] for f in trend["fills"]] == [-370]

    first = (await api.get("/api/v1/fills", params={"limit": 3})).json()
    rest = (await api.get("/api/v1/fills", params={"limit": 3, "after": first["nextCursor"]})).json()
    assert [f["executionId"] for f in first["fills"] + rest["fills"]] == [f["executionId"] for f in every["fills"]]


async def test_orders_are_listed_by_strategy_and_time(api: Client, exchange: PaperExchange) -> None:
    await round_trips(api, exchange)
    every = (await api.get("/api/v1/orders", params={"status": "all"})).json()["orders"]

    trend = (await api.get("/api/v1/orders", params={"status": "all", "strategyId": TREND})).json()["orders"]
    assert [o["orderId"] for o in trend] == [o["orderId"] for o in every[2:]]
    until = every[1]["createdAt"]
    before = (await api.get("/api/v1/orders", params={"status": "all", "until": until})).json()["orders"]
    assert [o["orderId"] for o in before] == [o["orderId"] for o in every[2:]]
    assert (await api.get("/api/v1/orders", params={"symbol": "MSFT", "status": "all"})).json()["orders"] == []


async def test_closed_positions_show_what_each_realized(api: Client, exchange: PaperExchange) -> None:
    await round_trips(api, exchange)

    body = (await api.get("/api/v1/positions/history")).json()
    assert [(p["symbol"], p["side"], p["realizedPnl"]) for p in body["positions"]] == [
        ("AAPL", "long", -260),
        ("AAPL", "long", -370),
    ]
    assert body["positions"][0]["openedAt"] <= body["positions"][0]["closedAt"]
    one = (await api.get("/api/v1/positions/history", params={"limit": 1})).json()
    older = (await api.get("/api/v1/positions/history", params={"limit": 1, "after": one["nextCursor"]})).json()
    assert [p["realizedPnl"] for p in older["positions"]] == [-370]


async def test_the_account_history_has_a_snapshot_at_each_fill(api: Client, exchange: PaperExchange) -> None:
    await round_trips(api, exchange)

    every = (await api.get("/api/v1/account/history", params={"timeframe": "all"})).json()
    assert every["timeframe"] == "all"
    figures = [(s["realizedPnl"], s["exposure"]) for s in every["snapshots"]]
    assert figures == [(0, 5000), (-370, 0), (-370, 5000), (-630, 0)]
    account = (await api.get("/api/v1/account")).json()
    assert every["snapshots"][-1]["equity"] == account["equity"]
    daily = (await api.get("/api/v1/account/history", params={"timeframe": "1D"})).json()
    assert daily["snapshots"] == every["snapshots"][-1:]


@pytest.mark.parametrize(
    ("path", "params", "code", "field"),
    [
        ("/api/v1/fills", {"since": "2026-03-02T15:00:00"}, "INVALID_PARAMETER", "since"),
        ("/api/v1/fills", {"until": "0.5"}, "INVALID_PARAMETER", "until"),
        ("/api/v1/fills", {"strategyId": "trend"}, "INVALID_PARAMETER", "strategyId"),
        ("/api/v1/fills", {"after": "0" * 47}, "INVALID_CURSOR", "after"),
        ("/api/v1/orders", {"until": "2026-03-02T15:00:00", "status": "all"}, "INVALID_PARAMETER", "until"),
        ("/api/v1/positions/history", {"after": "zz"}, "INVALID_CURSOR", "after"),
        ("/api/v1/account/history", {"timeframe": "2H"}, "INVALID_PARAMETER", "timeframe"),
    ],
)
async def test_bad_queries_are_refused_with_their_field(
    api: Client, path: str, params: dict[str, str], code: str, field: str
) -> None:
    response = await api.get(path, params=params)
    assert response.status_code == 400
    assert (response.json()["code"], response.json()["details"]["field"]) == (code, field)


@pytest.fixture
async def snapshotting(exchange: PaperExchange) -> AsyncIterator[Client]:
    settings = settings_with(TRADING_ENGINE_SYNC_SNAPSHOT_INTERVAL="50")
    app = create_app(container_for(settings, exchange, InMemoryEventBus()))
    async with AsyncTestClient(app) as client:
        yield client


async def test_snapshots_are_taken_on_the_configured_interval(snapshotting: Client) -> None:
    await asyncio.sleep(0.4)
    body = (await snapshotting.get("/api/v1/account/history", params={"timeframe": "all"})).json()
    assert len(body["snapshots"]) >= 3  # every 50 ms, with no fill at all
    assert {s["equity"] for s in body["snapshots"]} == {100_000}
