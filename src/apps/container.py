"""The running service's parts and their lifecycle: open in order, close gracefully within a bound.

`await container.open()` starts what the settings ask for, in order (database, broker, event
bus, the engine with its start-up reconciliation, then the background work and the command
consumer); `await container.close()` stops it in reverse within `server.shutdownTimeout`. Which
adapter fills each port is decided by `apps.bootstrap` (given here as `Wiring`), not here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Protocol, TypeVar

import attrs

from apps.background import Background, Job
from apps.config import Settings
from apps.logs import log_order_change
from apps.redact import mask
from apps.service.health import CONNECTED, HealthCheck
from trading_core.account_book import AccountDrift
from trading_core.clock import Clock, SystemClock
from trading_core.engine import TradingEngine
from trading_core.errors import TradingError
from trading_core.events import Event
from trading_core.ports import Broker, EventBus, MarketData, OrderStore
from trading_core.relay import OutboxRelay

log = logging.getLogger("apps.container")

T = TypeVar("T")

UPDATES: str = "trade-updates"
OUTBOX_PRUNE: str = "outbox-prune"
SNAPSHOTS: str = "portfolio-snapshots"
PRUNE_EVERY_SECONDS = 600.0
"""How often published events older than `database.outboxRetention` are pruned."""


@attrs.define(kw_only=True)
class Overrides:
    """Ports given ready-made (tests, embedding); each replaces what the settings would build."""

    clock: Clock | None = None
    store: OrderStore | None = None
    broker: Broker | None = None
    market_data: MarketData | None = None
    bus: EventBus | None = None


Notes = dict[str, str]
"""Component -> what is in use, for the console and the log (never a secret)."""


class Stoppable(Protocol):
    async def stop(self) -> None: ...


class Wiring(Protocol):
    """Builds the adapter of each port from the settings (see `apps.bootstrap`)."""

    async def store(self, settings: Settings, stack: AsyncExitStack, notes: Notes) -> OrderStore: ...
    async def broker(self, settings: Settings, clock: Clock, stack: AsyncExitStack, notes: Notes) -> Broker: ...
    async def resume(self, broker: Broker, store: OrderStore, settings: Settings, clock: Clock, notes: Notes) -> None:
        """Bring a broker that lives in the process up to what the store recorded before a restart."""

    def market_data(self, broker: Broker) -> MarketData | None: ...
    async def bus(self, settings: Settings, stack: AsyncExitStack, notes: Notes) -> EventBus: ...
    def health_checks(
        self, store: OrderStore, broker: Broker, bus: EventBus, stream: HealthCheck, consumer: Stoppable | None
    ) -> dict[str, HealthCheck]: ...
    async def consumer(
        self, settings: Settings, engine: TradingEngine, bus: EventBus, stack: AsyncExitStack, notes: Notes
    ) -> Stoppable | None: ...
    def market_hours(self, broker: Broker) -> str:
        """What opens and closes the market, for /health: XNYS, always-open, or broker (its own clock)."""

    def market_jobs(self, settings: Settings, broker: Broker, engine: TradingEngine, clock: Clock) -> dict[str, Job]:
        """Background jobs that move a simulated market with time (the paper exchange's walk and sessions)."""


class Container:
    """The running service's parts. `engine` exists once `open()` has returned."""

    def __init__(self, settings: Settings, overrides: Overrides, wiring: Wiring) -> None:
        self.settings = settings
        self._wiring = wiring
        self.clock: Clock = overrides.clock or SystemClock()
        self._overrides = overrides
        self._stack = AsyncExitStack()
        self._engine: TradingEngine | None = None
        self.background = Background()
        self.listeners: list[Callable[[Event], None]] = [log_order_change]
        self.drift_listeners: list[Callable[[AccountDrift], None]] = []
        """Given to the engine (`watch_account_drift`) when it is built, as `listeners` are."""
        self.notes: Notes = {}
        self.health_checks: dict[str, HealthCheck] = {}
        self.relay: OutboxRelay | None = None
        self.consumer: Stoppable | None = None
        self.market_hours = "broker"
        """What opens and closes the market (`/health`'s `marketHours`), known once open."""

    @property
    def engine(self) -> TradingEngine:
        if self._engine is None:
            raise RuntimeError("the container is not open: call `await container.open()` first")
        return self._engine

    @property
    def given_broker(self) -> Broker | None:
        """The broker given ready-made (tests, embedding), None when the settings choose it."""
        return self._overrides.broker

    @property
    def is_open(self) -> bool:
        return self._engine is not None

    async def open(self) -> None:
        """Start everything; the engine has reconciled with the broker before this returns.

        Opening an open container does nothing (`serve` opens it before the server starts).

        Raises:
            StartupFailed: a component could not start; it names which, and the cause.
        """
        if self._engine is not None:
            return
        make = self._wiring
        s = self.settings
        o = self._overrides
        store = o.store if o.store is not None else await _starting("database", make.store(s, self._stack, self.notes))
        broker = (
            o.broker
            if o.broker is not None
            else await _starting("broker", make.broker(s, self.clock, self._stack, self.notes))
        )
        if o.broker is None:
            await _starting("broker", make.resume(broker, store, s, self.clock, self.notes))
        market_data = o.market_data or make.market_data(broker)
        bus = o.bus if o.bus is not None else await _starting("eventBus", make.bus(s, self._stack, self.notes))
        if o.store is not None:
            self.notes.setdefault("database", type(store).__name__)
        if o.broker is not None:
            self.notes.setdefault("broker", type(broker).__name__)
        if o.bus is not None:
            self.notes.setdefault("events", type(bus).__name__)
        engine = TradingEngine(
            broker=broker, store=store, clock=self.clock, market_data=market_data, config=s.engine_config()
        )
        for listener in self.listeners:
            engine.subscribe(listener)
        for drift_listener in self.drift_listeners:
            engine.watch_account_drift(drift_listener)
        await _starting("reconciliation", engine.start())
        self._engine = engine
        relay = self.relay = OutboxRelay(store, bus)
        engine.subscribe(lambda _: relay.wake())  # what the engine committed goes out at once
        self._start_background(engine, relay)
        self.market_hours = make.market_hours(broker)
        for name, job in make.market_jobs(s, broker, engine, self.clock).items():
            self.background.start(name, job)
        self.consumer = await _starting("eventBus", make.consumer(s, engine, bus, self._stack, self.notes))
        self.health_checks = make.health_checks(store, broker, bus, self._stream_check, self.consumer)

    async def _stream_check(self) -> str:
        return CONNECTED if self.background.is_running(UPDATES) else "stopped"

    def _start_background(self, engine: TradingEngine, relay: OutboxRelay) -> None:
        sync = self.settings.sync
        self.background.start(UPDATES, engine.run_updates)
        self.background.every("order-poll", sync.order_status_poll_interval_ms / 1000, engine.reconcile_orders)
        self.background.every("position-sync", sync.position_sync_interval_ms / 1000, engine.reconcile_positions)
        self.background.start("outbox-relay", relay.run)
        self.background.every(SNAPSHOTS, sync.snapshot_interval_ms / 1000, engine.history.snapshot)
        retention = timedelta(hours=self.settings.database.outbox_retention_hours)
        if retention:
            self.background.every(OUTBOX_PRUNE, PRUNE_EVERY_SECONDS, lambda: relay.prune(self.clock.now() - retention))

    async def close(self) -> None:
        """Stop taking commands, cancel open orders (if configured), flush the outbox, close adapters."""
        timeout = self.settings.server.shutdown_timeout_ms / 1000
        try:
            await asyncio.wait_for(self._drain(), timeout)
        except TimeoutError:
            log.error("graceful shutdown took more than %gs; closing regardless", timeout)
        finally:
            await self.background.stop(timeout=2.0)
            await self._stack.aclose()

    async def _drain(self) -> None:
        if self.consumer is not None:
            await _quietly("stop the command consumer", self.consumer.stop())
        if self._engine is None:
            return
        await self.background.stop("order-poll")
        await self.background.stop("position-sync")
        await self.background.stop(OUTBOX_PRUNE)
        await self.background.stop(SNAPSHOTS)
        if self.settings.orders.cancel_on_shutdown:
            cancelled = await self._engine.shutdown()
            await _quietly("apply the last trade updates", self._engine.process_updates())
            log.info("cancelled %d open orders on shutdown", cancelled)
        await self.background.stop(UPDATES)
        await self.background.stop("outbox-relay")
        if self.relay is not None:
            flushed = await self.relay.flush()
            log.info("flushed %d events from the outbox", flushed)

    def describe(self) -> str:
        return ", ".join(f"{k}: {v}" for k, v in self.notes.items())


class StartupFailed(Exception):
    """A component of the service could not start: `component` names it (as `/health` does), `cause` says why."""

    def __init__(self, component: str, error: BaseException) -> None:
        self.component = component
        self.cause = cause_of(error)
        super().__init__(f"{component}: {self.cause}")


def cause_of(error: BaseException) -> str:
    """One line saying why: the innermost error's message (an exception group's first), masked and bounded."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    while error.__cause__ is not None and not str(error).strip():
        error = error.__cause__
    text = " ".join(str(error).split()) or type(error).__name__
    text = mask(text)
    return text if len(text) <= 300 else f"{text[:297]}..."


async def _starting(component: str, step: Awaitable[T]) -> T:
    try:
        return await step
    except StartupFailed:
        raise
    except Exception as e:
        raise StartupFailed(component, e) from e


async def _quietly(what: str, step: Awaitable[object]) -> None:
    try:
        await step
    except (TradingError, OSError) as e:
        log.warning("could not %s during shutdown: %s", what, e)
