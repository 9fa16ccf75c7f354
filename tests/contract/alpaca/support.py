"""The Alpaca adapter against the simulator: fast settings, order builders, engine-vs-simulator checks."""

from __future__ import annotations

import asyncio
import inspect
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import httpx

from adapters.alpaca.broker import AlpacaBroker
from adapters.alpaca.config import AlpacaSettings, RateLimit, RetryPolicy, StreamSettings
from adapters.codec.events import event_payload
from adapters.memory.store import InMemoryOrderStore
from apps.alpaca_sim import SimServer
from trading_core.broker_models import TradeUpdate
from trading_core.clock import SystemClock
from trading_core.engine import EngineConfig, TradingEngine
from trading_core.enums import OrderStatus, OrderType, Side, TimeInForce
from trading_core.orders import Order
from trading_core.ports import Broker, MarketData, OrderFilter
from trading_core.risk import RiskLimits
from trading_core.values import ClientOrderId, Symbol, new_order_id

FAST_STREAM = StreamSettings(
    reconnect_min_delay=0.05,
    reconnect_max_delay=0.4,
    stable_after=1.0,
    open_timeout=5.0,
    ping_interval=5.0,
    ping_timeout=5.0,
    silence_window=0.4,
    lag_tolerance=0.4,
    backfill_margin=timedelta(seconds=10),
    ready_timeout=5.0,
    gap_timeout=0.5,
)
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.02, max_delay=0.1, deadline=5.0)

GENEROUS = RiskLimits(
    max_position_size_percent=Decimal(100),
    max_sector_exposure_percent=Decimal(100),
    max_daily_loss_percent=Decimal(50),
    enable_day_trade_budget=False,
)


def sim_settings(sim: SimServer, **changes: Any) -> AlpacaSettings:
    """Settings for the simulator, with timings short enough for tests."""
    settings = AlpacaSettings(
        key_id=sim.settings.key_id,
        secret_key=sim.settings.secret_key,
        base_url=sim.url,
        data_url=sim.url,
        stream_url=sim.stream_url,
        read_timeout=5.0,
        retry=FAST_RETRY,
        lookup_window=1.0,
        # The session's simulator enforces no limit; tests of the budget set Alpaca's 200 a minute.
        rate_limit=RateLimit(requests=100_000),
        data_rate_limit=RateLimit(requests=100_000),
        stream=FAST_STREAM,
    )
    return attrs.evolve(settings, **changes)


@asynccontextmanager
async def opened_broker(sim: SimServer, **changes: Any) -> AsyncIterator[AlpacaBroker]:
    """An AlpacaBroker on its own pooled client, open (stream connected and backfilled)."""
    async with httpx.AsyncClient() as client:
        broker = AlpacaBroker(client, sim_settings(sim, **changes), rng=random.Random(7))
        await broker.open()
        try:
            yield broker
        finally:
            await broker.close()


@asynccontextmanager
async def running_engine(
    broker: Broker, market_data: MarketData | None, config: EngineConfig | None = None
) -> AsyncIterator[TradingEngine]:
    """The engine on `broker` and an in-memory store, applying trade updates as they arrive."""
    engine = TradingEngine(
        broker=broker,
        market_data=market_data,
        store=InMemoryOrderStore(payload_of=event_payload),
        clock=SystemClock(),
        config=config or EngineConfig(limits=GENEROUS),
    )
    await engine.start()
    task = asyncio.create_task(engine.run_updates(), name="engine-updates")
    try:
        yield engine
    finally:
        crashed = task.exception() if task.done() and not task.cancelled() else None
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    if crashed is not None:
        raise AssertionError(f"the engine's update task died: {crashed!r}") from crashed


def order(
    symbol: str = "AAPL",
    side: str = "buy",
    quantity: str = "10",
    *,
    type: str = "market",
    time_in_force: str = "day",
    limit_price: str | None = None,
    stop_price: str | None = None,
    client_order_id: str | None = None,
) -> Order:
    """An order as the engine sends it: stored, `pending_new`, with a fresh client order id."""
    now = datetime.now(UTC)
    return Order(
        id=new_order_id(),
        client_order_id=ClientOrderId(client_order_id or f"t-{uuid.uuid4()}"),
        symbol=Symbol(symbol),
        side=Side(side),
        type=OrderType(type),
        time_in_force=TimeInForce(time_in_force),
        quantity=Decimal(quantity),
        limit_price=Decimal(limit_price) if limit_price is not None else None,
        stop_price=Decimal(stop_price) if stop_price is not None else None,
        status=OrderStatus.PENDING_NEW,
        created_at=now,
        updated_at=now,
    )


async def eventually(check: Callable[[], Awaitable[bool] | bool], *, within: float = 10.0, what: str = "") -> None:
    """Poll `check` (sync or async) until it holds; fail after `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while not await _holds(check):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {within}s: {what or check}")
        await asyncio.sleep(0.02)


async def _holds(check: Callable[[], Awaitable[bool] | bool]) -> bool:
    result = check()
    return await result if inspect.isawaitable(result) else bool(result)


async def collect_updates(
    broker: Broker, until: Callable[[list[TradeUpdate]], bool], *, within: float = 10.0
) -> list[TradeUpdate]:
    """Take trade updates (waiting for them) until `until(all taken so far)` holds."""
    taken: list[TradeUpdate] = []
    async with asyncio.timeout(within):
        while not until(taken):
            taken.extend(broker.drain_updates() or await broker.next_updates())
    return taken


def _never_sent(order: Order) -> bool:
    """Ended here without reaching the broker: refused, or a held half cancelled before it went."""
    return order.broker_order_id is None and order.is_terminal


def _held_for(order: Order, parent: Order | None) -> bool:
    """The opening half of a split order, rightly held here while its closing half still works."""
    return order.status is OrderStatus.PENDING_NEW and parent is not None and parent.is_open


async def _differences(engine: TradingEngine) -> list[str]:
    """Orders whose status or filled quantity differ between the engine and the broker."""
    theirs = {o.client_order_id: o for o in await engine.broker.list_orders(status=OrderFilter.ALL, limit=500)}
    page = await engine.list_orders(status=OrderFilter.ALL, limit=500)
    ours = {o.id: o for o in page.orders}
    differences = []
    for mine in page.orders:
        remote = theirs.get(mine.client_order_id)
        if remote is None:
            parent = ours.get(mine.parent_id) if mine.parent_id is not None else None
            if not _never_sent(mine) and not _held_for(mine, parent):
                differences.append(
                    f"{mine.client_order_id}: ours {mine.status}, not at the broker ({mine.side} {mine.type}"
                    f" {mine.quantity} {mine.symbol}, parent {parent and parent.status}, replaces {mine.replaces})"
                )
            continue
        if (mine.status, mine.filled_quantity) != (remote.status, remote.filled_quantity):
            differences.append(
                f"{mine.client_order_id} ({remote.broker_order_id}): ours {mine.status} {mine.filled_quantity},"
                f" broker's {remote.status} {remote.filled_quantity}"
            )
    return differences


async def settled(engine: TradingEngine, sim: SimServer, *, within: float = 10.0) -> None:
    """Wait until every order of the engine matches the simulator's copy."""
    try:
        await eventually(lambda: _no_differences(engine), within=within)
    except AssertionError:
        dead = [t for t in asyncio.all_tasks() if t.get_name() == "engine-updates" and t.done()]
        why = f" (the engine's update task died: {dead[0].exception()!r})" if dead else ""
        raise AssertionError("the engine's orders differ: " + "; ".join(await _differences(engine)) + why) from None


async def _no_differences(engine: TradingEngine) -> bool:
    return not await _differences(engine)


async def assert_same_books(engine: TradingEngine, sim: SimServer) -> None:
    """Orders (status, filled quantity, average price) and positions equal the simulator's."""
    broker = engine.broker
    theirs = {o.client_order_id: o for o in await broker.list_orders(status=OrderFilter.ALL, limit=500)}
    page = await engine.list_orders(status=OrderFilter.ALL, limit=500)
    ours = {o.id: o for o in page.orders}
    for mine in page.orders:
        remote = theirs.get(mine.client_order_id)
        if remote is None:
            parent = ours.get(mine.parent_id) if mine.parent_id is not None else None
            assert _never_sent(mine) or _held_for(mine, parent), f"{mine.client_order_id} is not at the simulator"
            continue
        assert (mine.status, mine.filled_quantity) == (remote.status, remote.filled_quantity), mine.client_order_id
        if remote.filled_average_price is not None:
            assert mine.average_fill_price == remote.filled_average_price.quantize(Decimal("0.0001"))
        fills = await engine.store.list_fills(mine.id)
        assert sum(f.quantity for f in fills) == mine.filled_quantity
        assert len({f.execution_id for f in fills}) == len(fills)
    positions = {p.symbol: p.quantity for p in await broker.list_positions()}
    mine_positions = {s: p.quantity for s, p in engine.book.positions.items() if p.quantity}
    assert mine_positions == positions
    assert {s: Decimal(q) for s, q in sim.state()["positions"].items()} == positions
