"""The spec's REST shapes (trading-engine-service.md) as JSON Schemas, field by field.

They hold what the spec writes and nothing more: required fields, their JSON types and the
status words. Our extra fields are allowed beside them. Responses are checked against these, and
the OpenAPI document is checked to declare every one of these fields with the same type.
"""

from __future__ import annotations

from typing import Any, Final

NUMBER: Final = {"type": "number"}
STRING: Final = {"type": "string"}
BOOLEAN: Final = {"type": "boolean"}
DATETIME: Final = {"type": "string", "format": "date-time"}
ORDER_STATUS: Final = {"enum": ["new", "partially_filled", "filled", "cancelled", "rejected"]}
SUBMIT_STATUS: Final = {"enum": ["pending", "accepted", "rejected"]}


def obj(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "object", "required": sorted(required), "properties": {**required, **(optional or {})}}


SUBMIT_REQUEST: Final = obj(
    {"symbol": STRING, "side": {"enum": ["buy", "sell"]}, "quantity": NUMBER, "type": STRING},
    {
        "timeInForce": {"enum": ["day", "gtc", "ioc", "fok"]},
        "limitPrice": NUMBER,
        "stopPrice": NUMBER,
        "extendedHours": BOOLEAN,
        "clientOrderId": STRING,
        "strategyId": STRING,
    },
)
SUBMIT_RESPONSE: Final = obj({"orderId": STRING, "status": SUBMIT_STATUS, "createdAt": DATETIME})
CANCEL_RESPONSE: Final = obj({"success": BOOLEAN, "message": STRING})
ORDER: Final = obj(
    {
        "orderId": STRING,
        "symbol": STRING,
        "side": {"enum": ["buy", "sell"]},
        "quantity": NUMBER,
        "filledQuantity": NUMBER,
        "status": ORDER_STATUS,
        "createdAt": STRING,
        "updatedAt": STRING,
    },
    {"averagePrice": NUMBER},
)
ORDER_LIST: Final = obj({"orders": {"type": "array", "items": ORDER}}, {"nextCursor": STRING})
POSITION: Final = obj(
    {
        "symbol": STRING,
        "quantity": NUMBER,
        "side": {"enum": ["long", "short"]},
        "averageEntryPrice": NUMBER,
        "currentPrice": NUMBER,
        "marketValue": NUMBER,
        "unrealizedPnl": NUMBER,
        "unrealizedPnlPercent": NUMBER,
    }
)
POSITION_LIST: Final = obj(
    {"positions": {"type": "array", "items": POSITION}, "totalEquity": NUMBER, "buyingPower": NUMBER}
)
CLOSE_POSITION: Final = obj({"orderId": STRING, "status": STRING})
CLOSE_ALL: Final = obj({"closedCount": NUMBER, "orderIds": {"type": "array", "items": STRING}})
ACCOUNT: Final = obj(
    {
        "accountId": STRING,
        "equity": NUMBER,
        "cash": NUMBER,
        "buyingPower": NUMBER,
        "daytradeCount": NUMBER,
        "patternDayTrader": BOOLEAN,
        "tradingBlocked": BOOLEAN,
        "accountBlocked": BOOLEAN,
    }
)
PRE_TRADE_VALIDATION: Final = obj(
    {
        "checks": obj(
            dict.fromkeys(
                (
                    "buyingPower",
                    "positionLimit",
                    "dailyLossLimit",
                    "marketSession",
                    "symbolTradable",
                    "washTrade",
                    "patternDayTrader",
                ),
                BOOLEAN,
            )
        ),
        "approved": BOOLEAN,
    },
    {"rejectionReason": STRING},
)
HEALTH: Final = obj(
    {
        "status": STRING,
        "checks": obj(dict.fromkeys(("database", "alpaca", "eventBus", "websocket"), STRING)),
        "lastOrderAt": {"type": ["string", "null"]},
        "openPositions": NUMBER,
        "pendingOrders": NUMBER,
    }
)
ERROR: Final = obj({"code": STRING, "message": STRING, "details": {"type": "object"}})
REJECTION: Final = obj(
    {"code": STRING, "message": STRING, "details": {"type": "object"}, "orderId": STRING, "reason": STRING},
    {"status": {"const": "rejected"}},
)

PATHS: Final[dict[tuple[str, str], dict[str, Any]]] = {
    ("post", "/api/v1/orders"): SUBMIT_RESPONSE,
    ("delete", "/api/v1/orders/{orderId}"): CANCEL_RESPONSE,
    ("get", "/api/v1/orders/{orderId}"): ORDER,
    ("get", "/api/v1/orders"): ORDER_LIST,
    ("get", "/api/v1/positions"): POSITION_LIST,
    ("get", "/api/v1/positions/{symbol}"): POSITION,
    ("delete", "/api/v1/positions/{symbol}"): CLOSE_POSITION,
    ("delete", "/api/v1/positions"): CLOSE_ALL,
    ("get", "/api/v1/account"): ACCOUNT,
    ("get", "/health"): HEALTH,
}
"""Each endpoint of the spec and the shape of its success response."""

REQUESTS: Final[dict[tuple[str, str], dict[str, Any]]] = {("post", "/api/v1/orders"): SUBMIT_REQUEST}
