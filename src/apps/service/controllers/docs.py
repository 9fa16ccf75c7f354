"""What every controller shares: the injected engine and the error responses each endpoint documents."""

from __future__ import annotations

from typing import Final

from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec

from apps.service.schemas import ErrorBody, RejectedOrderBody
from trading_core.engine import TradingEngine

_MEANING: Final = {
    400: (
        "Malformed request, details.field naming the field at fault: INVALID_ORDER (an order's body), "
        "INVALID_REQUEST (another body), INVALID_PARAMETER (a query or path parameter), INVALID_CURSOR."
    ),
    401: "Missing or wrong bearer token (UNAUTHORIZED).",
    404: "No such order, position or symbol.",
    409: (
        "The order's state does not allow it (ORDER_NOT_CANCELABLE), the clientOrderId is taken by another "
        "order (DUPLICATE_CLIENT_ORDER_ID), or a risk reset meets a daily-loss limit that still stands "
        "(DAILY_LOSS_LIMIT_STANDS)."
    ),
    413: "The request body is over 64 KiB (BODY_TOO_LARGE).",
    422: (
        "Refused by a risk check or the broker: code and reason (INSUFFICIENT_QUANTITY: more than is held; "
        "QUANTITY_MISMATCH: a close's query and body quantities differ; INVALID_MODIFICATION: a change the order "
        "does not take, as a limitPrice for a stop order)."
    ),
    500: "Unexpected failure (INTERNAL_ERROR).",
    502: (
        "The broker failed after retries (BROKER_ERROR). details.placed says whether an order was placed; "
        "when false, nothing was stored and the request can be sent again."
    ),
    503: "The database or event bus is unavailable (STORE_ERROR, EVENT_BUS_ERROR).",
}

_ALWAYS: Final = (400, 401, 500, 503)


def errors(*statuses: int) -> dict[int, ResponseSpec]:
    """ResponseSpecs for `statuses` plus the ones every endpoint may answer."""
    return {
        status: ResponseSpec(data_container=ErrorBody, description=_MEANING[status], generate_examples=False)
        for status in sorted({*statuses, *_ALWAYS})
    }


def rejection(*statuses: int) -> dict[int, ResponseSpec]:
    """As `errors`, with 422 carrying the rejected order kept for audit."""
    specs = errors(*statuses)
    specs[422] = ResponseSpec(data_container=RejectedOrderBody, description=_MEANING[422], generate_examples=False)
    return specs


Engine = NamedDependency[TradingEngine]
"""The engine, injected by name (see `apps.service.app`)."""
