"""The bodies of the operator's kill switch: cancel every open order, and halt trading."""

from __future__ import annotations

from typing import Annotated

import msgspec

from apps.service.schema_fields import NO_NUL_PATTERN, _Body, _Out

HaltBy = Annotated[
    str,
    msgspec.Meta(
        pattern=NO_NUL_PATTERN,
        max_length=200,
        description="Who halts trading (recorded); default: the caller's address.",
    ),
]
HaltReason = Annotated[
    str, msgspec.Meta(pattern=NO_NUL_PATTERN, max_length=1000, description="Why (recorded); default: halted by hand.")
]


class CancelFailureBody(_Out):
    order_id: str
    code: str
    message: str


class CancelAllOrdersResponse(_Out):
    cancelled_count: int
    """Orders cancelled, or whose cancel the broker took (it may still fill them first)."""
    order_ids: list[str]
    failed: list[CancelFailureBody] = msgspec.field(default_factory=list)
    """Orders that could not be cancelled (one that ended first: ORDER_NOT_CANCELABLE), with why."""


class RiskHaltRequest(_Body):
    # Bounded: both are stored with the trading state and shown by GET /api/v1/risk.
    by: HaltBy | None = None
    reason: HaltReason | None = None
