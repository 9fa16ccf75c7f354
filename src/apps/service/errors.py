"""The one place errors become HTTP: a code -> status table and the exception handler that uses it.

Every error body is `{"code", "message", "details"}`. Controllers raise; they never build an
error response. A submission refused by a risk check or the broker is raised as `OrderRefused`,
whose body also carries the kept order's id, `status: "rejected"` and the reason.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException

from apps.redact import mask
from apps.service import schema_fields
from apps.service.codec import ExactResponse
from apps.service.schemas import ErrorBody, RejectedOrderBody
from trading_core import codes
from trading_core.errors import TradingError
from trading_core.orders import Order

log = logging.getLogger("apps.service.errors")

INVALID_ORDER: Final = codes.INVALID_ORDER
UNAUTHORIZED: Final = "UNAUTHORIZED"
INTERNAL_ERROR: Final = "INTERNAL_ERROR"
METHOD_NOT_ALLOWED: Final = "METHOD_NOT_ALLOWED"

STATUS_BY_CODE: Final[Mapping[str, int]] = {
    INVALID_ORDER: 400,
    codes.INVALID_PARAMETER: 400,
    codes.INVALID_REQUEST: 400,
    "INVALID_CURSOR": 400,
    UNAUTHORIZED: 401,
    "NOT_FOUND": 404,
    "ORDER_NOT_FOUND": 404,
    "POSITION_NOT_FOUND": 404,
    "SYMBOL_NOT_FOUND": 404,
    METHOD_NOT_ALLOWED: 405,
    # A state conflict the caller cannot fix by changing the request: 409, as a failed
    # precondition on the resource, not 422 (which we keep for risk and broker refusals).
    "ORDER_NOT_CANCELABLE": 409,
    "DUPLICATE_CLIENT_ORDER_ID": 409,
    "CONCURRENT_UPDATE": 409,
    "INVALID_TRANSITION": 409,
    "DAILY_LOSS_LIMIT_STANDS": 409,
    codes.BODY_TOO_LARGE: 413,
    **dict.fromkeys(codes.RISK_CODES, 422),
    "RISK_REJECTED": 422,
    "BROKER_REJECTED": 422,
    codes.INSUFFICIENT_QUANTITY: 422,
    codes.INVALID_MODIFICATION: 422,
    codes.QUANTITY_MISMATCH: 422,
    # Market data: a well-formed request that cannot be served (a range that ends before it starts).
    "INVALID_MARKET_DATA_REQUEST": 422,
    codes.BROKER_ERROR: 502,
    "STORE_ERROR": 503,
    "EVENT_BUS_ERROR": 503,
    INTERNAL_ERROR: 500,
}
"""Every code the API answers with, and its HTTP status."""

REFUSAL_STATUS: Final = 422
"""Any other refusal code (a broker's business refusal mapped to a code of its own)."""

ECHO_LIMIT: Final = 80
"""The most of a caller's input an error repeats: enough to recognise it, never the whole of it."""

BODY_CODE: Final = "body_code"
"""Route handler `opt` key: the code of a malformed body on that route (default INVALID_ORDER)."""


def status_for(code: str) -> int:
    return STATUS_BY_CODE.get(code, REFUSAL_STATUS)


def clip(text: str, limit: int = ECHO_LIMIT) -> str:
    """At most `limit` characters of `text` (input echoed back), marked when cut; masked before it is cut."""
    text = mask(text)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


class OrderRefused(TradingError):
    """A submission that ended `rejected`; the order is kept for the audit trail."""

    def __init__(self, order: Order, details: Mapping[str, Any] | None = None) -> None:
        reason = order.rejection_reason or "rejected"
        super().__init__(reason, details={"orderId": order.id, **(details or {})})
        self.code = order.rejection_code or codes.INVALID_ORDER  # type: ignore[misc]  # the order's own code
        self.order = order


class QuantityMismatch(TradingError):
    """A close given one quantity in its query and another in its body."""

    code = codes.QUANTITY_MISMATCH


class RequestRefused(TradingError):
    """A body that is not an order's (an operator's price, a risk reset) with a value its rule refuses."""

    code = codes.INVALID_REQUEST


_API_NAMES: Final = {
    name: re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)
    for name in (
        "limit_price",
        "stop_price",
        "time_in_force",
        "client_order_id",
        "extended_hours",
        "strategy_id",
        "decision_id",
        "trail_price",
        "trail_percent",
        "filled_quantity",
        "order_class",
        "take_profit",
        "stop_loss",
    )
}
_SNAKE_FIELD: Final = re.compile(r"\b(" + "|".join(_API_NAMES) + r")\b")


def camel(name: str) -> str:
    """`limit_price` -> `limitPrice`: fields are named as the API spells them."""
    return _API_NAMES.get(name) or re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)


def api_spelling(message: str) -> str:
    """A message with the core's field names (`limit_price`) as the API spells them (`limitPrice`).

    Only field names are respelt: `stop_limit`, an order type, stays as the API writes it.
    """
    return _SNAKE_FIELD.sub(lambda m: _API_NAMES[m.group(1)], message)


def error_response(
    code: str, message: str, details: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None
) -> Response[Any]:
    body = ErrorBody(code=code, message=mask(message), details=_bounded(details or {}))
    return ExactResponse(body, status_code=status_for(code), headers={**_headers(code), **(headers or {})})


def _bounded(details: Mapping[str, Any]) -> dict[str, Any]:
    """Details with every string clipped (they often repeat what the caller sent) and masked."""
    return {k: clip(v) if isinstance(v, str) else v for k, v in details.items()}


def _headers(code: str) -> dict[str, str]:
    return {"WWW-Authenticate": 'Bearer realm="trading-engine"'} if code == UNAUTHORIZED else {}


def _trading_error(error: TradingError) -> Response[Any]:
    details = dict(error.details)
    if isinstance(details.get("field"), str):
        details["field"] = camel(details["field"])
    message = mask(api_spelling(error.message))
    if isinstance(error, OrderRefused):
        order = error.order
        body = RejectedOrderBody(
            code=error.code,
            message=message,
            details=_bounded(details),
            order_id=order.id,
            status="rejected",
            reason=message,
            created_at=order.created_at,
        )
        return ExactResponse(body, status_code=_refusal_status(error.code))
    return error_response(error.code, message, details)


def _refusal_status(code: str) -> int:
    """A kept, refused order answers 422 whatever the refusal's code (a broker may say INVALID_ORDER):
    the request was well formed. Only a broker that could not be reached keeps its 5xx."""
    status = status_for(code)
    return status if status >= 500 else 422


_QUOTED: Final = re.compile(r"`([^`]*)`|'([^']*)'")


def clip_quoted(message: str) -> str:
    """A message with every quoted part (`x`, 'x': what msgspec and the decoder repeat of the input) clipped."""

    def bound(m: re.Match[str]) -> str:
        quote = m.group(0)[0]
        return f"{quote}{clip(m.group(0)[1:-1])}{quote}"

    return clip(_QUOTED.sub(bound, mask(message)), 300)


def _validation_error(request: Request[Any, Any, Any], error: ValidationException) -> Response[Any]:
    problems = [p for p in (error.extra if isinstance(error.extra, list) else []) if isinstance(p, dict)]
    # Litestar reports a missing body as the KeyError "'data'", and adds one for an optional body
    # whenever a query parameter is wrong: kept only when it is the whole story.
    missing_body = [p for p in problems if p.get("key") == "data" and p.get("message") == "'data'"]
    if missing_body and len(missing_body) < len(problems):
        problems = [p for p in problems if p not in missing_body]
    first = problems[0] if problems else {}
    message = clip_quoted(_plain_message(str(first.get("message") or error.detail)))
    if first in missing_body:
        message = "a JSON body is required"
    field = clip(_field_of(str(first.get("key") or ""), message))
    details: dict[str, Any] = {"field": field}
    source = first.get("source")
    if source:
        details["source"] = source
    if len(problems) > 1:
        details["errors"] = [
            {"field": clip(str(p.get("key"))), "message": clip_quoted(str(p.get("message")))} for p in problems
        ]
    code = codes.INVALID_PARAMETER if source in ("query", "path", "header", "cookie") else _body_code(request)
    return error_response(code, f"{field}: {message}", details)


def _body_code(request: Request[Any, Any, Any]) -> str:
    """What a malformed body on this route is: an order's (INVALID_ORDER) or another request's."""
    try:
        handler = request.route_handler
    except (KeyError, AttributeError):  # not routed (yet)
        return INVALID_ORDER
    return str(handler.opt.get(BODY_CODE, INVALID_ORDER))


_PATTERN_MEANINGS: Final = {
    schema_fields.TICKER_PATTERN: "must be a ticker in upper case, such as AAPL or BRK.B",
    schema_fields.CLIENT_ORDER_ID_PATTERN: "must be 1 to 48 visible ASCII characters (letters, digits, punctuation)",
    schema_fields.UUID_PATTERN: "must be a UUID",
    schema_fields.NO_NUL_PATTERN: "must not hold a NUL character (\\u0000)",
}
_REGEX_MESSAGE: Final = re.compile(r"Expected `str` matching regex '(.*)'$")


def _plain_message(message: str) -> str:
    """msgspec's "Expected `str` matching regex '...'" said as what the field must be."""
    matched = _REGEX_MESSAGE.match(message)
    if matched is None:
        return message
    pattern = matched.group(1).replace("\\\\", "\\")  # msgspec shows the pattern's repr
    return _PATTERN_MEANINGS.get(pattern, "does not have the form the API schema gives it")


_NAMED_FIELD: Final = re.compile(r"field `([^`]+)`")


def _field_of(key: str, message: str) -> str:
    """The field at fault: msgspec names a missing or unknown one in the message, not in the key."""
    named = _NAMED_FIELD.search(message)
    if named is not None:  # a field of the object at `key`: the body, or one inside it (`takeProfit`)
        parent = "" if key in ("", "data") else key.removeprefix("data.")
        return f"{parent}.{named.group(1)}" if parent else named.group(1)
    return "body" if key == "data" else key.removeprefix("data.") or "body"  # `data` is the whole body


_CODE_BY_STATUS: Final = {
    400: INVALID_ORDER,
    401: UNAUTHORIZED,
    404: "NOT_FOUND",
    405: METHOD_NOT_ALLOWED,
    413: codes.BODY_TOO_LARGE,
}


def handle_exception(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    """Litestar's one exception handler: every error answers `{"code", "message", "details"}`."""
    if isinstance(error, TradingError):
        if status_for(error.code) >= 500:
            log.warning("%s %s failed: %s", request.method, request.url.path, error)
        return _trading_error(error)
    if isinstance(error, ValidationException):
        return _validation_error(request, error)
    if isinstance(error, NotAuthorizedException):
        return error_response(UNAUTHORIZED, error.detail or "a valid bearer token is required")
    if isinstance(error, HTTPException):
        code = _CODE_BY_STATUS.get(error.status_code, INTERNAL_ERROR if error.status_code >= 500 else INVALID_ORDER)
        message = _MESSAGES.get(error.status_code, error.detail)
        response = error_response(code, message, headers=_allow(error) if error.status_code == 405 else None)
        response.status_code = error.status_code
        return response
    log.exception("%s %s failed unexpectedly", request.method, request.url.path)
    return error_response(INTERNAL_ERROR, "internal error; see the service log")


_MESSAGES: Final = {413: "the request body is over 64 KiB", 405: "the method is not allowed on this path"}


def _allow(error: HTTPException) -> dict[str, str]:
    """The `Allow` header of a 405: the router's methods for the path, with HEAD wherever GET is."""
    listed = (error.headers or {}).get("allow") or (error.headers or {}).get("Allow") or ""
    return {"Allow": allow_header(m.strip() for m in listed.split(",") if m.strip())}


def allow_header(methods: Iterable[str]) -> str:
    """`Allow` for a path's methods: HEAD is answered wherever GET is (see `apps.service.app`)."""
    found = {m.upper() for m in methods} | {"OPTIONS"}
    if "GET" in found:
        found.add("HEAD")
    return ", ".join(sorted(found))
