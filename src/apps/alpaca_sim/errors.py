"""Alpaca's error answers, and how the paper exchange's refusals map onto them.

Every 4xx/5xx answer is `{"code": <8 digits: status + reason>, "message": ...}`, sometimes with
context members (alpaca-protocol.md, section 1.4):

    400 40010000  body is not the JSON expected            422 40010001  invalid parameter
    401 40110000  bad or missing keys                      422 42210000  refused in this state
    403 40310000  buying power, quantity, shorting         429 42910000  rate limit exceeded
    404 40410000  no such order, position, asset           5xx <status>10000  server-side failure
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from apps.alpaca_sim.wire import dec
from trading_core import codes
from trading_core.errors import (
    BrokerRejected,
    DuplicateClientOrderId,
    InvalidOrder,
    OrderNotCancelable,
    OrderNotFound,
    TradingError,
)

_CONTEXT = ("buying_power", "cost_basis", "available", "existing_qty", "held_for_orders", "symbol", "related_orders")
"""The context members Alpaca adds to a 403; the exchange's other details (`field`) are ours."""

_SERVER_MESSAGES = {
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}


class AlpacaError(Exception):
    """An answer in Alpaca's error shape: HTTP status, code, message and context members."""

    def __init__(self, status: int, code: int, message: str, **context: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.context = context

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        for name, value in self.context.items():
            body[name] = _plain(value)
        return body


def malformed(message: str = "request body format is invalid") -> AlpacaError:
    return AlpacaError(400, 40010000, message)


def unauthorized() -> AlpacaError:
    return AlpacaError(401, 40110000, "unauthorized")


def forbidden(message: str, **context: Any) -> AlpacaError:
    return AlpacaError(403, 40310000, message, **context)


def not_found(message: str) -> AlpacaError:
    return AlpacaError(404, 40410000, message)


def method_not_allowed() -> AlpacaError:
    return AlpacaError(405, 40510000, "method not allowed")


def conflict(message: str) -> AlpacaError:
    """A control that the simulator's mode does not allow (the session set by hand while it follows the calendar)."""
    return AlpacaError(409, 40910000, message)


def invalid(message: str) -> AlpacaError:
    return AlpacaError(422, 40010001, message)


def unprocessable(message: str) -> AlpacaError:
    return AlpacaError(422, 42210000, message)


def rate_limited() -> AlpacaError:
    return AlpacaError(429, 42910000, "rate limit exceeded")


def status_error(status: int) -> AlpacaError:
    """The answer of a fault rule that answers `status` (429 or a 5xx)."""
    if status == 429:
        return rate_limited()
    return AlpacaError(status, status * 100_000 + 10_000, _SERVER_MESSAGES.get(status, "server error"))


def from_trading_error(e: TradingError) -> AlpacaError:
    """Alpaca's answer to a refusal of the paper exchange (see `adapters.paper.checks`)."""
    if isinstance(e, OrderNotFound):
        return not_found("order not found")
    if isinstance(e, BrokerRejected):
        details = e.details
        if e.code == codes.INSUFFICIENT_FUNDS or "available" in details or "buying_power" in details:
            return forbidden(e.message, **{k: details[k] for k in _CONTEXT if k in details})
    if isinstance(e, OrderNotCancelable) or e.code == codes.MARKET_CLOSED:
        return unprocessable(e.message)
    if isinstance(e, BrokerRejected | InvalidOrder | DuplicateClientOrderId):
        return invalid(e.message)
    return status_error(500)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return dec(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
