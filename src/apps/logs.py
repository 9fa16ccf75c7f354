"""Structured logs: JSON lines in production, readable lines on a terminal, the order id on each line about one.

A line is about an order when the request handling it named one (`order_context`), when the
record carries `order_id` in `extra`, or when one of its arguments is an `OrderId` (the core
logs `order.id` values, which are `OrderId` instances): all three put `order_id` on the line.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Final, TextIO

from apps.config import LogFormat, LoggingConfig
from apps.redact import mask
from trading_core.engine.submission import order_fields, orders_log
from trading_core.events import Event, OrderCancelled, OrderFilled, OrderPartiallyFilled, OrderRejected, OrderSubmitted
from trading_core.values import OrderId

_current_order: contextvars.ContextVar[str | None] = contextvars.ContextVar("order_id", default=None)

_STANDARD: Final = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime", "order_id"}


@contextmanager
def order_context(order_id: str) -> Iterator[None]:
    """Every line logged inside the block names `order_id`."""
    token = _current_order.set(order_id)
    try:
        yield
    finally:
        _current_order.reset(token)


class OrderIdFilter(logging.Filter):
    """Sets `record.order_id` from extra, the request's context, or an `OrderId` argument."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "order_id", None) is None:
            record.order_id = _current_order.get() or _order_in(record.args)
        return True


def _order_in(args: Any) -> str | None:
    values = args.values() if isinstance(args, dict) else args if isinstance(args, tuple) else ()
    return next((str(a) for a in values if isinstance(a, OrderId)), None)


_DROPPED: Final = frozenset({"color_message"})
"""Extras not worth a field: uvicorn's copy of its message with terminal colour codes."""


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, order_id when known, and any extra.

    Every string is masked (`apps.redact`): no URL's password or token reaches a log line.
    """

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": mask(record.getMessage()),
        }
        order_id = getattr(record, "order_id", None)
        if order_id:
            line["order_id"] = order_id
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in _DROPPED and not key.startswith("_"):
                line[key] = mask(value) if isinstance(value, str) else value
        if record.exc_info:
            line["exception"] = mask(self.formatException(record.exc_info))
        return mask(json.dumps(line, default=str))


class TextFormatter(logging.Formatter):
    """`12:00:00.123 INFO  engine  message  [order=...]` for people at a terminal (masked as the JSON is)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s.%(msecs)03d %(levelname)-7s %(name)s  %(message)s", datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        order_id = getattr(record, "order_id", None)
        return mask(f"{text}  [order={order_id}]" if order_id else text)


class _AtDebug(logging.Filter):
    """A library's routine info lines (httpx logs every request) shown only at debug."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True


QUIET_LIBRARIES: Final = ("httpx",)
"""Libraries whose info lines are per request: demoted to debug."""


def configure_logging(config: LoggingConfig, *, stream: TextIO | None = None) -> None:
    """Send every logger's records to `stream` (stderr) in the configured format."""
    out = stream or sys.stderr
    use_json = config.format is LogFormat.JSON or (config.format is LogFormat.AUTO and not out.isatty())
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    handler.addFilter(OrderIdFilter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(config.level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):  # one format for every line
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)  # our own request metrics replace it
    logging.getLogger("pgserver").setLevel(logging.WARNING)  # it logs every command it runs at info
    for name in QUIET_LIBRARIES:
        library = logging.getLogger(name)
        library.filters = [f for f in library.filters if not isinstance(f, _AtDebug)]
        library.addFilter(_AtDebug())
    logging.captureWarnings(True)  # a library's warning (platformdirs' RuntimeDirWarning) is a JSON line too


_CHANGES: Final[dict[type[Event], str]] = {
    OrderSubmitted: "sent",
    OrderPartiallyFilled: "partially filled",
    OrderFilled: "filled",
    OrderRejected: "rejected",
    OrderCancelled: "cancelled",
}


def log_order_change(event: Event) -> None:
    """An engine listener: one structured line for each change in an order's life.

    With the engine's own "order accepted" line (taken, before anything is sent), an order's life
    reads accepted, sent, (partially) filled, rejected or cancelled, each line carrying the order
    id, client order id, symbol, side, quantity and status (at info: `LOG_LEVEL=warning` drops them).
    """
    change = _CHANGES.get(type(event))
    if change is None or not orders_log.isEnabledFor(logging.INFO):
        return
    order = event.order  # type: ignore[attr-defined]  # every event in _CHANGES carries its order
    fields = order_fields(order)
    fields["filled_quantity"] = str(order.filled_quantity)
    if isinstance(event, OrderFilled | OrderPartiallyFilled):
        fields["fill_quantity"], fields["fill_price"] = str(event.fill.quantity), str(event.fill.price)
    elif isinstance(event, OrderRejected):
        fields["code"], fields["reason"] = event.code, event.reason
    elif isinstance(event, OrderCancelled):
        fields["reason"] = event.reason
    orders_log.info(
        "order %s: %s %s %s (%s filled)",
        change,
        order.side.value,
        order.quantity,
        order.symbol,
        order.filled_quantity,
        extra=fields,
    )
