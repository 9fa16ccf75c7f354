"""Alpaca's market-data WebSocket stream at `/v2/{feed}`: handshake, subscriptions, and the price walk's
quotes, trades and minute bars.

Protocol (Alpaca's "Real-time Stock Data" and "WebSocket Stream" docs; alpaca-py's `DataStream`):
every server message is a JSON array; on connect `[{"T": "success", "msg": "connected"}]`; the
client sends `{"action": "auth", "key", "secret"}` within 10 seconds and gets `[{"T": "success",
"msg": "authenticated"}]` or an error; `subscribe` and `unsubscribe` name symbols per channel and
are answered with the whole subscription; data follows as `{"T": "t" | "q" | "b", "S": symbol, ...}`.
Errors are `[{"T": "error", "code": n, "msg": ...}]` with Alpaca's codes (400 invalid syntax, 401
not authenticated, 402 auth failed, 403 already authenticated, 404 auth timeout, 406 connection
limit exceeded).

Frames are TEXT (JSON), as Alpaca sends them; a client whose handshake carries `Content-Type:
application/msgpack` (alpaca-py does) gets BINARY MessagePack frames instead, with timestamps as
MessagePack's timestamp extension, and may send MessagePack itself.

One authenticated connection per key and endpoint, as Alpaca documents for market data: a second
one is answered `406 connection limit exceeded` when it authenticates, and closed; the first stays.
Prices move only through the exchange (`/_sim/price`, `/_sim/step`): after each request the hub
compares every price with the last one it sent and streams what moved, one trade (100 shares at
the new price) and one quote (no spread) per moved symbol; the trades make the minute bars.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec

from apps.alpaca_sim.asgi import Receive, Scope, Send, Socket, encoder, same_secret
from apps.alpaca_sim.market_data import LOT, quote_json, trade_json
from apps.alpaca_sim.minute_bars import MinuteBars
from apps.alpaca_sim.ratelimit import RateLimiter
from trading_core.market import Asset, Quote
from trading_core.values import Symbol

PATHS = frozenset({"/v2/iex", "/v2/sip", "/v2/test"})
CHANNELS = ("trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds")
"""The channels a client subscribes to; `corrections` and `cancelErrors` follow `trades`."""
AUTH_TIMEOUT = 10.0
"""Seconds a client has to authenticate after connecting."""
CLOSE_POLICY = 1008
"""Closed for the connection limit or the auth timeout."""
CLOSE_DROPPED = 1011
"""Closed by `/_sim/data/drop`."""


def _plain_string(value: object) -> str:
    """msgspec encodes exact `str` only: the core's symbols become plain strings."""
    if isinstance(value, str):
        return str(value)
    raise NotImplementedError(f"cannot encode {type(value).__name__}")


_JSON = encoder(decimals_as_numbers=True)
_MSGPACK = msgspec.msgpack.Encoder(enc_hook=_plain_string, decimal_format="number")
_KIND = {"trades": "t", "quotes": "q", "bars": "b"}


def error(code: int, msg: str) -> dict[str, Any]:
    return {"T": "error", "code": code, "msg": msg}


class DataConnection(Socket):
    """One market-data client: its endpoint, encoding and subscription."""

    def __init__(self, send: Send, *, endpoint: str, packed: bool) -> None:
        super().__init__(send)
        self.endpoint = endpoint
        self.packed = packed
        """MessagePack (binary frames) instead of JSON (text frames)."""
        self.queue: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
        self.authorized = False
        self.subscribed: dict[str, dict[str, None]] = {channel: {} for channel in CHANNELS}
        """Symbols per channel, in the order subscribed (an ordered set); `*` is every symbol."""

    def wants(self, channel: str, symbol: str) -> bool:
        chosen = self.subscribed[channel]
        return symbol in chosen or "*" in chosen

    def subscription(self) -> dict[str, Any]:
        lists = {channel: list(symbols) for channel, symbols in self.subscribed.items()}
        return {"T": "subscription", **lists, "corrections": lists["trades"], "cancelErrors": lists["trades"]}

    async def send(self, messages: list[dict[str, Any]]) -> bool:
        """Send one array of messages as one frame; False when the connection is gone."""
        frame: dict[str, Any] = (
            {"type": "websocket.send", "bytes": _MSGPACK.encode(messages)}
            if self.packed
            else {"type": "websocket.send", "text": _JSON.encode(messages).decode()}
        )
        return await self.transmit(frame)


class MarketDataHub:
    """The market-data side of the account: its stream connections, the prices last streamed, the bars,
    and the data API's own request count and rate limit (Alpaca limits it apart from trading).

    Args:
        key_id: The API key a client must authenticate with.
        secret_key: Its secret.
        rate_limit: Requests a minute per key on the data API (0: off).
    """

    def __init__(self, key_id: str, secret_key: str, *, rate_limit: int) -> None:
        self._key = key_id
        self._secret = secret_key
        self.limiter = RateLimiter(rate_limit)
        self.requests = 0
        """`/v2/stocks` requests since the reset, refused ones included."""
        self._connections: set[DataConnection] = set()
        self._streamed: dict[str, Decimal] = {}
        """The price each symbol had when the hub last looked."""
        self._bars = MinuteBars()
        self._refuse_until = 0.0

    def reset(self) -> None:
        """Forget the request count, the rate-limit windows and the open bars (connections stay)."""
        self.limiter.clear()
        self.requests = 0
        self._bars.clear()

    @property
    def authenticated(self) -> int:
        return sum(1 for c in self._connections if c.authorized and not c.closed)

    def subscribed(self) -> dict[str, list[str]]:
        """What the authenticated connections subscribe to, together, per channel (sorted)."""
        found: dict[str, set[str]] = {channel: set() for channel in _KIND}
        for conn in self._connections:
            if conn.authorized and not conn.closed:
                for channel in _KIND:
                    found[channel].update(conn.subscribed[channel])
        return {channel: sorted(symbols) for channel, symbols in found.items()}

    # ---------------------------------------------------------------- publishing

    def publish_moves(self, prices: Mapping[str, Decimal], assets: Mapping[str, Asset], now: datetime) -> None:
        """Stream a trade, a quote (and a finished bar) for each symbol whose price moved since the last look."""
        moved = [s for s, p in prices.items() if self._streamed.get(s) != p]
        if not moved:
            return
        data: list[dict[str, Any]] = []
        for symbol in moved:
            price = prices[symbol]
            self._streamed[symbol] = price
            bar = self._bars.record(symbol, price, LOT, now)
            if bar is not None:
                data.append(bar)
            data.extend(_trade_and_quote(assets[symbol], price, now))
        for conn in self._connections:
            if conn.authorized and not conn.closed:
                wanted = [m for m in data if _wanted(conn, m)]
                if wanted:
                    conn.queue.put_nowait(wanted)

    async def _pump(self, conn: DataConnection) -> None:
        while await conn.send(await conn.queue.get()):
            pass

    async def drop_all(self, *, refuse: float = 0.0) -> int:
        """Close every connection now (code 1011) and refuse new ones for `refuse` seconds; how many closed."""
        self._refuse_until = time.monotonic() + refuse
        connections = [c for c in self._connections if not c.closed]
        for conn in connections:
            await conn.close(CLOSE_DROPPED, "stream dropped")
        return len(connections)

    # ---------------------------------------------------------------- the endpoint

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI WebSocket endpoint at `/v2/iex`, `/v2/sip` and `/v2/test`."""
        if (await receive())["type"] != "websocket.connect":
            return
        if time.monotonic() < self._refuse_until:
            await send({"type": "websocket.close", "code": CLOSE_DROPPED})  # before accepting: HTTP 403
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        packed = "msgpack" in headers.get("content-type", "")
        await send({"type": "websocket.accept"})
        conn = DataConnection(send, endpoint=scope["path"], packed=packed)
        self._connections.add(conn)
        pump = asyncio.create_task(self._pump(conn))
        deadline = asyncio.get_running_loop().time() + AUTH_TIMEOUT
        try:
            await conn.send([{"T": "success", "msg": "connected"}])
            while not conn.closed:
                try:
                    async with asyncio.timeout_at(None if conn.authorized else deadline):
                        message = await receive()
                except TimeoutError:
                    await conn.send([error(404, "auth timeout")])
                    await conn.close(CLOSE_POLICY, "auth timeout")
                    break
                if message["type"] != "websocket.receive":
                    break
                await self._on_message(conn, message.get("bytes"), message.get("text"))
        finally:
            conn.closed = True
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
            self._connections.discard(conn)

    async def _on_message(self, conn: DataConnection, data: bytes | None, text: str | None) -> None:
        message = _decode(conn, data, text)
        action = message.get("action") if isinstance(message, dict) else None
        if action == "auth" and isinstance(message, dict):
            await self._authenticate(conn, message)
        elif action in ("subscribe", "unsubscribe") and isinstance(message, dict):
            await self._subscribe(conn, message, adding=action == "subscribe")
        else:
            await conn.send([error(400, "invalid syntax")])

    async def _authenticate(self, conn: DataConnection, message: dict[str, Any]) -> None:
        if conn.authorized:
            await conn.send([error(403, "already authenticated")])
            return
        if not (same_secret(message.get("key"), self._key) and same_secret(message.get("secret"), self._secret)):
            await conn.send([error(402, "auth failed")])
            return
        others = (c for c in self._connections if c is not conn and c.endpoint == conn.endpoint)
        if any(c.authorized and not c.closed for c in others):
            await conn.send([error(406, "connection limit exceeded")])
            await conn.close(CLOSE_POLICY, "connection limit exceeded")
            return
        conn.authorized = True
        await conn.send([{"T": "success", "msg": "authenticated"}])

    async def _subscribe(self, conn: DataConnection, message: dict[str, Any], *, adding: bool) -> None:
        if not conn.authorized:
            await conn.send([error(401, "not authenticated")])
            return
        asked = {channel: message[channel] for channel in CHANNELS if channel in message}
        if not all(isinstance(v, list) and all(isinstance(s, str) for s in v) for v in asked.values()):
            await conn.send([error(400, "invalid syntax")])
            return
        for channel, symbols in asked.items():
            chosen = conn.subscribed[channel]
            for symbol in symbols:
                if adding:
                    chosen[symbol] = None
                else:
                    chosen.pop(symbol, None)
        await conn.send([conn.subscription()])


def _trade_and_quote(asset: Asset, price: Decimal, now: datetime) -> list[dict[str, Any]]:
    quote = Quote(symbol=Symbol(asset.symbol), price=price, timestamp=now, bid=price, ask=price)
    # `t` as a datetime: JSON writes it as RFC 3339, MessagePack as its timestamp extension.
    trade = {"T": "t", "S": asset.symbol, **trade_json(asset, quote), "t": now}
    return [trade, {"T": "q", "S": asset.symbol, **quote_json(asset, quote), "t": now}]


def _wanted(conn: DataConnection, message: dict[str, Any]) -> bool:
    kind = message["T"]
    channel = next(c for c, k in _KIND.items() if k == kind)
    return conn.wants(channel, message["S"])


def _decode(conn: DataConnection, data: bytes | None, text: str | None) -> Any:
    """A client message, or None when it cannot be read."""
    try:
        if data is not None and conn.packed:
            return msgspec.msgpack.decode(data)
        return msgspec.json.decode(data if data is not None else (text or "").encode())
    except msgspec.DecodeError:
        return None
