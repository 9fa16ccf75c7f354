"""One request budget for the whole account: a token bucket, fed by Alpaca's rate-limit headers.

Alpaca allows a number of requests per minute per key (200 by default) and answers beyond it
with 429. Every request takes a token before it is sent. Tokens refill at `requests / period`
per second up to `requests`; whenever an answer carries `X-Ratelimit-Remaining` and
`X-Ratelimit-Reset`, the server's count wins: until that reset the bucket holds no more than
what the server said remains, less the requests sent since that are still unanswered.

Requests wait in three priority classes. A waiting request of a higher class is always served
first, and each lower class must leave a reserve of tokens untouched, so a burst of polls can
neither delay a cancel that is waiting nor have spent the tokens a cancel arriving later needs:

    CANCEL  cancels and orders that reduce a position    may take the last token
    ORDER   new orders and replacements                  leaves `order_reserve` of the allowance
    SYNC    reads, polls, syncs, backfills               leaves `sync_reserve` of the allowance

Until the first answer has been read, one request at a time goes out: the account's real limit
may be lower than the configured one, and a burst sent before any header arrived could not be
taken back.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from enum import IntEnum

from adapters.alpaca.config import RateLimit

__all__ = ["Priority", "RequestBudget"]


class Priority(IntEnum):
    """Who goes first when tokens are short: the lower the value, the sooner."""

    CANCEL = 0
    ORDER = 1
    SYNC = 2


class RequestBudget:
    """Tokens for requests, shared by every caller of one account.

    Args:
        limit: The starting allowance, until the server's headers say otherwise.
        monotonic: The clock the bucket refills by (seconds); `time.monotonic` by default.
        wall: The clock `X-Ratelimit-Reset` is read against (Unix seconds); `time.time` by default.
    """

    def __init__(
        self,
        limit: RateLimit | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._limit = limit or RateLimit()
        self._monotonic = monotonic
        self._wall = wall
        self.capacity = float(self._limit.requests)
        self.rate = self.capacity / self._limit.period
        self._tokens = self.capacity
        self._refilled_at = monotonic()
        self._server_cap: float | None = None
        """What the server allows until `_server_reset` (monotonic), net of requests sent since."""
        self._server_reset = 0.0
        self._flying: set[int] = set()
        """Tickets of requests sent and not answered yet, in sending order."""
        self._tickets = itertools.count()
        self._calibrated = False
        """Whether an answer (with or without rate-limit headers) has been read yet."""
        self._probing = False
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self.granted = 0
        """Tokens handed out since the start: requests sent under this budget."""
        self.waited = 0
        """Requests that had to wait for a token."""

    def reserve_for(self, priority: Priority) -> float:
        """How many tokens requests of `priority` must leave for the ones above it."""
        if priority is Priority.SYNC:
            return math.ceil(self._limit.sync_reserve * self.capacity)
        if priority is Priority.ORDER:
            return math.ceil(self._limit.order_reserve * self.capacity)
        return 0.0

    @property
    def available(self) -> float:
        """Tokens that could be taken now (ignoring reserves)."""
        self._refill()
        return self._allowed()

    @contextmanager
    def in_flight(self) -> Iterator[int]:
        """Count a request (its token taken) as sent and unanswered inside the block; yields its ticket."""
        ticket = next(self._tickets)
        self._flying.add(ticket)
        try:
            yield ticket
        finally:
            self._flying.discard(ticket)
            if self._probing:  # the probe got no answer: let the next one go
                self._probing = False
                if self._waiting:
                    self._serve()

    async def acquire(self, priority: Priority) -> None:
        """Take one token, waiting behind every request of a higher (or the same, earlier) class."""
        if not self._waiting and self._try_take(priority):
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._waiting, (int(priority), next(self._seq), future))
        self.waited += 1
        self._serve()
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._tokens += 1  # granted just as the waiter gave up: give the token back
                self.granted -= 1
                self._probing = False
            self._waiting = [w for w in self._waiting if w[2] is not future]
            heapq.heapify(self._waiting)
            self._serve()
            raise

    def observe(self, headers: Mapping[str, str], ticket: int | None = None) -> None:
        """Read `X-Ratelimit-Limit`, `-Remaining` and `-Reset` from the answer to request `ticket`."""
        self._calibrated, self._probing = True, False
        limit = _number(headers.get("x-ratelimit-limit"))
        remaining = _number(headers.get("x-ratelimit-remaining"))
        reset = _number(headers.get("x-ratelimit-reset"))
        if limit is not None and limit > 0 and limit != self.capacity:
            self.capacity = limit
            self.rate = limit / self._limit.period
        if remaining is None:
            if self._waiting:
                self._serve()
            return
        self._refill()
        now = self._monotonic()
        until = now + max(0.0, reset - self._wall()) if reset is not None else now + self._limit.period
        # `remaining` counts the requests sent before this one; those sent after it and still
        # unanswered may not be counted yet, so they are counted against it. (Counting every
        # unanswered request would count some twice, and one low reading holds for the window.)
        later = sum(1 for t in self._flying if ticket is None or t > ticket)
        allowed = max(0.0, remaining - later)
        if self._server_cap is None or until > self._server_reset + 0.5:
            self._server_cap, self._server_reset = allowed, until  # a new window: the server's count wins
        else:
            self._server_cap = min(self._server_cap, allowed)  # answers of one window may arrive out of order
        self._tokens = min(self._server_cap, self.capacity)
        self._serve()

    def penalise(self, retry_after: float | None) -> None:
        """A 429 came back: nobody gets a token for `retry_after` seconds (default: one token's refill).

        The headers of the 429, read by `observe` first, already hold everyone until the server's
        reset when it sent them; without them this pause, and the caller's backoff, is all we know.
        """
        pause = retry_after if retry_after is not None and retry_after > 0 else 1 / self.rate
        self._refill()
        self._server_cap = 0.0
        self._server_reset = max(self._server_reset, self._monotonic() + pause)
        self._serve()

    # ---------------------------------------------------------------- the bucket

    def _refill(self) -> None:
        now = self._monotonic()
        if self._server_cap is not None and now >= self._server_reset:
            self._server_cap = None  # the server's window is over: back to the steady rate
        cap = self.capacity if self._server_cap is None else min(self.capacity, self._server_cap)
        elapsed = now - self._refilled_at
        self._refilled_at = now
        if self._tokens < cap:
            self._tokens = min(cap, self._tokens + elapsed * self.rate)

    def _try_take(self, priority: Priority) -> bool:
        if not self._calibrated:
            if self._probing:
                return False
            self._probing = True
            self._take()
            return True
        self._refill()
        if self._allowed() - 1 >= self.reserve_for(priority) - 1e-9:
            self._take()
            return True
        return False

    def _allowed(self) -> float:
        """Tokens usable now: the bucket's, but never more than the server still allows."""
        return self._tokens if self._server_cap is None else min(self._tokens, self._server_cap)

    def _take(self) -> None:
        self._tokens -= 1
        if self._server_cap is not None:
            self._server_cap = max(0.0, self._server_cap - 1)
        self.granted += 1

    def _serve(self) -> None:
        """Grant tokens to waiters in priority order; arm a timer for when the next one is due."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._waiting:
            priority, _, future = self._waiting[0]
            if future.done():
                heapq.heappop(self._waiting)
                continue
            if not self._try_take(Priority(priority)):
                break
            heapq.heappop(self._waiting)
            future.set_result(None)
        if self._waiting:
            priority = self._waiting[0][0]
            self._timer = asyncio.get_running_loop().call_later(self._wait_for(Priority(priority)), self._serve)

    def _wait_for(self, priority: Priority) -> float:
        """Seconds until the head of the queue can have a token (at least a millisecond)."""
        if not self._calibrated:
            return 0.05  # the probe's answer (or failure) serves the queue sooner
        missing = self.reserve_for(priority) + 1 - self._allowed()
        now = self._monotonic()
        if self._server_cap is not None and self._server_cap < self.reserve_for(priority) + 1:
            return max(0.001, self._server_reset - now)
        return max(0.001, missing / self.rate if missing > 0 else 0.001)


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None
