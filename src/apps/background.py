"""Background work with a clean start and stop: named tasks, restarted after a crash, cancelled on stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from trading_core.errors import TradingError

log = logging.getLogger("apps.background")

MAX_BACKOFF_SECONDS: Final = 30.0

Job = Callable[[], Awaitable[object]]


class JobCannotContinue(Exception):  # a verdict on the job, not an error of the caller's
    """Raised by a job that no restart can help (say, a calendar with no session left): it ends for good.

    `Background` logs its message once, at error, and does not start the job again.
    """


class Background:
    """Runs long-lived jobs (the trade update stream, polls, the relay) until stopped.

    A job that raises is logged and started again after a backoff, so one bad moment of a
    dependency does not silently end, say, the position sync. A job that raises
    `JobCannotContinue` is logged once and left stopped: starting it again would only fail again.
    """

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.restarts: dict[str, int] = {}

    def start(self, name: str, job: Job) -> None:
        if name in self._tasks:
            raise RuntimeError(f"background job {name} is already running")
        self.restarts[name] = 0
        self._tasks[name] = asyncio.create_task(self._supervise(name, job), name=name)

    def every(self, name: str, seconds: float, action: Job) -> None:
        """Run `action` every `seconds` (after a first wait); a failed round is logged and skipped."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(seconds)
                try:
                    await action()
                except TradingError as e:
                    log.warning("%s failed this round: %s", name, e)

        self.start(name, loop)

    def is_running(self, name: str) -> bool:
        task = self._tasks.get(name)
        return task is not None and not task.done()

    async def _supervise(self, name: str, job: Job) -> None:
        backoff = 0.5
        while True:
            try:
                await job()
                log.warning("background job %s returned; starting it again", name)
            except asyncio.CancelledError:
                raise
            except JobCannotContinue as e:  # the reason is its message: no traceback helps
                log.error("background job %s stopped and will not be started again: %s", name, e)
                return
            except Exception:
                log.exception("background job %s failed; starting it again in %.1fs", name, backoff)
            self.restarts[name] += 1
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def stop(self, name: str | None = None, *, timeout: float = 5.0) -> None:  # noqa: ASYNC109  # a bound, not a deadline for callers
        """Cancel one job (or all) and wait for them to end, at most `timeout` seconds."""
        names = [name] if name is not None else list(self._tasks)
        tasks = [self._tasks.pop(n) for n in names if n in self._tasks]
        for task in tasks:
            task.cancel()
        if tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout)
