"""The order aggregate: its state machine over the broker's statuses, submission and refusal."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import attrs
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from trading_core.enums import ApiStatus, OrderStatus, OrderType, Side, SubmitStatus, TimeInForce
from trading_core.errors import InvalidOrder, InvalidTransition, OrderNotCancelable, Overfill
from trading_core.events import OrderCancelled, OrderRejected, OrderSubmitted
from trading_core.fills import Fill, made_up_execution_id
from trading_core.lifecycle import apply_event, fill_order, mark_submitted, reject
from trading_core.orders import TRANSITIONS, Order, TradeEvent, ensure_cancelable
from trading_core.requests import OrderRequest
from trading_core.testing import order_requests, prices, quantities, trade_events
from trading_core.values import BrokerOrderId, ExecutionId, OrderId

from .builders import NOW, fill, order, request

S = OrderStatus
E = TradeEvent
STATUS_EVENTS = [e for e in TradeEvent if e not in (E.FILL, E.PARTIAL_FILL)]
TERMINAL = [s for s in OrderStatus if s.is_terminal]
LATER = NOW + timedelta(seconds=5)


def move(o: Order, *events: TradeEvent) -> Order:
    for trade_event in events:
        o, _ = apply_event(o, trade_event, now=LATER, ts_event=LATER)
    return o


class TestNewOrder:
    def test_starts_pending_new_with_what_was_asked(self) -> None:
        req = request(type="limit", quantity="5", limit_price="12.34", time_in_force="gtc")

        o = order(req)

        assert (S.PENDING_NEW, Decimal(5), Decimal("12.34"), TimeInForce.GTC) == (
            o.status,
            o.quantity,
            o.limit_price,
            o.time_in_force,
        )
        assert (Decimal(0), Decimal(5), None) == (o.filled_quantity, o.remaining_quantity, o.average_fill_price)
        assert (o.created_at, o.updated_at) == (NOW, NOW)

    def test_a_notional_request_must_be_resolved_first(self) -> None:
        with pytest.raises(InvalidOrder) as refused:
            order(request(notional="100"))

        assert refused.value.field == "notional"

    @given(order_requests(types=tuple(OrderType)))
    def test_copies_every_field_of_the_request(self, req: OrderRequest) -> None:
        o = order(req)

        copied = ["symbol", "side", "type", "time_in_force", "quantity", "limit_price", "stop_price"]
        copied += ["trail_price", "trail_percent", "extended_hours", "strategy_id", "decision_id"]
        assert [getattr(req, f) for f in copied] == [getattr(o, f) for f in copied]

    def test_signed_quantity_follows_the_side(self) -> None:
        assert (Decimal(10), Decimal(-10)) == (order().signed_quantity, order(request(side="sell")).signed_quantity)


class TestTransitionTable:
    def test_covers_every_alpaca_status(self) -> None:
        """alpaca-py lists 18 statuses; each non-terminal one is the source of some transition."""
        sources = {status for status, _ in TRANSITIONS}

        assert len(OrderStatus) == 18
        assert {s for s in OrderStatus if not s.is_terminal} == sources

    def test_no_transition_leaves_a_terminal_status(self) -> None:
        assert [key for key in TRANSITIONS if key[0].is_terminal] == []

    def test_every_open_status_can_be_cancelled_expired_or_rejected(self) -> None:
        for status in OrderStatus:
            if not status.is_terminal:
                ends = [TRANSITIONS[status, e] for e in (E.CANCELED, E.EXPIRED, E.REJECTED, E.REPLACED)]

                assert ends == [S.CANCELED, S.EXPIRED, S.REJECTED, S.REPLACED]

    @pytest.mark.parametrize(("key", "target"), sorted(TRANSITIONS.items()), ids=str)
    def test_a_repeated_event_changes_nothing(self, key: tuple[OrderStatus, TradeEvent], target: object) -> None:
        """The stream may deliver an event twice: the second delivery is a no-op, never an error."""
        status, event = key
        once = move(order(status=status), event)

        twice, events = apply_event(once, event, now=LATER + timedelta(1), ts_event=LATER)

        assert (once, []) == (twice, events)


class TestStatusEvents:
    def test_the_usual_life_of_an_order(self) -> None:
        o = move(order(), E.ACCEPTED, E.NEW, E.PENDING_CANCEL)

        cancelled, events = apply_event(o, E.CANCELED, now=LATER, ts_event=NOW)

        assert cancelled.status == S.CANCELED
        assert (cancelled.cancelled_at, cancelled.updated_at) == (NOW, LATER)
        assert [OrderCancelled] == [type(e) for e in events]
        assert isinstance(events[0], OrderCancelled)
        assert ("canceled", cancelled) == (events[0].reason, events[0].order)

    @pytest.mark.parametrize(
        ("event", "reason"), [(E.EXPIRED, "expired"), (E.REPLACED, "replaced"), (E.DONE_FOR_DAY, "done_for_day")]
    )
    def test_an_order_that_stops_working_announces_why(self, event: TradeEvent, reason: str) -> None:
        _, events = apply_event(order(status=S.NEW), event, now=LATER, ts_event=LATER)

        assert [(OrderCancelled, reason)] == [(type(e), getattr(e, "reason", None)) for e in events]

    def test_a_reason_from_the_broker_is_kept(self) -> None:
        _, events = apply_event(order(status=S.NEW), E.CANCELED, now=LATER, ts_event=LATER, reason="user request")

        assert isinstance(events[0], OrderCancelled)
        assert events[0].reason == "user request"

    def test_done_for_day_is_not_a_cancellation_time(self) -> None:
        assert move(order(status=S.NEW), E.DONE_FOR_DAY).cancelled_at is None

    def test_a_broker_rejection_is_recorded_and_announced(self) -> None:
        rejected, events = apply_event(order(status=S.ACCEPTED), E.REJECTED, now=LATER, ts_event=LATER, reason="no")

        assert (
            rejected.status,
            rejected.rejection_code,
            rejected.rejection_reason,
        ) == (S.REJECTED, "BROKER_REJECTED", "no")
        assert [OrderRejected] == [type(e) for e in events]

    @pytest.mark.parametrize("event", [E.ACCEPTED, E.NEW, E.PENDING_CANCEL, E.RESTATED, E.STOPPED])
    def test_moves_that_end_nothing_announce_nothing(self, event: TradeEvent) -> None:
        _, events = apply_event(order(), event, now=LATER, ts_event=LATER)

        assert events == []

    def test_a_late_new_does_not_undo_a_fill(self) -> None:
        o = order(status=S.NEW)
        partly = fill_order(o, fill(o, "4"), now=LATER)
        assert partly is not None

        actual = move(partly, E.NEW)

        assert actual.status == S.PARTIALLY_FILLED

    @pytest.mark.parametrize(("filled", "expected"), [("0", S.NEW), ("3", S.PARTIALLY_FILLED)])
    def test_a_refused_cancel_puts_the_order_back_to_work(self, filled: str, expected: OrderStatus) -> None:
        o = attrs.evolve(order(status=S.PENDING_CANCEL), filled_quantity=Decimal(filled))

        actual = move(o, E.ORDER_CANCEL_REJECTED)

        assert expected == actual.status

    def test_a_refused_replace_puts_the_order_back_to_work(self) -> None:
        assert move(order(status=S.PENDING_REPLACE), E.ORDER_REPLACE_REJECTED).status == S.NEW

    def test_a_restatement_changes_nothing(self) -> None:
        o = order(status=S.NEW)

        assert (o, []) == apply_event(o, E.RESTATED, now=LATER, ts_event=LATER)

    @pytest.mark.parametrize("event", [E.FILL, E.PARTIAL_FILL])
    def test_fills_are_refused_here(self, event: TradeEvent) -> None:
        with pytest.raises(InvalidTransition, match="fills go through"):
            apply_event(order(status=S.NEW), event, now=LATER, ts_event=LATER)

    @pytest.mark.parametrize(
        ("status", "event"),
        [(S.PENDING_CANCEL, E.PENDING_REPLACE), (S.PENDING_REPLACE, E.PENDING_CANCEL)],
    )
    def test_an_illegal_move_names_status_and_event(self, status: OrderStatus, event: TradeEvent) -> None:
        with pytest.raises(InvalidTransition, match=f"{status} -> {event}"):
            apply_event(order(status=status), event, now=LATER, ts_event=LATER)

    @pytest.mark.parametrize("status", TERMINAL)
    @pytest.mark.parametrize("event", STATUS_EVENTS)
    def test_a_terminal_order_absorbs_every_status_event(self, status: OrderStatus, event: TradeEvent) -> None:
        o = order(status=status)

        assert (o, []) == apply_event(o, event, now=LATER, ts_event=LATER)


class TestRejectBeforeSending:
    def test_refuses_an_unsent_order_with_the_rules_code(self) -> None:
        rejected, events = reject(order(), code="POSITION_LIMIT", reason="too big", now=LATER)

        assert (
            rejected.status,
            rejected.rejection_code,
            rejected.rejection_reason,
            rejected.updated_at,
        ) == (S.REJECTED, "POSITION_LIMIT", "too big", LATER)
        assert [("POSITION_LIMIT", "too big", rejected)] == [
            (e.code, e.reason, e.order) for e in events if isinstance(e, OrderRejected)
        ]
        assert rejected.submit_status == SubmitStatus.REJECTED

    @pytest.mark.parametrize("status", [S.NEW, S.ACCEPTED, S.REJECTED, S.CANCELED])
    def test_only_an_unsent_order_can_be_refused(self, status: OrderStatus) -> None:
        with pytest.raises(InvalidTransition):
            reject(order(status=status), code="X", reason="y", now=LATER)


class TestMarkSubmitted:
    def test_records_the_broker_id_and_status(self) -> None:
        submitted, events = mark_submitted(
            order(), broker_order_id=BrokerOrderId("b-1"), status=S.ACCEPTED, now=LATER, ts_event=NOW
        )

        assert (BrokerOrderId("b-1"), S.ACCEPTED, NOW) == (
            submitted.broker_order_id,
            submitted.status,
            submitted.submitted_at,
        )
        assert [OrderSubmitted] == [type(e) for e in events]
        assert submitted.submit_status == SubmitStatus.ACCEPTED

    def test_keeps_what_the_stream_already_said(self) -> None:
        """The stream can beat the REST answer: a fill already recorded is not undone."""
        partly = order(status=S.PARTIALLY_FILLED)

        submitted, _ = mark_submitted(
            partly, broker_order_id=BrokerOrderId("b-1"), status=S.NEW, now=LATER, ts_event=NOW
        )

        assert submitted.status == S.PARTIALLY_FILLED

    def test_the_same_answer_twice_is_a_no_op(self) -> None:
        once, _ = mark_submitted(order(), broker_order_id=BrokerOrderId("b-1"), status=S.NEW, now=LATER, ts_event=NOW)

        assert (once, []) == mark_submitted(
            once, broker_order_id=BrokerOrderId("b-1"), status=S.ACCEPTED, now=LATER, ts_event=NOW
        )

    def test_another_broker_id_is_refused(self) -> None:
        once, _ = mark_submitted(order(), broker_order_id=BrokerOrderId("b-1"), status=S.NEW, now=LATER, ts_event=NOW)

        with pytest.raises(InvalidTransition, match="b-1"):
            mark_submitted(once, broker_order_id=BrokerOrderId("b-2"), status=S.NEW, now=LATER, ts_event=NOW)

    def test_an_unanswered_order_is_pending(self) -> None:
        assert order().submit_status == SubmitStatus.PENDING

    @pytest.mark.parametrize("answer", [S.FILLED, S.PARTIALLY_FILLED, S.CANCELED])
    def test_a_later_status_in_the_answer_waits_for_its_trade_updates(self, answer: OrderStatus) -> None:
        """A REST answer saying `filled` comes before the fills: the order works until they arrive."""
        submitted, _ = mark_submitted(
            order(), broker_order_id=BrokerOrderId("b-1"), status=answer, now=LATER, ts_event=NOW
        )

        assert submitted.status == S.NEW


class TestOutOfOrderEvents:
    @pytest.mark.parametrize("late", [E.PENDING_NEW, E.ACCEPTED, E.HELD, E.PENDING_REVIEW, E.ACCEPTED_FOR_BIDDING])
    @pytest.mark.parametrize("status", [S.NEW, S.PARTIALLY_FILLED, S.PENDING_CANCEL])
    def test_a_routing_event_after_routing_is_ignored(self, status: OrderStatus, late: TradeEvent) -> None:
        routed = order(status=status)

        assert (routed, []) == apply_event(routed, late, now=LATER, ts_event=LATER)

    @pytest.mark.parametrize("status", [S.PENDING_CANCEL, S.PENDING_REPLACE])
    def test_a_late_new_does_not_undo_a_pending_request(self, status: OrderStatus) -> None:
        pending = order(status=status)

        assert (pending, []) == apply_event(pending, E.NEW, now=LATER, ts_event=LATER)


class TestEnsureCancelable:
    @pytest.mark.parametrize("status", [s for s in OrderStatus if not s.is_terminal and s is not S.PENDING_REPLACE])
    def test_an_open_order_can_be_cancelled(self, status: OrderStatus) -> None:
        ensure_cancelable(order(status=status))

    @pytest.mark.parametrize("status", [*TERMINAL, S.PENDING_REPLACE])
    def test_a_finished_or_replacing_order_cannot(self, status: OrderStatus) -> None:
        with pytest.raises(OrderNotCancelable) as e:
            ensure_cancelable(order(status=status))

        assert e.value.details == {"orderId": OrderId("order-1")}


class TestApiStatus:
    @pytest.mark.parametrize(
        ("status", "expected"),
        [
            (S.NEW, ApiStatus.NEW),
            (S.PENDING_NEW, ApiStatus.NEW),
            (S.HELD, ApiStatus.NEW),
            (S.PARTIALLY_FILLED, ApiStatus.PARTIALLY_FILLED),
            (S.FILLED, ApiStatus.FILLED),
            (S.CANCELED, ApiStatus.CANCELLED),
            (S.EXPIRED, ApiStatus.CANCELLED),
            (S.REPLACED, ApiStatus.CANCELLED),
            (S.REJECTED, ApiStatus.REJECTED),
        ],
    )
    def test_maps_broker_statuses_to_the_specs_words(self, status: OrderStatus, expected: ApiStatus) -> None:
        assert expected == order(status=status).api_status

    def test_every_status_has_a_word(self) -> None:
        assert {s.api_status for s in OrderStatus} == set(ApiStatus)

    @pytest.mark.parametrize("status", [S.PENDING_CANCEL, S.DONE_FOR_DAY, S.NEW])
    def test_an_open_order_with_fills_reads_partially_filled(self, status: OrderStatus) -> None:
        o = attrs.evolve(order(status=status), filled_quantity=Decimal(1))

        assert o.api_status == ApiStatus.PARTIALLY_FILLED

    def test_a_calculated_order_that_filled_completely_reads_filled(self) -> None:
        o = attrs.evolve(order(status=S.CALCULATED), filled_quantity=Decimal(10))

        assert o.api_status == ApiStatus.FILLED

    def test_open_and_terminal_as_alpaca_counts_them(self) -> None:
        closed = {s for s in OrderStatus if not s.is_open}

        assert {*TERMINAL, S.DONE_FOR_DAY, S.CALCULATED} == closed


class OrderLifecycle(RuleBasedStateMachine):
    """Random broker status events, fills, duplicates and stale backfills, in any order.

    Whatever arrives, the filled quantity never exceeds the quantity or goes down; a terminal
    order stays terminal (a late fill may only complete it); a seen execution id is a no-op.
    """

    def __init__(self) -> None:
        super().__init__()
        self.order = order()
        self.applied: list[Fill] = []
        self.high_water = Decimal(0)
        self.terminal_as: OrderStatus | None = None
        self.step = 0

    @initialize(qty=quantities(200), side=st.sampled_from(list(Side)))
    def start(self, qty: Decimal, side: Side) -> None:
        self.order = order(request(quantity=qty, side=side.value))

    @rule(trade_event=trade_events())
    def status_event(self, trade_event: TradeEvent) -> None:
        before = self.order
        self.step += 1
        at = NOW + timedelta(seconds=self.step)
        try:
            after, events = apply_event(before, trade_event, now=at, ts_event=at)
        except InvalidTransition:
            event("status event refused")
            assert not before.is_terminal, "a terminal order absorbs status events"
            assert (before.status, trade_event) not in TRANSITIONS
            return
        if before.is_terminal:
            event("status event absorbed by a terminal order")
            assert (before, []) == (after, events)
        else:
            assert (before.status, trade_event) in TRANSITIONS
        assert (before.filled_quantity, before.execution_ids) == (after.filled_quantity, after.execution_ids)
        self.order = after

    @rule(data=st.data(), price=prices())
    def fill_arrives(self, data: st.DataObject, price: Decimal) -> None:
        before = self.order
        remaining = int(before.remaining_quantity * 10_000)
        ticks = data.draw(
            st.sampled_from([remaining, remaining + 1]) | st.integers(1, max(remaining, 1) + 5_000),
            label="ticks",
        )
        if ticks <= 0:
            return
        qty = Decimal(ticks).scaleb(-4)
        self.step += 1
        new = Fill(
            order_id=before.id,
            execution_id=ExecutionId(f"x-{self.step}"),
            symbol=before.symbol,
            side=before.side,
            quantity=qty,
            price=price,
            timestamp=NOW + timedelta(seconds=self.step),
        )
        try:
            after = fill_order(before, new, now=new.timestamp)
        except InvalidTransition:
            event("fill on a rejected order refused")
            assert before.status is S.REJECTED
            return
        except Overfill:
            event("overfill refused")
            assert before.filled_quantity + qty > before.quantity
            return
        if before.is_terminal:
            event(f"late fill applied to a {before.status} order, now {after.status if after else None}")
        assert before.status is not S.REJECTED
        assert after is not None
        assert before.filled_quantity + qty == after.filled_quantity
        self.applied.append(new)
        self.order = after

    @rule(ticks=st.integers(-50_000, 0), price=prices())
    def malformed_fill(self, ticks: int, price: Decimal) -> None:
        """A fill of zero or fewer shares is refused: it would not count up."""
        self.step += 1
        bad = fill(self.order, Decimal(ticks).scaleb(-4), price, execution_id=f"bad-{self.step}")

        with pytest.raises(InvalidTransition):
            fill_order(self.order, bad, now=NOW)

    @precondition(lambda self: self.applied)
    @rule(data=st.data())
    def duplicate_fill(self, data: st.DataObject) -> None:
        seen = data.draw(st.sampled_from(self.applied), label="duplicate")

        assert fill_order(self.order, seen, now=NOW + timedelta(hours=1)) is None

    @precondition(lambda self: self.order.filled_quantity > 0)
    @rule(price=prices())
    def backfill_already_counted(self, price: Decimal) -> None:
        """A poll makes a fill up from a cumulative quantity we already hold."""
        o = self.order
        self.step += 1
        made_up = made_up_execution_id(BrokerOrderId(f"b-{self.step}"), o.filled_quantity)
        stale = fill(o, "0.0001", price, execution_id=made_up)

        assert fill_order(o, stale, cumulative_quantity=o.filled_quantity, now=NOW) is None

    @precondition(lambda self: self.order.broker_order_id is None)
    @rule(status=st.sampled_from([S.NEW, S.ACCEPTED, S.PENDING_NEW]))
    def rest_answer(self, status: OrderStatus) -> None:
        before = self.order
        after, _ = mark_submitted(before, broker_order_id=BrokerOrderId("b-1"), status=status, now=NOW, ts_event=NOW)

        assert after.status is (status if before.status is S.PENDING_NEW else before.status)
        self.order = after

    @invariant()
    def filled_stays_within_quantity(self) -> None:
        assert Decimal(0) <= self.order.filled_quantity <= self.order.quantity

    @invariant()
    def filled_never_decreases(self) -> None:
        assert self.order.filled_quantity >= self.high_water
        self.high_water = self.order.filled_quantity

    @invariant()
    def filled_is_the_sum_of_applied_fills(self) -> None:
        o = self.order
        assert sum((f.quantity for f in self.applied), Decimal(0)) == o.filled_quantity
        assert sum((f.quantity * f.price for f in self.applied), Decimal(0)) == o.filled_notional
        assert {f.execution_id for f in self.applied} == o.execution_ids

    @invariant()
    def terminal_is_forever(self) -> None:
        """Once terminal, the status stays; only a late fill that completes it makes it filled."""
        status = self.order.status
        if self.terminal_as is not None:
            assert status in (self.terminal_as, S.FILLED)
        if status.is_terminal:
            self.terminal_as = status

    @invariant()
    def filled_status_means_complete(self) -> None:
        o = self.order
        assert (o.status is S.FILLED) == (o.filled_quantity == o.quantity)
        assert (o.filled_at is not None) == (o.status is S.FILLED)

    @invariant()
    def average_price_lies_within_the_fills(self) -> None:
        avg = self.order.average_fill_price
        if self.applied:
            assert avg is not None
            assert min(f.price for f in self.applied) <= avg <= max(f.price for f in self.applied)
        else:
            assert avg is None


OrderLifecycle.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestOrderLifecycle = OrderLifecycle.TestCase
