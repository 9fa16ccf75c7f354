"""Setting JetStream up again when the connection comes back: the server may have lost its store meanwhile.

`connect()` runs the hooks registered with `when_reconnected` after every reconnection. A hook must
return at once: nats-py awaits the reconnected callback inside its reconnect loop, where an error
would count as a failed reconnect. `Redeclaration` is such a hook: it starts a task that retries
its declaration (with backoff) until the server takes it, since a server that has just started
may answer "JetStream not ready" for a moment.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from nats.aio.client import Client

from adapters.nats.connection import NATS_ERRORS, when_reconnected
from trading_core.errors import EventBusError

__all__ = ["Redeclaration"]

log: Final = logging.getLogger(__name__)

FIRST_RETRY_SECONDS: Final = 0.1
LAST_RETRY_SECONDS: Final = 5.0


class Redeclaration:
    """Runs `declare` again after every reconnection of `client`, retrying until it succeeds.

    `declare` must be idempotent (ensure, not recreate): another replica may have done it first.
    """

    def __init__(self, client: Client, declare: Callable[[], Awaitable[None]], *, what: str) -> None:
        self._nc = client
        self._declare = declare
        self._what = what
        self._task: asyncio.Task[None] | None = None
        self._detach: Callable[[], None] | None = None

    def attach(self) -> None:
        """Redeclare on every reconnection from now on (once attached, a second call does nothing)."""
        if self._detach is None:
            self._detach = when_reconnected(self._nc, self.trigger)

    def trigger(self) -> None:
        """Start declaring now, unless a declaration is already under way (it retries until it succeeds)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"redeclare {self._what}")

    async def _run(self) -> None:
        delay = FIRST_RETRY_SECONDS
        while not self._nc.is_closed:
            if self._nc.is_connected:
                try:
                    await self._declare()
                except (EventBusError, *NATS_ERRORS) as e:
                    log.warning("setting up %s again after reconnecting failed, retrying: %r", self._what, e)
                else:
                    log.info("set up %s again after reconnecting", self._what)
                    return
            await asyncio.sleep(delay)
            delay = min(delay * 2, LAST_RETRY_SECONDS)

    async def close(self) -> None:
        """Stop reacting to reconnections and abandon a declaration under way."""
        if self._detach is not None:
            self._detach()
            self._detach = None
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
