"""Events are named as the spec publishes them; errors carry stable codes."""

from __future__ import annotations

import pytest

from trading_core import codes
from trading_core.errors import (
    BrokerError,
    BrokerRejected,
    InvalidOrder,
    InvalidTransition,
    NotFound,
    OrderNotFound,
    Overfill,
    RiskRejected,
    TradingError,
)
from trading_core.events import EVENT_TYPES


def test_events_are_published_under_the_specs_names() -> None:
    expected = [
        "trade.order.submitted",
        "trade.order.partial",
        "trade.order.filled",
        "trade.order.rejected",
        "trade.order.cancelled",
        "trade.position.opened",
        "trade.position.updated",
        "trade.position.closed",
    ]

    assert expected == [e.TYPE for e in EVENT_TYPES]


class TestErrors:
    @pytest.mark.parametrize(
        ("error", "code"),
        [
            (InvalidOrder("bad", field="quantity"), "INVALID_ORDER"),
            (InvalidTransition("x"), "INVALID_TRANSITION"),
            (Overfill("x"), "OVERFILL"),
            (OrderNotFound("x"), "ORDER_NOT_FOUND"),
            (BrokerError("x"), "BROKER_ERROR"),
            (RiskRejected(codes.POSITION_LIMIT, "x"), codes.POSITION_LIMIT),
            (BrokerRejected(codes.INSUFFICIENT_FUNDS, "x"), codes.INSUFFICIENT_FUNDS),
        ],
        ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
    )
    def test_every_error_is_a_trading_error_with_a_code(self, error: TradingError, code: str) -> None:
        assert (True, code, f"{code}: {error.message}") == (isinstance(error, TradingError), error.code, str(error))

    def test_an_instance_code_does_not_leak_to_the_class(self) -> None:
        RiskRejected(codes.WASH_TRADE, "x")

        assert RiskRejected.code == "RISK_REJECTED"

    def test_invalid_order_names_its_field_in_the_details(self) -> None:
        error = InvalidOrder("bad", field="limit_price", details={"was": "1.001"})

        assert (error.details, isinstance(error, ValueError)) == ({"field": "limit_price", "was": "1.001"}, True)

    def test_not_found_is_a_lookup_error(self) -> None:
        assert issubclass(OrderNotFound, NotFound)
        assert issubclass(NotFound, LookupError)

    def test_broker_errors_say_whether_to_retry(self) -> None:
        error = BrokerError("timeout", retryable=True, status=503)

        assert (error.retryable, error.status) == (True, 503)
