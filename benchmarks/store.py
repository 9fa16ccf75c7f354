"""Orders stored per second through the PostgreSQL unit of work, against a bare psycopg ceiling.

Each order is one transaction: the order, its fill, its position and two outbox events. The
ceiling sends the same statements with the same parameters (built beforehand), one transaction
per order, on plain psycopg connections with nothing of ours around them; the unit of work pays
for everything else (pool checkout and check, rows, payload encoding, error translation). Both
run at 1 and 8 concurrent writers, in sixteen chunks each (of 50 orders per mode at 1 writer, of
25 per writer at 8), taken in turn (ABBA) so that the drift of a shared machine and its disk hits
both alike; orders per second is the median chunk's, the latencies are over every transaction.
One more line gives the in-memory store's cost per order through the same unit of work.

Uses DATABASE_URL when set, else an embedded PostgreSQL (pgserver) in a temporary folder; the
orders go into a scratch database that is dropped at the end. Prints JSON lines.
Environment: BENCH_SCALE multiplies the chunk sizes (default 1).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import tempfile
import time
import uuid
import warnings
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from adapters.memory import InMemoryOrderStore
from adapters.postgres import PostgresOrderStore, apply_migrations
from adapters.postgres import rows as store_rows
from adapters.postgres.outbox import INSERT_EVENT, event_params
from trading_core.enums import OrderStatus, OrderType, Side, TimeInForce
from trading_core.events import Event, OrderFilled, PositionUpdated
from trading_core.fills import Fill
from trading_core.lifecycle import fill_order
from trading_core.orders import Order
from trading_core.positions import Position
from trading_core.values import ClientOrderId, ExecutionId, Symbol, new_event_id, new_order_id

TARGET = 0.70
CHUNKS = 16
CHUNK_ORDERS = {1: 50, 8: 25}
"""Orders per writer in one chunk: a chunk lasts long enough to time at either concurrency."""
START = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)


def payload_of(event: Event) -> dict[str, Any]:
    """A stand-in codec of the size a real payload has."""
    payload: dict[str, Any] = {"eventId": event.event_id, "type": event.TYPE, "ts": event.ts_event.isoformat()}
    if isinstance(event, OrderFilled):
        order, fill = event.order, event.fill
        payload |= {
            "orderId": order.id,
            "symbol": order.symbol,
            "side": order.side.value,
            "status": order.status.value,
            "filledQty": fill.quantity,
            "price": fill.price,
            "averagePrice": order.average_fill_price,
            "realizedPnl": event.realized_pnl,
        }
    elif isinstance(event, PositionUpdated):
        held = event.position
        payload |= {"symbol": held.symbol, "quantity": held.quantity, "costBasis": held.cost_basis}
    return payload


Statements = list[tuple[str, Any]]


@dataclass
class Work:
    """One transaction's worth: the domain values, and the ceiling's ready-made parameters."""

    order: Order
    fill: Fill
    position: Position
    events: list[Event]

    def statements(self) -> Statements:
        return [
            (store_rows.INSERT_ORDER, store_rows.order_params(self.order)),
            (store_rows.INSERT_FILL, store_rows.fill_params(self.fill)),
            (store_rows.UPSERT_POSITION, store_rows.position_params(self.position)),
            (INSERT_EVENT, [event_params(e, payload_of) for e in self.events]),
        ]


def make_work(writer: int, count: int) -> list[Work]:
    symbol = Symbol(f"BW{writer}")
    held = Position.flat(symbol)
    work = []
    for number in range(count):
        at = START + timedelta(milliseconds=number)
        order = Order(
            id=new_order_id(),
            client_order_id=ClientOrderId(str(uuid.uuid4())),
            symbol=symbol,
            side=Side.BUY,
            type=OrderType.LIMIT,
            time_in_force=TimeInForce.DAY,
            quantity=Decimal("5.0000"),
            limit_price=Decimal("101.2500"),
            status=OrderStatus.NEW,
            created_at=at,
            updated_at=at,
        )
        fill = Fill(
            order_id=order.id,
            execution_id=ExecutionId(str(uuid.uuid4())),
            symbol=symbol,
            side=Side.BUY,
            quantity=Decimal("5.0000"),
            price=Decimal("101.2400"),
            timestamp=at,
        )
        done = fill_order(order, fill, now=at)
        assert done is not None
        held = Position(
            symbol=symbol,
            quantity=held.quantity + fill.quantity,
            cost_basis=held.cost_basis + fill.quantity * fill.price,
            opened_at=START,
            updated_at=at,
        )
        events: list[Event] = [
            OrderFilled(
                event_id=new_event_id(), ts_event=at, ts_init=at, order=done, fill=fill, realized_pnl=Decimal(0)
            ),
            PositionUpdated(event_id=new_event_id(), ts_event=at, ts_init=at, position=held, realized_pnl=Decimal(0)),
        ]
        work.append(Work(done, fill, held, events))
    return work


async def ceiling_writer(
    conn: psycopg.AsyncConnection[Any], work: Sequence[Statements], latencies: list[float]
) -> None:
    """Plain psycopg: the same statements, one transaction each, parameters built beforehand."""
    for statements in work:
        started = time.perf_counter()
        order, fill, position, events = statements
        await conn.execute(*order)
        await conn.execute(*fill)
        await conn.execute(*position)
        async with conn.cursor() as cursor:
            await cursor.executemany(*events)
        await conn.commit()
        latencies.append(time.perf_counter() - started)


async def unit_of_work_writer(store: Any, work: Sequence[Work], latencies: list[float]) -> None:
    """Through the store's unit of work, as the engine writes an execution."""
    for item in work:
        started = time.perf_counter()
        async with store.unit_of_work() as uow:
            await uow.add_order(item.order)
            await uow.add_fill(item.fill)
            await uow.save_position(item.position)
            await uow.add_events(item.events)
            await uow.commit()
        latencies.append(time.perf_counter() - started)


@dataclass
class Tally:
    """Latencies of one mode, and its throughput in each chunk."""

    latencies: list[float]
    chunk_rates: list[float]

    @property
    def orders_per_s(self) -> float:
        """The median chunk's: a burst of someone else's load on the machine moves it little."""
        return statistics.median(self.chunk_rates)

    def line(self, mode: str, writers: int) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        return {
            "bench": "store",
            "mode": mode,
            "writers": writers,
            "orders": len(ordered),
            "orders_per_s": round(self.orders_per_s, 1),
            "p50_ms": round(1000 * ordered[len(ordered) // 2], 3),
            "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3),
        }


async def timed(tally: Tally, writers: Sequence[Callable[[list[float]], Awaitable[None]]]) -> None:
    latencies: list[float] = []
    started = time.perf_counter()
    await asyncio.gather(*(writer(latencies) for writer in writers))
    tally.chunk_rates.append(len(latencies) / (time.perf_counter() - started))
    tally.latencies.extend(latencies)


async def bench_writers(url: str, writers: int, chunk: int) -> list[dict[str, Any]]:
    """Chunks of each mode in turn (ABBA), so the server's and the machine's drift hits both alike."""
    ceiling_conns = [await psycopg.AsyncConnection.connect(url) for _ in range(writers)]
    store = await PostgresOrderStore.open(url, payload_of=payload_of, min_size=writers, max_size=writers)
    ceiling, ours, warm = Tally([], []), Tally([], []), Tally([], [])

    async def run_ceiling(tally: Tally, size: int) -> None:
        ready = [[item.statements() for item in make_work(w, size)] for w in range(writers)]
        await timed(tally, [_bind(ceiling_writer, c, w) for c, w in zip(ceiling_conns, ready, strict=True)])

    async def run_ours(tally: Tally, size: int) -> None:
        work = [make_work(w, size) for w in range(writers)]
        await timed(tally, [_bind(unit_of_work_writer, store, w) for w in work])

    try:
        await run_ceiling(warm, 10)  # statements get prepared on every connection
        await run_ours(warm, 10)
        for number in range(CHUNKS):
            pair = (run_ceiling(ceiling, chunk), run_ours(ours, chunk))
            for step in pair if number % 4 in (0, 3) else pair[::-1]:
                await step
    finally:
        await store.close()
        for conn in ceiling_conns:
            await conn.close()
    ratio = ours.orders_per_s / ceiling.orders_per_s
    verdict = {"bench": "store", "writers": writers, "ratio": round(ratio, 3), "target": TARGET}
    return [
        ceiling.line("ceiling", writers),
        ours.line("unit_of_work", writers),
        verdict | {"meets_target": ratio >= TARGET},
    ]


async def bench_memory(count: int, repeats: int = 3) -> dict[str, Any]:
    """The same unit of work on the in-memory store; the best of a few runs, each on a new store."""
    best = float("inf")
    for _ in range(repeats):
        store = InMemoryOrderStore(payload_of=payload_of)
        work = make_work(0, count)
        started = time.perf_counter()
        await unit_of_work_writer(store, work, [])
        best = min(best, time.perf_counter() - started)
    return {
        "bench": "store",
        "mode": "memory_unit_of_work",
        "writers": 1,
        "orders": count,
        "orders_per_s": round(count / best, 1),
        "us_per_order": round(1e6 * best / count, 2),
    }


def _bind(
    writer: Callable[[Any, Any, list[float]], Awaitable[None]], target: Any, work: Sequence[Any]
) -> Callable[[list[float]], Awaitable[None]]:
    return lambda latencies: writer(target, work, latencies)


@contextmanager
def server() -> Iterator[str]:
    """DATABASE_URL, or an embedded server in a temporary folder that is deleted afterwards."""
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns that XDG_RUNTIME_DIR is unset
        import pgserver
    folder = Path(tempfile.mkdtemp(prefix="trading-bench-"))
    folder.chmod(0o755)  # pgserver runs the server as its own user when we are root
    embedded = pgserver.get_server(folder / "pg", cleanup_mode="delete")
    try:
        yield str(embedded.get_uri())
    finally:
        embedded.cleanup()  # stops the server and deletes its data folder
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def scratch_database(url: str) -> Iterator[str]:
    name = f"trading_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(url, dbname=name)
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


async def main() -> None:
    scale = float(os.environ.get("BENCH_SCALE", "1"))
    with server() as url, scratch_database(url) as database:
        await apply_migrations(database)
        for writers in (1, 8):
            for line in await bench_writers(database, writers, max(5, round(CHUNK_ORDERS[writers] * scale))):
                print(json.dumps(line), flush=True)
    print(json.dumps(await bench_memory(10_000)), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
