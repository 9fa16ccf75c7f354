"""Every answer writes an amount at one scale for its kind, and a short position reads the same everywhere.

Quantities, prices and percentages have four decimal places (`0.0000` next to `1.0000`, never
`0`); money (values, P&L, equity, cash, buying power) has two. Read with a decimal parser, the
written scale is the exponent.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

from litestar.testing import AsyncTestClient

from adapters.memory import InMemoryEventBus

Client = AsyncTestClient[Any]

FOUR = {"quantity", "filledQuantity", "averagePrice", "limitPrice", "stopPrice", "averageEntryPrice", "currentPrice"}
FOUR |= {"unrealizedPnlPercent"}
TWO = {"marketValue", "unrealizedPnl", "costBasis", "realizedPnl", "totalEquity", "buyingPower", "equity", "cash"}
TWO |= {"lastEquity", "dailyPnl", "dayTradeEquityThreshold"}


def _places(body: Any, found: dict[str, set[int]]) -> dict[str, set[int]]:
    """Each amount's key -> the decimal places it was written with, anywhere in `body`."""
    if isinstance(body, dict):
        for key, value in body.items():
            if isinstance(value, Decimal | int) and not isinstance(value, bool) and key in FOUR | TWO:
                found.setdefault(key, set()).add(-Decimal(value).as_tuple().exponent)  # type: ignore[operator]
            else:
                _places(value, found)
    elif isinstance(body, list):
        for item in body:
            _places(item, found)
    return found


async def _read(api: Client, path: str) -> Any:
    return json.loads((await api.get(path)).text, parse_float=Decimal)


async def test_quantities_and_prices_have_four_places_and_money_two_in_every_answer(api: Client) -> None:
    await api.post("/api/v1/orders", json={"symbol": "AAPL", "side": "buy", "quantity": 3, "type": "market"})
    await api.post("/api/v1/orders", json={"symbol": "MSFT", "side": "sell", "quantity": 2.5, "type": "market"})
    await api.post(
        "/api/v1/orders", json={"symbol": "MSFT", "side": "buy", "quantity": 1, "type": "limit", "limitPrice": 1}
    )
    found: dict[str, set[int]] = {}

    for path in ("/api/v1/orders?status=all", "/api/v1/positions", "/api/v1/positions/MSFT", "/api/v1/account"):
        _places(await _read(api, path), found)
    _places(await _read(api, "/api/v1/risk"), found)

    assert {key: places for key, places in found.items() if key in FOUR} == {key: {4} for key in FOUR - {"stopPrice"}}
    assert {key: places for key, places in found.items() if key in TWO} == {key: {2} for key in TWO}


async def test_a_short_position_reads_the_same_in_the_api_and_in_the_events(api: Client, bus: InMemoryEventBus) -> None:
    """Quantity and cost basis are absolute and `side` says short, in every shape; market value is negative."""
    await api.post("/api/v1/orders", json={"symbol": "AAPL", "side": "sell", "quantity": 3, "type": "market"})
    await asyncio.sleep(0.2)  # the outbox relay publishes

    one = await _read(api, "/api/v1/positions/AAPL")
    listed = (await _read(api, "/api/v1/positions"))["positions"][0]
    opened = next(m.payload for m in bus.messages if m.type == "trade.position.opened")

    shapes = [
        (one["quantity"], one["side"], one["costBasis"]),
        (listed["quantity"], listed["side"], listed["costBasis"]),
        (opened["quantity"], opened["side"], opened["costBasis"]),
    ]
    assert shapes == [(Decimal(3), "short", Decimal(570))] * 3
    assert one["marketValue"] < 0
    assert str(opened["quantity"]) == "3.0000"


async def test_events_write_an_unfilled_quantity_with_four_places(api: Client, bus: InMemoryEventBus) -> None:
    limit = {"symbol": "MSFT", "side": "buy", "quantity": 1, "type": "limit", "limitPrice": 1}
    await api.post("/api/v1/orders", json=limit)
    await asyncio.sleep(0.2)

    submitted = next(m.payload for m in bus.messages if m.type == "trade.order.submitted")

    assert (str(submitted["quantity"]), str(submitted["filledQuantity"])) == ("1.0000", "0.0000")
