"""The whole engine in one process, for strategy code, notebooks and tests.

`connect(broker, ...)` is the one entry point, whatever the broker: the paper exchange here,
Alpaca (paper or live), or an Alpaca-compatible URL such as the simulator's; optionally with
PostgreSQL and NATS. `start_paper_engine()` is the paper exchange's shorter form, which leaves
applying the exchange's updates to the caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AsyncExitStack
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal, cast

import attrs

from adapters.alpaca.config import DATA_URL, LIVE_URL, PAPER_URL, AlpacaSettings
from adapters.codec.events import event_payload
from adapters.memory.store import InMemoryOrderStore
from adapters.paper import PaperConfig, PaperExchange
from trading_core.clock import Clock, SystemClock
from trading_core.engine import EngineConfig, TradingEngine
from trading_core.ports import Broker, MarketData, OrderStore
from trading_core.relay import OutboxRelay
from trading_core.risk import RiskEngine

if TYPE_CHECKING:
    from adapters.nats import NatsSettings

__all__ = ["Connection", "connect", "start_paper_engine"]


async def start_paper_engine(
    *,
    config: EngineConfig | None = None,
    paper: PaperConfig | None = None,
    clock: Clock | None = None,
    risk: RiskEngine | None = None,
) -> tuple[TradingEngine, PaperExchange]:
    """A started engine trading on a fresh paper exchange, keeping everything in memory.

    Returns the engine and the exchange, whose controls (`set_price`, `step_prices`,
    `open_market`, `close_market`) drive the simulated market. Events reach the listeners given
    to `engine.subscribe`; with no event bus to relay them to, the store keeps no outbox, so
    memory grows only with the orders and fills it stores. `risk` is a risk engine with rules of
    your own (`RiskEngine(limits).with_rules(...)`).

    The exchange's trade updates (a resting order filled by `set_price`, say) are applied when the
    engine is told to: `await engine.process_updates()` applies those that have arrived, and
    `engine.run_updates()`, as a task, applies them as they come.
    """
    clock = clock or SystemClock()
    exchange = PaperExchange(clock, config=paper)
    store = InMemoryOrderStore(payload_of=event_payload, outbox=False)
    engine = TradingEngine(broker=exchange, store=store, clock=clock, market_data=exchange, config=config, risk=risk)
    await engine.start()
    return engine, exchange


BrokerChoice = Literal["paper", "alpaca-paper", "alpaca-live"] | str
"""`paper`, `alpaca-paper`, `alpaca-live`, or the URL of an Alpaca-compatible trading API."""

_ALPACA_HOSTS: Final = {"alpaca-paper": PAPER_URL, "alpaca-live": LIVE_URL}


def connect(
    broker: BrokerChoice = "paper",
    *,
    key_id: str | None = None,
    secret_key: str | None = None,
    data_url: str | None = None,
    database_url: str | None = None,
    nats_url: str | NatsSettings | None = None,
    config: EngineConfig | None = None,
    risk: RiskEngine | None = None,
    paper: PaperConfig | None = None,
    history: int | None = None,
    snapshot_interval: float | None = 60.0,
    clock: Clock | None = None,
) -> Connection:
    """The engine on a broker, started, applying the broker's updates by itself: `async with connect(...) as engine`.

    The same strategy code runs on each broker unchanged: it sees a `TradingEngine`.

    Args:
        broker: `paper` (the paper exchange in this process: `engine.broker` is the `PaperExchange`,
            whose controls move its prices), `alpaca-paper` or `alpaca-live` (Alpaca, with the keys),
            or the URL of an Alpaca-compatible trading API (`trading-engine alpaca-sim`'s, say).
        key_id: Alpaca's API key id (not for `paper`).
        secret_key: Alpaca's API secret (not for `paper`).
        data_url: Alpaca's market data host; by default Alpaca's own, or the URL given as `broker`.
        database_url: PostgreSQL to keep orders, fills, positions and history in (migrated first);
            by default they are kept in memory.
        nats_url: NATS to publish the events to (through the store's outbox), or `NatsSettings` for
            subjects and streams of your own; by default events only reach `engine.subscribe` listeners.
        config: how the engine behaves (`EngineConfig`).
        risk: a risk engine with rules of your own (`RiskEngine(limits).with_rules(...)`).
        paper: the paper exchange's configuration (`paper` only).
        history: kept in memory (no `database_url`): only the `history` orders that ended last, with
            their fills (see `InMemoryOrderStore`); None keeps everything.
        snapshot_interval: seconds between snapshots of the portfolio's value beside those taken at
            each fill; None for those at fills only.
        clock: the engine's time (the system's by default).

    Raises:
        ValueError: a broker that is none of these, keys missing for Alpaca or given for `paper`, or a
            `snapshot_interval` that is not positive.
    """
    alpaca_url = _alpaca_url(broker, key_id, secret_key)
    if snapshot_interval is not None and not snapshot_interval > 0:  # 0 would snapshot without pause
        raise ValueError(f"snapshot_interval must be more than 0 seconds, or None for none, was {snapshot_interval}")
    return Connection(
        _Plan(
            alpaca_url=alpaca_url,
            key_id=key_id,
            secret_key=secret_key,
            data_url=data_url or (broker if alpaca_url == broker else DATA_URL),
            database_url=database_url,
            nats_url=nats_url,
            config=config,
            risk=risk,
            paper=paper,
            history=history,
            snapshot_interval=snapshot_interval,
            clock=clock or SystemClock(),
        )
    )


def _alpaca_url(broker: BrokerChoice, key_id: str | None, secret_key: str | None) -> str | None:
    """The trading API `broker` names (None for the paper exchange), its keys checked.

    Raises:
        ValueError: a broker that is none of `BrokerChoice`'s, keys missing for Alpaca or given for `paper`.
    """
    alpaca_url = _ALPACA_HOSTS.get(broker, broker if broker.startswith(("http://", "https://")) else None)
    if broker != "paper" and alpaca_url is None:
        raise ValueError(f"broker must be paper, alpaca-paper, alpaca-live or an http(s) URL, was {broker!r}")
    if alpaca_url is not None and (key_id is None or secret_key is None):
        raise ValueError(f"{broker} needs key_id and secret_key")
    if alpaca_url is None and (key_id is not None or secret_key is not None):
        raise ValueError("the paper exchange takes no keys (did you mean broker='alpaca-paper'?)")
    return alpaca_url


@attrs.frozen(kw_only=True)
class _Plan:
    """What `connect` was asked for."""

    alpaca_url: str | None
    key_id: str | None
    secret_key: str | None = attrs.field(repr=False)
    data_url: str
    database_url: str | None = attrs.field(repr=False)
    nats_url: str | NatsSettings | None
    config: EngineConfig | None
    risk: RiskEngine | None
    paper: PaperConfig | None
    history: int | None
    snapshot_interval: float | None
    clock: Clock


class Connection:
    """`connect`'s answer: entering it opens the broker, store and bus and starts the engine (and
    its trade update and snapshot tasks); leaving it stops them and closes everything, in reverse."""

    def __init__(self, plan: _Plan) -> None:
        self._plan = plan
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> TradingEngine:
        try:
            return await self._open(self._plan, self._stack)
        except BaseException:
            await self._stack.aclose()
            raise

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stack.aclose()

    async def _open(self, plan: _Plan, stack: AsyncExitStack) -> TradingEngine:
        broker = await _broker(plan, stack)
        store = await _store(plan, stack)
        engine = TradingEngine(
            broker=broker,
            store=store,
            clock=plan.clock,
            market_data=cast(MarketData, broker),  # both brokers serve prices
            config=plan.config,
            risk=plan.risk,
        )
        await engine.start()
        if plan.nats_url is not None:
            await _relay(plan.nats_url, engine, stack)
        _task(stack, engine.run_updates(), "trade-updates")
        if plan.snapshot_interval is not None:
            _task(stack, _every(plan.snapshot_interval, engine.history.snapshot), "portfolio-snapshots")
        return engine


async def _broker(plan: _Plan, stack: AsyncExitStack) -> Broker:
    if plan.alpaca_url is None:
        return PaperExchange(plan.clock, config=plan.paper)
    import httpx

    from adapters.alpaca.broker import AlpacaBroker

    client = httpx.AsyncClient()
    stack.push_async_callback(client.aclose)
    settings = AlpacaSettings(  # the keys were checked by connect
        key_id=plan.key_id or "", secret_key=plan.secret_key or "", base_url=plan.alpaca_url, data_url=plan.data_url
    )
    broker = AlpacaBroker(client, settings, clock=plan.clock)
    await broker.open()  # the stream connected and backfilled before the engine starts
    stack.push_async_callback(broker.close)
    return broker


async def _store(plan: _Plan, stack: AsyncExitStack) -> OrderStore:
    if plan.database_url is None:
        return InMemoryOrderStore(payload_of=event_payload, outbox=plan.nats_url is not None, history=plan.history)
    from adapters.postgres import PostgresOrderStore

    store = await PostgresOrderStore.open(plan.database_url, payload_of=event_payload, migrate=True)
    stack.push_async_callback(store.close)
    return store


async def _relay(nats: str | NatsSettings, engine: TradingEngine, stack: AsyncExitStack) -> None:
    """Events go out through the outbox: published as they commit, the rest flushed on the way out."""
    from adapters.nats import NatsEventBus, NatsSettings

    bus = await NatsEventBus.open(NatsSettings(url=nats) if isinstance(nats, str) else nats)
    stack.push_async_callback(bus.close)
    relay = OutboxRelay(engine.store, bus)
    stack.push_async_callback(relay.flush)  # after the relay's task has stopped (callbacks run in reverse)
    engine.subscribe(lambda _: relay.wake())
    _task(stack, relay.run(), "outbox-relay")


def _task(stack: AsyncExitStack, work: Coroutine[Any, Any, None], name: str) -> None:
    task = asyncio.create_task(work, name=name)

    async def stop() -> None:
        # Cancelled again until it ends: on Python 3.11 `asyncio.wait_for` (the relay's idle wait)
        # loses a cancellation that meets its inner wait finishing, and the task would run on.
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=0.1)

    stack.push_async_callback(stop)


async def _every(seconds: float, action: Callable[[], Awaitable[object]]) -> None:
    while True:
        await asyncio.sleep(seconds)
        await action()  # the snapshot logs what it cannot store, and raises nothing else
