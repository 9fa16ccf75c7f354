"""Injected 5xx and 429 answers: reads are asked again within bounds; orders are never sent twice."""

from __future__ import annotations

import pytest

from adapters.alpaca.broker import AlpacaBroker
from apps.alpaca_sim import SimServer
from tests.contract.alpaca.support import FAST_RETRY, order
from trading_core.errors import BrokerError, OrderInDoubt


def _fired(sim: SimServer) -> list[int]:
    return [rule["fired"] for rule in sim.faults()]


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
async def test_a_read_succeeds_after_injected_failures(
    broker: AlpacaBroker, alpaca_sim: SimServer, status: int
) -> None:
    alpaca_sim.set_faults({"kind": "status", "status": status, "match": "GET /v2/account", "count": 2})
    sent_before = broker.rest.sent

    account = await broker.get_account()

    assert account.cash > 0
    assert _fired(alpaca_sim) == [2]
    assert broker.rest.sent - sent_before == 3


async def test_retries_stop_at_max_attempts(broker: AlpacaBroker, alpaca_sim: SimServer) -> None:
    alpaca_sim.set_faults({"kind": "status", "status": 503, "match": "GET /v2/clock"})

    with pytest.raises(BrokerError) as failed:
        await broker.get_clock()

    assert failed.value.retryable
    assert failed.value.status == 503
    assert _fired(alpaca_sim) == [FAST_RETRY.max_attempts]


async def test_retries_stop_at_the_deadline(alpaca_sim: SimServer) -> None:
    from adapters.alpaca.config import RetryPolicy
    from tests.contract.alpaca.support import opened_broker

    policy = RetryPolicy(max_attempts=50, base_delay=0.05, max_delay=0.2, deadline=0.5)
    async with opened_broker(alpaca_sim, retry=policy) as broker:
        alpaca_sim.set_faults({"kind": "status", "status": 502, "match": "GET /v2/positions"})

        with pytest.raises(BrokerError):
            await broker.list_positions()

    assert 2 <= _fired(alpaca_sim)[0] < 10


async def test_an_order_refused_with_429_is_sent_again(broker: AlpacaBroker, alpaca_sim: SimServer) -> None:
    """A 429 did nothing, so sending again cannot double the order."""
    alpaca_sim.set_faults({"kind": "status", "status": 429, "match": "POST /v2/orders", "count": 1})
    sent = order("AAPL", "buy", "1")

    accepted = await broker.submit_order(sent)

    assert accepted.client_order_id == sent.client_order_id
    assert alpaca_sim.state()["orders"] == 1


@pytest.mark.parametrize("status", [500, 503])
async def test_an_order_answered_5xx_is_looked_up_not_sent_again(
    broker: AlpacaBroker, alpaca_sim: SimServer, status: int
) -> None:
    """The simulator's `status` rule did nothing: the lookups find nothing, and nothing was resent.

    A 5xx may come from a gateway in front of a broker that has the order, so it is in doubt.
    """
    alpaca_sim.set_faults({"kind": "status", "status": status, "match": "POST /v2/orders"})

    with pytest.raises(OrderInDoubt, match="in doubt"):
        await broker.submit_order(order("AAPL", "buy", "1"))

    assert _fired(alpaca_sim) == [1]
    assert alpaca_sim.state()["orders"] == 0


async def test_a_cancel_answered_5xx_is_sent_again_and_succeeds(broker: AlpacaBroker, alpaca_sim: SimServer) -> None:
    resting = await broker.submit_order(order("AAPL", "buy", "1", type="limit", limit_price="100"))
    alpaca_sim.set_faults({"kind": "accept_then_status", "status": 502, "match": "DELETE /v2/orders", "count": 1})

    await broker.cancel_order(resting.broker_order_id)  # the retry meets a canceled order: fine

    assert (await broker.get_order(resting.broker_order_id)).status.value == "canceled"
