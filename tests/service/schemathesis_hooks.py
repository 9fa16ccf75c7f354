"""A check of the schemathesis run (tests/service/test_schemathesis.py): the rules a schema cannot say.

JSON Schema cannot compare one field with another: an exit's price against the other exit's or the
entry's (`docs/api.md`, protective orders). Nor does the submission's schema rule out a price that
the order's type does not take (a limitPrice on a market order). The server refuses those with 400
INVALID_ORDER naming the field, as it refuses what the schema rules out. So on the order operations,
`positive_data_acceptance` (schemathesis.toml) lets a 400 through, and this check lets through only
these: a 400 on schema-valid data for anything else still fails the run. (A PATCH's price that the
type of the order it replaces does not take, a limitPrice for a stop order, is no 400: the body is
well formed and the order refuses it, 422 INVALID_MODIFICATION, which this check leaves alone.)
"""

from __future__ import annotations

import re
from typing import Any, Final

import schemathesis

_ORDER_OPERATIONS: Final = frozenset(
    {("POST", "/api/v1/orders"), ("POST", "/api/v1/orders/validate"), ("PATCH", "/api/v1/orders/{orderId}")}
)

_BEYOND_THE_SCHEMA: Final = re.compile(
    # Prices of one exit against the other's, or against the entry's (its limit, stop or mark).
    r"^(takeProfit\.limitPrice must be at least 0\.01 (above|below) (stopLoss\.stopPrice|the entry's price)"
    r"|stopLoss\.stopPrice must be at least 0\.01 (above|below) the entry's price"
    r"|stopLoss\.limitPrice must be at (or below|or above) its stopPrice"
    # A submission's price that its type does not take (a PATCH's is a 422, not checked here).
    r"|[a-z_]+ orders take no (limitPrice|stopPrice))"
)
"""The refusals of schema-valid data (messages as the API words them) that only the server can make."""


@schemathesis.check
def refusals_beyond_the_schema(ctx: Any, response: Any, case: Any) -> bool | None:
    """Schema-valid data refused with 400 on an order operation: only for a rule the schema cannot say."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 400:
        return None
    if (case.operation.method.upper(), case.operation.path) not in _ORDER_OPERATIONS:
        return None
    try:
        body = response.json()
    except ValueError:
        body = {}
    message = str(body.get("message", "")) if isinstance(body, dict) else ""
    if body.get("code") != "INVALID_ORDER" or not _BEYOND_THE_SCHEMA.match(message):
        raise AssertionError(f"schema-valid data refused with 400 for a rule the schema could say: {message!r}")
    return None
