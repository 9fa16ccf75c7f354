"""What the simulator was asked and what it sent, for benchmarks to read at `GET /_sim/traffic`.

Every `/v2` request is counted under its route's name (`GET /v2/orders/{order_id}`), refused ones
included; each submission's arrival is kept by client order id, and when each execution was first
sent on trade_updates by execution id. Times are Unix seconds (`time.time()`), so that a client on
the same machine can set them against its own.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

_MAX_REMEMBERED = 200_000
"""Submissions and executions kept, beyond which the oldest are forgotten."""
UNKNOWN_ROUTE = "unknown"


class Traffic:
    """Request counts per route, submission arrivals and execution sends since the last reset."""

    def __init__(self) -> None:
        self.routes: Counter[str] = Counter()
        self.rate_limited = 0
        """Requests answered 429."""
        self.submissions: dict[str, float] = {}
        """Client order id -> when its `POST /v2/orders` had been read."""
        self.fills_sent: dict[str, float] = {}
        """Execution id -> when its trade update was first sent on a trade_updates connection."""

    @property
    def total(self) -> int:
        return self.routes.total()

    def clear(self) -> None:
        self.routes.clear()
        self.rate_limited = 0
        self.submissions.clear()
        self.fills_sent.clear()

    def request(self, route: str | None) -> None:
        self.routes[route or UNKNOWN_ROUTE] += 1

    def submitted(self, client_order_id: str, received_at: float) -> None:
        """A submission arrived (a repeat of its client order id keeps the first arrival)."""
        _remember(self.submissions, client_order_id, received_at)

    def fill_sent(self, execution_id: str, sent_at: float) -> None:
        """An execution's trade update left on a connection at `sent_at` (Unix time; the first time counts)."""
        _remember(self.fills_sent, execution_id, sent_at)

    def describe(self) -> dict[str, Any]:
        return {
            "requests": dict(sorted(self.routes.items())),
            "rate_limited": self.rate_limited,
            "submissions": self.submissions,
            "fills_sent": self.fills_sent,
        }


def _remember(seen: dict[str, float], key: str, at: float) -> None:
    if key in seen:
        return
    seen[key] = at
    if len(seen) > _MAX_REMEMBERED:
        del seen[next(iter(seen))]
