"""Commands from NATS into the engine: a durable JetStream consumer shared by the replicas' queue group.

Each replica subscribes to the same durable push consumer with the same deliver group, so a command
goes to one replica. A replica handles the decisions of one symbol one at a time, in order, and
those of different symbols at once (as many as the server has out, `max_ack_pending`): one
decision's round trips to the database and the broker do not hold up the next symbol's. A session
change or a shutdown waits for the decisions in hand and is handled alone, so each command still
meets the ones sent before it done. Each is settled:

- handled: `ack`;
- unreadable or invalid (bad JSON or nested too deeply, fails its schema, or the handler raised `InvalidOrder`):
  `term` with the reason (never redelivered), logged, and for a decision `decision_malformed`;
- the handler failed otherwise: `nak` with a delay, so it is delivered again, up to `max_deliver`
  deliveries; the last failure is terminated and, for a decision, announced as malformed too.

A handler that runs long sends progress beats so the server does not redeliver it meanwhile.
How a command is handled and settled is `settlement.py`; this module takes them in hand.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final, Self

import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import AckPolicy, ConsumerConfig, ConsumerInfo, DeliverPolicy

from adapters.codec.commands import (
    DECISION_SCHEMA,
    SESSION_SCHEMA,
    SHUTDOWN_SCHEMA,
    InvalidCommand,
    structure_decision,
)
from adapters.nats.config import Command, NatsSettings, command_for
from adapters.nats.connection import NATS_ERRORS, ensure_stream, server_at_least
from adapters.nats.probe import CachedHealth, connection_state, consumer_state, probe_context
from adapters.nats.reconnect import Redeclaration
from adapters.nats.settlement import Settlement, decode_body, settling
from trading_core.decisions import CommandHandler, Decision
from trading_core.errors import EventBusError

__all__ = ["NatsCommandConsumer"]

log: Final = logging.getLogger(__name__)


class NatsCommandConsumer:
    """Delivers decisions, session changes and shutdown from NATS to a `CommandHandler`.

    `start()` sets up the commands stream (when `create_streams`) and the durable consumer, then
    subscribes; `stop()` stops taking commands and lets the one in hand finish. The consumer starts
    with the commands published after it was first created (a new deployment does not replay old
    decisions); from then on the durable position survives restarts.

    The stream and the consumer are set up again (ensured, never replaced) after every reconnection
    and every `watch_interval`, so a server that came back without its store, or lost them while the
    connection stayed up, delivers again. A consumer created again starts at the last moment this
    one saw it with nothing pending, so the commands published while it was missing are delivered
    (with at most `watch_interval` of handled ones again: a decision's client order id makes a
    repeat harmless), and takes the same deliver subject, so every replica's
    subscription keeps receiving. A replica whose subscription no longer matches the consumer's
    deliver subject (another replica recreated it first) subscribes again.
    """

    def __init__(self, client: Client, handler: CommandHandler, settings: NatsSettings) -> None:
        self._nc = client
        self._js = client.jetstream()
        self._handler = handler
        self._settings = settings
        self._sub: Subscription | None = None
        self._settlement = Settlement(client, handler, settings)
        self._seen_at: datetime | None = None
        """When the server last showed our consumer with nothing left to deliver or acknowledge (or
        when it was first set up): a consumer made again delivers what was stored since."""
        self._declaring = asyncio.Lock()
        self._redeclaration = Redeclaration(client, self.declare, what=f"consumer {settings.consumer}")
        self._watch: asyncio.Task[None] | None = None
        self._health = CachedHealth(self._probe)
        self._in_hand: set[asyncio.Task[None]] = set()
        """Decisions being handled."""
        self._last: dict[str | None, asyncio.Task[None]] = {}
        """The last decision taken in hand for each symbol: the next one of that symbol waits for it."""

    async def start(self) -> None:
        """Set up the stream and the durable consumer, and start handling commands.

        Raises:
            EventBusError: NATS refused or did not answer.
        """
        if self._sub is not None:
            return
        await self.declare()
        self._settlement.term_reasons = server_at_least(self._nc, 2, 10)
        self._redeclaration.attach()
        self._watch = asyncio.get_running_loop().create_task(self._keep_declared(), name="watch command consumer")
        log.info("consuming %s as %s", ", ".join(self._settings.subscriptions), self._settings.consumer)

    async def declare(self) -> None:
        """Make sure the stream and the durable consumer exist and that we are subscribed to its deliveries.

        Raises:
            EventBusError: NATS refused or did not answer.
        """
        s = self._settings
        async with self._declaring:
            try:
                if s.create_streams:
                    await ensure_stream(
                        self._js,
                        name=s.commands_stream,
                        subjects=s.subscriptions,
                        max_age=s.commands_max_age,
                        replicas=s.replicas,
                    )
                info = await self._ensure_consumer()
                await self._bind(info.config)
            except NATS_ERRORS as e:
                raise EventBusError(f"cannot consume {s.commands_stream} as {s.consumer}: {e!r}") from e
            if self._seen_at is None or (info.num_pending == 0 and info.num_ack_pending == 0):
                self._seen_at = datetime.now(UTC)

    async def _ensure_consumer(self) -> ConsumerInfo:
        s = self._settings
        try:
            info: ConsumerInfo = await self._js.consumer_info(s.commands_stream, s.consumer)
            return info
        except nats.js.errors.NotFoundError:
            pass
        wanted = ConsumerConfig(
            durable_name=s.consumer,
            deliver_group=s.consumer,
            # Made again: the subject every replica still listens on.
            deliver_subject=self._sub.subject if self._sub is not None else self._nc.new_inbox(),
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=s.ack_wait.total_seconds(),
            max_deliver=s.max_deliver,
            max_ack_pending=s.max_ack_pending,
            **self._start_position(),
            **await self._filters(),
        )
        try:
            info = await self._js.add_consumer(s.commands_stream, wanted)
        except nats.js.errors.BadRequestError:
            # Another replica created it meanwhile, with its own deliver subject: use theirs.
            info = await self._js.consumer_info(s.commands_stream, s.consumer)
        else:
            if self._seen_at is not None:
                log.warning("consumer %s was missing on %s: made again", s.consumer, s.commands_stream)
        return info

    def _start_position(self) -> dict[str, Any]:
        if self._seen_at is None:
            return {"deliver_policy": DeliverPolicy.NEW}
        return {"deliver_policy": DeliverPolicy.BY_START_TIME, "opt_start_time": self._seen_at}

    async def _bind(self, config: ConsumerConfig) -> None:
        """Subscribe to the consumer's deliveries, and leave a subscription that no longer gets them."""
        s = self._settings
        if not config.deliver_subject or not config.deliver_group:
            raise EventBusError(
                f"consumer {s.consumer} on {s.commands_stream} exists but is not a push consumer "
                "with a deliver group; delete it or name another"
            )
        if self._sub is not None and self._sub.subject == config.deliver_subject:
            return
        old, self._sub = (
            self._sub,
            await self._nc.subscribe(config.deliver_subject, queue=config.deliver_group, cb=self._on_message),
        )
        if old is not None:
            log.warning("consumer %s now delivers on another subject: subscribed again", s.consumer)
            await _drain(old)

    async def _keep_declared(self) -> None:
        """Every `watch_interval`: set up again what the server lost with no reconnection seen."""
        while True:
            await asyncio.sleep(self._settings.watch_interval.total_seconds())
            if not self._nc.is_connected:
                continue  # the reconnection will set it up
            try:
                await self.declare()
            except EventBusError as e:
                log.warning("checking the command consumer: %s", e.message)

    async def health(self) -> str:
        """`connected`, or a short reason commands are not being received (for the health endpoint).

        Raises:
            nats.errors.Error: the server did not answer the probe in time.
        """
        return connection_state(self._nc) or await self._health()

    async def _probe(self) -> str:
        s = self._settings
        if self._sub is None:
            return "not consuming"
        return await consumer_state(probe_context(self._nc), s.commands_stream, s.consumer)

    async def _filters(self) -> dict[str, Any]:
        """The consumer's subject filter: none when the stream holds only our subjects."""
        subjects = list(self._settings.subscriptions)
        stream = await self._js.stream_info(self._settings.commands_stream)
        if set(stream.config.subjects or ()) <= set(subjects):
            return {}
        if len(subjects) == 1:
            return {"filter_subject": subjects[0]}
        if not server_at_least(self._nc, 2, 10):
            raise EventBusError(
                f"stream {self._settings.commands_stream} captures more than our subjects, and filtering on "
                "several subjects needs NATS 2.10; give the engine a stream of its own"
            )
        return {"filter_subjects": subjects}

    async def stop(self) -> None:
        """Stop taking commands; those being handled finish and are settled."""
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)
        await self._redeclaration.close()
        sub, self._sub = self._sub, None
        if sub is not None:
            await _drain(sub)
        await self._decisions_done()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _on_message(self, msg: Msg) -> None:
        """Take a decision in hand in its symbol's turn; handle anything else once no decision is in hand.

        Called for one message at a time (the client's delivery loop), so commands are taken in hand
        in the order they arrive.
        """
        command = command_for(msg.subject)
        if command is Command.DECISION:
            try:
                body = decode_body(msg.data, DECISION_SCHEMA)
                decision = structure_decision(body)
            except InvalidCommand as e:
                await settling(msg, self._settlement.invalid(msg, command, e.reason, e.raw))
                return
            self._in_turn(msg, decision.symbol, lambda: self._decide(msg, decision, body))
            return
        await self._decisions_done()
        await settling(msg, self._dispatch(msg, command))

    def _in_turn(self, msg: Msg, symbol: str | None, handle: Callable[[], Awaitable[None]]) -> None:
        """Handle a decision once the one before it of the same symbol is done."""
        before = self._last.get(symbol)

        async def when_its_turn_comes() -> None:
            if before is not None:
                await asyncio.wait({before})
            await settling(msg, handle())

        task = asyncio.get_running_loop().create_task(when_its_turn_comes(), name=f"decision {symbol}")
        self._last[symbol] = task
        self._in_hand.add(task)
        task.add_done_callback(lambda done: self._done(symbol, done))

    async def _decide(self, msg: Msg, decision: Decision, body: Mapping[str, Any]) -> None:
        await self._settlement.handle(msg, Command.DECISION, lambda: self._handler.handle_decision(decision), raw=body)

    def _done(self, symbol: str | None, task: asyncio.Task[None]) -> None:
        self._in_hand.discard(task)
        if self._last.get(symbol) is task:
            del self._last[symbol]
        if not task.cancelled() and task.exception() is not None:
            log.error("handling a decision failed unexpectedly", exc_info=task.exception())

    async def _decisions_done(self) -> None:
        """Wait until no decision is in hand."""
        while self._in_hand:
            await asyncio.wait(set(self._in_hand))

    async def _dispatch(self, msg: Msg, command: Command | None) -> None:
        """Handle a command that is not a decision."""
        if command is None:
            await self._settlement.invalid(msg, None, f"no command is carried on {msg.subject}", None)
            return
        schema = SHUTDOWN_SCHEMA if command is Command.SHUTDOWN else SESSION_SCHEMA
        try:
            decode_body(msg.data, schema, allow_empty=True)
        except InvalidCommand as e:
            await self._settlement.invalid(msg, command, e.reason, e.raw)
            return
        call = {
            Command.SESSION_OPENED: self._handler.session_opened,
            Command.SESSION_CLOSED: self._handler.session_closed,
            Command.SHUTDOWN: self._handler.shutdown,
        }[command]
        await self._settlement.handle(msg, command, call, raw=None)


async def _drain(sub: Subscription) -> None:
    try:
        await sub.drain()  # type: ignore[no-untyped-call]
    except NATS_ERRORS as e:
        log.warning("leaving a command subscription: %r", e)
