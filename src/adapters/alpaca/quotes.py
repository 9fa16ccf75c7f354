"""The latest quote and trade per symbol, kept current by Alpaca's market-data stream.

One task runs `QuoteStream.run()` while the broker is open: once a symbol is wanted it connects
to `settings.market_stream_url` (`wss://stream.data.alpaca.markets/v2/{feed}`), expects
`[{"T": "success", "msg": "connected"}]`, sends `auth`, requires `authenticated`, subscribes to
the quotes and trades of every wanted symbol, and reads. A symbol wanted later is added to the
subscription on the open connection (no reconnection). A lost connection is reconnected by the
`WebSocketConnector` the trade_updates stream uses too (`connector.py`: jittered, growing
delays), and everything wanted is subscribed again.
Alpaca allows one market-data connection per key: a second one (another replica on the same key)
is refused with error 406, and this stream then keeps trying, with backoff, while `latest_quote`
reads REST.

When is a cached quote current? The stream sends a quote whenever one changes and nothing when
none does, so a quote's own timestamp says little: a symbol that has not traded for an hour has
an hour-old quote that is still the latest. What makes a cached quote current is a connection
that is subscribed to the symbol's quotes and was subscribed before the quote was taken: any
change since would have arrived. Such a quote is *live* and is answered whatever its age. A
quote that is not live (the connection was lost, or the quote was read over REST before the
subscription was confirmed) is trusted for `quote_max_age` seconds from the last moment it was
known current (when it was read, or when the connection it was live on was lost); after that
`latest_quote` asks REST.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import attrs
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from adapters.alpaca import codec
from adapters.alpaca.codec import LastTrade
from adapters.alpaca.config import AlpacaSettings
from adapters.alpaca.connector import StreamRefused, WebSocketConnector
from trading_core.market import Quote
from trading_core.values import Symbol

__all__ = ["QuoteStream"]

log = logging.getLogger("adapters.alpaca.quotes")


@attrs.define
class _Entry:
    quote: Quote | None = None
    trade: LastTrade | None = None
    received: float = float("-inf")
    """When the quote was taken (monotonic): received on the stream, or when REST was asked."""
    known_at: float = float("-inf")
    """The last moment the quote was known to be the latest."""


class QuoteStream:
    """The market-data stream's latest quotes and trades, and the subscription to them.

    Args:
        settings: The stream URL, the keys, and `settings.stream`'s reconnection timings.
        rng: Jitter source.
        monotonic: The clock quote ages are measured by.
    """

    def __init__(
        self,
        settings: AlpacaSettings,
        *,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._timing = settings.stream
        self._connector = WebSocketConnector(
            settings.market_stream_url, self._timing, name="market data", log=log, rng=rng, monotonic=monotonic
        )
        self._monotonic = monotonic
        self._entries: dict[Symbol, _Entry] = {}
        self._wanted: dict[Symbol, None] = {}
        """Symbols in use, in the order first wanted (an ordered set)."""
        self._some_wanted = asyncio.Event()
        self._confirmed: dict[Symbol, float] = {}
        """On the open connection: when the subscription to each symbol's quotes was confirmed."""
        self._ws: ClientConnection | None = None
        self.quotes_received = 0
        self.listeners: list[Callable[[Symbol, Decimal], None]] = []
        """Called with each quote's price as the stream delivers it (`AlpacaBroker.watch_marks`)."""

    # ---------------------------------------------------------------- the cache

    def now(self) -> float:
        """The stream's monotonic clock, in seconds."""
        return self._monotonic()

    def current(self, symbol: Symbol, max_age: float) -> Quote | None:
        """The cached quote when it is live, or was known current within `max_age` seconds; else None."""
        entry = self._entries.get(symbol)
        if entry is None or entry.quote is None:
            return None
        if self._live(symbol, entry) or self._monotonic() - entry.known_at <= max_age:
            return entry.quote
        return None

    def trade(self, symbol: Symbol) -> LastTrade | None:
        """The latest trade the stream sent for the symbol."""
        entry = self._entries.get(symbol)
        return entry.trade if entry is not None else None

    def remember(self, quote: Quote, asked_at: float) -> None:
        """Keep a quote read over REST, asked at `asked_at`, unless the stream sent a newer one meanwhile."""
        entry = self._entries.setdefault(quote.symbol, _Entry())
        if entry.received <= asked_at:
            entry.quote, entry.received, entry.known_at = quote, asked_at, asked_at

    def live(self, symbol: Symbol) -> bool:
        """Whether the cached quote of `symbol` is live: every change since it came would have come too."""
        entry = self._entries.get(symbol)
        return entry is not None and entry.quote is not None and self._live(symbol, entry)

    def _live(self, symbol: Symbol, entry: _Entry) -> bool:
        confirmed = self._confirmed.get(symbol)
        return confirmed is not None and entry.received >= confirmed

    # ---------------------------------------------------------------- the subscription

    @property
    def wanted(self) -> list[Symbol]:
        """The symbols subscribed to, or to be at the next connection."""
        return list(self._wanted)

    async def want(self, symbols: Iterable[Symbol]) -> None:
        """Subscribe to these symbols too (on the open connection, or at the next connection)."""
        new = [s for s in dict.fromkeys(symbols) if s not in self._wanted]
        if not new:
            return
        self._wanted.update(dict.fromkeys(new))
        self._some_wanted.set()
        ws = self._ws
        if ws is not None:
            # A send that fails means the connection is going: the next one subscribes to everything.
            with contextlib.suppress(ConnectionClosed):
                await ws.send(_subscribe(new))

    # ---------------------------------------------------------------- the connection

    @property
    def state(self) -> str:
        """What the stream is doing, or why its last connection ended."""
        return self._connector.state

    @property
    def connections(self) -> int:
        """Connections opened so far."""
        return self._connector.connections

    async def run(self) -> None:
        """Keep the stream connected (once a symbol is wanted) until cancelled."""
        self._connector.state = "idle: no symbol wanted yet"
        await self._some_wanted.wait()
        await self._connector.run(self)

    async def authenticate(self, ws: ClientConnection) -> None:
        """Require the greeting, send `auth`, require `authenticated`."""
        _expect(await ws.recv(), "connected")
        key, secret = self._settings.key_id, self._settings.secret_key
        await ws.send(codec.encode({"action": "auth", "key": key, "secret": secret}).decode())
        _expect(await ws.recv(), "authenticated")

    async def serve(self, ws: ClientConnection) -> None:
        """Subscribe to every wanted symbol and read until the connection closes."""
        self._ws = ws
        self._connector.state = "connected"
        await ws.send(_subscribe(list(self._wanted)))  # nothing awaited since `_ws` was set
        async for frame in ws:
            self._handle(frame)
        self._connector.state = "reconnecting: connection closed"

    async def release(self) -> None:
        """The connection is gone: live quotes were current until now, and no subscription holds."""
        self._lost()

    def held(self, now: float) -> bool:
        """Only lasting `stable_after` proves a market-data connection."""
        return False

    def _lost(self) -> None:
        """The connection is gone: live quotes were current until now, and no subscription holds."""
        now = self._monotonic()
        for symbol, entry in self._entries.items():
            if self._live(symbol, entry):
                entry.known_at = now
        self._confirmed.clear()
        self._ws = None

    def _handle(self, frame: str | bytes) -> None:
        now = self._monotonic()
        for message in _messages(frame):
            kind = message.get("T")
            if kind == "q":
                self._on_quote(message, now)
            elif kind == "t":
                self._on_trade(message)
            elif kind == "subscription":
                quotes = message.get("quotes")
                for symbol in quotes if isinstance(quotes, list) else []:
                    self._confirmed.setdefault(Symbol(str(symbol)), now)
            elif kind == "error":
                log.error("market data: error %s: %s", message.get("code"), message.get("msg"))

    def _on_quote(self, message: dict[str, Any], now: float) -> None:
        symbol = Symbol(str(message.get("S")))
        try:
            quote = codec.quote(symbol, {"quote": message})
        except codec.WireError as e:
            log.error("market data: skipped a quote that does not parse (%s): %.300r", e, message)
            return
        if quote is None:
            return  # no price on either side: the last one stands
        entry = self._entries.setdefault(symbol, _Entry())
        entry.quote, entry.received, entry.known_at = quote, now, now
        self.quotes_received += 1
        for listener in self.listeners:
            try:
                listener(symbol, quote.price)
            except Exception:  # a listener's failure must not end the stream
                log.exception("market data: quote listener %r failed on %s", listener, symbol)

    def _on_trade(self, message: dict[str, Any]) -> None:
        symbol = Symbol(str(message.get("S")))
        try:
            trade = codec.last_trade(symbol, message)
        except codec.WireError as e:
            log.error("market data: skipped a trade that does not parse (%s): %.300r", e, message)
            return
        self._entries.setdefault(symbol, _Entry()).trade = trade


def _subscribe(symbols: list[Symbol]) -> str:
    names = [str(s) for s in symbols]
    return codec.encode({"action": "subscribe", "quotes": names, "trades": names}).decode()


def _messages(frame: str | bytes) -> list[dict[str, Any]]:
    """The objects of one frame (a JSON array); nothing when it cannot be read."""
    try:
        decoded = codec.decode(frame)
    except codec.WireError:
        log.error("market data: skipped a frame that is not JSON: %.200r", frame)
        return []
    return [m for m in decoded if isinstance(m, dict)] if isinstance(decoded, list) else []


def _expect(frame: str | bytes, msg: str) -> None:
    """The control message `{"T": "success", "msg": msg}`, or StreamRefused naming what came instead."""
    messages = _messages(frame)
    first = messages[0] if messages else {}
    if first.get("T") != "success" or first.get("msg") != msg:
        raise StreamRefused(f"expected {msg!r}, was {first.get('code', '')} {first.get('msg', frame)!r}"[:200])
