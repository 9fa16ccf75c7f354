"""Domain values shown as API bodies: one field map, every field of every body given."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import cattrs
import msgspec
import pytest

from apps.service.codec import decode_number, encode_exact
from apps.service.convert import _shape, order_body, order_request
from apps.service.schemas import SubmitOrderRequest
from tests.contract.builders import full_order
from trading_core.errors import InvalidOrder
from trading_core.risk.rules import Rejection


def utc(moment: datetime | None) -> str:
    assert moment is not None
    return moment.isoformat().replace("+00:00", "Z")


class TestOrderBody:
    def test_every_field_is_shown_under_the_specs_name_with_its_exact_digits(self) -> None:
        order = full_order()

        shown = json.loads(encode_exact(order_body(order)))

        assert shown == {
            "orderId": order.id,
            "symbol": "BRK.B",
            "side": "sell",
            "quantity": 99999999999.9999,
            "filledQuantity": 3.5,
            "status": "partially_filled",
            "brokerStatus": "partially_filled",
            "type": "trailing_stop",
            "timeInForce": "gtc",
            "extendedHours": True,
            "clientOrderId": order.client_order_id,
            "createdAt": utc(order.created_at),
            "updatedAt": utc(order.updated_at),
            "averagePrice": 412.5,
            "limitPrice": 0.0001,
            "stopPrice": 412.5,
            "brokerOrderId": order.broker_order_id,
            "strategyId": order.strategy_id,
            "decisionId": order.decision_id,
            "submittedAt": utc(order.submitted_at),
            "filledAt": utc(order.filled_at),
            "cancelledAt": utc(order.cancelled_at),
            "rejectionCode": "INSUFFICIENT_FUNDS",
            "rejectionReason": "buying power of 10.00 is below 412.50",
            "replaces": order.replaces,
            "replacedBy": order.replaced_by,
            "trailPrice": 1.25,
            "trailPercent": 0.75,
            "hwm": 415.25,
            "orderClass": "bracket",
            "legs": list(order.legs),
            "parentOrderId": order.leg_of,
            "takeProfit": {"limitPrice": 450},
            "stopLoss": {"stopPrice": 400, "limitPrice": 399.5},
        }
        assert b'"quantity":99999999999.9999,"filledQuantity":3.5000' in encode_exact(order_body(order))
        assert b'"hwm":415.2500' in encode_exact(order_body(order))

    def test_enums_are_shown_as_their_words(self) -> None:
        body = order_body(full_order())

        assert (type(body.side), type(body.status), type(body.broker_status)) == (str, str, str)


def test_a_submission_is_the_request_of_the_same_fields() -> None:
    body = msgspec.convert(  # as the service decodes a body: amounts are JSON numbers (codec.decode_number)
        {"symbol": "AAPL", "side": "buy", "quantity": 10, "type": "limit", "limitPrice": Decimal("187.255")},
        SubmitOrderRequest,
        dec_hook=decode_number,
    )

    with pytest.raises(InvalidOrder) as refused:
        order_request(body)

    assert refused.value.field == "limit_price"


def test_a_body_field_nothing_gives_is_refused_when_the_converter_is_built() -> None:
    class WithMore(msgspec.Struct, kw_only=True):
        check: str
        code: str
        reason: str
        severity: str

    with pytest.raises(TypeError, match="severity"):
        _shape(cattrs.Converter(), Rejection, WithMore)
    _shape(cattrs.Converter(), Rejection, WithMore, worked_out=("severity",))  # named: no error
