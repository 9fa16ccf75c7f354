"""The account the engine keeps, over real sockets: it costs no request per order and matches Alpaca's.

The simulator counts its requests by route (`GET /_sim/traffic`); its account is the paper
exchange's, which models Alpaca's rule for cash, equity and buying power.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import httpx

from apps.alpaca_sim import SimServer
from tests.contract.alpaca.support import GENEROUS, eventually, opened_broker, running_engine, settled
from trading_core.account_book import AccountDrift
from trading_core.engine import EngineConfig, TradingEngine
from trading_core.enums import OrderStatus
from trading_core.requests import OrderRequest


def _market(symbol: str, side: str, quantity: int) -> OrderRequest:
    return OrderRequest.create(symbol=symbol, side=side, type="market", quantity=quantity)


def _limit(symbol: str, side: str, quantity: int, price: str) -> OrderRequest:
    return OrderRequest.create(
        symbol=symbol, side=side, type="limit", quantity=quantity, limit_price=price, time_in_force="gtc"
    )


def _kept(engine: TradingEngine) -> tuple[Decimal, Decimal, Decimal]:
    account = engine.book.account.account()
    return account.cash, account.equity, account.buying_power


def _simulators(sim: SimServer) -> tuple[Decimal, Decimal, Decimal]:
    """The simulator's account, as a client other than the engine reads it (after the reads are counted)."""
    account = httpx.get(f"{sim.url}/v2/account", headers=_keys(sim), timeout=10).json()
    return Decimal(account["cash"]), Decimal(account["equity"]), Decimal(account["buying_power"])


def _account_reads(sim: SimServer) -> int:
    """The `GET /v2/account` requests the simulator has answered since its reset."""
    return int(sim.traffic()["requests"].get("GET /v2/account", 0))


def _keys(sim: SimServer) -> dict[str, str]:
    return {"APCA-API-KEY-ID": sim.settings.key_id, "APCA-API-SECRET-KEY": sim.settings.secret_key}


async def test_twenty_orders_read_the_account_no_more_and_end_with_the_brokers_figures(
    engine: TradingEngine, alpaca_sim: SimServer
) -> None:
    """Market orders both ways in two symbols, a resting order, its replacement and a cancel."""
    alpaca_sim.set_price("AAPL", "185")
    alpaca_sim.set_price("MSFT", "410")
    before = _account_reads(alpaca_sim)
    orders = [_market("AAPL" if n % 2 else "MSFT", "buy" if n % 3 else "sell", 1 + n % 4) for n in range(17)]

    for request in orders:
        assert (await engine.submit(request)).order.status is not OrderStatus.REJECTED
        await settled(engine, alpaca_sim)
    resting = await engine.submit(_limit("AAPL", "buy", 10, "180.00"))
    replaced = await engine.replace(resting.order.id, quantity=Decimal(12), limit_price=Decimal("179.50"))
    await engine.submit(_limit("MSFT", "sell", 5, "420.00"))
    await engine.cancel(replaced.order.id)
    await settled(engine, alpaca_sim)

    assert _account_reads(alpaca_sim) - before <= 1
    assert _account_reads(alpaca_sim) == before  # in fact none
    assert _kept(engine) == _simulators(alpaca_sim)


async def test_a_reconnection_of_the_stream_asks_for_one_read(alpaca_sim: SimServer) -> None:
    config = EngineConfig(limits=GENEROUS, account_read_gap=timedelta(seconds=0.1))
    async with opened_broker(alpaca_sim) as broker, running_engine(broker, broker, config) as engine:
        await engine.submit(_market("AAPL", "buy", 2))
        reconnections = broker.reconnections
        before = _account_reads(alpaca_sim)

        alpaca_sim.drop_stream()
        await eventually(lambda: broker.reconnections > reconnections, what="the stream reconnected and backfilled")
        await asyncio.sleep(0.1)  # the read gap since the read at start
        for _ in range(3):
            await engine.submit(_market("AAPL", "buy", 1))
        await settled(engine, alpaca_sim)

        assert _account_reads(alpaca_sim) - before == 1
        assert _kept(engine) == _simulators(alpaca_sim)


async def test_a_trade_made_elsewhere_on_the_account_is_counted_as_drift_then_taken(
    alpaca_sim: SimServer,
) -> None:
    config = EngineConfig(
        limits=GENEROUS, account_sync_interval=timedelta(seconds=0.3), account_read_gap=timedelta(seconds=0.2)
    )
    async with opened_broker(alpaca_sim) as broker, running_engine(broker, broker, config) as engine:
        drifts: list[AccountDrift] = []
        engine.watch_account_drift(drifts.append)
        alpaca_sim.set_price("MSFT", "410")
        async with httpx.AsyncClient(base_url=alpaca_sim.url, headers=_keys(alpaca_sim), timeout=10) as other:
            order = {"symbol": "MSFT", "qty": "3", "side": "buy", "type": "market", "time_in_force": "day"}
            assert (await other.post("/v2/orders", json=order)).status_code == 200  # another client's

        async def taken() -> bool:
            await engine.validate(_market("AAPL", "buy", 1))  # reads the account whenever one is due
            return bool(drifts)

        await eventually(taken, what="the difference counted")

        assert sorted((d.figure, d.difference) for d in drifts) == [
            ("buying_power", Decimal(-1230)),
            ("cash", Decimal(-1230)),
        ]
        assert _kept(engine) == _simulators(alpaca_sim)


async def test_after_a_replace_race_the_old_orders_hold_is_back(engine: TradingEngine, alpaca_sim: SimServer) -> None:
    """Alpaca answers the replace, then refuses it: the old order held all along at the broker."""
    alpaca_sim.set_price("AAPL", "185")
    resting = await engine.submit(_limit("AAPL", "buy", 5, "180.00"))
    alpaca_sim.set_faults({"kind": "replace_rejected", "ms": 200})

    replacement = (await engine.replace(resting.order.id, quantity=Decimal(8))).order
    await eventually(lambda: replacement.id not in engine.book.open_orders, what="the replacement dropped")

    assert _kept(engine) == _simulators(alpaca_sim)
    assert _kept(engine)[2] == _kept(engine)[1] * 2 - 5 * Decimal(180)
