"""The risk endpoints over HTTP: a reset takes effect, or is refused while the daily-loss limit stands."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from litestar.testing import AsyncTestClient

from adapters.paper import PaperExchange

Client = AsyncTestClient[Any]


async def buy(api: Client, symbol: str, quantity: int) -> Any:
    body = {"symbol": symbol, "side": "buy", "quantity": quantity, "type": "market"}
    return await api.post("/api/v1/orders", json=body)


async def breach_the_daily_loss_limit(api: Client, exchange: PaperExchange) -> None:
    """Lose 3,500 of 100,000 (the limit is 3 %), then try to add exposure: trading turns reducing-only."""
    assert (await buy(api, "AAPL", 50)).status_code == 201
    exchange.set_price("AAPL", Decimal(120))
    refused = await buy(api, "MSFT", 1)
    assert (refused.status_code, refused.json()["code"]) == (422, "DAILY_LOSS_LIMIT")
    assert (await api.get("/api/v1/risk")).json()["tradingState"] == "reducing_only"


async def test_a_reset_while_the_loss_is_over_the_limit_is_refused_saying_what_stands(
    api: Client, exchange: PaperExchange
) -> None:
    await breach_the_daily_loss_limit(api, exchange)

    reset = await api.post("/api/v1/risk/reset", json={"by": "ops@example.com"})

    assert reset.status_code == 409
    body = reset.json()
    assert body["code"] == "DAILY_LOSS_LIMIT_STANDS"
    assert body["details"] == {
        "tradingState": "reducing_only",
        "dailyLoss": 3500,
        "dailyLossLimit": 3000,
        "maxDailyLossPercent": 3,
    }
    assert "still over 3% of last equity (3000.00)" in body["message"]
    risk = (await api.get("/api/v1/risk")).json()
    assert (risk["tradingState"], risk["changedBy"]) == ("reducing_only", "risk")


async def test_a_reset_once_the_loss_is_back_under_the_limit_lasts_past_the_next_order(
    api: Client, exchange: PaperExchange
) -> None:
    await breach_the_daily_loss_limit(api, exchange)
    exchange.set_price("AAPL", Decimal(180))  # 500 lost: under the limit, but the state holds until reset

    reset = await api.post("/api/v1/risk/reset", json={"by": "ops@example.com"})
    bought = await buy(api, "MSFT", 1)

    assert reset.status_code == 200
    assert reset.json()["tradingState"] == "active"
    assert bought.status_code == 201, bought.text
    risk = (await api.get("/api/v1/risk")).json()
    assert (risk["tradingState"], risk["changedBy"]) == ("active", "ops@example.com")
