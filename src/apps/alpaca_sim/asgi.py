"""A thin ASGI layer: a request read whole, a response sent whole, and a table of routes."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import re
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any
from urllib.parse import parse_qs

import attrs
import msgspec

from apps.alpaca_sim import errors
from apps.alpaca_sim.parse import Query

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_BODY = 1 << 20


class Socket:
    """One WebSocket client: sends are serialised, and nothing is sent once it is closed."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._lock = asyncio.Lock()
        self.closed = False

    async def transmit(self, message: Message) -> bool:
        """Send one ASGI message; False when the connection is gone."""
        async with self._lock:
            if self.closed:
                return False
            try:
                await self._send(message)
            except (OSError, RuntimeError):
                self.closed = True
                return False
            return True

    async def close(self, code: int, reason: str = "") -> None:
        async with self._lock:
            if self.closed:
                return
            self.closed = True
            with contextlib.suppress(OSError, RuntimeError):
                await self._send({"type": "websocket.close", "code": code, "reason": reason})


def same_secret(given: object, expected: str) -> bool:
    """Whether a key or secret a client gave is `expected`: compared in constant time, so the time
    taken tells nothing of how much of it was right; anything but a string is not."""
    return isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())


def _plain_string(value: Any) -> Any:
    """msgspec encodes exact `str` only: the core's typed ids and symbols become plain strings."""
    if isinstance(value, str):
        return str(value)
    raise NotImplementedError(f"cannot encode {type(value).__name__} as JSON")


def encoder(*, decimals_as_numbers: bool = False) -> msgspec.json.Encoder:
    """A JSON encoder for the simulator's answers (decimals as strings unless told otherwise)."""
    return msgspec.json.Encoder(enc_hook=_plain_string, decimal_format="number" if decimals_as_numbers else "string")


_ENCODER = encoder()
_JSON = (("content-type", "application/json; charset=utf-8"),)


@attrs.frozen(kw_only=True)
class Request:
    method: str
    path: str
    query: Query
    headers: Mapping[str, str]
    """Lower-case names."""
    body: bytes
    received_at: float
    """Unix time (`time.time()`) when the whole request had been read."""


@attrs.frozen
class Response:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


def json_response(value: Any, status: int = 200, *, encoder: msgspec.json.Encoder = _ENCODER) -> Response:
    return Response(status, encoder.encode(value), _JSON)


def error_response(e: errors.AlpacaError) -> Response:
    return json_response(e.body(), e.status)


async def read_request(scope: Scope, receive: Receive) -> Request:
    """The whole request; a body beyond `MAX_BODY` is cut short (and then fails to parse)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= MAX_BODY:
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    return Request(
        method=scope["method"],
        path=scope["path"],
        query=Query(query),
        headers=headers,
        body=b"".join(chunks),
        received_at=time.time(),
    )


async def send_response(send: Send, response: Response, extra: tuple[tuple[str, str], ...] = ()) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (*response.headers, *extra)]
    if response.status != 204:
        headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body if response.status != 204 else b""})


Handler = Callable[..., Awaitable[Response]]


_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


class Router:
    """Routes by method and a path pattern with named groups (passed to the handler by name)."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler, str]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        name = method + " " + _GROUP.sub(r"{\1}", pattern)
        self._routes.append((method, re.compile(pattern + r"\Z"), handler, name))

    def name(self, method: str, path: str) -> str | None:
        """The route's name: its method and pattern, each group as `{name}` (`GET /v2/orders/{order_id}`);
        None when no route has this method and path."""
        for route_method, pattern, _, name in self._routes:
            if route_method == method and pattern.match(path):
                return name
        return None

    def find(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        """The handler and its path parameters; 404 or 405 in Alpaca's error shape."""
        path_known = False
        for route_method, pattern, handler, _ in self._routes:
            found = pattern.match(path)
            if found is None:
                continue
            if route_method == method:
                return handler, found.groupdict()
            path_known = True
        if path_known:
            raise errors.method_not_allowed()
        raise errors.not_found("endpoint not found")
