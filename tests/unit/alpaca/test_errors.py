"""Alpaca's error answers mapped to the core's errors, one row of the table per case."""

from __future__ import annotations

import json

import httpx
import pytest

from adapters.alpaca.errors import AlpacaAnswer, Operation, Unanswered, from_answer, from_transport
from trading_core.errors import BrokerError, BrokerRejected, OrderNotCancelable, OrderNotFound

S, R, C, G = Operation.SUBMIT, Operation.REPLACE, Operation.CANCEL, Operation.READ


def _answer(status: int, code: int | None, message: str, **extra: object) -> AlpacaAnswer:
    body: dict[str, object] = {"message": message, **extra}
    if code is not None:
        body["code"] = code
    return AlpacaAnswer(status, json.dumps(body).encode())


REFUSALS = [
    (S, 403, 40310000, "insufficient buying power", "INSUFFICIENT_FUNDS"),
    (R, 403, 40310000, "insufficient buying power", "INSUFFICIENT_FUNDS"),
    (S, 403, 40310000, "potential wash trade detected. use complex orders", "WASH_TRADE"),
    (S, 422, 42210000, "potential wash trade detected. use complex orders", "WASH_TRADE"),
    (S, 403, 40310000, "account is not allowed to short", "SYMBOL_NOT_TRADABLE"),
    (
        S,
        403,
        40310000,
        "insufficient qty available for order (requested: 10, available: 0): GME is not shortable",
        "SYMBOL_NOT_TRADABLE",
    ),
    (S, 403, 40310000, "insufficient qty available for order (requested: 10, available: 0)", "INSUFFICIENT_QUANTITY"),
    (S, 403, 40310000, "cannot open a short sell while a long buy order is open", "INVALID_ORDER"),
    (S, 422, 40010001, "limit price must be > 0", "INVALID_ORDER"),
    (S, 422, 40010001, "could not find us_equity 'XYZ'", "SYMBOL_NOT_TRADABLE"),
    (S, 422, 40010001, 'asset "XYZ" not found', "SYMBOL_NOT_TRADABLE"),
    (S, 422, 40010001, "AMC is not fractionable: qty must be whole, was 1.5", "SYMBOL_NOT_TRADABLE"),
    (S, 422, 40010001, "SIVB is not tradable", "SYMBOL_NOT_TRADABLE"),
    (S, 422, 40010001, "client_order_id must be unique", "DUPLICATE_CLIENT_ORDER_ID"),
    (
        S,
        422,
        42210000,
        "invalid limit_price 290.123. sub-penny increment does not fulfill minimum pricing criteria",
        "INVALID_ORDER",
    ),
    (S, 422, 42210000, "opg orders are not accepted while the market is open", "MARKET_CLOSED"),
    (S, 400, 40010000, "request body format is invalid", "INVALID_ORDER"),
    (R, 422, 40010001, "fractional orders cannot be replaced", "INVALID_ORDER"),
]


@pytest.mark.parametrize(("operation", "status", "code", "message", "expected"), REFUSALS)
def test_order_refusals_carry_our_code(
    operation: Operation, status: int, code: int, message: str, expected: str
) -> None:
    error = from_answer(_answer(status, code, message, buying_power="912.40"), operation)

    assert isinstance(error, BrokerRejected)
    assert expected == error.code
    assert error.message == message
    assert error.details["alpacaCode"] == code
    assert error.details["buying_power"] == "912.40"


@pytest.mark.parametrize("operation", [G, C, R])
def test_404_is_order_not_found(operation: Operation) -> None:
    assert isinstance(from_answer(_answer(404, 40410000, "order not found"), operation), OrderNotFound)


def test_404_on_a_submission_is_an_unknown_symbol() -> None:
    error = from_answer(_answer(404, 40410000, "asset not found for XYZ"), S)

    assert isinstance(error, BrokerRejected)
    assert error.code == "SYMBOL_NOT_TRADABLE"


@pytest.mark.parametrize("message", ['order is already in "filled" state', "order is not cancelable"])
def test_422_on_a_cancel_is_not_cancelable(message: str) -> None:
    assert isinstance(from_answer(_answer(422, 42210000, message), C), OrderNotCancelable)


def test_422_on_a_replace_of_a_closed_order_is_not_cancelable() -> None:
    assert isinstance(
        from_answer(_answer(422, 42210000, 'order in "filled" state cannot be replaced'), R), OrderNotCancelable
    )


@pytest.mark.parametrize(
    ("status", "content"),
    [(401, b'{"message": "unauthorized"}'), (403, b"<html><body>403 Forbidden</body></html>"), (401, b"")],
)
def test_credentials_refused_are_not_retryable(status: int, content: bytes) -> None:
    error = from_answer(AlpacaAnswer(status, content), S)

    assert type(error) is BrokerError
    assert not error.retryable
    assert error.status == status


def test_429_is_retryable_and_was_not_carried_out() -> None:
    error = from_answer(_answer(429, 42910000, "rate limit exceeded"), S)

    assert type(error) is BrokerError
    assert error.retryable


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_may_have_been_carried_out(status: int) -> None:
    error = from_answer(AlpacaAnswer(status, b"upstream timed out"), S)

    assert isinstance(error, Unanswered)
    assert error.retryable
    assert error.message.endswith("upstream timed out")


def test_a_non_json_error_body_is_kept_as_text() -> None:
    answer = AlpacaAnswer(502, b"<html>Bad Gateway</html>")

    assert (answer.code, answer.message) == (None, "<html>Bad Gateway</html>")


def test_a_connect_failure_was_not_sent_and_a_read_timeout_may_have_been() -> None:
    refused = from_transport(httpx.ConnectError("refused"), "POST /v2/orders")
    lost = from_transport(httpx.ReadTimeout("slow"), "POST /v2/orders")

    assert type(refused) is BrokerError
    assert refused.retryable
    assert isinstance(lost, Unanswered)
