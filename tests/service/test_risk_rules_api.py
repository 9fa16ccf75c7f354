"""Every pre-trade rule reached through the HTTP API on the paper exchange, with the service's default
limits (10 % a position, 30 % a sector, 3 % daily loss, 20 open positions, wash trades and the day-trade
budget on) and its default $100,000 margin account: each refuses with its spec code, 422, and keeps the
refused order. The default listings make this possible: more than 20 tradable symbols, and at least
four in every GICS sector."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from litestar.testing import AsyncTestClient

from adapters.calendar import NyseCalendar
from adapters.codec import event_payload
from adapters.memory import InMemoryEventBus, InMemoryOrderStore
from adapters.paper import DEFAULT_LISTINGS, PaperConfig, PaperExchange
from adapters.paper.listings import GICS_SECTORS, UTILITIES
from apps.bootstrap import build
from apps.config import Settings
from apps.service.app import create_app
from trading_core.clock import TestClock

Client = AsyncTestClient[Any]


async def order(api: Client, symbol: str, quantity: int | str, side: str = "buy", **more: Any) -> Any:
    body = {"symbol": symbol, "side": side, "quantity": quantity, "type": "market", **more}
    return await api.post("/api/v1/orders", json=body)


async def placed(api: Client, symbol: str, quantity: int | str, side: str = "buy", **more: Any) -> None:
    answer = await order(api, symbol, quantity, side, **more)
    assert answer.status_code == 201, answer.text


async def assert_refused(answer: Any, code: str) -> None:
    assert (answer.status_code, answer.json()["code"]) == (422, code), answer.text
    assert answer.json()["status"] == "rejected"


def tradable_symbols(sector: str | None = None) -> list[str]:
    return [
        listing.symbol
        for listing in DEFAULT_LISTINGS
        if listing.tradable and listing.fractionable and (sector is None or listing.sector == sector)
    ]


def shares_for(symbol: str, value: Decimal) -> int:
    """Whole shares of `symbol` worth at most `value` at its listing price."""
    price = next(listing.price for listing in DEFAULT_LISTINGS if listing.symbol == symbol)
    return int(value // price)


def test_the_default_listings_span_every_gics_sector_with_room_for_every_rule() -> None:
    by_sector = Counter(listing.sector for listing in DEFAULT_LISTINGS if listing.tradable)

    assert len(DEFAULT_LISTINGS) >= 60
    assert set(by_sector) == set(GICS_SECTORS)
    assert min(by_sector.values()) >= 4  # three at the position limit stay under 30 %, a fourth passes it
    assert len(tradable_symbols()) > 20


async def test_insufficient_funds(api: Client) -> None:
    await assert_refused(await order(api, "MSFT", 1000), "INSUFFICIENT_FUNDS")  # 415,000 of 200,000


async def test_position_limit(api: Client) -> None:
    await assert_refused(await order(api, "MSFT", 25), "POSITION_LIMIT")  # 10,375 of 10,000


async def test_daily_loss_limit(api: Client) -> None:
    await placed(api, "AAPL", 50)  # 9,500
    moved = await api.put("/api/v1/paper/prices/AAPL", json={"price": 120})  # 3,500 lost: over 3 %

    assert moved.status_code == 200
    await assert_refused(await order(api, "MSFT", 1), "DAILY_LOSS_LIMIT")


async def test_symbol_not_tradable(api: Client) -> None:
    await assert_refused(await order(api, "SIVB", 1), "SYMBOL_NOT_TRADABLE")


async def test_wash_trade(api: Client) -> None:
    await placed(api, "AAPL", 5, type="limit", limitPrice=180)  # rests under the price (190)

    await assert_refused(await order(api, "AAPL", 5, "sell", type="limit", limitPrice=175), "WASH_TRADE")


async def test_sector_limit(api: Client) -> None:
    utilities = tradable_symbols(UTILITIES)
    for symbol in utilities[:3]:  # each just under the 10 % position limit: 29,000 and more in all
        await placed(api, symbol, shares_for(symbol, Decimal(9_990)))

    fourth = utilities[3]
    await assert_refused(await order(api, fourth, shares_for(fourth, Decimal(1_000))), "SECTOR_LIMIT")


async def test_max_open_positions(api: Client) -> None:
    symbols = tradable_symbols()
    for symbol in symbols[:20]:  # one share each: far from every other limit
        await placed(api, symbol, 1)

    await assert_refused(await order(api, symbols[20], 1), "MAX_OPEN_POSITIONS")
    assert len((await api.get("/api/v1/positions")).json()["positions"]) == 20


async def test_pattern_day_trader(api: Client) -> None:
    """Three day trades are allowed; with equity under $25,000, a fourth is refused."""
    by_sector = [tradable_symbols(sector) for sector in GICS_SECTORS]
    symbols = ([s[0] for s in by_sector] + [s[1] for s in by_sector])[:19]  # at most two a sector: under 30 %
    for symbol in symbols:  # 19 positions near the 10 % limit: about 188,000 on the 2x margin
        await placed(api, symbol, shares_for(symbol, Decimal(9_900)))
    for symbol in symbols[:3]:  # bought and sold today: three day trades, with equity still at 100,000
        await placed(api, symbol, shares_for(symbol, Decimal(9_900)), "sell")
    for symbol in symbols[3:]:  # the rest crash: equity falls far under 25,000
        assert (await api.put(f"/api/v1/paper/prices/{symbol}", json={"price": 0.5})).status_code == 200

    fourth = symbols[3]
    await assert_refused(await order(api, fourth, shares_for(fourth, Decimal(9_900)), "sell"), "PDT_RESTRICTED")


async def test_market_closed(settings: Settings) -> None:
    """With the NYSE calendar on a Sunday, a market order is refused (orders.marketClosedPolicy: reject)."""
    clock = TestClock(datetime(2026, 3, 1, 17, tzinfo=UTC))  # Sunday, noon in New York
    exchange = PaperExchange(clock, config=PaperConfig(calendar=NyseCalendar()))
    container = build(
        settings,
        store=InMemoryOrderStore(payload_of=event_payload),
        broker=exchange,
        bus=InMemoryEventBus(),
        clock=clock,
    )
    async with AsyncTestClient(create_app(container)) as api:
        await assert_refused(await order(api, "AAPL", 1), "MARKET_CLOSED")
