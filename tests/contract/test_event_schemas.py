"""The published wire format keeps the contract in docs/events: every event, built from real domain objects."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from adapters.codec import decode_json, encode_envelope, envelope, event_payload
from tests.contract import schemas
from tests.contract.builders import full_order
from tests.contract.lifecycle import Book, lifecycle_events
from trading_core.events import EVENT_TYPES, Event, OrderSubmitted
from trading_core.orders import Order
from trading_core.requests import OrderRequest
from trading_core.testing import fills_for, order_requests
from trading_core.values import new_client_order_id, new_event_id, new_order_id

EVENTS = lifecycle_events()
SCHEMA_FILES = sorted(p.name for p in schemas.EVENTS_DIR.glob("*.schema.json"))
INBOUND = ("ai.decision.generated.schema.json", "market.session.schema.json", "system.shutdown.schema.json")


def wire(event: Event) -> dict[str, object]:
    """What a consumer reads: the published bytes decoded with exact numbers."""
    return json.loads(encode_envelope(event), parse_float=Decimal)


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_every_schema_is_valid_draft_2020_12(name: str) -> None:
    Draft202012Validator.check_schema(schemas.load(name))


def test_every_published_event_type_has_a_schema() -> None:
    expected = {f"{cls.TYPE}.schema.json" for cls in EVENT_TYPES}

    assert expected <= set(SCHEMA_FILES)


def test_the_lifecycle_produces_every_event_type() -> None:
    """The fixture below covers the whole table, so every schema is exercised."""
    assert {type(e) for e in EVENTS} == set(EVENT_TYPES)


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.TYPE)
def test_published_event_is_valid_against_its_schema(event: Event) -> None:
    assert schemas.errors(event.TYPE, wire(event)) == []


@pytest.mark.parametrize("event", EVENTS[:1] + [e for e in EVENTS if e.TYPE == "trade.position.closed"][:1])
def test_schema_refuses_an_undocumented_field(event: Event) -> None:
    """The schemas are strict on what we publish: a field added to the codec must be documented."""
    document = wire(event)
    document["data"] = {**document["data"], "surprise": 1}

    assert schemas.errors(event.TYPE, document) != []


@pytest.mark.parametrize("event", EVENTS[:1])
def test_schema_refuses_a_missing_field(event: Event) -> None:
    document = wire(event)
    data = dict(document["data"])
    del data["orderId"]
    document["data"] = data

    assert any("orderId" in e for e in schemas.errors(event.TYPE, document))


def test_envelope_follows_cloudevents() -> None:
    event = EVENTS[0]

    actual = wire(event)

    assert actual["specversion"] == "1.0"
    assert actual["id"] == str(event.event_id)
    assert actual["type"] == "trade.order.submitted"
    assert actual["source"] == "trading-engine"
    assert actual["time"] == "2026-03-02T14:30:00.623456Z"
    assert actual["datacontenttype"] == "application/json"


def test_amounts_travel_as_exact_json_numbers() -> None:
    """No float on the way: digits out are the Decimal's digits, and they read back equal."""
    fill = next(e for e in EVENTS if e.TYPE == "trade.order.filled" and e.fill.price == Decimal("151.3333"))
    text = encode_envelope(fill).decode()

    data = wire(fill)["data"]

    assert '"price":151.3333' in text
    assert data["fill"]["price"] == Decimal("151.3333")
    assert data["realizedPnl"] == fill.realized_pnl
    assert isinstance(data["realizedPnl"], Decimal)


def test_closing_fill_reports_the_realised_pnl() -> None:
    """Bought 4 @150.25 and 6 @150.10, sold 10 of 15 @151.3333: realised 10 x 151.3333 - 1501.60."""
    closed = next(e for e in EVENTS if e.TYPE == "trade.position.closed")

    data = wire(closed)["data"]

    assert data["realizedPnl"] == Decimal("11.7330")
    assert data["quantity"] == 0
    assert data["side"] is None


def test_order_details_name_both_statuses() -> None:
    rejected = next(e for e in EVENTS if e.TYPE == "trade.order.rejected")

    data = wire(rejected)["data"]

    assert (data["status"], data["brokerStatus"]) == ("rejected", "rejected")
    assert (data["code"], data["brokerOrderId"]) == ("INSUFFICIENT_FUNDS", None)


def test_payload_and_envelope_agree() -> None:
    event = EVENTS[1]

    assert envelope(event)["data"] == event_payload(event)


def test_decoding_reads_fractions_as_decimal_and_integers_as_int() -> None:
    assert decode_json(b'{"a": 1.10, "b": 3, "c": 1E-8}') == {"a": Decimal("1.10"), "b": 3, "c": Decimal("1E-8")}


def test_event_payload_refuses_an_unknown_event() -> None:
    with pytest.raises(TypeError):
        event_payload(Event(event_id=EVENTS[0].event_id, ts_event=EVENTS[0].ts_event, ts_init=EVENTS[0].ts_init))


@settings(max_examples=60, deadline=None)
@given(request=order_requests(), data=st.data())
def test_any_execution_publishes_valid_events(request: OrderRequest, data: st.DataObject) -> None:
    """Whatever the order and its fills, every event they announce keeps its schema."""
    book = Book(request.symbol)
    order = book.submit(
        Order.from_request(request, order_id=new_order_id(), client_order_id=new_client_order_id(), now=book.tick())
    )
    for fill in data.draw(fills_for(order)):
        order = book.fill(order, str(fill.quantity), str(fill.price))

    for event in book.events:
        assert schemas.errors(event.TYPE, wire(event)) == [], event


@pytest.mark.parametrize("name", INBOUND)
def test_runtime_copies_of_inbound_schemas_match_the_docs(name: str) -> None:
    """The consumer validates with copies shipped in the package; docs/events is the source."""
    shipped = Path(__file__).parents[2] / "src" / "adapters" / "codec" / "schemas" / name

    assert shipped.read_text() == (schemas.EVENTS_DIR / name).read_text()


def test_a_class_orders_events_carry_its_class_exits_and_legs() -> None:
    """A bracket's parent names its legs and exits, a leg its parent, a trailing stop its mark; all valid."""
    parent = full_order()  # a bracket, with legs, exits, a parent of its own and a mark: every field set
    leg = attrs.evolve(parent, id=parent.legs[0], legs=(), take_profit=None, stop_loss=None, leg_of=parent.id)
    now = parent.updated_at

    documents = [
        wire(OrderSubmitted(event_id=new_event_id(), ts_event=now, ts_init=now, order=o)) for o in (parent, leg)
    ]
    shown: list[Any] = [d["data"] for d in documents]

    assert [schemas.errors("trade.order.submitted", d) for d in documents] == [[], []]
    assert [(d["orderClass"], d["legs"], d["parentOrderId"]) for d in shown] == [
        ("bracket", list(parent.legs), parent.leg_of),
        ("bracket", [], parent.id),
    ]
    assert shown[0]["takeProfit"] == {"limitPrice": 450}
    assert shown[0]["stopLoss"] == {"stopPrice": 400, "limitPrice": Decimal("399.5")}
    assert (shown[0]["hwm"], shown[1]["takeProfit"], shown[1]["stopLoss"]) == (Decimal("415.25"), None, None)
