"""One WebSocket kept connected: connect, authenticate, serve, back off, reconnect; for both of Alpaca's streams.

The trade_updates stream (`stream.py`) and the market-data stream (`quotes.py`) each hand a
`StreamClient` to a `WebSocketConnector`, which owns the socket's life:

1. connect (`async for ws in websockets.connect(...)`) and let the client authenticate within
   `open_timeout`;
2. let the client serve the connection until it ends (closed, dropped, refused, or a reason of
   the client's own, a `StreamEnded`), and record why it ended in `state`;
3. let the client release what the connection held, close the socket, and wait a jittered,
   growing delay before connecting again. The series starts again after a connection that
   lived `stable_after` seconds, or that the client says held (the trade stream: ready for
   long enough), so a server that accepts and drops at once is never hammered.

websockets' own reconnection backoff is replaced by this one: its delays are set by environment
variables read at import, start at up to 5 s, and restart at zero after every connection that
opened, even one that is dropped at once. A failed handshake waits the same growing series.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Generator
from typing import Protocol

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidURI, WebSocketException

from adapters.alpaca.backoff import Backoff
from adapters.alpaca.config import StreamSettings

__all__ = ["StreamClient", "StreamEnded", "StreamRefused", "WebSocketConnector"]


class StreamEnded(Exception):
    """A stream's own reason to end a connection; the connector's state becomes `"<status>: <reason>"`."""

    status = "reconnecting"


class StreamRefused(StreamEnded):
    """The server did not greet, authenticate or authorise the connection."""


class StreamClient(Protocol):
    """What a stream does with each connection the connector opens."""

    async def authenticate(self, ws: ClientConnection) -> None:
        """Greet and authenticate on a new connection (within the open timeout); raise `StreamRefused` if refused."""

    async def serve(self, ws: ClientConnection) -> None:
        """Read the authenticated connection until it ends."""

    async def release(self) -> None:
        """The connection has ended, however: let go of what it held."""

    def held(self, now: float) -> bool:
        """Whether the connection just ended proved itself, beyond lasting `stable_after` (resets the backoff)."""


class WebSocketConnector:
    """Keeps one WebSocket URL connected for a `StreamClient`, with jittered, growing delays between tries.

    Args:
        url: The stream's URL.
        timing: Timeouts, keepalive and reconnection delays (`settings.stream`).
        name: The stream's name in log lines ("trade_updates", "market data").
        log: Where the connection's life is logged (the stream's own logger).
        rng: Jitter source.
        monotonic: The clock a connection's lifetime is measured by.
    """

    def __init__(
        self,
        url: str,
        timing: StreamSettings,
        *,
        name: str,
        log: logging.Logger,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._timing = timing
        self._name = name
        self._log = log
        self._monotonic = monotonic
        self.backoff = Backoff(timing.reconnect_min_delay, timing.reconnect_max_delay, rng)
        """The reconnection delays; a stream may also draw its own retries' waits from it."""
        self.state = "not started"
        """Why the last connection ended, or what the stream is doing now (the client may set it)."""
        self.connections = 0
        """Connections opened so far."""

    async def run(self, client: StreamClient) -> None:
        """Keep the URL connected for `client` until cancelled."""
        connector = connect(
            self.url,
            open_timeout=self._timing.open_timeout,
            ping_interval=self._timing.ping_interval,
            ping_timeout=self._timing.ping_timeout,
            close_timeout=1,
            user_agent_header="trading-engine",
            reconnect_delays=self._delays,
            process_exception=self._retryable,
        )
        try:
            async for ws in connector:
                started = self._monotonic()
                await self._serve(ws, client)
                now = self._monotonic()
                if now - started >= self._timing.stable_after or client.held(now):
                    self.backoff.reset()
                delay = self.backoff.next()
                self._log.info("%s: reconnecting in %.2fs (%s)", self._name, delay, self.state)
                await asyncio.sleep(delay)
        finally:
            self.state = "closed"

    def _delays(self) -> Generator[float]:
        """Delays between failed handshakes: the same growing series as after a dropped connection."""
        while True:
            self.state = "reconnecting: cannot connect"
            yield self.backoff.next()

    async def _serve(self, ws: ClientConnection, client: StreamClient) -> None:
        """One connection, from authentication to its end; records why it ended."""
        self.connections += 1
        try:
            async with asyncio.timeout(self._timing.open_timeout):
                await client.authenticate(ws)
            await client.serve(ws)
        except ConnectionClosed as e:
            self.state = f"reconnecting: connection closed ({e.rcvd.code if e.rcvd else 'no close frame'})"
        except StreamEnded as e:
            self.state = f"{e.status}: {e}"
        except (TimeoutError, OSError, WebSocketException) as e:
            self.state = f"reconnecting: {type(e).__name__}"
        except Exception as e:  # a bug must not end the stream for good: log it, reconnect
            self._log.exception("%s: unexpected failure; reconnecting", self._name)
            self.state = f"reconnecting: internal error ({type(e).__name__})"
        finally:
            await client.release()
            await ws.close()
        self._log.warning("%s: %s", self._name, self.state)

    def _retryable(self, exc: Exception) -> Exception | None:
        """Every connection failure is retried (with backoff) except a URL that cannot work."""
        if isinstance(exc, InvalidURI):
            return exc
        self._log.warning("%s: cannot connect (%s: %s)", self._name, type(exc).__name__, exc)
        return None
