"""The running service under load: N market orders over HTTP from 1 and 32 concurrent clients.

The service runs as `trading-engine serve` (one process) on the embedded PostgreSQL with the
paper exchange and the in-process event bus. In the same run, the floor of a durable submit: a
bare Litestar endpoint, served the same way on the same database, that only inserts one order
row and one outbox row in one transaction. Prints JSON lines: orders per second and p50/p99
submit latency in ms for each, with the CPU per order of the serving process and of PostgreSQL,
then the service's share of the floor's throughput at 32 clients.

The two take turns (service, floor, service, floor, ... for `--rounds` rounds at each number of
clients), so that a burst of someone else's load on a shared machine hits both alike; the summary
gives the median of the rounds' shares and of the service's p99, and the range of the shares.

    python benchmarks/service.py [-n 500] [--rounds 3]

Where a submit's time goes beyond the floor's (2-core machine, 32 clients, both CPU-bound, after
the warm-up): the floor's process spends about 0.5 ms of CPU per order (four statements in four
round trips: BEGIN, two INSERTs, COMMIT), PostgreSQL about 0.2 ms. The service spends about
0.6 ms and PostgreSQL about 0.25 ms (the `*_cpu_ms_per_order` keys). A submit is two writes,
because the order must be stored before it is sent: the order goes in as one statement in
autocommit (`OrderStore.add_orders`); then the broker's answer, the fill, the order, the position
and the events go in as one more, without reading anything first: the store remembers the rows it
wrote last and attaches their versions, which the statement checks (`adapters.postgres.remembered`,
`batch`). Both are sent through a group commit, which merges the writes of submits that wait for
one another into one statement (`adapters.postgres.group_commit`): at 32 clients a statement
carries several submits, so there are fewer statements, round trips and commits than submits.
By py-spy (2026-11-26, before the long statements were written with native placeholders, which
took away psycopg's parsing of them, a tenth of the CPU), about 40% of the service's CPU is HTTP
(uvicorn, h11, Litestar, as for the floor), 30% psycopg and asyncio sending and reading
statements, 4% metrics, and the rest our own code (ledger, risk checks, the paper exchange, the
group commit, the outbox relay), none of it above 4%. So the share settles near 0.7 (0.69-0.77
over three rounds on 2026-11-26: service 1,350-1,400/s with p99 30-31 ms, floor 1,770-2,010/s);
before the group commit and the remembered rows it was about 0.5, p99 50-60 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from _cluster import cpu_seconds, database_processes, free_port

SYMBOLS = ("AAPL", "MSFT", "NVDA", "GOOGL", "META", "AMZN", "TSLA", "JPM", "XOM", "JNJ")
SRC = Path(__file__).parents[1] / "src"
WARMUP = 500
"""Submits before each measured run, so that what is measured is a server in its steady state:
psycopg prepares a statement on a connection at its fifth run, and the pool has 32 connections."""


def floor_app(database_url: str) -> Any:
    """One order row and one outbox row in one transaction: what any durable submit must at least do."""
    from litestar import Litestar, post
    from psycopg.types.json import Jsonb
    from psycopg_pool import AsyncConnectionPool

    pool = AsyncConnectionPool(database_url, min_size=10, max_size=10, open=False)

    @post("/api/v1/orders", status_code=201)
    async def submit(data: dict[str, Any]) -> dict[str, str]:
        order_id, event_id = str(uuid.uuid4()), str(uuid.uuid4())
        async with pool.connection() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO trading.orders (id, client_order_id, symbol, side, quantity, order_type, time_in_force,"
                " status) VALUES (%s, %s, %s, %s, %s, %s, 'day', 'pending_new')",
                (order_id, order_id, data["symbol"], data["side"], data["quantity"], data["type"]),
            )
            await conn.execute(
                "INSERT INTO trading.outbox (event_id, type, occurred_at, payload) VALUES (%s, %s, now(), %s)",
                (event_id, "trade.order.submitted", Jsonb({"orderId": order_id, **data})),
            )
        return {"orderId": order_id, "status": "accepted"}

    async def open_pool() -> None:
        await pool.open()

    async def close_pool() -> None:
        await pool.close()

    return Litestar([submit], on_startup=[open_pool], on_shutdown=[close_pool], logging_config=None)


def serve_floor(port: int) -> None:
    import uvicorn

    uvicorn.run(floor_app(os.environ["DATABASE_URL"]), host="127.0.0.1", port=port, log_level="warning")


def start(command: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{command} exited: {log.read_text()[-3000:]}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"{command} did not start")


class RawClient:
    """A minimal HTTP/1.1 keep-alive client: the load generator must cost far less than the server."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            self.writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        assert self.reader is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return int(status_line.split()[1])

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def load(port: int, orders: int, clients: int) -> dict[str, Any]:
    """Submit `orders` market orders from `clients` concurrent clients; latency of each submit."""
    latencies: list[float] = []
    failures = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(orders):
        queue.put_nowait(i)

    async def client() -> None:
        nonlocal failures
        http = RawClient(port)
        try:
            while not queue.empty():
                i = queue.get_nowait()
                body = {"symbol": SYMBOLS[i % len(SYMBOLS)], "side": "buy", "quantity": 1, "type": "market"}
                started = time.perf_counter()
                status = await http.post("/api/v1/orders", json.dumps(body).encode())
                latencies.append((time.perf_counter() - started) * 1000)
                failures += status != 201
        finally:
            await http.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "clients": clients,
        "orders": orders,
        "failures": failures,
        "orders_per_second": round(orders / elapsed, 1),
        "p50_ms": round(latencies[len(latencies) // 2], 2),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", "--orders", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3, help="service and floor take turns this many times")
    parser.add_argument("--floor", type=int, help=argparse.SUPPRESS)  # internal: serve the floor on this port
    args = parser.parse_args()
    if args.floor:
        serve_floor(args.floor)
        return
    import pgserver

    with tempfile.TemporaryDirectory(prefix="bench-service-") as tmp:
        server = pgserver.get_server(tmp, cleanup_mode="stop")
        url = server.get_uri()
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(SRC),
            "DATABASE_URL": url,
            "TRADING_ENGINE_EMBEDDED_NATS": "false",
            "TRADING_ENGINE_EMBEDDED_DATA_DIR": tmp,
            "TRADING_ENGINE_BROKER_PAPER_STARTING_CASH": "1000000000",
            # fixed prices and an open market at any hour, so that runs compare
            "TRADING_ENGINE_BROKER_PAPER_PRICE_WALK": "false",
            "TRADING_ENGINE_BROKER_PAPER_CALENDAR": "always-open",
            "TRADING_ENGINE_RISK_MAX_POSITION_SIZE_PERCENT": "100",
            "TRADING_ENGINE_RISK_MAX_SECTOR_EXPOSURE_PERCENT": "100",
            "LOG_LEVEL": "warning",
        }
        service_port, floor_port = free_port(), free_port()
        log = Path(tmp) / "bench.log"
        service = start(
            [sys.executable, "-m", "apps.cli", "serve", "--port", str(service_port)], env, service_port, log
        )
        floor = start([sys.executable, __file__, "--floor", str(floor_port)], env, floor_port, log)
        try:
            shares: list[float] = []
            p99s: list[float] = []
            for clients in (1, 32):
                for turn in range(args.rounds):
                    results: dict[str, dict[str, Any]] = {}
                    for name, port, process in (("service", service_port, service), ("floor", floor_port, floor)):
                        asyncio.run(load(port, WARMUP, clients))
                        watched = database_processes(tmp)
                        app_cpu, db_cpu = cpu_seconds([process.pid]), cpu_seconds(watched)
                        results[name] = result = asyncio.run(load(port, args.orders, clients))
                        result["app_cpu_ms_per_order"] = round(
                            (cpu_seconds([process.pid]) - app_cpu) * 1e3 / args.orders, 3
                        )
                        result["db_cpu_ms_per_order"] = round((cpu_seconds(watched) - db_cpu) * 1e3 / args.orders, 3)
                        line = {"benchmark": "service_submit", "target": name, "round": turn + 1, **result}
                        print(json.dumps(line), flush=True)
                    if clients == 32:
                        shares.append(results["service"]["orders_per_second"] / results["floor"]["orders_per_second"])
                        p99s.append(results["service"]["p99_ms"])
            share, p99 = statistics.median(shares), statistics.median(p99s)
            summary = {
                "benchmark": "service_submit",
                "share_of_floor_at_32_clients": round(share, 3),
                "share_range": [round(min(shares), 3), round(max(shares), 3)],
                "p99_ms_at_32_clients": p99,
                "target_met": share >= 0.5 and p99 < 50,
            }
            print(json.dumps(summary), flush=True)
        finally:
            for process in (service, floor):
                process.terminate()
                process.wait(30)
            server.cleanup()  # stop PostgreSQL before its folder goes


if __name__ == "__main__":
    main()
