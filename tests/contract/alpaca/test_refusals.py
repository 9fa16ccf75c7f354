"""Every refusal the simulator can give, as the adapter maps it (the unit tests cover the rest)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from adapters.alpaca.broker import AlpacaBroker
from apps.alpaca_sim import SimServer
from tests.contract.alpaca.support import collect_updates, order
from trading_core.errors import BrokerRejected, OrderNotCancelable, OrderNotFound
from trading_core.orders import Order, TradeEvent
from trading_core.values import BrokerOrderId, ClientOrderId


async def _refused(broker: AlpacaBroker, sent: Order) -> BrokerRejected:
    with pytest.raises(BrokerRejected) as refused:
        await broker.submit_order(sent)
    return refused.value


@pytest.mark.parametrize(
    ("sent", "code", "alpaca_code"),
    [
        (order("AAPL", "buy", "10000"), "INSUFFICIENT_FUNDS", 40310000),
        (order("SIVB", "buy", "1"), "SYMBOL_NOT_TRADABLE", 40010001),
        (order("ZZZZ", "buy", "1"), "SYMBOL_NOT_TRADABLE", 40010001),
        (order("AMC", "buy", "1.5"), "SYMBOL_NOT_TRADABLE", 40010001),
        (order("GME", "sell", "1"), "SYMBOL_NOT_TRADABLE", 40310000),
        (order("AAPL", "buy", "1", type="limit"), "INVALID_ORDER", 40010001),
        (order("AAPL", "buy", "1", type="market", limit_price="10"), "INVALID_ORDER", 40010001),
        (order("AAPL", "buy", "1", time_in_force="opg"), "MARKET_CLOSED", 42210000),
    ],
    ids=["buying-power", "not-tradable", "unknown", "fraction", "not-shortable", "no-limit", "stray-limit", "opg-open"],
)
async def test_a_refused_order_carries_our_code_and_alpacas(
    broker: AlpacaBroker, alpaca_sim: SimServer, sent: Order, code: str, alpaca_code: int
) -> None:
    refusal = await _refused(broker, sent)

    assert code == refusal.code
    assert refusal.details["alpacaCode"] == alpaca_code
    assert alpaca_sim.state()["orders"] == 0


async def test_insufficient_funds_keeps_alpacas_context(broker: AlpacaBroker) -> None:
    refusal = await _refused(broker, order("AAPL", "buy", "10000"))

    assert Decimal(refusal.details["cost_basis"]) == Decimal(1_900_000)
    assert "buying_power" in refusal.details


async def test_a_sale_through_zero_is_insufficient_quantity(broker: AlpacaBroker) -> None:
    """Alpaca's 403 "insufficient qty available": not a malformed order (INVALID_ORDER is 400)."""
    await broker.submit_order(order("AAPL", "buy", "5"))
    await collect_updates(broker, lambda us: any(u.event is TradeEvent.FILL for u in us))

    refusal = await _refused(broker, order("AAPL", "sell", "8"))

    assert refusal.code == "INSUFFICIENT_QUANTITY"
    assert (refusal.details["available"], refusal.details["existing_qty"]) == ("5", "5")


async def test_a_reused_client_order_id_is_refused_even_after_a_cancel(broker: AlpacaBroker) -> None:
    first = await broker.submit_order(
        order("AAPL", "buy", "1", type="limit", limit_price="100", client_order_id="once")
    )
    await broker.cancel_order(first.broker_order_id)

    refusal = await _refused(broker, order("AAPL", "buy", "1", type="limit", limit_price="100", client_order_id="once"))

    assert refusal.code == "DUPLICATE_CLIENT_ORDER_ID"


async def test_closed_orders_cannot_be_cancelled_or_replaced(broker: AlpacaBroker) -> None:
    filled = await broker.submit_order(order("AAPL", "buy", "1"))
    await collect_updates(broker, lambda us: any(u.event is TradeEvent.FILL for u in us))

    with pytest.raises(OrderNotCancelable):
        await broker.cancel_order(filled.broker_order_id)
    with pytest.raises(OrderNotCancelable):
        await broker.replace_order(filled.broker_order_id, client_order_id=ClientOrderId("r-1"), quantity=Decimal(2))


async def test_a_replacement_of_an_unknown_order_is_not_found(broker: AlpacaBroker) -> None:
    with pytest.raises(OrderNotFound):
        await broker.replace_order(
            BrokerOrderId("6a1f7a43-8f47-4a3a-9a1e-6a1f7a438f47"),
            client_order_id=ClientOrderId("r-2"),
            quantity=Decimal(1),
        )


async def test_a_replacement_beyond_buying_power_is_insufficient_funds(broker: AlpacaBroker) -> None:
    resting = await broker.submit_order(order("AAPL", "buy", "1", type="limit", limit_price="100", time_in_force="gtc"))

    with pytest.raises(BrokerRejected) as refused:
        await broker.replace_order(
            resting.broker_order_id, client_order_id=ClientOrderId("r-3"), quantity=Decimal(5000)
        )

    assert refused.value.code == "INSUFFICIENT_FUNDS"


WASH = "potential wash trade detected. use complex orders"


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        ((403, 40310000, WASH), "WASH_TRADE"),
        ((422, 42210000, WASH), "WASH_TRADE"),
        ((403, 40310000, "account is not allowed to short"), "SYMBOL_NOT_TRADABLE"),
        ((403, 40310000, "new orders are rejected by user request"), "INVALID_ORDER"),
    ],
    ids=["wash-403", "wash-422", "no-shorting", "user-block"],
)
async def test_refusals_scripted_at_the_simulator_map_to_our_codes(
    broker: AlpacaBroker, alpaca_sim: SimServer, answer: tuple[int, int, str], code: str
) -> None:
    """Refusals the paper exchange never makes, answered by the simulator word for word, over sockets."""
    status, alpaca_code, message = answer
    alpaca_sim.set_faults(
        {"kind": "refuse", "match": "POST /v2/orders", "status": status, "code": alpaca_code, "message": message}
    )

    refusal = await _refused(broker, order("AAPL", "buy", "1"))

    assert (code, alpaca_code) == (refusal.code, refusal.details["alpacaCode"])
    assert alpaca_sim.state()["orders"] == 0
