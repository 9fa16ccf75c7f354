"""Subjects, commands, times and the decision codec: the pure parts of the NATS edge."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from adapters.codec import EncodedEvent, EventRecord, decode_json, encode_envelope, encode_json, rfc3339
from adapters.codec.commands import InvalidCommand, decode_command, decode_decision
from adapters.codec.events import event_payload
from adapters.nats.config import Command, NatsSettings, command_for, event_subject
from adapters.nats.connection import covers
from adapters.outbox import LazyOutboxMessage
from tests.contract.lifecycle import lifecycle_events
from trading_core.decisions import Decision
from trading_core.enums import OrderClass
from trading_core.errors import InvalidOrder
from trading_core.events import EVENT_TYPES, Event
from trading_core.order_classes import StopLoss, TakeProfit
from trading_core.values import EventId

DECISION_ID = "0b8f3f7e-7d3c-4b7e-9a59-1f4f0b6b2c11"


class TestSubjects:
    def test_the_spec_example(self) -> None:
        assert event_subject("trade.order.filled", "ai-trader.trade") == "ai-trader.trade.order.filled"

    @pytest.mark.parametrize("event", EVENT_TYPES, ids=lambda c: c.TYPE)
    def test_every_event_goes_under_the_publish_prefix(self, event: type) -> None:
        expected = "ai-trader." + event.TYPE  # type: ignore[attr-defined]

        actual = NatsSettings().subject_for(event.TYPE)  # type: ignore[attr-defined]

        assert expected == actual

    def test_another_prefix_replaces_the_namespace(self) -> None:
        assert event_subject("trade.position.closed", "staging.trading") == "staging.trading.position.closed"

    @pytest.mark.parametrize("bad", ["order.filled", "ai.decision.generated", "trade.", "trade.order.*", "trade"])
    def test_types_outside_the_namespace_are_refused(self, bad: str) -> None:
        with pytest.raises(ValueError, match="trade"):
            event_subject(bad, "ai-trader.trade")

    def test_the_default_settings_are_the_specs(self) -> None:
        s = NatsSettings()

        assert s.publish_prefix == "ai-trader.trade"
        assert s.events_subjects == ["ai-trader.trade.>"]
        assert s.subscriptions == (
            "ai-trader.ai.decision.generated",
            "ai-trader.market.session.*",
            "ai-trader.system.shutdown",
        )

    def test_settings_under_another_root(self) -> None:
        s = NatsSettings.under("t1.ai-trader")

        assert s.subject_for("trade.order.partial") == "t1.ai-trader.trade.order.partial"
        assert s.subscriptions[0] == "t1.ai-trader.ai.decision.generated"

    @pytest.mark.parametrize(
        ("field", "value"),
        [("publish_prefix", "ai-trader.>"), ("subscriptions", ("ai-trader.>",)), ("events_stream", "A.B")],
    )
    def test_bad_settings_are_refused(self, field: str, value: object) -> None:
        with pytest.raises(ValueError, match=field):
            NatsSettings(**{field: value})  # type: ignore[arg-type]


class TestCommands:
    @pytest.mark.parametrize(
        ("subject", "expected"),
        [
            ("ai-trader.ai.decision.generated", Command.DECISION),
            ("ai-trader.market.session.opened", Command.SESSION_OPENED),
            ("ai-trader.market.session.closed", Command.SESSION_CLOSED),
            ("ai-trader.system.shutdown", Command.SHUTDOWN),
            ("t9.ai-trader.system.shutdown", Command.SHUTDOWN),
            ("ai-trader.market.session.halted", None),
            ("ai-trader.xsystem.shutdown", None),
        ],
    )
    def test_subject_names_the_command(self, subject: str, expected: Command | None) -> None:
        assert command_for(subject) == expected


class TestTimes:
    def test_utc_with_z(self) -> None:
        assert rfc3339(datetime(2026, 3, 2, 15, 0, tzinfo=UTC)) == "2026-03-02T15:00:00Z"

    def test_other_zones_are_converted(self) -> None:
        moment = datetime(2026, 3, 2, 10, 0, 0, 500, tzinfo=timezone(timedelta(hours=-5)))

        assert rfc3339(moment) == "2026-03-02T15:00:00.000500Z"

    def test_naive_times_are_refused(self) -> None:
        with pytest.raises(ValueError, match="timezone"):
            rfc3339(datetime(2026, 3, 2, 15, 0))


class TestJson:
    def test_decimals_keep_every_digit(self) -> None:
        value = {"a": Decimal("12345678901.12345678"), "b": Decimal("0.0001"), "c": Decimal("-3.50")}

        text = encode_json(value)

        assert text == b'{"a":12345678901.12345678,"b":0.0001,"c":-3.50}'
        assert decode_json(text) == value
        assert json.loads(text, parse_float=Decimal) == value

    def test_zero_and_tiny_amounts_are_written_out_not_in_scientific_notation(self) -> None:
        value = {"pnl": Decimal("0.00000000"), "fee": Decimal("-1E-8"), "id": EventId("E-1"), "lot": Decimal("1E+2")}

        text = encode_json(value)

        assert text == b'{"pnl":0.00000000,"fee":-0.00000001,"id":"E-1","lot":100}'
        assert decode_json(text) == value

    def test_identifier_subclasses_of_str_encode_as_strings(self) -> None:
        assert encode_json({"id": EventId("x")}) == b'{"id":"x"}'


class TestMessages:
    def test_encoded_event_builds_its_payload_once_and_lazily(self) -> None:
        event = lifecycle_events()[0]
        built: list[Event] = []

        def payload_of(e: Event) -> dict[str, object]:
            built.append(e)
            return event_payload(e)

        lazy = LazyOutboxMessage(event, payload_of)  # what EncodedEvent is, with `event_payload`
        assert built == []
        assert lazy.payload is lazy.payload
        assert built == [event]
        message = EncodedEvent(event)
        first = message.payload
        assert message.payload is first
        assert first == lazy.payload
        assert (message.event_id, message.type, message.occurred_at) == (event.event_id, event.TYPE, event.ts_event)

    def test_a_stored_record_encodes_like_the_event_it_came_from(self) -> None:
        event = lifecycle_events()[2]
        message = EncodedEvent(event)
        record = EventRecord(
            event_id=message.event_id,
            type=message.type,
            occurred_at=message.occurred_at,
            payload=decode_json(encode_json(message.payload)),
        )

        assert encode_envelope(record) == encode_envelope(event)


def decision_json(**fields: object) -> bytes:
    body: dict[str, object] = {
        "decisionId": DECISION_ID,
        "strategyId": "6F1D2C3B-4A59-4E7D-8C1B-2A3F4E5D6C7B",
        "symbol": "aapl",
        "side": "buy",
        "quantity": Decimal("10.5"),
        "type": "limit",
        "timeInForce": "gtc",
        "limitPrice": "187.25",
        "approved": True,
        "confidence": Decimal("0.82"),
        "reasoning": "momentum",
        "createdAt": "2026-03-02T14:29:59Z",
    }
    body.update(fields)
    return encode_json({k: v for k, v in body.items() if v is not ...})


class TestDecisions:
    def test_a_decision_decodes_with_exact_amounts(self) -> None:
        decision = decode_decision(decision_json())

        assert decision == Decision(
            decision_id=DECISION_ID,
            strategy_id="6f1d2c3b-4a59-4e7d-8c1b-2a3f4e5d6c7b",
            symbol="aapl",
            side="buy",
            type="limit",
            time_in_force="gtc",
            quantity=Decimal("10.5"),
            limit_price=Decimal("187.25"),
            approved=True,
            confidence=Decimal("0.82"),
            reasoning="momentum",
            created_at=datetime(2026, 3, 2, 14, 29, 59, tzinfo=UTC),
        )

    def test_an_approved_decision_becomes_a_validated_request(self) -> None:
        request = decode_decision(decision_json()).to_request()

        assert (request.symbol, request.quantity, request.limit_price) == (
            "AAPL",
            Decimal("10.5000"),
            Decimal("187.25"),
        )
        assert request.decision_id == DECISION_ID

    def test_a_decision_with_both_exits_becomes_a_bracket(self) -> None:
        body = decision_json(takeProfit={"limitPrice": "200"}, stopLoss={"stopPrice": 180, "limitPrice": "179.5"})

        request = decode_decision(body).to_request()

        assert (request.order_class, request.take_profit, request.stop_loss) == (
            OrderClass.BRACKET,
            TakeProfit(Decimal(200)),
            StopLoss(Decimal(180), Decimal("179.5")),
        )

    def test_a_decision_with_one_exit_becomes_an_oto_and_a_class_given_is_kept(self) -> None:
        oto = decode_decision(decision_json(stopLoss={"stopPrice": "180"})).to_request()
        oco = decode_decision(
            decision_json(
                side="sell",
                limitPrice=None,
                orderClass="oco",
                takeProfit={"limitPrice": "200"},
                stopLoss={"stopPrice": "180"},
            )
        ).to_request()

        assert (oto.order_class, oto.take_profit, oto.stop_loss) == (OrderClass.OTO, None, StopLoss(Decimal(180)))
        assert (oco.order_class, oco.limit_price) == (OrderClass.OCO, Decimal(200))

    @pytest.mark.parametrize(
        "exits",
        [
            {"takeProfit": {"stopPrice": "1"}},
            {"takeProfit": {"limitPrice": "200", "extra": 1}},
            {"stopLoss": {"limitPrice": "180"}},
            {"stopLoss": {"stopPrice": -1}},
            {"orderClass": "triangle"},
        ],
    )
    def test_a_malformed_exit_is_refused_by_the_schema(self, exits: dict[str, object]) -> None:
        with pytest.raises(InvalidCommand):
            decode_decision(decision_json(**exits))

    def test_exits_on_the_wrong_side_fail_in_to_request_naming_the_field(self) -> None:
        decision = decode_decision(decision_json(takeProfit={"limitPrice": "180"}, stopLoss={"stopPrice": "170"}))

        with pytest.raises(InvalidOrder) as e:
            decision.to_request()

        assert e.value.field == "take_profit.limit_price"

    def test_a_decision_inside_a_cloudevent_is_read(self) -> None:
        wrapped = encode_json({"specversion": "1.0", "id": "x", "data": decode_json(decision_json())})

        assert decode_decision(wrapped).decision_id == DECISION_ID

    def test_a_decision_not_approved_needs_no_order_fields(self) -> None:
        decision = decode_decision(encode_json({"decisionId": DECISION_ID, "approved": False, "reasoning": "no edge"}))

        assert (decision.approved, decision.symbol) == (False, None)

    def test_an_order_the_broker_would_refuse_fails_in_to_request(self) -> None:
        decision = decode_decision(decision_json(type="market"))

        with pytest.raises(InvalidOrder, match="limit_price"):
            decision.to_request()

    def test_expiry(self) -> None:
        decision = decode_decision(decision_json(expiresAt="2026-03-02T14:31:00Z"))

        assert not decision.is_expired(datetime(2026, 3, 2, 14, 30, tzinfo=UTC))
        assert decision.is_expired(datetime(2026, 3, 2, 14, 31, tzinfo=UTC))

    @pytest.mark.parametrize(
        ("body", "fragment"),
        [
            (b"not json", "not JSON"),
            (b"[1, 2]", "object"),
            (b"", "empty"),
            (decision_json(decisionId="nope"), "decisionId"),
            (decision_json(symbol=...), "symbol"),
            (decision_json(quantity=...), "quantity"),
            (decision_json(quantity=Decimal("-1")), "quantity"),
            (decision_json(side="hold"), "side"),
            (decision_json(approved="yes"), "approved"),
            (decision_json(createdAt="yesterday"), "createdAt"),
        ],
    )
    def test_invalid_decisions_are_refused_with_the_reason(self, body: bytes, fragment: str) -> None:
        with pytest.raises(InvalidCommand, match=fragment):
            decode_decision(body)

    def test_a_refused_decision_keeps_its_raw_body(self) -> None:
        with pytest.raises(InvalidCommand) as caught:
            decode_decision(decision_json(side="hold"))

        assert caught.value.raw is not None
        assert caught.value.raw["decisionId"] == DECISION_ID

    def test_session_bodies_may_be_empty(self) -> None:
        assert decode_command(b"", "market.session.schema.json", allow_empty=True) == {}
        assert decode_command(b'{"session": "regular"}', "market.session.schema.json") == {"session": "regular"}
        with pytest.raises(InvalidCommand, match="session"):
            decode_command(b'{"session": "lunch"}', "market.session.schema.json")


@pytest.mark.parametrize(
    ("pattern", "subject", "expected"),
    [
        ("a.b.c", "a.b.c", True),
        ("a.*.c", "a.b.c", True),
        ("a.>", "a.b.*", True),
        ("a.>", "a", False),
        ("a.b.*", "a.b.*", True),
        ("a.b.*", "a.b.>", False),
        ("a.b", "a.b.c", False),
        ("a.b.c", "a.b.*", False),
        ("a.*", "a.b.c", False),
    ],
)
def test_stream_subject_coverage(pattern: str, subject: str, expected: bool) -> None:
    assert covers(pattern, subject) is expected


def test_json_nested_too_deeply_is_refused_as_unreadable_not_a_recursion_error() -> None:
    with pytest.raises(ValueError, match="nested too deeply"):
        decode_json(b"[" * 100_000 + b"]" * 100_000)
