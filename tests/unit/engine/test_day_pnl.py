"""Realized P&L is kept per trading day and per strategy, not only per position.

A position's own `realized_pnl` starts again at zero each time it reopens from flat: a script that
read it after two round trips saw 0.00 where the day had realized -630.00.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from adapters.paper import PaperExchange
from tests.unit.engine.conftest import market
from trading_core import TestClock
from trading_core.engine import TradingEngine

TREND = "0190a0e0-0000-7000-8000-000000000001"
MEAN = "0190a0e0-0000-7000-8000-000000000002"


async def round_trip(
    engine: TradingEngine, exchange: PaperExchange, symbol: str, buy: str, sell: str, *, strategy: str | None = None
) -> None:
    exchange.set_price(symbol, Decimal(buy))
    await engine.submit(market(symbol, "buy", 100, strategy_id=strategy))
    exchange.set_price(symbol, Decimal(sell))
    await engine.submit(market(symbol, "sell", 100, strategy_id=strategy))


async def test_the_days_realized_pnl_adds_up_every_round_trip(engine: TradingEngine, exchange: PaperExchange) -> None:
    await round_trip(engine, exchange, "AAPL", "50.00", "46.30")  # -370.00
    await round_trip(engine, exchange, "AAPL", "50.00", "47.40")  # -260.00
    exchange.set_price("AAPL", Decimal("50.00"))
    await engine.submit(market("AAPL", "buy", 10))  # open again: the position's own P&L starts at 0

    assert (await engine.get_position("AAPL")).realized_pnl == 0
    day = await engine.realized_pnl()
    assert day.total == Decimal("-630.00")
    assert day.by_strategy == {None: Decimal("-630.00")}


async def test_realized_pnl_is_kept_per_strategy(engine: TradingEngine, exchange: PaperExchange) -> None:
    await round_trip(engine, exchange, "AAPL", "50.00", "51.25", strategy=TREND)  # +125.00
    await round_trip(engine, exchange, "MSFT", "20.00", "19.00", strategy=MEAN)  # -100.00
    await round_trip(engine, exchange, "MSFT", "20.00", "20.50", strategy=MEAN)  # +50.00

    day = await engine.realized_pnl()
    assert day.by_strategy == {TREND: Decimal("125.00"), MEAN: Decimal("-50.00")}
    assert day.total == Decimal("75.00")
    assert (await engine.realized_pnl(strategy_id=MEAN)).total == Decimal("-50.00")


async def test_each_trading_day_keeps_its_own(engine: TradingEngine, exchange: PaperExchange, clock: TestClock) -> None:
    await round_trip(engine, exchange, "AAPL", "50.00", "49.00")  # -100.00 on Monday
    monday = engine.now().date()
    clock.advance(timedelta(days=1))
    await round_trip(engine, exchange, "AAPL", "50.00", "50.30")  # +30.00 on Tuesday

    assert (await engine.realized_pnl()).total == Decimal("30.00")
    assert (await engine.realized_pnl(day=monday)).total == Decimal("-100.00")
