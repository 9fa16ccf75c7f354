"""The paper exchange's market data: what its tape costs a price move, the memory it keeps, and reads of bars.

A walk steps every listed symbol (82 by default) once a simulated second for `--minutes`
minutes. Prints JSON lines:

- `move_us`: microseconds per price move with the tape (best of `--runs`), and `walk_us`, the same
  moves on an exchange whose tape is bypassed (the cost before bars existed); compare their ratio
  (`tape_ratio`) across noisy machines, not the absolute figures.
- `bytes_per_symbol_minute`: memory the tape keeps per symbol and minute of trading (tracemalloc,
  over twelve times `--minutes` of one step a minute), which with the default two days of minute
  bars bounds it (at 82 listings, about 21 MB).
- `bars_ms`: a day of 1Min bars of one symbol, and `day_bars_ms` its daily bars, each read.

    PYTHONPATH=src python benchmarks/market_data.py [--minutes 120] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

from adapters.paper import PaperExchange
from trading_core.bars import ONE_DAY, ONE_MINUTE
from trading_core.clock import TestClock
from trading_core.values import Symbol

START = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)  # New York midnight
SECOND = timedelta(seconds=1)


class _NoTape:
    """A tape that keeps nothing: the exchange as it moved prices before it had bars."""

    def record(self, *_: object) -> None:
        return None


def walked(minutes: int, *, tape: bool) -> tuple[PaperExchange, TestClock, float]:
    """An exchange stepped once a second for `minutes`, and the seconds per move it took."""
    clock = TestClock(START)
    exchange = PaperExchange(clock)
    if not tape:
        exchange._tape = _NoTape()  # type: ignore[assignment]  # the baseline: the exchange without bars
    moves = minutes * 60 * len(exchange.config.listings)
    started = time.perf_counter()
    for _ in range(minutes * 60):
        clock.advance(SECOND)
        exchange.step_prices()
    return exchange, clock, (time.perf_counter() - started) / moves


def kept_bytes(minutes: int) -> float:
    tracemalloc.start()
    clock = TestClock(START)
    exchange = PaperExchange(clock)
    symbols = len(exchange.config.listings)
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(minutes):
        clock.advance(timedelta(minutes=1))
        exchange.step_prices()
    kept = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return kept / (minutes * symbols)


async def read_times(exchange: PaperExchange, clock: TestClock) -> tuple[float, float]:
    aapl, end = Symbol("AAPL"), clock.now()
    started = time.perf_counter()
    minutes = await exchange.get_bars(aapl, ONE_MINUTE, START, end)
    minute_read = time.perf_counter() - started
    started = time.perf_counter()
    await exchange.get_bars(aapl, ONE_DAY, START, end)
    day_read = time.perf_counter() - started
    assert minutes[-1].close == exchange.price("AAPL")
    return minute_read, day_read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=120)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with_tape = min(walked(args.minutes, tape=True)[2] for _ in range(args.runs))
    without = min(walked(args.minutes, tape=False)[2] for _ in range(args.runs))
    exchange, clock, _ = walked(args.minutes, tape=True)
    minute_read, day_read = asyncio.run(read_times(exchange, clock))
    print(
        json.dumps(
            {
                "benchmark": "market_data",
                "minutes": args.minutes,
                "move_us": round(with_tape * 1e6, 3),
                "walk_us": round(without * 1e6, 3),
                "tape_ratio": round(with_tape / without, 3),
                "bytes_per_symbol_minute": round(kept_bytes(args.minutes * 12)),
                "bars_ms": round(minute_read * 1e3, 2),
                "day_bars_ms": round(day_read * 1e3, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
