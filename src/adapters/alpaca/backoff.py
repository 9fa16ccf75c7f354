"""Exponential backoff with jitter, for REST retries and stream reconnections."""

from __future__ import annotations

import random


class Backoff:
    """Delays that double from `base` up to `cap`, each drawn uniformly from its upper half.

    Drawing from [ceiling / 2, ceiling] ("equal jitter") spreads clients that failed together
    apart while never waiting less than half the ceiling, so a retry loop is never tight.

    Args:
        base: The first ceiling, in seconds.
        cap: The largest ceiling, in seconds.
        rng: The random source (seed it in tests).
    """

    def __init__(self, base: float, cap: float, rng: random.Random | None = None) -> None:
        if not 0 < base <= cap:
            raise ValueError(f"backoff needs 0 < base <= cap, was base={base}, cap={cap}")
        self.base = base
        self.cap = cap
        self._rng = rng or random.Random()  # noqa: S311  # jitter, not a secret
        self.attempt = 0

    def ceiling(self, attempt: int) -> float:
        """The longest wait before retry number `attempt`: the base doubled each time, up to the cap."""
        return min(self.cap, self.base * (1 << min(attempt, 60)))

    def delay(self, attempt: int) -> float:
        """The wait before retry number `attempt` (0 for the first retry)."""
        ceiling = self.ceiling(attempt)
        return self._rng.uniform(ceiling / 2, ceiling)

    def next(self) -> float:
        """The next wait of a running series; `reset()` starts the series again."""
        wait = self.delay(self.attempt)
        self.attempt += 1
        return wait

    def reset(self) -> None:
        """Start again from the first retry's wait (the connection held)."""
        self.attempt = 0
