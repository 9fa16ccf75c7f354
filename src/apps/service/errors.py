"""The one place errors become HTTP: a code -> status table and the exception handler that uses it.

Every error body is `{"code", "message", "details"}`. Controllers raise; they never build an
error response. A submission refused by a risk check or the broker is raised as `OrderRefused`,
whose body also carries the kept order's id, `status: "rejected"` and the reason.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any, Final

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException

from apps.service.codec import ExactResponse
from apps.service.schemas import ErrorBody, RejectedOrderBody
from trading_core import codes
from trading_core.errors import TradingError
from trading_core.orders import Order

log = logging.getLogger("apps.service.errors")

INVALID_ORDER: Final = codes.INVALID_ORDER
UNAUTHORIZED: Final = "UNAUTHORIZED"
INTERNAL_ERROR: Final = "INTERNAL_ERROR"

STATUS_BY_CODE: Final[Mapping[str, int]] = {
    INVALID_ORDER: 400,
    "INVALID_CURSOR": 400,
    UNAUTHORIZED: 401,
    "NOT_FOUND": 404,
    "ORDER_NOT_FOUND": 404,
    "POSITION_NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    # A state conflict the caller cannot fix by changing the request: 409, as a failed
    # precondition on the resource, not 422 (which we keep for risk and broker refusals).
    "ORDER_NOT_CANCELABLE": 409,
    "DUPLICATE_CLIENT_ORDER_ID": 409,
    "CONCURRENT_UPDATE": 409,
    "INVALID_TRANSITION": 409,
    "DAILY_LOSS_LIMIT_STANDS": 409,
    **dict.fromkeys(codes.RISK_CODES, 422),
    "RISK_REJECTED": 422,
    "BROKER_REJECTED": 422,
    codes.BROKER_ERROR: 502,
    "STORE_ERROR": 503,
    "EVENT_BUS_ERROR": 503,
    INTERNAL_ERROR: 500,
}
"""Every code the API answers with, and its HTTP status."""

REFUSAL_STATUS: Final = 422
"""Any other refusal code (a broker's business refusal mapped to a code of its own)."""


def status_for(code: str) -> int:
    return STATUS_BY_CODE.get(code, REFUSAL_STATUS)


class OrderRefused(TradingError):
    """A submission that ended `rejected`; the order is kept for the audit trail."""

    def __init__(self, order: Order, details: Mapping[str, Any] | None = None) -> None:
        reason = order.rejection_reason or "rejected"
        super().__init__(reason, details={"orderId": order.id, **(details or {})})
        self.code = order.rejection_code or codes.INVALID_ORDER  # type: ignore[misc]  # the order's own code
        self.order = order


_SNAKE: Final = re.compile(r"_([a-z])")


def camel(name: str) -> str:
    """`limit_price` -> `limitPrice`: fields are named as the API spells them."""
    return _SNAKE.sub(lambda m: m.group(1).upper(), name)


def error_response(code: str, message: str, details: Mapping[str, Any] | None = None) -> Response[Any]:
    body = ErrorBody(code=code, message=message, details=dict(details or {}))
    return ExactResponse(body, status_code=status_for(code), headers=_headers(code))


def _headers(code: str) -> dict[str, str]:
    return {"WWW-Authenticate": 'Bearer realm="trading-engine"'} if code == UNAUTHORIZED else {}


def _trading_error(error: TradingError) -> Response[Any]:
    details = dict(error.details)
    if isinstance(details.get("field"), str):
        details["field"] = camel(details["field"])
    if isinstance(error, OrderRefused):
        order = error.order
        body = RejectedOrderBody(
            code=error.code,
            message=error.message,
            details=details,
            order_id=order.id,
            status="rejected",
            reason=error.message,
            created_at=order.created_at,
        )
        return ExactResponse(body, status_code=_refusal_status(error.code))
    return error_response(error.code, error.message, details)


def _refusal_status(code: str) -> int:
    """A kept, refused order answers 422 whatever the refusal's code (a broker may say INVALID_ORDER):
    the request was well formed. Only a broker that could not be reached keeps its 5xx."""
    status = status_for(code)
    return status if status >= 500 else 422


def _validation_error(error: ValidationException) -> Response[Any]:
    problems = [p for p in (error.extra if isinstance(error.extra, list) else []) if isinstance(p, dict)]
    # Litestar reports a missing body as the KeyError "'data'", and adds one for an optional body
    # whenever a query parameter is wrong: kept only when it is the whole story.
    missing_body = [p for p in problems if p.get("key") == "data" and p.get("message") == "'data'"]
    if missing_body and len(missing_body) < len(problems):
        problems = [p for p in problems if p not in missing_body]
    first = problems[0] if problems else {}
    message = str(first.get("message") or error.detail)
    if first in missing_body:
        message = "a JSON body is required"
    field = _field_of(str(first.get("key") or ""), message)
    details: dict[str, Any] = {"field": field}
    if first.get("source"):
        details["source"] = first["source"]
    if len(problems) > 1:
        details["errors"] = [{"field": p.get("key"), "message": p.get("message")} for p in problems]
    return error_response(INVALID_ORDER, f"{field}: {message}", details)


_NAMED_FIELD: Final = re.compile(r"field `([^`]+)`")


def _field_of(key: str, message: str) -> str:
    """The field at fault: msgspec names a missing or unknown one in the message, not in the key."""
    named = _NAMED_FIELD.search(message)
    if key in ("", "data") and named is not None:
        return named.group(1)
    return "body" if key == "data" else key.removeprefix("data.") or "body"  # `data` is the whole body


_CODE_BY_STATUS: Final = {400: INVALID_ORDER, 401: UNAUTHORIZED, 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


def handle_exception(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    """Litestar's one exception handler: every error answers `{"code", "message", "details"}`."""
    if isinstance(error, TradingError):
        if status_for(error.code) >= 500:
            log.warning("%s %s failed: %s", request.method, request.url.path, error)
        return _trading_error(error)
    if isinstance(error, ValidationException):
        return _validation_error(error)
    if isinstance(error, NotAuthorizedException):
        return error_response(UNAUTHORIZED, error.detail or "a valid bearer token is required")
    if isinstance(error, HTTPException):
        code = _CODE_BY_STATUS.get(error.status_code, INTERNAL_ERROR if error.status_code >= 500 else INVALID_ORDER)
        response = error_response(code, error.detail)
        response.status_code = error.status_code
        return response
    log.exception("%s %s failed unexpectedly", request.method, request.url.path)
    return error_response(INTERNAL_ERROR, "internal error; see the service log")
