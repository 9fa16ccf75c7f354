"""Alpaca's request limit: so many requests a minute per API key, with the headers that tell it."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

import attrs

WINDOW_SECONDS = 60.0
DEFAULT_RATE_LIMIT = 200
"""Alpaca's limit on the trading API: 200 requests a minute per key."""
_WINDOWS_KEPT = 1000


@attrs.frozen
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset: int
    """Unix time, in seconds, when the window ends."""

    def headers(self) -> tuple[tuple[str, str], ...]:
        return (
            ("X-Ratelimit-Limit", str(self.limit)),
            ("X-Ratelimit-Remaining", str(self.remaining)),
            ("X-Ratelimit-Reset", str(self.reset)),
        )


class RateLimiter:
    """A fixed window per key, opened by the key's first request; `limit` 0 turns it off.

    Args:
        limit: Requests allowed per window and key.
        window: The window's length in seconds.
        clock: Unix time in seconds.
    """

    def __init__(self, limit: int, *, window: float = WINDOW_SECONDS, clock: Callable[[], float] = time.time) -> None:
        if limit < 0:
            raise ValueError(f"the rate limit must be 0 (off) or positive, was {limit}")
        self.limit = limit
        self._window = window
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}
        self._opened: dict[str, deque[float]] = {}

    def hit(self, key: str) -> Verdict | None:
        """Count one request of `key`; None when the limit is off."""
        if not self.limit:
            return None
        now = self._clock()
        window = self._windows.get(key)
        if window is None or now >= window[0] + self._window:
            window = (now, 0)
            self._opened.setdefault(key, deque(maxlen=_WINDOWS_KEPT)).append(now)
        start, used = window[0], window[1] + 1
        self._windows[key] = (start, used)
        reset = math.ceil(start + self._window)
        return Verdict(used <= self.limit, self.limit, max(self.limit - used, 0), reset)

    def opened(self, key: str) -> list[float]:
        """When the key's windows opened (Unix seconds, oldest first; the last thousand)."""
        return list(self._opened.get(key, ()))

    def clear(self) -> None:
        self._windows.clear()
        self._opened.clear()
