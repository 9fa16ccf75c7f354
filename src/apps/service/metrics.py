"""Prometheus metrics in the text exposition format: the spec's five, account drift, and HTTP requests.

A small registry of our own (counters, gauges, histograms with labels): values are Decimal so
money is shown with its digits, and nothing here needs a third-party client.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, Final

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from trading_core.account_book import AccountDrift
from trading_core.enums import EngineProtection
from trading_core.events import Event, OrderCancelled, OrderFilled, OrderPartiallyFilled, OrderRejected, OrderSubmitted

LATENCY_BUCKETS_MS: Final = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)

Labels = tuple[tuple[str, str], ...]


def _labels(labels: Mapping[str, str]) -> Labels:
    return tuple(sorted(labels.items()))


def _render_labels(labels: Labels, extra: Labels = ()) -> str:
    pairs = (*labels, *extra)
    if not pairs:
        return ""
    escaped = (f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"' for k, v in pairs)
    return "{" + ",".join(escaped) + "}"


def _number(value: Decimal | int) -> str:
    return format(value, "f") if isinstance(value, Decimal) else str(value)


class Counter:
    def __init__(self, name: str, help_text: str) -> None:
        self.name, self.help, self.kind = name, help_text, "counter"
        self.values: dict[Labels, Decimal] = {}

    def inc(self, amount: Decimal | int = 1, **labels: str) -> None:
        key = _labels(labels)
        self.values[key] = self.values.get(key, Decimal(0)) + amount

    def samples(self) -> Iterable[str]:
        for labels, value in sorted(self.values.items()):
            yield f"{self.name}{_render_labels(labels)} {_number(value)}"


class Gauge:
    def __init__(self, name: str, help_text: str) -> None:
        self.name, self.help, self.kind = name, help_text, "gauge"
        self.values: dict[Labels, Decimal] = {}

    def set(self, value: Decimal | int, **labels: str) -> None:
        self.values[_labels(labels)] = Decimal(value)

    def samples(self) -> Iterable[str]:
        for labels, value in sorted(self.values.items()):
            yield f"{self.name}{_render_labels(labels)} {_number(value)}"


class Histogram:
    def __init__(self, name: str, help_text: str, buckets: Iterable[int] = LATENCY_BUCKETS_MS) -> None:
        self.name, self.help, self.kind = name, help_text, "histogram"
        self.buckets = tuple(buckets)
        self.series: dict[Labels, tuple[list[int], Decimal, int]] = {}

    def observe(self, value: Decimal, **labels: str) -> None:
        key = _labels(labels)
        counts, total, n = self.series.get(key, ([0] * len(self.buckets), Decimal(0), 0))
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                counts[i] += 1
        self.series[key] = (counts, total + value, n + 1)

    def samples(self) -> Iterable[str]:
        for labels, (counts, total, n) in sorted(self.series.items()):
            for bound, count in zip(self.buckets, counts, strict=True):
                yield f"{self.name}_bucket{_render_labels(labels, (('le', str(bound)),))} {count}"
            yield f"{self.name}_bucket{_render_labels(labels, (('le', '+Inf'),))} {n}"
            yield f"{self.name}_sum{_render_labels(labels)} {_number(total)}"
            yield f"{self.name}_count{_render_labels(labels)} {n}"


Metric = Counter | Gauge | Histogram


class Registry:
    """The metrics of one service instance, rendered in Prometheus' text format."""

    def __init__(self) -> None:
        self.metrics: list[Metric] = []

    def add(self, metric: Metric) -> Any:
        self.metrics.append(metric)
        return metric

    def render(self) -> str:
        lines: list[str] = []
        for m in self.metrics:
            lines += [f"# HELP {m.name} {m.help}", f"# TYPE {m.name} {m.kind}", *m.samples()]
        return "\n".join(lines) + "\n"


def _ms(seconds: float) -> Decimal:
    return Decimal(int(seconds * 1_000_000)).scaleb(-3)  # microsecond resolution, shown in ms


class TradingMetrics:
    """The spec's five metrics, account drift and the HTTP ones; orders are counted from the engine's events."""

    def __init__(self) -> None:
        self.registry = r = Registry()
        self.orders_total: Counter = r.add(Counter("trading_orders_total", "Orders by the status they reached."))
        self.order_latency: Histogram = r.add(
            Histogram("trading_order_latency_ms", "From order creation to broker acceptance (stage=submitted) or fill.")
        )
        self.positions_count: Gauge = r.add(Gauge("trading_positions_count", "Open positions."))
        self.buying_power: Gauge = r.add(Gauge("trading_buying_power", "Available buying power, USD."))
        self.daily_pnl: Gauge = r.add(Gauge("trading_daily_pnl", "Today's P&L (equity less last close), USD."))
        self.account_drift: Counter = r.add(
            Counter(
                "trading_account_drift_total",
                "Reads of the broker's account whose figure (cash, equity, buying_power) differed from ours "
                "by more than a cent.",
            )
        )
        self.protection_refused: Counter = r.add(
            Counter(
                "trading_protection_refused_total",
                "The engine's exits for what an entry with attached exits filled before it ended in part, "
                "refused by the risk checks or the broker (by code): that part is held unprotected.",
            )
        )
        self.http_requests: Counter = r.add(Counter("http_requests_total", "HTTP requests by route and status."))
        self.http_latency: Histogram = r.add(Histogram("http_request_duration_ms", "HTTP request duration by route."))

    def on_event(self, event: Event) -> None:
        """An engine listener: count each order status reached and time acceptance and fills."""
        status = _STATUS_OF.get(type(event))
        if status is None:
            return
        if isinstance(event, OrderPartiallyFilled) and event.order.filled_quantity != event.fill.quantity:
            return  # the order reached partially_filled at its first fill, not at each one after
        self.orders_total.inc(status=status)
        if isinstance(event, OrderRejected) and event.order.engine_protection is EngineProtection.FILLED_PART:
            self.protection_refused.inc(code=event.code)
        order = getattr(event, "order", None)
        if order is not None and isinstance(event, OrderSubmitted | OrderFilled):
            stage = "submitted" if isinstance(event, OrderSubmitted) else "filled"
            elapsed = (event.ts_init - order.created_at).total_seconds()
            self.order_latency.observe(_ms(max(elapsed, 0.0)), stage=stage)

    def on_account_drift(self, drift: AccountDrift) -> None:
        """An engine drift listener: count each figure a read of the account found off."""
        self.account_drift.inc(figure=drift.figure)

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """ASGI middleware recording each request's route template, status and duration."""

        async def record(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return
            started = time.perf_counter()
            status = [500]

            async def capture(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status[0] = message["status"]
                await send(message)

            try:
                await app(scope, receive, capture)
            finally:
                route = str(scope.get("path_template") or "unmatched")
                method = str(scope.get("method", ""))
                self.http_requests.inc(method=method, route=route, status=str(status[0]))
                self.http_latency.observe(_ms(time.perf_counter() - started), method=method, route=route)

        return record


_STATUS_OF: Final[Mapping[type[Event], str]] = {
    OrderSubmitted: "submitted",
    OrderPartiallyFilled: "partially_filled",
    OrderFilled: "filled",
    OrderCancelled: "cancelled",
    OrderRejected: "rejected",
}

MiddlewareFactory = Callable[[ASGIApp], ASGIApp]
