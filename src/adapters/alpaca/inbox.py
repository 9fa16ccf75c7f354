"""The trade updates the stream has put in order, waiting for the engine to take them."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable

from trading_core.broker_models import TradeUpdate

__all__ = ["UpdateInbox"]


class UpdateInbox:
    """Trade updates ready for the engine, oldest first."""

    def __init__(self) -> None:
        self._items: deque[TradeUpdate] = deque()
        self._arrived = asyncio.Event()
        self.delivered = 0

    def put(self, updates: Iterable[TradeUpdate]) -> None:
        """Queue updates for the engine, oldest first, and wake a reader."""
        before = len(self._items)
        self._items.extend(updates)
        if len(self._items) > before:
            self.delivered += len(self._items) - before
            self._arrived.set()

    def drain(self) -> list[TradeUpdate]:
        """Take every queued update; never waits."""
        taken = list(self._items)
        self._items.clear()
        self._arrived.clear()
        return taken

    async def next(self) -> list[TradeUpdate]:
        """Wait for at least one update, then take all that are queued."""
        while not self._items:
            self._arrived.clear()
            await self._arrived.wait()
        return self.drain()
