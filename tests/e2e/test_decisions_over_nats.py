"""Decisions arrive over NATS at the running service: each becomes one order, its events go out on
their subjects and keep their schemas; a malformed one is refused and places nothing."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from tests.contract import schemas
from tests.e2e.conftest import ServiceProcess
from tests.e2e.events import publish_command, publish_raw, published_with_subjects
from tests.e2e.test_lifecycle import eventually


def orders_of(service: ServiceProcess, decision_id: str) -> list[dict[str, Any]]:
    return [
        o
        for o in service.json("GET", "/api/v1/orders?status=all&limit=500")["orders"]
        if o.get("decisionId") == decision_id
    ]


def events_of(nats_url: str, names: dict[str, str], order_id: str) -> list[tuple[str, dict[str, Any]]]:
    messages = asyncio.run(published_with_subjects(nats_url, names["events_stream"]))
    return [(s, e) for s, e in messages if e["data"].get("orderId") == order_id]


def test_a_decision_becomes_one_order_whose_events_keep_their_schemas(
    service: ServiceProcess, nats_url: str, names: dict[str, str]
) -> None:
    decision_id = str(uuid.uuid4())
    decision = {"decisionId": decision_id, "approved": True, "symbol": "JPM", "side": "buy", "quantity": 3}
    subject = f"{names['root']}.ai.decision.generated"
    for attempt in range(2):  # the publisher retries with a new message id: still one order
        asyncio.run(publish_command(nats_url, subject, decision, msg_id=f"{decision_id}-{attempt}"))

    placed = eventually(
        lambda: orders_of(service, decision_id), lambda found: bool(found) and found[0]["status"] == "filled"
    )
    events = eventually(
        lambda: events_of(nats_url, names, placed[0]["orderId"]),
        lambda found: any(e["type"] == "trade.order.filled" for _, e in found),
    )

    assert len(orders_of(service, decision_id)) == 1
    subjects = {e["type"]: s for s, e in events}
    assert subjects["trade.order.submitted"] == f"{names['prefix']}.order.submitted"
    assert subjects["trade.order.filled"] == f"{names['prefix']}.order.filled"
    for _, envelope in events:
        assert schemas.errors(envelope["type"], envelope) == []


def test_a_malformed_decision_is_refused_and_places_no_order(
    service: ServiceProcess, nats_url: str, names: dict[str, str]
) -> None:
    subject = f"{names['root']}.ai.decision.generated"
    asyncio.run(publish_raw(nats_url, subject, b"{not json", msg_id=str(uuid.uuid4())))
    decision_id = str(uuid.uuid4())
    invalid = {
        "decisionId": decision_id,
        "approved": True,
        "symbol": "JPM",
        "side": "buy",
        "quantity": 5,
        "type": "limit",
    }
    asyncio.run(publish_raw(nats_url, subject, json.dumps(invalid).encode(), msg_id=decision_id))

    refused = eventually(lambda: orders_of(service, decision_id), bool)
    rejections = eventually(
        lambda: events_of(nats_url, names, refused[0]["orderId"]),
        lambda found: any(e["type"] == "trade.order.rejected" for _, e in found),
    )

    assert [o["status"] for o in refused] == ["rejected"]
    assert [e["type"] for _, e in rejections] == ["trade.order.rejected"]
    assert rejections[0][1]["data"]["code"] == "INVALID_ORDER"
    assert schemas.errors("trade.order.rejected", rejections[0][1]) == []
    assert service.json("GET", "/api/v1/positions")["positions"] == []
    assert "malformed" in service.log() or "invalid" in service.log().lower()
