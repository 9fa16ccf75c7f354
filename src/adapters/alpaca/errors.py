"""Alpaca's error answers and transport failures, translated into the core's typed errors.

Alpaca answers an error with an HTTP status and, usually, `{"code": <8 digits>, "message": ...}`
(its edge may send an HTML page instead: any body is tolerated). What a refusal means depends on
what was asked, so the caller names the `Operation`:

    status  code      message (contains)                  operation        raised
    400     40010000  -                                   submit/replace   BrokerRejected INVALID_ORDER
    401     any       -                                   any              BrokerError (not retryable)
    403     40310000  "buying power"                      submit/replace   BrokerRejected INSUFFICIENT_FUNDS
    403     40310000  "wash trade"                        submit/replace   BrokerRejected WASH_TRADE
    403     40310000  "not allowed to short",             submit/replace   BrokerRejected SYMBOL_NOT_TRADABLE
                      "not shortable", "sold short"
    403     40310000  "insufficient qty"                  submit/replace   BrokerRejected INSUFFICIENT_QUANTITY
    403     40310000  anything else                       submit/replace   BrokerRejected INVALID_ORDER
    403     no code   (an edge/HTML page: auth)           any              BrokerError (not retryable)
    404     any       -                                   read, cancel     OrderNotFound (lookups: None)
    404     any       -                                   submit/replace   BrokerRejected SYMBOL_NOT_TRADABLE
                                                                           (asset), OrderNotFound (replace)
    422     40010001  "unique", "client_order_id"+"dup"   submit/replace   BrokerRejected DUPLICATE_CLIENT_ORDER_ID
    422     40010001  "asset", "not found", "could not    submit/replace   BrokerRejected SYMBOL_NOT_TRADABLE
                      find", "not tradable", "not
                      fractionable"
    422     40010001  anything else                       submit/replace   BrokerRejected INVALID_ORDER
    422     42210000  "wash trade"                        submit/replace   BrokerRejected WASH_TRADE
    422     42210000  "market is", "session", "opg"/"cls" submit           BrokerRejected MARKET_CLOSED
    422     any       -                                   cancel           OrderNotCancelable
    422     42210000  -                                   replace          OrderNotCancelable
    422     42210000  anything else                       submit/replace   BrokerRejected INVALID_ORDER
    429     any       -                                   any              BrokerError (retryable)
    5xx     any       -                                   any              Unanswered (retryable)
    other   any       -                                   any              BrokerError (not retryable)
    connect error (nothing was sent)                      any              BrokerError (retryable)
    timeout, dropped connection after sending             any              Unanswered (retryable)

`Unanswered` (a `BrokerError`, retryable) marks a request that may have been carried out: 5xx
answers too. A read is simply asked again; a submission is looked up by its client order id.

A 403 "insufficient qty available" is Alpaca refusing to take a position through zero or to sell
shares that open orders hold: a refusal for the account's state, not the symbol's fault, so it is
INSUFFICIENT_QUANTITY; only a refusal that names shorting is SYMBOL_NOT_TRADABLE (the paper
exchange refuses both the same way). Every raised error carries Alpaca's members
(`alpacaCode`, `buying_power`, `available`, ...) in `details` and is chained to its cause.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Final

import httpx

from adapters.alpaca.codec import WireError, decode
from trading_core import codes
from trading_core.errors import (
    BrokerError,
    BrokerRejected,
    DuplicateClientOrderId,
    OrderNotCancelable,
    OrderNotFound,
    TradingError,
)

__all__ = ["AlpacaAnswer", "Operation", "Unanswered", "from_answer", "from_transport", "is_unsent"]


class Operation(StrEnum):
    """What was asked: a refusal is read in its light."""

    SUBMIT = "submit"
    REPLACE = "replace"
    CANCEL = "cancel"
    READ = "read"


class Unanswered(BrokerError):
    """A request that may or may not have been carried out: sent, then no usable answer.

    A 5xx, a timeout after sending, a dropped connection or an unreadable 2xx body. A read can
    simply be asked again; a submission must be looked up by its client order id instead.
    """

    def __init__(self, message: str, *, status: int | None = None, details: Mapping[str, Any] | None = None):
        super().__init__(message, retryable=True, status=status, details=details)


_ORDERS: Final = frozenset({Operation.SUBMIT, Operation.REPLACE})
_MAX_TEXT: Final = 300


class AlpacaAnswer:
    """An error answer as Alpaca sent it: status, code (if any), message, extra members."""

    __slots__ = ("code", "details", "message", "status")

    def __init__(self, status: int, content: bytes) -> None:
        self.status = status
        self.code: int | None = None
        self.details: dict[str, Any] = {}
        body = _json_object(content)
        if body is None:
            self.message = content[:_MAX_TEXT].decode("utf-8", "replace").strip() or httpx.codes.get_reason_phrase(
                status
            )
            return
        code = body.get("code")
        self.code = code if isinstance(code, int) and not isinstance(code, bool) else None
        message = body.get("message")
        self.message = str(message) if message is not None else httpx.codes.get_reason_phrase(status)
        self.details = {k: v for k, v in body.items() if k not in ("code", "message")}

    def says(self, *words: str) -> bool:
        """Whether Alpaca's message contains any of `words` (case aside)."""
        text = self.message.lower()
        return any(word in text for word in words)


def _json_object(content: bytes) -> Mapping[str, Any] | None:
    if not content:
        return None
    try:
        body = decode(content)
    except WireError:
        return None
    return body if isinstance(body, Mapping) else None


def from_answer(answer: AlpacaAnswer, operation: Operation) -> TradingError:  # noqa: PLR0911  # a table
    """The core's error for an Alpaca error answer to `operation`."""
    status = answer.status
    details = {**answer.details, "alpacaCode": answer.code, "httpStatus": status}
    message = answer.message
    if status == 401 or (status == 403 and answer.code is None):
        return BrokerError(f"Alpaca refused the credentials: {message}", status=status, details=details)
    if status == 429:
        return BrokerError(f"Alpaca answered {status}: {message}", retryable=True, status=status, details=details)
    if status >= 500:  # the request may have been carried out before the failure
        return Unanswered(f"Alpaca answered {status}: {message}", status=status, details=details)
    if status == 404:
        if operation is Operation.SUBMIT:
            return BrokerRejected(codes.SYMBOL_NOT_TRADABLE, message, details=details)
        return OrderNotFound(message, details=details)
    if operation is Operation.CANCEL and status == 422:
        return OrderNotCancelable(message, details=details)
    if operation is Operation.REPLACE and status == 422 and answer.code != 40010001:
        return OrderNotCancelable(message, details=details)  # 42210000: not in a state to be replaced
    if operation in _ORDERS and status in (400, 403, 422):
        return BrokerRejected(_refusal_code(answer), message, details=details)
    return BrokerError(f"Alpaca answered {status}: {message}", status=status, details=details)


def _refusal_code(answer: AlpacaAnswer) -> str:  # noqa: PLR0911  # a table, row by row
    if answer.says("wash trade"):
        return codes.WASH_TRADE
    if answer.status == 403:
        if answer.says("buying power"):
            return codes.INSUFFICIENT_FUNDS
        if answer.says("not allowed to short", "not shortable", "sold short", "cannot be shorted"):
            return codes.SYMBOL_NOT_TRADABLE
        if answer.says("insufficient qty"):
            return codes.INSUFFICIENT_QUANTITY
        return codes.INVALID_ORDER
    if answer.status == 422:
        if answer.says("unique") or (answer.says("client_order_id") and answer.says("dup", "exist", "taken")):
            return DuplicateClientOrderId.code
        if answer.says("asset", "not found", "could not find", "not tradable", "not fractionable"):
            return codes.SYMBOL_NOT_TRADABLE
        if answer.code == 42210000 and answer.says("market is", "session", "opg", "cls orders"):
            return codes.MARKET_CLOSED
    return codes.INVALID_ORDER


_UNSENT: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
"""Failures that happen before a request leaves us: it cannot have been carried out."""


def is_unsent(exc: httpx.HTTPError) -> bool:
    """Whether the transport error proves the request never left (a refused connection, say): safe to send again."""
    return isinstance(exc, _UNSENT)


def from_transport(exc: httpx.HTTPError, what: str) -> BrokerError:
    """A request that got no answer: `Unanswered` unless it surely never left (connect failures)."""
    kind = type(exc).__name__
    message = f"{what}: no answer from Alpaca ({kind}: {exc or 'no detail'})"
    if is_unsent(exc):
        return BrokerError(message, retryable=True, details={"transport": kind})
    return Unanswered(message, details={"transport": kind})
