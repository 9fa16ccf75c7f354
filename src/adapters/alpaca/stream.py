"""The trade_updates stream: connect, authenticate, listen, watch for silence, backfill, repeat.

One task runs `run()` for the adapter's lifetime:

1. connect (the `WebSocketConnector` of `connector.py`, shared with the market-data stream), send
   `authenticate`, require the `authorized` reply, send `listen` for `trade_updates`;
2. start the backfill (REST: open orders, orders closed since shortly before the stream was
   lost, and every order the stream still owes news of) while already reading the socket; an
   order that shows more filled than was delivered has its missing executions read from the
   account's FILL activities (paged, since shortly before the earliest such order was
   submitted), each delivered with its own id, quantity and price; when it is done the stream
   is *ready* and submissions, which wait for it, resume;
3. read frames (binary or text) until the socket closes or goes silent. A frame that does not
   parse is logged and skipped. Every trade update goes through the `UpdateSequencer`, which
   drops duplicates and puts reordered fills back in order, then into the inbox the engine
   drains;
4. after a connection ends, wait a jittered, growing delay (reset once a connection has lived
   `stable_after` seconds, or has been ready for `ready_stable_after`), so a server that accepts
   and drops at once is never hammered, and one that drops a working stream every few seconds
   does not keep submissions waiting for the next connection longer each time.

The watchdog: websockets' keepalive closes a socket whose pings go unanswered, but a server can
answer pings (and even `listen`) and still send no updates. A quiet stream is normal when
nothing trades, so silence alone proves nothing; what proves it is REST knowing more than the
stream said. After `silence_window` seconds without a message, if the stream owes news of some
orders (open, or with fills not yet delivered), the watchdog reads them over REST; if REST shows
fills or a newer status the stream has not delivered, and `lag_tolerance` seconds later it
still has not, the socket is closed and the stream reconnects (and backfills).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from datetime import datetime
from typing import Any, Protocol

from websockets.asyncio.client import ClientConnection

from adapters.alpaca import codec
from adapters.alpaca.codec import FillActivity
from adapters.alpaca.config import AlpacaSettings
from adapters.alpaca.connector import StreamEnded, StreamRefused, WebSocketConnector
from adapters.alpaca.inbox import UpdateInbox
from adapters.alpaca.sequencer import UpdateSequencer
from trading_core.broker_models import BrokerOrder
from trading_core.clock import Clock, SystemClock
from trading_core.errors import BrokerError, OrderNotFound, TradingError
from trading_core.ports import OrderFilter
from trading_core.values import BrokerOrderId

__all__ = ["OrderReader", "TradeUpdatesStream", "UpdateInbox"]

log = logging.getLogger("adapters.alpaca.stream")

_BACKFILL_LIMIT = 500


class OrderReader(Protocol):
    """The REST reads a backfill needs (the adapter's broker, at sync priority)."""

    async def list_orders(
        self, *, status: OrderFilter = OrderFilter.OPEN, after: datetime | None = None, limit: int = 500
    ) -> list[BrokerOrder]: ...

    async def get_order(self, broker_order_id: BrokerOrderId) -> BrokerOrder: ...

    async def list_fill_activities(self, *, after: datetime) -> list[FillActivity]:
        """The account's FILL activities after `after`, oldest first."""


class StreamSilent(StreamEnded):
    """The socket stayed open but the updates REST shows never came."""


class StreamUnauthorized(StreamRefused):
    """The server did not authorise the stream, or withdrew it."""

    status = "unauthorized"


class TradeUpdatesStream:
    """The trade_updates WebSocket, kept connected and backfilled.

    Args:
        settings: The stream URL, the keys, and `settings.stream`'s timings.
        reader: Where the backfill reads orders (REST).
        inbox: Where updates go, in order, once sequenced.
        sequencer: Per-order delivery state (shared with the broker, which registers orders).
        clock: Wall time, for the backfill's `after`.
        rng: Jitter source.
    """

    def __init__(
        self,
        settings: AlpacaSettings,
        *,
        reader: OrderReader,
        inbox: UpdateInbox,
        sequencer: UpdateSequencer,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._settings = settings
        self._timing = settings.stream
        self._reader = reader
        self._inbox = inbox
        self._sequencer = sequencer
        self._clock = clock or SystemClock()
        self._connector = WebSocketConnector(
            settings.trade_stream_url, self._timing, name="trade_updates", log=log, rng=rng
        )
        self._ready_at: float | None = None
        self.ready = asyncio.Event()
        """Set while connected and backfilled: submissions wait for it."""
        self.backfills = 0
        self.skipped_messages = 0
        self.silences = 0
        self._last_update_at: datetime | None = None
        self._lost_at: datetime | None = None
        self._ws: ClientConnection | None = None
        self._audit_at = 0.0
        self._suspects: list[BrokerOrder] = []
        self._verdict_at: float | None = None

    @property
    def connected(self) -> bool:
        """Whether the stream is connected and authorised now."""
        return self.state == "connected"

    @property
    def state(self) -> str:
        """What the stream is doing, or why its last connection ended (the health check's `websocket`)."""
        return self._connector.state

    @state.setter
    def state(self, value: str) -> None:
        """The stream's own stages (backfilling, connected) are the connector's state too."""
        self._connector.state = value

    @property
    def connections(self) -> int:
        """Connections opened so far."""
        return self._connector.connections

    async def run(self) -> None:
        """Keep the stream connected until cancelled."""
        try:
            await self._connector.run(self)
        finally:
            self.ready.clear()

    async def authenticate(self, ws: ClientConnection) -> None:
        """`authenticate` with the keys, require `authorized`, then `listen` to trade_updates.

        Raises:
            StreamUnauthorized: the stream did not answer `authorized`.
        """
        self._ready_at = None
        self._ws = ws
        key = {"key_id": self._settings.key_id, "secret_key": self._settings.secret_key}
        await ws.send(codec.encode({"action": "authenticate", "data": key}).decode())
        reply = _message(await ws.recv())
        data = reply.get("data") if reply is not None else None
        status = data.get("status") if isinstance(data, dict) else None
        if reply is None or reply.get("stream") != "authorization" or status != "authorized":
            raise StreamUnauthorized(f"authenticate was answered {status or reply!r}")
        await ws.send(codec.encode({"action": "listen", "data": {"streams": ["trade_updates"]}}).decode())

    async def serve(self, ws: ClientConnection) -> None:
        """Backfill while reading the connection, until it ends or the watchdog finds it silent."""
        self.state = "backfilling"
        backfill = asyncio.create_task(self._backfill(), name="alpaca-backfill")
        try:
            await self._receive(ws)
        finally:
            backfill.cancel()
            await asyncio.gather(backfill, return_exceptions=True)

    async def release(self) -> None:
        """The connection ended: not ready until the next one is backfilled from when this one was lost."""
        if self.ready.is_set() or self._lost_at is None:
            self._lost_at = self._clock.now()  # else the earlier loss was never backfilled
        self.ready.clear()
        self._ws = None

    def held(self, now: float) -> bool:
        """Whether the connection was ready for `ready_stable_after` seconds."""
        return self._ready_at is not None and now - self._ready_at >= self._timing.ready_stable_after

    async def _receive(self, ws: ClientConnection) -> None:
        """Read frames until the socket ends or the watchdog finds it silent."""
        self._audit_at = time.monotonic() + self._timing.silence_window
        self._suspects, self._verdict_at = [], None
        while True:
            due = [t for t in (self._audit_at, self._sequencer.next_due(), self._verdict_at) if t is not None]
            wait = min(due) - time.monotonic()
            try:
                if wait <= 0:
                    raise TimeoutError  # due now: no receive to start and abandon
                # `asyncio.timeout`, not `wait_for`: on 3.11 `wait_for` runs `recv` as a task of its
                # own, which a cancellation at the wrong moment leaves pending (and `close()` hung).
                async with asyncio.timeout(wait):
                    frame = await ws.recv()
            except TimeoutError:
                await self._on_quiet()
                continue
            self._audit_at = time.monotonic() + self._timing.silence_window
            self._handle(frame, time.monotonic())

    async def _on_quiet(self) -> None:
        """Nothing arrived in time: deliver fills held past their gap, audit, judge the suspects."""
        now = time.monotonic()
        await self._fill_gaps(now)
        self._inbox.put(self._sequencer.due(now))
        if self._verdict_at is not None and now >= self._verdict_at:
            late = [o.broker_order_id for o in self._suspects if self._sequencer.behind(o)]
            if late:
                self.silences += 1
                raise StreamSilent(f"silent: REST shows news of {len(late)} order(s) the stream never sent")
            self._suspects, self._verdict_at = [], None
        if now >= self._audit_at:
            self._suspects = await self._audit()
            self._verdict_at = time.monotonic() + self._timing.lag_tolerance if self._suspects else None
            self._audit_at = time.monotonic() + self._timing.silence_window

    async def _fill_gaps(self, now: float) -> None:
        """Executions the stream skipped (a lost message) read from the activities, before the fills
        after them are delivered across the gap: each is stored under its own id, not merged."""
        gapped = self._sequencer.gaps_due(now)
        if not gapped:
            return
        try:
            async with asyncio.timeout(self._timing.silence_window):
                executions = await self._executions(gapped)
        except TimeoutError:
            executions = None
        for order in gapped:
            found = executions.get(order.broker_order_id, ()) if executions is not None else ()
            self._inbox.put(self._sequencer.fill_gap(order, found))

    async def _audit(self) -> list[BrokerOrder]:
        """The orders REST shows ahead of what the stream delivered (none when nothing is owed)."""
        if not self._sequencer.unsettled():
            return []
        try:
            async with asyncio.timeout(self._timing.silence_window):
                copies = await self._owed()
        except (BrokerError, TimeoutError) as e:
            log.warning("trade_updates: the silence audit could not read orders: %s", e or "no answer in time")
            return []
        return [order for order in copies if self._sequencer.behind(order)]

    def _handle(self, frame: str | bytes, now: float) -> None:
        """One frame: a trade update goes through the sequencer; anything unreadable is skipped."""
        message = _message(frame)
        if message is None:
            self.skipped_messages += 1
            log.error("trade_updates: skipped a frame that is not a JSON object: %.200r", frame)
            return
        stream = message.get("stream")
        if stream == "authorization" and isinstance(message.get("data"), dict):
            if message["data"].get("status") != "authorized":
                raise StreamUnauthorized(f"the server withdrew authorisation: {message['data']!r}")
            return
        if stream != "trade_updates":
            return  # `listening` replies (our probes' answers) and anything new
        try:
            update = codec.trade_update(message.get("data"))
        except (codec.WireError, TradingError) as e:
            self.skipped_messages += 1
            log.error("trade_updates: skipped an update that does not parse (%s): %.300r", e, frame)
            return
        if self._last_update_at is None or update.timestamp > self._last_update_at:
            self._last_update_at = update.timestamp
        self._inbox.put(self._sequencer.stream(update, now))

    async def _backfill(self) -> None:
        """Read what the stream may have missed, deliver it, then let submissions through."""
        attempt = 0
        while True:
            try:
                snapshots = await self._snapshots()
                break
            except Exception as e:  # REST down (BrokerError), or a bug: submissions wait either way
                attempt += 1
                delay = self._connector.backoff.delay(attempt)
                why = e.message if isinstance(e, BrokerError) else f"internal error ({type(e).__name__})"
                self.state = f"backfilling: {why}"[:200]
                log.warning(
                    "trade_updates: backfill failed (%s); again in %.2fs",
                    why,
                    delay,
                    exc_info=not isinstance(e, BrokerError),
                )
                await asyncio.sleep(delay)
        executions = await self._executions([o for o in snapshots if self._sequencer.owes_fills(o)])
        for snapshot in sorted(snapshots, key=lambda o: o.submitted_at):
            found = executions.get(snapshot.broker_order_id, ()) if executions is not None else None
            self._inbox.put(self._sequencer.snapshot(snapshot, found))
        self.backfills += 1
        self.state = "connected"
        self._ready_at = time.monotonic()
        self.ready.set()
        log.info("trade_updates: ready (%d orders backfilled)", len(snapshots))

    async def _executions(self, owing: list[BrokerOrder]) -> dict[BrokerOrderId, list[FillActivity]] | None:
        """The FILL activities of orders with fills the stream missed, by order; None when they cannot be read."""
        if not owing:
            return {}
        since = min(o.submitted_at for o in owing) - self._timing.backfill_margin
        try:
            activities = await self._reader.list_fill_activities(after=since)
        except BrokerError as e:
            log.warning(
                "trade_updates: the account's activities could not be read (%s): the fills the stream missed of"
                " %d order(s) are made up as averaged fills",
                e.message,
                len(owing),
            )
            return None
        found: dict[BrokerOrderId, list[FillActivity]] = {}
        for activity in activities:
            found.setdefault(activity.order_id, []).append(activity)
        log.info("trade_updates: %d execution(s) read to recover %d order(s)", len(activities), len(owing))
        return found

    async def _snapshots(self) -> list[BrokerOrder]:
        """What the backfill reads: the owed orders, and orders closed since shortly before the
        stream was lost (placed while it was down: Alpaca's `after` is about submission time)."""
        since = min(t for t in (self._lost_at, self._last_update_at, self._clock.now()) if t is not None)
        closed = await self._reader.list_orders(
            status=OrderFilter.CLOSED, after=since - self._timing.backfill_margin, limit=_BACKFILL_LIMIT
        )
        found = {order.broker_order_id: order for order in closed}
        for order in await self._owed():
            found[order.broker_order_id] = order
        return list(found.values())

    async def _owed(self) -> list[BrokerOrder]:
        """Open orders, and every order the stream still owes news of (read one by one if closed)."""
        found = {o.broker_order_id: o for o in await self._reader.list_orders(limit=_BACKFILL_LIMIT)}
        for broker_order_id in self._sequencer.unsettled():
            if broker_order_id not in found:
                try:
                    found[broker_order_id] = await self._reader.get_order(broker_order_id)
                except OrderNotFound:
                    log.warning("trade_updates: %s is not known to Alpaca: no news is owed of it", broker_order_id)
                    self._sequencer.forget(broker_order_id)
        return list(found.values())

    async def wait_ready(self, within: float, *, meanwhile: str = "the order was not sent") -> None:
        """Return once the stream is connected and backfilled; BrokerError after `within` seconds.

        `meanwhile` says what did not happen for it, in the error.

        Raises:
            BrokerError: the stream was not ready within `within` seconds.
        """
        if self.ready.is_set():
            return
        try:
            async with asyncio.timeout(within):
                await self.ready.wait()
        except TimeoutError:
            raise BrokerError(
                f"the trade_updates stream is not ready ({self.state}) after {within:g}s; {meanwhile}",
                retryable=True,
            ) from None

    async def drop(self) -> None:
        """Close the current connection (the stream reconnects): for tests and operators."""
        if self._ws is not None:
            await self._ws.close()


def _message(frame: str | bytes) -> dict[str, Any] | None:
    try:
        message = codec.decode(frame)
    except codec.WireError:
        return None
    return message if isinstance(message, dict) else None
