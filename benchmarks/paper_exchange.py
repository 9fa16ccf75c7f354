"""The paper exchange's submit -> fill path: N market orders over 10 symbols, drained after each.

Each symbol alternates buy and sell, so positions open and close. Prints JSON lines: the best of
`--runs` runs for the exchange, and the same count of the core objects every broker must build
per market order (two BrokerOrder snapshots, two TradeUpdates and one apply_fill), whose ratio is
what to compare across noisy machines. `--limit` sends marketable limit orders instead (the
general path), `--parts 2` fills in two parts, `--memory` reports the bytes kept per closed
order (with every order kept: no retention bound).

    PYTHONPATH=src python benchmarks/paper_exchange.py [-n 100000] [--runs 5] [--limit] [--parts 2] [--memory]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import tracemalloc
from datetime import UTC, datetime
from decimal import Decimal

import attrs

from adapters.paper import PaperConfig, PaperExchange
from trading_core.broker_models import BrokerOrder, TradeUpdate
from trading_core.clock import SystemClock
from trading_core.enums import OrderStatus, OrderType, Side, TimeInForce
from trading_core.orders import Order
from trading_core.positions import Position, apply_fill
from trading_core.values import ClientOrderId, OrderId, Symbol

SYMBOLS = [Symbol(s) for s in ("AAPL", "MSFT", "NVDA", "GOOGL", "META", "AMZN", "TSLA", "JPM", "XOM", "JNJ")]
ONE = Decimal(1)
NOW = datetime.now(UTC)


def orders(n: int, run: int, *, limit: bool) -> list[Order]:
    made = []
    for i in range(n):
        buy = (i // len(SYMBOLS)) % 2 == 0
        made.append(
            Order(
                id=OrderId(f"o{i}"),
                client_order_id=ClientOrderId(f"run{run}-{i}"),
                symbol=SYMBOLS[i % len(SYMBOLS)],
                side=Side.BUY if buy else Side.SELL,
                type=OrderType.LIMIT if limit else OrderType.MARKET,
                limit_price=(Decimal(100_000) if buy else Decimal("0.01")) if limit else None,
                time_in_force=TimeInForce.DAY,
                quantity=ONE,
                status=OrderStatus.PENDING_NEW,
                created_at=NOW,
                updated_at=NOW,
            )
        )
    return made


async def exchange_run(n: int, run: int, *, limit: bool, parts: int, memory: bool) -> tuple[float, int]:
    config = PaperConfig(
        max_pending_updates=None, closed_order_retention=None, fill_parts=parts, multiplier=Decimal(1_000)
    )
    exchange = PaperExchange(SystemClock(), config=config)
    batch = orders(n, run, limit=limit)
    if memory:
        tracemalloc.start()
    started = time.perf_counter()
    for order in batch:
        await exchange.submit_order(order)
        exchange.drain_updates()
    elapsed = time.perf_counter() - started
    kept = 0
    if memory:
        kept = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    return elapsed / n, kept


def core_floor(n: int) -> float:
    """What the core's own types cost per market order, whatever the exchange does around them."""
    position = Position.flat(SYMBOLS[0])
    price = Decimal("190.00")
    started = time.perf_counter()
    for i in range(n):
        accepted = BrokerOrder(
            broker_order_id="a",
            client_order_id="b",
            symbol=SYMBOLS[0],
            side=Side.BUY,
            type=OrderType.MARKET,
            time_in_force=TimeInForce.DAY,
            quantity=ONE,
            status=OrderStatus.NEW,
            created_at=NOW,
            updated_at=NOW,
            submitted_at=NOW,
            extended_hours=False,
        )
        TradeUpdate(event="new", order=accepted, timestamp=NOW)
        side = Side.BUY if i % 2 == 0 else Side.SELL
        position = apply_fill(position, side=side, quantity=ONE, price=price, at=NOW).after
        # The same derivation the venue makes: the fill snapshot evolved from the acceptance.
        filled = attrs.evolve(
            accepted, status=OrderStatus.FILLED, filled_quantity=ONE, filled_average_price=price, filled_at=NOW
        )
        TradeUpdate(
            event="fill",
            order=filled,
            timestamp=NOW,
            execution_id="x",
            price=price,
            quantity=ONE,
            position_quantity=position.quantity,
        )
    return (time.perf_counter() - started) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--limit", action="store_true")
    parser.add_argument("--parts", type=int, default=1)
    parser.add_argument("--memory", action="store_true")
    args = parser.parse_args()
    best = min(
        asyncio.run(exchange_run(args.n, run, limit=args.limit, parts=args.parts, memory=False))[0]
        for run in range(args.runs)
    )
    floor = min(core_floor(args.n) for _ in range(args.runs))
    result = {
        "benchmark": "paper_exchange.submit_fill",
        "orders": args.n,
        "type": "limit" if args.limit else "market",
        "fill_parts": args.parts,
        "us_per_order": round(best * 1e6, 2),
        "orders_per_s": round(1 / best),
        "core_objects_us_per_order": round(floor * 1e6, 2),
        "ratio_to_core_objects": round(best / floor, 2),
    }
    if args.memory:
        _, kept = asyncio.run(exchange_run(args.n, args.runs, limit=args.limit, parts=args.parts, memory=True))
        result["bytes_kept_per_closed_order"] = round(kept / args.n)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
