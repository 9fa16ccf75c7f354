"""Helpers for the simulator's contract tests: a raw REST client, a raw stream client, JSON checks."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from apps.alpaca_sim import SimServer

WAIT = 5.0
AUTH = {"APCA-API-KEY-ID": "test", "APCA-API-SECRET-KEY": "test"}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")
DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")

ORDER_MEMBERS = frozenset(
    {
        "id",
        "client_order_id",
        "created_at",
        "updated_at",
        "submitted_at",
        "filled_at",
        "expired_at",
        "expires_at",
        "canceled_at",
        "failed_at",
        "replaced_at",
        "replaced_by",
        "replaces",
        "asset_id",
        "symbol",
        "asset_class",
        "notional",
        "qty",
        "filled_qty",
        "filled_avg_price",
        "order_class",
        "order_type",
        "type",
        "side",
        "position_intent",
        "time_in_force",
        "limit_price",
        "stop_price",
        "status",
        "extended_hours",
        "legs",
        "trail_percent",
        "trail_price",
        "hwm",
        "ratio_qty",
    }
)


def market(symbol: str = "AAPL", qty: Any = "10", side: str = "buy", **more: Any) -> dict[str, Any]:
    return {"symbol": symbol, "qty": qty, "side": side, "type": "market", "time_in_force": "day", **more}


def limit(symbol: str = "AAPL", qty: Any = "5", price: Any = "150", side: str = "buy", **more: Any) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "qty": qty,
        "side": side,
        "type": "limit",
        "limit_price": price,
        "time_in_force": "gtc",
        **more,
    }


def api(sim: SimServer, **headers: str) -> httpx.AsyncClient:
    """A raw REST client with the keys (plain HTTP: verify=False only spares loading CA certificates)."""
    return httpx.AsyncClient(base_url=sim.url, headers={**AUTH, **headers}, timeout=WAIT, verify=False)


def is_decimal_string(value: object) -> bool:
    return isinstance(value, str) and DECIMAL.match(value) is not None


async def recv(ws: ClientConnection, within: float = WAIT) -> dict[str, Any]:
    """The next message, which must be a BINARY frame holding a JSON object."""
    frame = await asyncio.wait_for(ws.recv(), within)
    assert isinstance(frame, bytes), f"a text frame: {frame!r}"
    message: dict[str, Any] = json.loads(frame)
    return message


async def updates(ws: ClientConnection, n: int, within: float = WAIT) -> list[dict[str, Any]]:
    """The payloads of the next `n` trade_updates messages."""
    found = []
    while len(found) < n:
        message = await recv(ws, within)
        if message["stream"] == "trade_updates":
            found.append(message["data"])
    return found


async def nothing_within(ws: ClientConnection, seconds: float) -> bool:
    try:
        await asyncio.wait_for(ws.recv(), seconds)
    except TimeoutError:
        return True
    return False


async def authenticate(ws: ClientConnection, key: str = "test", secret: str = "test") -> dict[str, Any]:
    await ws.send(json.dumps({"action": "authenticate", "data": {"key_id": key, "secret_key": secret}}))
    return await recv(ws)


async def listen(ws: ClientConnection, streams: list[str] | None = None) -> dict[str, Any]:
    await ws.send(json.dumps({"action": "listen", "data": {"streams": streams or ["trade_updates"]}}))
    return await recv(ws)


@asynccontextmanager
async def trade_updates(sim: SimServer) -> AsyncIterator[ClientConnection]:
    """An authenticated stream listening to trade_updates, registered with the simulator."""
    async with connect(sim.stream_url, open_timeout=WAIT, close_timeout=1) as ws:
        assert (await authenticate(ws))["data"]["status"] == "authorized"
        assert (await listen(ws))["stream"] == "listening"
        yield ws
