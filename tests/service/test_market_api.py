"""Market data over HTTP: a symbol's bars of a timeframe and its snapshot, from the broker's market data."""

from __future__ import annotations

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
from tests.service.conftest import settings_with

Client = AsyncTestClient[Any]


async def test_todays_bars_and_the_snapshot_show_the_prices_traded(api: Client, exchange: PaperExchange) -> None:
    for price in ("191.10", "189.55", "190.40"):
        exchange.set_price("AAPL", Decimal(price))

    days = await api.get("/api/v1/market/AAPL/bars", params={"timeframe": "1Day"})
    minutes = await api.get("/api/v1/market/AAPL/bars")
    snapshot = await api.get("/api/v1/market/AAPL/snapshot")

    assert days.status_code == 200, days.text
    body = days.json()
    assert (body["symbol"], body["timeframe"]) == ("AAPL", "1Day")
    (bar,) = body["bars"]
    assert (bar["open"], bar["high"], bar["low"], bar["close"], bar["volume"], bar["tradeCount"]) == (
        190,
        191.1,
        189.55,
        190.4,
        400,
        4,
    )
    assert sum(b["volume"] for b in minutes.json()["bars"]) == 400
    snap = snapshot.json()
    assert (snap["latestTrade"]["price"], snap["latestQuote"]["bid"], snap["dailyBar"]["close"]) == (190.4,) * 3
    assert "previousDailyBar" not in snap


async def test_an_explicit_range_gives_the_bars_that_start_in_it(api: Client) -> None:
    now = datetime.now(UTC)
    span = {"start": (now - timedelta(days=3)).isoformat(), "end": (now - timedelta(days=2)).isoformat()}

    answer = await api.get("/api/v1/market/AAPL/bars", params={"timeframe": "1Hour", **span})

    assert (answer.status_code, answer.json()["bars"]) == (200, [])


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("/api/v1/market/NOPE/bars", {}, 404, "SYMBOL_NOT_FOUND"),
        ("/api/v1/market/NOPE/snapshot", {}, 404, "SYMBOL_NOT_FOUND"),
        ("/api/v1/market/AAPL/bars", {"timeframe": "60Min"}, 400, "INVALID_PARAMETER"),
        ("/api/v1/market/AAPL/bars", {"start": "yesterday"}, 400, "INVALID_PARAMETER"),
        ("/api/v1/market/aapl/bars", {}, 400, "INVALID_PARAMETER"),
        (
            "/api/v1/market/AAPL/bars",
            {"start": "2026-03-03T00:00:00Z", "end": "2026-03-02T00:00:00Z"},
            422,
            "INVALID_MARKET_DATA_REQUEST",
        ),
    ],
)
async def test_what_cannot_be_served_is_refused_with_its_code(
    api: Client, path: str, params: dict[str, str], status: int, code: str
) -> None:
    answer = await api.get(path, params=params)

    assert (answer.status_code, answer.json()["code"]) == (status, code)


async def test_the_paper_exchange_makes_up_the_sessions_the_settings_ask_for() -> None:
    settings = settings_with(TRADING_ENGINE_BROKER_PAPER_HISTORY_DAYS="3")
    container = build(settings, store=InMemoryOrderStore(payload_of=event_payload), bus=InMemoryEventBus())
    start = (datetime.now(UTC) - timedelta(days=20)).isoformat()

    async with AsyncTestClient(create_app(container)) as client:
        answer = await client.get("/api/v1/market/AAPL/bars", params={"timeframe": "1Day", "start": start})

    days = answer.json()["bars"]
    assert len(days) == 4  # three sessions before today, and today's
    assert days[-2]["close"] == days[-1]["open"] == 190
