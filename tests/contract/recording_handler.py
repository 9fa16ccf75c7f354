"""A `CommandHandler` that records what it was told, and can be told to fail: a fake of our own port."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from trading_core.decisions import Decision


class RecordingHandler:
    """Records every call in order as `(name, argument)`; `fail_next` makes the next calls raise."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.failures: list[BaseException] = []
        self.delay = 0.0
        self._changed = asyncio.Condition()

    def fail_next(self, *errors: BaseException) -> None:
        self.failures.extend(errors)

    @property
    def decisions(self) -> list[Decision]:
        return [arg for name, arg in self.calls if name == "decision"]

    @property
    def malformed(self) -> list[tuple[str, Mapping[str, Any] | None]]:
        return [arg for name, arg in self.calls if name == "malformed"]

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    async def _record(self, name: str, argument: Any = None) -> None:
        """Record the call as it starts, then take `delay` seconds, then fail if told to."""
        async with self._changed:
            self.calls.append((name, argument))
            self._changed.notify_all()
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failures:
            raise self.failures.pop(0)

    async def wait_for(self, count: int, within: float = 10.0) -> list[tuple[str, Any]]:
        """Wait until at least `count` calls were recorded."""
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: len(self.calls) >= count)
        return list(self.calls)

    async def handle_decision(self, decision: Decision) -> None:
        await self._record("decision", decision)

    async def session_opened(self) -> None:
        await self._record("session_opened")

    async def session_closed(self) -> None:
        await self._record("session_closed")

    async def shutdown(self) -> None:
        await self._record("shutdown")

    async def decision_malformed(self, reason: str, raw: Mapping[str, Any] | None) -> None:
        await self._record("malformed", (reason, raw))
