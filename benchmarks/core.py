"""The whole engine in one process: N market orders through risk, the paper exchange, fills,
positions and P&L, the in-memory store and bus. Prints one JSON line.

    python benchmarks/core.py --orders 100000 --symbols 10

Where the time goes (2026-12-07, CPython 3.11.7, 10 symbols). Instructions per order are
callgrind's (`benchmarks/instructions.py`: 3,000 orders less 1,000, PYTHONHASHSEED=0, every module
compiled beforehand; runs of one tree differ by a few thousand, as addresses move); orders per CPU
second are this bench's, 20,000 orders, the checkouts run in turn in one session, three rounds:

                                    instructions/order   orders/cpu-s   core floor (instr., orders/cpu-s)
    4d33c35 (before issue #15)          618,967             9,050-9,400     226,600   ~45,000
    429d359 (#15's rooms, #17, #19)     923,273             7,200           322,755   ~31,500
    0dc8e20 (per-order values a dict)   895,324             7,000-7,500     311,944   ~31,000
    bcac7c7 (#17's remainders)          902,244             7,250-7,450     311,715   ~30,000
    f2f80d5                             883,923             6,850-7,250     309,326   ~31,000

Counted over the loop this bench times only (`--window timed`, since 2026-12-07: the counts above
took in the process's start and end, and main's garbage collection after its loop), with orders
per CPU second the median of five rounds in turn on a quiet machine (`benchmarks/speed_hold.py`):

                                    instructions/order   orders/cpu-s
    4d33c35 (before issue #15)          587,467            10,530
    5d22bf0                             824,318               -
    6fe75d6 (a pass over the hot path)  742,324             7,865

Seconds on this shared machine drift by more than the 2% between the last three. Against
4d33c35, callgrind puts the extra ~270k instructions mostly in dict lookups and inserts (4d33c35
installed a copied dict of fields where attrs now writes each field), attribute reads the
interpreter does not specialise (properties, enum members read off their class, and fields of
values whose `__dict__` attrs' `__init__` made: see docs/architecture.md, "Speed"), the garbage
collections after the run (~59k per order on 0dc8e20 against ~26k on 4d33c35: more objects kept
per order; not in orders/cpu-s, which is timed with the collector off) and the interpreter loop:
more Python per order, as the protective orders' checks, a portfolio snapshot and a closed
position kept per fill (#19), the made-up fills' check and UUID7 order ids came. No step is a hot
spot: what is left is Python's cost per step, paid a few hundred times per order (a value ~3-10k
instructions, a coroutine call and await, Decimal arithmetic, dict writes, ids). Memory: ~6.0 KB
kept per order.

The core's floor (`core_floor`, printed as `core_floor_orders_per_cpu_s`): the same orders through
the core's pure functions alone (risk rules, the flip's split, the order, the broker's acceptance,
the fill, position and P&L, their events), with no paper exchange, store, bus, asyncio or book.
Everything the engine adds only costs more, so the engine can never pass it; `share_of_core_floor`
is what the ports, the exchange and the store cost on top.

As history grows (measured 2026-11-26, not since): per order the work is O(1), but the time per
order stepped up by about a fifth between ~30,000 and ~300,000 orders and then stayed level to
1,000,000: the store's indexes outgrow the CPU caches. Transparent huge pages
(`PYTHONMALLOC=malloc GLIBC_TUNABLES=glibc.malloc.hugetlb=1`) took a third of the step away.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import time
from array import array
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import attrs

from adapters.codec.events import event_payload
from adapters.memory.bus import InMemoryEventBus
from adapters.memory.store import InMemoryOrderStore
from adapters.paper import PaperConfig, PaperExchange
from adapters.paper.listings import Listing
from trading_core import (
    Account,
    Asset,
    DayTrades,
    Event,
    Fill,
    MarketClock,
    Order,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRequest,
    OrderStatus,
    Position,
    RiskContext,
    RiskEngine,
    RiskLimits,
    SubmitStatus,
    TestClock,
    TradingState,
    execute,
    mark_submitted,
    split_at_flat,
)
from trading_core.engine import EngineConfig, TradingEngine
from trading_core.relay import OutboxRelay
from trading_core.values import BrokerOrderId, ExecutionId, Symbol, new_client_order_id, new_order_id

CYCLE = (10, 5, -5, -10, -10, 20, -10)
"""Signed quantities per symbol: open, grow, shrink, close, open short, flip long, close. Sums to 0."""

_EXACT = Decimal("0.00000001")
"""The engine's scale for cost basis and P&L, so that both loops agree to the last digit."""

TARGET_SHARE = round(50_000 / 160_000, 4)
"""The issue's target, 50,000 orders/s where its plain reference loop does 160,000, as a share."""

RELAY_EVERY = 64
"""Orders between outbox flushes: events reach the bus in batches, as a relay sends them."""

LIMITS = RiskLimits(
    max_position_size_percent=Decimal(100),
    max_sector_exposure_percent=Decimal(100),
    max_daily_loss_percent=Decimal(100),
    max_open_positions=1_000,
    enable_day_trade_budget=False,
)


def _listings(count: int) -> tuple[Listing, ...]:
    return tuple(Listing(symbol=f"S{i:03d}", price=Decimal("100.00"), sector=f"Sector{i % 4}") for i in range(count))


@attrs.frozen
class _RefOrder:
    id: int
    symbol: str
    side: str
    quantity: Decimal
    status: str
    filled_quantity: Decimal
    average_price: Decimal | None


@attrs.frozen
class _RefPosition:
    symbol: str
    quantity: Decimal
    cost_basis: Decimal
    realized_pnl: Decimal


def reference(orders: int, symbols: int) -> dict[str, object]:
    """The issue's yardstick: a plain loop doing the same bookkeeping with attrs and Decimal.

    Per order: a buying-power check, an order record accepted then filled, the position's exact
    cost basis and realised P&L (flips included), cash, and three events kept. No state machine,
    no risk rules, no ports: the ratio of the engine to this is comparable across machines.
    """
    names = [f"S{i:03d}" for i in range(symbols)]
    positions = {s: _RefPosition(s, Decimal(0), Decimal(0), Decimal(0)) for s in names}
    stored: dict[int, _RefOrder] = {}
    events: list[tuple[str, object]] = []
    cash = Decimal(10_000_000_000)
    realized = Decimal(0)
    started = time.process_time()
    for n in range(orders):
        symbol = names[n % symbols]
        qty = CYCLE[(n // symbols) % len(CYCLE)]
        signed = Decimal(qty)
        price = Decimal(10_000 + (n * 7919) % 2_000 - 1_000).scaleb(-2)
        if abs(signed) * price > cash * 2:
            continue
        order = _RefOrder(n, symbol, "buy" if qty > 0 else "sell", abs(signed), "new", Decimal(0), None)
        stored[n] = order
        pos = positions[symbol]
        held = pos.quantity
        if not held or (held > 0) == (signed > 0):
            after = _RefPosition(symbol, held + signed, pos.cost_basis + signed * price, pos.realized_pnl)
            gain = Decimal(0)
        else:
            closing = min(abs(signed), abs(held))
            removed = pos.cost_basis if closing == abs(held) else pos.cost_basis * closing / abs(held)
            removed = removed.quantize(_EXACT, rounding=ROUND_HALF_EVEN)
            gain = (price * closing if held > 0 else -price * closing) - removed
            left = held + signed
            if left and (left > 0) != (held > 0):
                after = _RefPosition(symbol, left, left * price, Decimal(0))
            else:
                after = _RefPosition(symbol, left, pos.cost_basis - removed, pos.realized_pnl + gain)
        realized += gain
        positions[symbol] = after
        cash -= signed * price
        filled = attrs.evolve(order, status="filled", filled_quantity=order.quantity, average_price=price)
        stored[n] = filled
        events.append(("trade.order.submitted", order))
        events.append(("trade.order.filled", filled))
        events.append(("trade.position.updated", after))
    cpu = time.process_time() - started
    return {"reference_orders_per_cpu_s": round(orders / cpu), "reference_realized_pnl": str(realized)}


def core_floor(orders: int, symbols: int) -> dict[str, object]:
    """The core's own work per order with no ports: what the engine cannot do without.

    The same orders, through the pure functions the engine calls: the risk rules over a context,
    the split of a flip, the order, the broker's acceptance, the fill, the position and P&L and
    their events. No paper exchange, store, bus, asyncio or book: each of those only adds to this,
    so `orders_per_s` can never exceed `core_floor_orders_per_cpu_s`.
    """
    names = [Symbol(f"S{i:03d}") for i in range(symbols)]
    start = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    account = Account(
        account_id="floor",
        cash=Decimal(10_000_000_000),
        equity=Decimal(10_000_000_000),
        buying_power=Decimal(10_000_000_000),
        last_equity=Decimal(10_000_000_000),
    )
    market = MarketClock(
        timestamp=start, is_open=True, next_open=start + timedelta(days=1), next_close=start + timedelta(hours=1)
    )
    assets = {s: Asset(symbol=s, sector=f"Sector{i % 4}") for i, s in enumerate(names)}
    positions: dict[Symbol, Position] = {}
    marks: dict[Symbol, Decimal] = {}
    day_trades = DayTrades()
    risk = RiskEngine(LIMITS)
    cycle = _requests(names)
    realized = Decimal(0)
    started = time.process_time()
    for n in range(orders):
        request = cycle[n % len(cycle)]
        symbol = request.symbol
        price = marks[symbol] = Decimal(10_000 + (n * 7919) % 2_000 - 1_000).scaleb(-2)
        context = RiskContext(
            account=account,
            clock=market,
            positions=positions,
            marks=marks,
            assets=assets,
            open_orders=(),
            working={},
            day_trades=day_trades,
            trading_state=TradingState.ACTIVE,
        )
        if not risk.validate(request, context).approved:
            continue
        held = positions.get(symbol)
        closing, opening = split_at_flat(request, held.quantity if held is not None else Decimal(0))
        for part in (closing, opening) if opening is not None else (closing,):
            order = Order.from_request(part, order_id=new_order_id(), client_order_id=new_client_order_id(), now=start)
            order, _ = mark_submitted(
                order, broker_order_id=BrokerOrderId(order.id), status=OrderStatus.NEW, now=start, ts_event=start
            )
            fill = Fill(
                order_id=order.id,
                execution_id=ExecutionId(order.id),
                symbol=symbol,
                side=order.side,
                quantity=order.quantity,
                price=price,
                timestamp=start,
            )
            execution = execute(order, positions.get(symbol) or Position.flat(symbol), fill, now=start)
            assert execution is not None
            positions[symbol] = execution.position.after
            realized += execution.position.realized_pnl
    cpu = time.process_time() - started
    return {"core_floor_orders_per_cpu_s": round(orders / cpu), "core_floor_realized_pnl": str(realized)}


def _requests(names: list[Symbol]) -> list[OrderRequest]:
    """One whole period of the bench's requests: order n is the n-th modulo its length.

    Built up front, as the bench measures the engine, not request parsing; one period rather than
    one request per order, so that a long run's heap holds the engine's history and nothing else
    (a million requests made up front slowed the first orders by a sixth and hid the slowdown).
    """
    period = []
    for n in range(len(names) * len(CYCLE)):
        qty = CYCLE[(n // len(names)) % len(CYCLE)]
        side = "buy" if qty > 0 else "sell"
        period.append(OrderRequest.create(symbol=names[n % len(names)], side=side, type="market", quantity=abs(qty)))
    return period


def _percentile(sorted_values: list[float], share: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(share * len(sorted_values)))]


def resident_bytes() -> int:
    """This process's resident memory now (Linux's /proc/self/statm), 0 where there is none."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


async def run(orders: int, symbols: int, history: int | None = None) -> dict[str, object]:
    clock = TestClock(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))
    exchange = PaperExchange(
        clock,
        config=PaperConfig(
            starting_cash=Decimal(10_000_000_000),
            listings=_listings(symbols),
            volatility_bp=0,
            closed_order_retention=10_000,
        ),
    )
    store = InMemoryOrderStore(payload_of=event_payload, history=history)
    bus = InMemoryEventBus(maxlen=10_000)
    relay = OutboxRelay(store, bus, batch_size=10_000)
    engine = TradingEngine(
        broker=exchange, store=store, clock=clock, market_data=exchange, config=EngineConfig(limits=LIMITS)
    )
    await engine.start()
    realized = Decimal(0)
    fills = 0

    def count(event: Event) -> None:
        nonlocal realized, fills
        if isinstance(event, OrderFilled | OrderPartiallyFilled):
            realized += event.realized_pnl
            fills += 1

    engine.subscribe(count)
    names = [Symbol(f"S{i:03d}") for i in range(symbols)]
    cycle = _requests(names)
    timings = array("d", bytes(8 * orders))  # made up front: the memory measured is the engine's
    rejected = 0
    tick = timedelta(milliseconds=1)
    gc.collect()
    gc.freeze()
    gc.disable()
    resident = resident_bytes()
    started = time.perf_counter()
    cpu_started = time.process_time()
    for n in range(orders):
        request = cycle[n % len(cycle)]
        symbol = names[n % symbols]
        cents = 10_000 + (n * 7919) % 2_000 - 1_000  # a deterministic walk between 90 and 110
        exchange.set_price(symbol, Decimal(cents).scaleb(-2))
        clock.advance(tick)
        t0 = time.perf_counter()
        result = await engine.submit(request)
        timings[n] = time.perf_counter() - t0
        if result.status is SubmitStatus.REJECTED:
            rejected += 1
        if n % RELAY_EVERY == 0:
            await relay.flush()
    await relay.flush()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    gc.enable()
    gc.collect()
    grown = resident_bytes() - resident
    latencies = list(timings)
    tenth = max(1, len(latencies) // 10)
    first, last = sum(latencies[:tenth]) / tenth, sum(latencies[-tenth:]) / tenth
    latencies.sort()
    return {
        "bench": "core",
        "orders": orders,
        "symbols": symbols,
        "orders_per_s": round(orders / elapsed),
        "fills_per_s": round(fills / elapsed),
        "p50_us": round(_percentile(latencies, 0.50) * 1e6, 1),
        "p99_us": round(_percentile(latencies, 0.99) * 1e6, 1),
        "rejected": rejected,
        "events_published": relay.published,
        "realized_pnl": str(realized),
        "open_positions": len(engine.book.positions),
        "seconds": round(elapsed, 3),
        "orders_per_cpu_s": round(orders / cpu),  # what one core gives when the machine is shared
        "first_tenth_mean_us": round(first * 1e6, 1),
        "last_tenth_mean_us": round(last * 1e6, 1),
        "slowdown": round(last / first, 3),
        "history": history,
        "memory_growth_mb": round(grown / 2**20, 1),
        "memory_per_order_bytes": round(grown / orders),
        "python": sys.version.split()[0],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--symbols", type=int, default=10)
    parser.add_argument("--history", type=int, default=None, help="keep only this many ended orders in the store")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.orders, args.symbols, args.history))
    result.update(reference(args.orders, args.symbols))
    result.update(core_floor(args.orders, args.symbols))
    engine = int(result["orders_per_cpu_s"])  # type: ignore[call-overload]
    result["share_of_reference"] = round(engine / int(result["reference_orders_per_cpu_s"]), 3)  # type: ignore[call-overload]
    result["share_of_core_floor"] = round(engine / int(result["core_floor_orders_per_cpu_s"]), 3)  # type: ignore[call-overload]
    result["target_share"] = TARGET_SHARE
    print(json.dumps(result))
    sys.stdout.flush()
    for key in ("reference_realized_pnl", "core_floor_realized_pnl"):
        if Decimal(str(result["realized_pnl"])) != Decimal(str(result[key])):
            sys.exit(f"the engine's realised P&L differs from {key}")


if __name__ == "__main__":
    main()
