"""Connecting to NATS with the engine's options, and the streams it needs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, Final
from weakref import WeakKeyDictionary

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

from adapters.nats.config import NatsSettings
from trading_core.errors import EventBusError

__all__ = ["connect", "covers", "ensure_stream", "server_at_least", "when_reconnected"]

log: Final = logging.getLogger(__name__)

NATS_ERRORS: Final = (nats.errors.Error, OSError, asyncio.TimeoutError)
"""What the nats client raises when the server is away, slow or refuses."""

Hook = Callable[[], None]
_hooks: WeakKeyDictionary[Client, list[Hook]] = WeakKeyDictionary()


async def connect(settings: NatsSettings, *, name: str | None = None) -> Client:
    """Connect, reconnecting for ever once connected; the first connection must succeed in time.

    Raises:
        EventBusError: no server answered within the connect timeout (a few tries).
    """
    nc = Client()

    async def on_error(e: Exception) -> None:
        log.warning("NATS: %s", e)

    async def on_disconnected() -> None:
        if not nc.is_closed:  # closing on purpose disconnects too
            log.warning("NATS disconnected; reconnecting")

    async def on_reconnected() -> None:
        log.info("NATS reconnected to %s", nc.connected_url.netloc if nc.connected_url else "?")
        _reconnected(nc)

    timeout = settings.connect_timeout.total_seconds()
    try:
        # The client retries a server that is down for ever (max_reconnect_attempts=-1), even
        # the first time: the overall wait bounds that first connection.
        await asyncio.wait_for(
            nc.connect(
                servers=settings.url,
                name=name or settings.client_name,
                connect_timeout=timeout,  # type: ignore[arg-type]  # nats-py accepts seconds as float
                reconnect_time_wait=settings.reconnect_time_wait.total_seconds(),  # type: ignore[arg-type]
                max_reconnect_attempts=-1,
                allow_reconnect=True,
                error_cb=on_error,
                disconnected_cb=on_disconnected,
                reconnected_cb=on_reconnected,
            ),
            timeout=timeout * 3,
        )
    except NATS_ERRORS as e:
        await _abandon(nc)
        raise EventBusError(f"cannot connect to NATS at {settings.url}: {e!r}") from e
    return nc


def when_reconnected(client: Client, hook: Hook) -> Callable[[], None]:
    """Call `hook` after each reconnection of a client made by `connect()`; returns the way to stop.

    The hook must return at once (start a task for any I/O): nats-py awaits its reconnected
    callback inside the reconnect loop, where an error would count as a failed reconnection.
    """
    _hooks.setdefault(client, []).append(hook)

    def detach() -> None:
        hooks = _hooks.get(client, [])
        if hook in hooks:
            hooks.remove(hook)

    return detach


def _reconnected(client: Client) -> None:
    for hook in list(_hooks.get(client, ())):
        try:
            hook()
        except Exception as e:  # one hook's bug must not keep the others from running
            log.exception("a NATS reconnect hook failed: %r", e)


def covers(pattern: str, subject: str) -> bool:
    """Whether every subject matching `subject` (which may hold wildcards) also matches `pattern`."""
    wanted, given = pattern.split("."), subject.split(".")
    for i, part in enumerate(wanted):
        if part == ">":
            return len(given) > i
        if i >= len(given) or given[i] == ">" or part not in ("*", given[i]):
            return False
    return len(wanted) == len(given)


def server_at_least(nc: Client, major: int, minor: int) -> bool:
    """Whether the connected server is at least `major.minor` (False when it cannot tell)."""
    try:
        version = nc.connected_server_version
        return (version.major, version.minor) >= (major, minor)
    except (ValueError, TypeError, AttributeError):
        return False


async def _abandon(nc: Client) -> None:
    with contextlib.suppress(*NATS_ERRORS):
        await nc.close()


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


async def ensure_stream(
    js: JetStreamContext,
    *,
    name: str,
    subjects: Sequence[str],
    max_age: timedelta | None,
    replicas: int = 1,
    duplicate_window: timedelta | None = None,
) -> None:
    """Create the stream when missing, or add subjects it lacks; other settings of an existing one stay.

    Raises:
        EventBusError: the server refused, e.g. another stream already captures these subjects.
    """
    options: dict[str, Any] = {}
    if duplicate_window is not None:
        options["duplicate_window"] = duplicate_window.total_seconds()
    wanted = StreamConfig(
        name=name,
        subjects=list(subjects),
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=_seconds(max_age),
        num_replicas=replicas,
        **options,
    )
    try:
        try:
            info = await js.stream_info(name)
        except nats.js.errors.NotFoundError:
            try:
                await js.add_stream(wanted)
                log.info("created stream %s on %s", name, ", ".join(subjects))
                return
            except nats.js.errors.BadRequestError as refused:
                info = await _created_meanwhile(js, name, refused)
        have = list(info.config.subjects or [])
        missing = [s for s in subjects if not any(covers(h, s) for h in have)]
        if missing:
            info.config.subjects = have + missing
            await js.update_stream(info.config)
            log.info("stream %s now also captures %s", name, ", ".join(missing))
    except NATS_ERRORS as e:
        raise EventBusError(f"cannot set up stream {name} on {', '.join(subjects)}: {e}") from e


async def _created_meanwhile(js: JetStreamContext, name: str, refused: Exception) -> Any:
    """The stream another replica created while we tried; else the reason ours was refused."""
    try:
        return await js.stream_info(name)
    except nats.js.errors.NotFoundError:
        raise refused from None
