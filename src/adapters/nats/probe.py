"""Cheap answers for the health endpoint: is the connection up, do our streams and consumer exist.

A connected client says nothing about JetStream: a server that restarted with an empty store
accepts the connection and has neither stream. Each probe is one JetStream API request with a
short timeout, and a good answer is kept for a moment so that a busy `/health` costs little.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Final

import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext

__all__ = ["CONNECTED", "CachedHealth", "connection_state", "consumer_state", "probe_context", "stream_state"]

CONNECTED: Final = "connected"
PROBE_TIMEOUT_SECONDS: Final = 1.0
"""Below the health endpoint's own timeout, so a slow server is reported as such by us."""
GOOD_FOR_SECONDS: Final = 2.0

_STREAM_NOT_FOUND: Final = 10059
"""JetStream's error code for "stream not found" (a consumer's is 10014)."""


def probe_context(client: Client) -> JetStreamContext:
    """A JetStream context whose requests give up after the probe's timeout."""
    return client.jetstream(timeout=PROBE_TIMEOUT_SECONDS)


def connection_state(client: Client) -> str | None:
    """Why the client cannot talk to the server now, or None when it is connected."""
    if client.is_closed:
        return "closed"
    if not client.is_connected:
        return "reconnecting"
    return None


async def stream_state(js: JetStreamContext, stream: str) -> str:
    """`connected`, or `stream <name> missing`.

    Raises:
        nats.errors.Error: the server did not answer (the health endpoint reports it).
    """
    try:
        await js.stream_info(stream)
    except nats.js.errors.NotFoundError:
        return f"stream {stream} missing"
    return CONNECTED


async def consumer_state(js: JetStreamContext, stream: str, consumer: str) -> str:
    """`connected`, or which of the stream and the consumer is missing.

    Raises:
        nats.errors.Error: the server did not answer (the health endpoint reports it).
    """
    try:
        await js.consumer_info(stream, consumer)
    except nats.js.errors.NotFoundError as e:
        if e.err_code == _STREAM_NOT_FOUND:
            return f"stream {stream} missing"
        return f"consumer {consumer} missing"
    return CONNECTED


class CachedHealth:
    """A check whose `connected` answer is kept for `good_for` seconds; any other answer is not kept."""

    def __init__(self, check: Callable[[], Awaitable[str]], good_for: float = GOOD_FOR_SECONDS) -> None:
        self._check = check
        self._good_for = good_for
        self._good_until = 0.0

    async def __call__(self) -> str:
        if time.monotonic() < self._good_until:
            return CONNECTED
        state = await self._check()
        if state == CONNECTED:
            self._good_until = time.monotonic() + self._good_for
        return state

    def forget(self) -> None:
        """Drop a kept answer (after a failure seen elsewhere)."""
        self._good_until = 0.0
