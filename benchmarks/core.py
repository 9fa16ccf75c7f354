"""The whole engine in one process: N market orders through risk, the paper exchange, fills,
positions and P&L, the in-memory store and bus. Prints one JSON line.

    python benchmarks/core.py --orders 100000 --symbols 10
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from adapters.codec.events import event_payload
from adapters.memory.bus import InMemoryEventBus
from adapters.memory.store import InMemoryOrderStore
from adapters.paper import PaperConfig, PaperExchange
from adapters.paper.config import Listing
from trading_core import Event, OrderFilled, OrderPartiallyFilled, OrderRequest, RiskLimits, SubmitStatus, TestClock
from trading_core.engine import EngineConfig, TradingEngine
from trading_core.relay import OutboxRelay

CYCLE = (10, 5, -5, -10, -10, 20, -10)
"""Signed quantities per symbol: open, grow, shrink, close, open short, flip long, close. Sums to 0."""

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


def _percentile(sorted_values: list[float], share: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(share * len(sorted_values)))]


async def run(orders: int, symbols: int) -> dict[str, object]:
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
    store = InMemoryOrderStore(payload_of=event_payload)
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
    names = [f"S{i:03d}" for i in range(symbols)]
    requests = []
    for n in range(orders):  # built up front: the bench measures the engine, not request parsing
        qty = CYCLE[(n // symbols) % len(CYCLE)]
        side = "buy" if qty > 0 else "sell"
        requests.append(OrderRequest.create(symbol=names[n % symbols], side=side, type="market", quantity=abs(qty)))
    latencies: list[float] = []
    rejected = 0
    tick = timedelta(milliseconds=1)
    gc.collect()
    gc.freeze()
    gc.disable()
    started = time.perf_counter()
    cpu_started = time.process_time()
    for n, request in enumerate(requests):
        symbol = names[n % symbols]
        cents = 10_000 + (n * 7919) % 2_000 - 1_000  # a deterministic walk between 90 and 110
        exchange.set_price(symbol, Decimal(cents).scaleb(-2))
        clock.advance(tick)
        t0 = time.perf_counter()
        result = await engine.submit(request)
        latencies.append(time.perf_counter() - t0)
        if result.status is SubmitStatus.REJECTED:
            rejected += 1
        if n % RELAY_EVERY == 0:
            await relay.flush()
    await relay.flush()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
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
        "python": sys.version.split()[0],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--symbols", type=int, default=10)
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(run(args.orders, args.symbols))))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
