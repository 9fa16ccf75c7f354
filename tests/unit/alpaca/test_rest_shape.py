"""Shape checks of the REST client over httpx.MockTransport: headers, bodies, which failures retry.

The proof that the adapter works is over real sockets against the simulator (tests/contract and
tests/e2e/alpaca); these only pin down what is sent and when it is sent again.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from adapters.alpaca.budget import Priority
from adapters.alpaca.config import AlpacaSettings, RetryPolicy
from adapters.alpaca.errors import Operation, Unanswered
from adapters.alpaca.rest import AlpacaRestClient, Request, Retry
from trading_core.errors import BrokerError, BrokerRejected

SETTINGS = AlpacaSettings(
    key_id="PKTEST",
    secret_key="s3cr3t",
    base_url="http://alpaca.test",
    retry=RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.002, deadline=5),
)
POST_ORDER = Request("POST", "/v2/orders", Operation.SUBMIT, Priority.ORDER, Retry.ONCE, body={"qty": "1"})
GET_ACCOUNT = Request("GET", "/v2/account", Operation.READ, Priority.SYNC)

Handler = Callable[[httpx.Request], httpx.Response]


def _client(handler: Handler, seen: list[httpx.Request]) -> AlpacaRestClient:
    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    return AlpacaRestClient(httpx.AsyncClient(transport=httpx.MockTransport(record)), SETTINGS)


def _answers(*responses: httpx.Response | Exception) -> Handler:
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler


async def test_every_request_carries_the_keys_and_a_json_body() -> None:
    seen: list[httpx.Request] = []
    rest = _client(_answers(httpx.Response(200, json={"id": "x"})), seen)

    assert await rest.call(POST_ORDER) == {"id": "x"}

    [request] = seen
    assert request.url == "http://alpaca.test/v2/orders"
    assert request.headers["APCA-API-KEY-ID"] == "PKTEST"
    assert request.headers["APCA-API-SECRET-KEY"] == "s3cr3t"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {"qty": "1"}


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_a_read_is_asked_again_after_a_5xx(status: int) -> None:
    seen: list[httpx.Request] = []
    rest = _client(_answers(httpx.Response(status), httpx.Response(200, json={"ok": 1})), seen)

    assert await rest.call(GET_ACCOUNT) == {"ok": 1}
    assert len(seen) == 2


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500, json={"code": 50010000, "message": "internal"}),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("dropped"),
    ],
)
async def test_a_submission_that_may_have_been_carried_out_is_never_sent_again(
    failure: httpx.Response | Exception,
) -> None:
    seen: list[httpx.Request] = []
    rest = _client(_answers(failure, httpx.Response(200, json={})), seen)

    with pytest.raises(Unanswered):
        await rest.call(POST_ORDER)
    assert len(seen) == 1


@pytest.mark.parametrize(
    "failure",
    [httpx.Response(429, json={"code": 42910000, "message": "rate limit exceeded"}), httpx.ConnectError("refused")],
)
async def test_a_submission_that_surely_did_nothing_is_sent_again(failure: httpx.Response | Exception) -> None:
    seen: list[httpx.Request] = []
    rest = _client(_answers(failure, httpx.Response(200, json={"id": "x"})), seen)

    assert await rest.call(POST_ORDER) == {"id": "x"}
    assert len(seen) == 2


async def test_retries_stop_after_max_attempts() -> None:
    seen: list[httpx.Request] = []
    rest = _client(_answers(httpx.Response(503)), seen)

    with pytest.raises(BrokerError) as raised:
        await rest.call(GET_ACCOUNT)
    assert len(seen) == 4
    assert raised.value.retryable
    assert raised.value.details["attempts"] == 4


async def test_a_refusal_is_not_asked_again() -> None:
    seen: list[httpx.Request] = []
    rest = _client(_answers(httpx.Response(403, json={"code": 40310000, "message": "insufficient buying power"})), seen)

    with pytest.raises(BrokerRejected) as raised:
        await rest.call(POST_ORDER)
    assert raised.value.code == "INSUFFICIENT_FUNDS"
    assert len(seen) == 1


async def test_an_unreadable_success_is_unanswered() -> None:
    seen: list[httpx.Request] = []
    rest = _client(_answers(httpx.Response(200, content=b"<html>")), seen)

    with pytest.raises(Unanswered):
        await rest.call(POST_ORDER)


async def test_a_204_is_none() -> None:
    seen: list[httpx.Request] = []
    rest = _client(_answers(httpx.Response(204)), seen)

    assert await rest.call(Request("DELETE", "/v2/orders/x", Operation.CANCEL, Priority.CANCEL)) is None
