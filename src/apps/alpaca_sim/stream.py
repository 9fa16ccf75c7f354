"""The trade_updates WebSocket stream: handshake, the account's connections, and the stream faults.

Protocol (alpaca-protocol.md, section 6): the client sends `authenticate` (or the newer `auth`),
the server answers on the `authorization` stream and nothing before that; `listen` chooses the
streams; updates follow as `{"stream": "trade_updates", "data": {...}}`. Every frame the server
sends is BINARY, the JSON text as UTF-8, as Alpaca's paper host sends them. Messages that are not
JSON objects or name no known action are ignored.

Several connections may share the key, as at Alpaca: each one listening gets every update. The
stream rules of `faults`: `drop_updates`, `duplicate_updates` and `reorder_updates` act as updates
are published, `stream_silent` holds them in the connections' queues, `stream_drop_after` closes a
connection after so many update messages (code 1011), and `stream_one_connection` brings back a
limit of one authenticated connection (the newest wins; the older is closed with 1008).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import msgspec

from apps.alpaca_sim.asgi import Receive, Scope, Send, Socket, encoder, same_secret
from apps.alpaca_sim.faults import FaultBook, Rule

PATHS = frozenset({"/stream", "/stream/"})
CLOSE_DROPPED = 1011
"""Closed by `/_sim/stream/drop` or a `stream_drop_after` rule."""
CLOSE_POLICY = 1008
"""Closed for a failed authentication, or (`stream_one_connection`) because a newer connection took its place."""
TRADE_UPDATES = "trade_updates"

_ENCODER = encoder()
_QUIET_POLL = 0.05
_log = logging.getLogger(__name__)


@attrs.frozen
class Update:
    """One trade update on its way: the frame, and the execution it reports (fills only)."""

    frame: bytes
    execution_id: str | None


class Connection(Socket):
    """One trade_updates client and where its updates stand."""

    def __init__(self, send: Send) -> None:
        super().__init__(send)
        self.queue: asyncio.Queue[Update] = asyncio.Queue()
        """Updates waiting to be sent."""
        self.authorized = False
        self.listening = False
        self.drop_rule: Rule | None = None
        """The `stream_drop_after` rule `sent` counts for: a new rule starts the count again."""
        self.sent = 0
        """Update messages sent since `drop_rule` last fired on this connection."""

    async def send_message(self, message: Any) -> bool:
        return await self.send_frame(_ENCODER.encode(message))

    async def send_frame(self, frame: bytes) -> bool:
        """Send one binary frame; False when the connection is gone."""
        return await self.transmit({"type": "websocket.send", "bytes": frame})


class StreamHub:
    """The stream side of the account: its connections, and the updates on their way to them.

    Args:
        key_id: The API key a client must authenticate with.
        secret_key: Its secret.
        faults: The fault rules, read as updates are published and sent.
        on_fill_sent: Told the execution id, and the Unix time it started to leave, each time a fill's
            update has been sent on a connection.
    """

    def __init__(
        self,
        key_id: str,
        secret_key: str,
        faults: FaultBook,
        *,
        on_fill_sent: Callable[[str, float], None] | None = None,
    ) -> None:
        self._key = key_id
        self._secret = secret_key
        self._faults = faults
        self._on_fill_sent = on_fill_sent
        self._connections: set[Connection] = set()
        """Every open connection, authenticated or not, in no particular order."""
        self._held: list[Update] = []
        """Updates held by a `reorder_updates` rule until its window is full."""

    @property
    def authenticated(self) -> int:
        return sum(1 for c in self._connections if c.authorized and not c.closed)

    @property
    def listening(self) -> int:
        return sum(1 for c in self._connections if c.authorized and c.listening and not c.closed)

    # ---------------------------------------------------------------- publishing

    def publish(self, messages: Sequence[Any]) -> None:
        """Send trade update messages to the listening connections, through the stream rules."""
        for message in messages:
            if self._lost(message):
                continue
            update = Update(_ENCODER.encode(message), message["data"].get("execution_id"))
            copies = 2 if self._faults.take("duplicate_updates") else 1
            for _ in range(copies):
                self._reorder(update)

    def _lost(self, message: Any) -> bool:
        """Whether a `drop_updates` rule loses this update (for every connection, for good)."""
        faults = self._faults
        if faults.active("drop_updates") is None:
            return False
        event = message["data"]["event"]
        return any(
            rule.kind == "drop_updates" and (not rule.events or event in rule.events) and faults.fire(rule)
            for rule in faults.rules
        )

    def flush(self) -> None:
        """Send what a reorder rule holds, in order (when the rules change)."""
        held, self._held = self._held, []
        for update in held:
            self._deliver(update)

    def reset(self) -> None:
        self._held = []

    def _reorder(self, update: Update) -> None:
        rule = self._faults.active("reorder_updates")
        if rule is None:
            if self._held:
                self.flush()
            self._deliver(update)
            return
        self._held.append(update)
        if len(self._held) >= rule.window:
            held, self._held = self._held, []
            if self._faults.fire(rule):
                held.reverse()
            for held_update in held:
                self._deliver(held_update)

    def _deliver(self, update: Update) -> None:
        for conn in self._connections:
            if conn.authorized and conn.listening and not conn.closed:
                conn.queue.put_nowait(update)

    async def _pump(self, conn: Connection) -> None:
        """Send a connection's updates as they come, unless a stream rule holds or drops them."""
        while True:
            update = await conn.queue.get()
            # Polled, not awaited on an Event: new rules may end the silence at any moment.
            while (wait := self._faults.silent_until - time.monotonic()) > 0:  # noqa: ASYNC110
                await asyncio.sleep(min(wait, _QUIET_POLL))
            # Timed as it starts to leave: the client may read it before this task runs again.
            leaving = time.time()
            if not await conn.send_frame(update.frame):
                return
            if update.execution_id is not None and self._on_fill_sent is not None:
                self._on_fill_sent(update.execution_id, leaving)
            rule = self._faults.active("stream_drop_after")
            if rule is None:
                continue
            if conn.drop_rule is not rule:
                conn.drop_rule, conn.sent = rule, 0
            conn.sent += 1
            if conn.sent >= rule.messages:
                conn.sent = 0
                if self._faults.fire(rule):
                    await conn.close(CLOSE_DROPPED, "stream dropped by a fault rule")
                    return

    async def drop_all(self, code: int = CLOSE_DROPPED) -> int:
        """Close every connection now; how many there were."""
        connections = [c for c in self._connections if not c.closed]
        for conn in connections:
            await conn.close(code, "stream dropped")
        return len(connections)

    # ---------------------------------------------------------------- the endpoint

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI WebSocket endpoint at `/stream` (and `/stream/`)."""
        if (await receive())["type"] != "websocket.connect":
            return
        if scope["path"] not in PATHS:
            await send({"type": "websocket.close", "code": CLOSE_POLICY})
            return
        await send({"type": "websocket.accept"})
        conn = Connection(send)
        self._connections.add(conn)
        pump = asyncio.create_task(self._pump(conn))
        try:
            while True:
                message = await receive()
                if message["type"] != "websocket.receive":
                    break
                data = message.get("bytes")
                await self._on_message(conn, data if data is not None else message.get("text"))
        finally:
            conn.closed = True
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
            self._connections.discard(conn)

    async def _on_message(self, conn: Connection, data: str | bytes | None) -> None:
        try:
            message = msgspec.json.decode(data or b"")
        except msgspec.DecodeError:
            return
        if not isinstance(message, dict):
            return
        action = message.get("action")
        if action in ("authenticate", "auth"):
            await self._authenticate(conn, action, message)
        elif action == "listen":
            await self._listen(conn, message)

    async def _authenticate(self, conn: Connection, action: str, message: dict[str, Any]) -> None:
        if action == "authenticate":
            data = message.get("data")
            data = data if isinstance(data, dict) else {}
            key, secret = data.get("key_id"), data.get("secret_key")
        else:
            key, secret = message.get("key"), message.get("secret")
        ok = same_secret(key, self._key) and same_secret(secret, self._secret)
        status = "authorized" if ok else "unauthorized"
        await conn.send_message({"stream": "authorization", "data": {"status": status, "action": action}})
        if not ok:
            await conn.close(CLOSE_POLICY, "unauthorized")
            return
        conn.authorized = True
        if self._faults.take("stream_one_connection") is None:
            return
        for previous in [c for c in self._connections if c is not conn and c.authorized and not c.closed]:
            _log.info("stream_one_connection: a new trade_updates connection replaces an older one")
            await previous.close(CLOSE_POLICY, "connection limit exceeded")

    async def _listen(self, conn: Connection, message: dict[str, Any]) -> None:
        if not conn.authorized:
            await conn.send_message({"stream": "authorization", "data": {"status": "unauthorized", "action": "listen"}})
            return
        data = message.get("data")
        streams = data.get("streams") if isinstance(data, dict) else None
        if isinstance(streams, list):
            conn.listening = TRADE_UPDATES in streams
        active = [TRADE_UPDATES] if conn.listening else []
        await conn.send_message({"stream": "listening", "data": {"streams": active}})
