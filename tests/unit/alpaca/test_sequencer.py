"""The sequencer delivers each fill once, in cumulative order, whatever the stream did to them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.alpaca.codec import FillActivity
from adapters.alpaca.sequencer import UpdateSequencer
from trading_core.broker_models import BrokerOrder, TradeUpdate
from trading_core.enums import OrderStatus, OrderType, Side, TimeInForce
from trading_core.fills import made_up_execution_id
from trading_core.orders import TradeEvent
from trading_core.values import BrokerOrderId, ClientOrderId, ExecutionId, Symbol

T0 = datetime(2026, 3, 2, 15, tzinfo=UTC)
CLIENT = ClientOrderId("ours-1")


def _order(
    quantity: Decimal, filled: Decimal = Decimal(0), average: Decimal | None = None, **changes: object
) -> BrokerOrder:
    order = BrokerOrder(
        broker_order_id=BrokerOrderId("8d1d1b8a-0000-4000-8000-000000000001"),
        client_order_id=CLIENT,
        symbol=Symbol("AAPL"),
        side=Side.BUY,
        type=OrderType.MARKET,
        time_in_force=TimeInForce.DAY,
        quantity=quantity,
        status=OrderStatus.NEW,
        created_at=T0,
        updated_at=T0,
        submitted_at=T0,
        filled_quantity=filled,
        filled_average_price=average,
    )
    return attrs.evolve(order, **changes)


def _fills(sizes: list[int], prices: list[Decimal]) -> list[TradeUpdate]:
    """The stream messages of an order filled in `sizes` at `prices`, in the order they happened."""
    total = Decimal(sum(sizes))
    updates, filled, notional = [], Decimal(0), Decimal(0)
    for i, (size, price) in enumerate(zip(sizes, prices, strict=True)):
        filled += size
        notional += size * price
        last = filled == total
        order = _order(
            total,
            filled,
            notional / filled,
            status=OrderStatus.FILLED if last else OrderStatus.PARTIALLY_FILLED,
            updated_at=T0 + timedelta(seconds=i + 1),
        )
        updates.append(
            TradeUpdate(
                event=TradeEvent.FILL if last else TradeEvent.PARTIAL_FILL,
                order=order,
                timestamp=order.updated_at,
                execution_id=ExecutionId(str(uuid.uuid4())),
                price=price,
                quantity=Decimal(size),
            )
        )
    return updates


series = st.lists(st.integers(1, 50), min_size=1, max_size=8).flatmap(
    lambda sizes: st.tuples(
        st.just(sizes),
        st.lists(st.decimals("1.00", "500.00", places=2), min_size=len(sizes), max_size=len(sizes)),
    )
)


def _delivered_in_order(delivered: list[TradeUpdate]) -> None:
    previous = Decimal(0)
    for update in delivered:
        assert update.quantity == update.order.filled_quantity - previous
        previous = update.order.filled_quantity


@given(series, st.randoms(use_true_random=False), st.integers(0, 8))
@settings(max_examples=300)
def test_reordered_and_repeated_fills_are_each_delivered_once_in_order(
    fills: tuple[list[int], list[Decimal]], rnd: object, repeats: int
) -> None:
    sizes, prices = fills
    updates = _fills(sizes, prices)
    messages = updates + [rnd.choice(updates) for _ in range(repeats)]  # type: ignore[attr-defined]
    rnd.shuffle(messages)  # type: ignore[attr-defined]
    sequencer = UpdateSequencer(gap_timeout=60)
    sequencer.expect(CLIENT)

    delivered = [out for i, m in enumerate(messages) for out in sequencer.stream(m, now=float(i))]

    assert sorted(u.execution_id for u in delivered) == sorted(u.execution_id for u in updates)
    assert [(u.quantity, u.price) for u in delivered] == [(u.quantity, u.price) for u in updates]
    _delivered_in_order(delivered)
    assert sequencer.next_due() is None


@given(series, st.data())
@settings(max_examples=300)
def test_lost_fills_are_made_up_by_the_snapshot_at_alpacas_average(
    fills: tuple[list[int], list[Decimal]], data: st.DataObject
) -> None:
    sizes, prices = fills
    updates = _fills(sizes, prices)
    kept = [u for u in updates if data.draw(st.booleans())]
    sequencer = UpdateSequencer(gap_timeout=60)
    sequencer.expect(CLIENT)
    final = updates[-1].order

    delivered = [out for m in kept for out in sequencer.stream(m, now=0.0)]
    delivered += sequencer.snapshot(final)
    delivered += sequencer.snapshot(final)  # a second backfill adds nothing

    fills_out = [u for u in delivered if u.is_fill]
    _delivered_in_order(fills_out)
    assert sum(u.quantity or 0 for u in fills_out) == final.quantity
    notional = sum((u.quantity or 0) * (u.price or 0) for u in fills_out)
    # An aggregated fill is priced at four places: off by at most half a unit there per share.
    assert (
        abs(notional - final.filled_quantity * (final.filled_average_price or 0)) <= Decimal("0.00005") * final.quantity
    )


def test_a_fill_held_past_the_gap_timeout_is_delivered_across_the_gap() -> None:
    first, second, third = _fills([3, 2, 5], [Decimal(10), Decimal(11), Decimal(12)])
    sequencer = UpdateSequencer(gap_timeout=2)
    sequencer.expect(CLIENT)

    assert sequencer.stream(first, now=0) == [first]
    assert sequencer.stream(third, now=1) == []
    assert sequencer.next_due() == 3
    assert sequencer.due(now=2.5) == []
    gap, late = sequencer.due(now=3)
    assert sequencer.stream(second, now=4) == []

    # the lost execution is stood for by a made-up fill; the late one keeps its own id and quantity
    # (merged into it, its id stood for two executions: a 10,000-order chaos run counted one missing)
    assert gap.execution_id == made_up_execution_id(third.order.broker_order_id, Decimal(5))
    assert (gap.quantity, gap.price, gap.order.filled_quantity) == (Decimal(2), Decimal("11.0000"), Decimal(5))
    assert late.execution_id == third.execution_id
    assert (late.quantity, late.price) == (Decimal(5), Decimal(12))


def test_an_order_first_seen_on_the_stream_is_known_up_to_that_execution() -> None:
    """Placed before a restart: the engine's start-up reconciliation brought it to 3 of 10."""
    _, second, third = _fills([3, 2, 5], [Decimal(10), Decimal(11), Decimal(12)])
    sequencer = UpdateSequencer()

    assert sequencer.stream(second, now=0) == [second]
    assert sequencer.stream(third, now=0) == [third]


def test_an_order_first_seen_in_a_snapshot_is_a_baseline_not_news() -> None:
    sequencer = UpdateSequencer()
    snapshot = _order(Decimal(10), Decimal(4), Decimal(10), client_order_id=ClientOrderId("theirs"))

    assert sequencer.snapshot(snapshot) == []
    later = attrs.evolve(snapshot, filled_quantity=Decimal(10), status=OrderStatus.FILLED, updated_at=T0 + timedelta(1))
    [fill] = sequencer.snapshot(later)

    assert (fill.event, fill.quantity, fill.execution_id) == (
        TradeEvent.FILL,
        Decimal(6),
        f"{snapshot.broker_order_id}:10",
    )


def test_a_snapshot_reports_a_status_the_stream_missed_but_not_a_lagging_one() -> None:
    sequencer = UpdateSequencer()
    sequencer.expect(CLIENT)
    sequencer.track(_order(Decimal(10)))
    canceled = _order(Decimal(10), status=OrderStatus.CANCELED, updated_at=T0 + timedelta(seconds=5))
    stale = _order(Decimal(10), status=OrderStatus.NEW, updated_at=T0 + timedelta(seconds=1))

    [update] = sequencer.snapshot(canceled)
    assert (update.event, update.order.status) == (TradeEvent.CANCELED, OrderStatus.CANCELED)
    assert sequencer.snapshot(stale) == []
    assert sequencer.unsettled() == []


def test_other_events_pass_through_even_when_repeated() -> None:
    sequencer = UpdateSequencer()
    new = TradeUpdate(event=TradeEvent.NEW, order=_order(Decimal(10)), timestamp=T0)

    assert sequencer.stream(new, now=0) == [new]
    assert sequencer.stream(new, now=0) == [new]
    assert sequencer.unsettled() == [new.order.broker_order_id]


def _activity(update: TradeUpdate) -> FillActivity:
    """The FILL activity Alpaca lists for a fill the stream sent."""
    assert update.execution_id is not None
    assert update.quantity is not None
    assert update.price is not None
    return FillActivity(
        id=f"20260302100000000::{update.execution_id}",
        execution_id=update.execution_id,
        order_id=update.order.broker_order_id,
        transaction_time=update.timestamp,
        price=update.price,
        qty=update.quantity,
        cum_qty=update.order.filled_quantity,
        symbol=update.order.symbol,
    )


@given(series, st.data())
@settings(max_examples=300)
def test_lost_fills_are_recovered_from_the_activities_each_as_it_was(
    fills: tuple[list[int], list[Decimal]], data: st.DataObject
) -> None:
    sizes, prices = fills
    updates = _fills(sizes, prices)
    kept = [u for u in updates if data.draw(st.booleans())]
    listed = data.draw(st.permutations([_activity(u) for u in updates]))  # in any order, with what was delivered
    sequencer = UpdateSequencer(gap_timeout=60)
    sequencer.expect(CLIENT)
    final = updates[-1].order

    delivered = [out for m in kept for out in sequencer.stream(m, now=0.0)]
    delivered += sequencer.snapshot(final, listed)
    delivered += sequencer.snapshot(final, listed)  # a second backfill adds nothing
    delivered += [out for m in updates for out in sequencer.stream(m, now=1.0)]  # nor the stream's late copies

    fills_out = [u for u in delivered if u.is_fill]
    _delivered_in_order(fills_out)
    assert [(u.execution_id, u.quantity, u.price) for u in fills_out] == [
        (u.execution_id, u.quantity, u.price) for u in updates
    ]
    assert [u.order.filled_quantity for u in fills_out] == [u.order.filled_quantity for u in updates]


def test_activities_that_lack_an_execution_recover_up_to_it_and_average_the_rest() -> None:
    first, second, _, fourth = _fills([3, 2, 4, 1], [Decimal(10), Decimal(11), Decimal(12), Decimal(13)])
    sequencer = UpdateSequencer()
    sequencer.expect(CLIENT)
    assert sequencer.stream(first, now=0) == [first]

    recovered, made_up = sequencer.snapshot(fourth.order, [_activity(second), _activity(fourth)])

    assert (recovered.execution_id, recovered.quantity, recovered.price) == (second.execution_id, 2, 11)
    assert (recovered.event, recovered.order.filled_quantity) == (TradeEvent.PARTIAL_FILL, 5)
    assert (made_up.event, made_up.execution_id, made_up.quantity) == (
        TradeEvent.FILL,
        f"{fourth.order.broker_order_id}:10",
        5,
    )
    assert made_up.price == Decimal("12.2")  # (4 x 12 + 1 x 13) / 5


def test_an_activity_later_than_the_snapshot_is_left_to_the_stream() -> None:
    first, second = _fills([3, 7], [Decimal(10), Decimal(11)])
    sequencer = UpdateSequencer()
    sequencer.expect(CLIENT)
    sequencer.track(_order(Decimal(10)))

    [recovered] = sequencer.snapshot(first.order, [_activity(first), _activity(second)])

    assert (recovered.execution_id, recovered.order.filled_quantity) == (first.execution_id, 3)
    assert sequencer.stream(second, now=0) == [second]


def test_an_order_the_broker_does_not_know_is_owed_no_news_once_forgotten() -> None:
    """A replacement Alpaca refused on the stream was tracked from its REST answer; it never exists."""
    sequencer = UpdateSequencer()
    refused = _order(Decimal(5))
    sequencer.track(refused)
    assert sequencer.unsettled() == [refused.broker_order_id]

    sequencer.forget(refused.broker_order_id)

    assert sequencer.unsettled() == []
    assert not sequencer.knows(refused.broker_order_id)


@given(series, st.data())
@settings(max_examples=200)
def test_an_execution_lost_mid_stream_is_read_from_the_activities_not_merged_into_the_next(
    fills: tuple[list[int], list[Decimal]], data: st.DataObject
) -> None:
    """The connection stays up but a message is lost: the fills after the gap wait for it, and once
    their wait is due the gap is filled from the activities, each execution under its own id."""
    sizes, prices = fills
    updates = _fills(sizes, prices)
    lost = data.draw(st.integers(0, len(updates) - 1))
    sequencer = UpdateSequencer(gap_timeout=2)
    sequencer.expect(CLIENT)

    delivered = [out for i, m in enumerate(updates) if i != lost for out in sequencer.stream(m, now=0.0)]
    for order in sequencer.gaps_due(now=5.0):
        delivered += sequencer.fill_gap(order, [_activity(u) for u in updates])
    delivered += sequencer.due(now=5.0)

    fills_out = [u for u in delivered if u.is_fill]
    _delivered_in_order(fills_out)
    heard = updates if lost < len(updates) - 1 else updates[:-1]  # a lost last fill leaves no gap to see
    assert [(u.execution_id, u.quantity, u.price) for u in fills_out] == [
        (u.execution_id, u.quantity, u.price) for u in heard
    ]
