"""An order split at flat (a flip): its opening half follows the closing half, and goes out once.

Selling 8 while long 5 is a closing sell of 5 and an opening sell of 3 held until the close has
filled. Replacing the closing half must hand the opening half to the replacement (it used to be
cancelled with the replaced order, leaving the account flat instead of short), and the opening
half is sent exactly once whoever learns first that the close filled (the sender or the stream).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from adapters.codec.events import event_payload
from adapters.memory.store import InMemoryOrderStore
from adapters.paper import PaperExchange
from tests.unit.engine.conftest import limit, market, started_engine
from trading_core import OrderStatus, TestClock
from trading_core.broker_models import BrokerOrder
from trading_core.engine import TradingEngine
from trading_core.errors import BrokerRejected, InvalidOrder, OrderInDoubt
from trading_core.orders import Order
from trading_core.ports import OrderFilter


async def _orders_at_the_exchange(exchange: PaperExchange) -> int:
    return len(await exchange.list_orders(status=OrderFilter.ALL, limit=10_000))


async def test_replacing_the_closing_half_keeps_the_opening_half(
    engine: TradingEngine, exchange: PaperExchange
) -> None:
    exchange.set_price("AAPL", Decimal("100.00"))
    await engine.submit(market("AAPL", "buy", 5))
    flip = await engine.submit(limit("AAPL", "sell", 8, "105.00", time_in_force="gtc"))
    assert flip.follow_up is not None

    replaced = await engine.replace(flip.order.id, limit_price=Decimal("104.00"))
    exchange.set_price("AAPL", Decimal("104.50"))  # the replacement fills, releasing the opening half at 105
    await engine.process_updates()
    exchange.set_price("AAPL", Decimal("105.50"))
    await engine.process_updates()

    closing = await engine.get_order(replaced.order.id)
    opening = await engine.get_order(flip.follow_up.id)
    assert closing.status is OrderStatus.FILLED
    assert (opening.parent_id, opening.status) == (closing.id, OrderStatus.FILLED)
    position = await engine.get_position("AAPL")
    assert (position.side, position.quantity) == ("short", 3)


async def test_a_closing_half_cannot_be_replaced_with_more_than_it_closes(
    engine: TradingEngine, exchange: PaperExchange
) -> None:
    """Grown, it would go past flat itself while its opening half still went out after it."""
    exchange.set_price("AAPL", Decimal("100.00"))
    await engine.submit(market("AAPL", "buy", 5))
    flip = await engine.submit(limit("AAPL", "sell", 8, "105.00", time_in_force="gtc"))
    assert flip.follow_up is not None
    before = await _orders_at_the_exchange(exchange)

    with pytest.raises(InvalidOrder, match="past flat"):
        await engine.replace(flip.order.id, quantity=Decimal(8))

    assert await _orders_at_the_exchange(exchange) == before
    assert (await engine.get_order(flip.order.id)).quantity == Decimal(5)
    smaller = await engine.replace(flip.order.id, quantity=Decimal(4))  # less stays allowed
    assert smaller.order.quantity == Decimal(4)


async def test_a_retried_flip_whose_closing_half_was_replaced_gets_the_same_orders(
    engine: TradingEngine, exchange: PaperExchange
) -> None:
    exchange.set_price("AAPL", Decimal("100.00"))
    await engine.submit(market("AAPL", "buy", 5))
    request = limit("AAPL", "sell", 8, "105.00", time_in_force="gtc", client_order_id="flip-r")
    flip = await engine.submit(request)
    await engine.replace(flip.order.id, limit_price=Decimal("104.00"))

    again = await engine.submit(request)

    assert again.order.id == flip.order.id
    assert again.follow_up is not None
    assert flip.follow_up is not None
    assert again.follow_up.id == flip.follow_up.id


async def test_the_answer_shows_the_opening_half_as_it_now_stands(
    engine: TradingEngine, exchange: PaperExchange
) -> None:
    exchange.set_price("AAPL", Decimal("100.00"))
    await engine.submit(market("AAPL", "buy", 5))

    flip = await engine.submit(market("AAPL", "sell", 8))

    assert flip.follow_up is not None
    assert (flip.follow_up.status, flip.follow_up.filled_quantity) == (OrderStatus.FILLED, Decimal(3))


class SlowAnswers(PaperExchange):
    """Answers a submission after its trade updates have gone out, as a broker's stream often is."""

    async def submit_order(self, order: Order) -> BrokerOrder:
        accepted = await super().submit_order(order)
        for _ in range(3):
            await asyncio.sleep(0)  # the update task takes the updates and applies them first
        return accepted


async def test_the_opening_half_is_sent_once_when_the_stream_and_the_poll_both_see_the_close(
    clock: TestClock,
) -> None:
    """The update task and the order poll both learn that the close filled; one of them sends."""
    exchange = SlowAnswers(clock)
    engine = await started_engine(exchange, clock)
    exchange.set_price("AAPL", Decimal("100.00"))
    await engine.submit(market("AAPL", "buy", 5))
    flip = await engine.submit(limit("AAPL", "sell", 8, "105.00", time_in_force="gtc"))
    assert flip.follow_up is not None

    exchange.set_price("AAPL", Decimal("106.00"))  # the close fills at the broker
    await asyncio.gather(engine.process_updates(), engine.reconcile())

    assert await _orders_at_the_exchange(exchange) == 3
    opening = await engine.get_order(flip.follow_up.id)
    assert (opening.status, opening.filled_quantity) == (OrderStatus.FILLED, Decimal(3))
    position = await engine.get_position("AAPL")
    assert (position.side, position.quantity) == ("short", 3)


class LosesReplacements(PaperExchange):
    """A replace goes unanswered and never reaches the exchange."""

    async def replace_order(self, *args: object, **kwargs: object) -> BrokerOrder:
        raise OrderInDoubt("the replace went unanswered (502)")


async def test_a_replacement_of_the_closing_half_proven_absent_leaves_the_opening_half_to_the_old_one(
    clock: TestClock,
) -> None:
    exchange = LosesReplacements(clock)
    engine = await started_engine(exchange, clock)
    exchange.set_price("AAPL", Decimal("100.00"))
    await engine.submit(market("AAPL", "buy", 5))
    flip = await engine.submit(limit("AAPL", "sell", 8, "105.00", time_in_force="gtc"))
    assert flip.follow_up is not None

    lost = await engine.replace(flip.order.id, limit_price=Decimal("104.00"))
    assert lost.order.status is OrderStatus.PENDING_NEW  # in doubt; the opening half waits for it
    clock.advance(engine.config.in_doubt_window)
    await engine.reconcile_orders()  # the broker's order list proves it absent
    assert (await engine.get_order(lost.order.id)).status is OrderStatus.REJECTED
    exchange.set_price("AAPL", Decimal("106.00"))  # the old closing order fills, then the opening half
    await engine.process_updates()
    await engine.process_updates()

    opening = await engine.get_order(flip.follow_up.id)
    assert (opening.parent_id, opening.status) == (flip.order.id, OrderStatus.FILLED)
    position = await engine.get_position("AAPL")
    assert (position.side, position.quantity) == ("short", 3)


class AnswersDuplicate(PaperExchange):
    """An earlier attempt reached the broker: this one is refused as a duplicate client order id."""

    async def submit_order(self, order: Order) -> BrokerOrder:
        await super().submit_order(order)
        raise BrokerRejected("DUPLICATE_CLIENT_ORDER_ID", "client_order_id must be unique")


async def test_a_duplicate_client_order_id_at_the_broker_is_the_order_not_a_refusal(clock: TestClock) -> None:
    exchange = AnswersDuplicate(clock)
    engine = await started_engine(exchange, clock)
    exchange.set_price("AAPL", Decimal("100.00"))

    result = await engine.submit(market("AAPL", "buy", 5))

    assert (result.order.status, result.order.filled_quantity) == (OrderStatus.FILLED, Decimal(5))
    assert (await engine.get_position("AAPL")).quantity == Decimal(5)


class CrashesOnce(PaperExchange):
    """The process dies while it sends an order (the second from now, with `crash_at` 2); the
    store keeps what it had."""

    crash_at = 0

    async def submit_order(self, order: Order) -> BrokerOrder:
        if self.crash_at:
            self.crash_at -= 1
            if not self.crash_at:
                raise SystemExit("killed while sending")
        return await super().submit_order(order)


async def test_an_opening_half_left_unsent_by_a_crash_is_sent_after_the_restart(clock: TestClock) -> None:
    exchange = CrashesOnce(clock)
    store = InMemoryOrderStore(payload_of=event_payload)
    first = await started_engine(exchange, clock, store=store)
    exchange.set_price("AAPL", Decimal("100.00"))
    await first.submit(market("AAPL", "buy", 5))
    exchange.crash_at = 2  # the closing half fills; the process dies sending the opening half
    with pytest.raises(SystemExit):
        await first.submit(market("AAPL", "sell", 8))

    restarted = await started_engine(exchange, clock, store=store)  # start-up reconciles

    position = await restarted.get_position("AAPL")
    assert (position.side, position.quantity) == ("short", 3)
    assert len(await exchange.list_orders(status=OrderFilter.ALL, limit=10)) == 3
