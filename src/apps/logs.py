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


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, order_id when known, and any extra."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        order_id = getattr(record, "order_id", None)
        if order_id:
            line["order_id"] = order_id
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    """`12:00:00.123 INFO  engine  message  [order=...]` for people at a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s.%(msecs)03d %(levelname)-7s %(name)s  %(message)s", datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        order_id = getattr(record, "order_id", None)
        return f"{text}  [order={order_id}]" if order_id else text


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
