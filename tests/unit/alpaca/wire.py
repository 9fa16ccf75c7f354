"""Alpaca JSON as Alpaca sends it, for unit tests (composed examples, like the protocol doc's)."""

from __future__ import annotations

import uuid
from typing import Any


def order_json(**changes: Any) -> dict[str, Any]:
    """A complete Alpaca Order object: a resting limit buy of 10 AAPL, changed by `changes`."""
    order: dict[str, Any] = {
        "id": "04186cf5-a0d9-4884-b4a1-fc918f756949",
        "client_order_id": "strat7-000183",
        "created_at": "2026-03-02T15:04:05.123456789Z",
        "updated_at": "2026-03-02T15:04:05.130102334Z",
        "submitted_at": "2026-03-02T15:04:05.120007111Z",
        "filled_at": None,
        "expired_at": None,
        "canceled_at": None,
        "failed_at": None,
        "replaced_at": None,
        "replaced_by": None,
        "replaces": None,
        "asset_id": "4be0a7f0-27fb-47b8-9596-eb0cc062bdc3",
        "symbol": "AAPL",
        "asset_class": "us_equity",
        "notional": None,
        "qty": "10",
        "filled_qty": "0",
        "filled_avg_price": None,
        "order_class": "",
        "order_type": "limit",
        "type": "limit",
        "side": "buy",
        "time_in_force": "gtc",
        "limit_price": "172.4",
        "stop_price": None,
        "status": "new",
        "extended_hours": False,
        "legs": None,
        "trail_percent": None,
        "trail_price": None,
        "hwm": None,
        "position_intent": "buy_to_open",
    }
    order.update(changes)
    return order


def fill_json(order: dict[str, Any], *, event: str, qty: str, price: str, **extra: Any) -> dict[str, Any]:
    return {
        "event": event,
        "execution_id": str(uuid.uuid4()),
        "timestamp": "2026-03-02T15:04:06.402118522Z",
        "price": price,
        "qty": qty,
        "position_qty": order["filled_qty"],
        "order": order,
        **extra,
    }
