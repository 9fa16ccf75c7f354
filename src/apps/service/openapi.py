"""The OpenAPI document says exactly what the server enforces.

Litestar documents each field's type, bounds and pattern from the request types; what it cannot
see is added here, once the document is generated: unknown fields are refused (the bodies'
`forbid_unknown_fields`), the rules between fields that `OrderRequest.create` applies (a limit
order needs a limit price, a market order takes none, extended hours are for limit orders of the
day), a PATCH names something to change, a body typed `X | None` may be left out, and `/health`
and `/metrics` take no token. A schemathesis run (tests/service/test_schemathesis.py) holds the
server to this document in both directions.
"""

from __future__ import annotations

from typing import Any, Final

from litestar.openapi.spec import (
    Link,
    OpenAPI,
    OpenAPIFormat,
    OpenAPIType,
    Operation,
    Parameter,
    Reference,
    Schema,
)

from adapters.cursor import CURSOR_PATTERN, FILL_CURSOR_PATTERN
from apps.service.controllers.history import INSTANT_PATTERN

_NUMBER: Final = Schema(type=OpenAPIType.NUMBER)
_NULL: Final = Schema(type=OpenAPIType.NULL)


def _needs_price_for(types: list[str], price: str, *, unless: Schema | None = None) -> Schema:
    """`price` is required (a number) for `types` (but not when `unless` holds), absent or null otherwise."""
    when = Schema(properties={"type": Schema(enum=types)}, required=["type"])
    return Schema(
        schema_if=when if unless is None else Schema(all_of=[when, Schema(schema_not=unless)]),
        then=Schema(required=[price], properties={price: _NUMBER}),
        schema_else=Schema(properties={price: _NULL}),
    )


def _class_is(name: str) -> Schema:
    return Schema(properties={"orderClass": Schema(const=name)}, required=["orderClass"])


def _given(field: str) -> Schema:
    return Schema(required=[field], properties={field: Schema(type=OpenAPIType.OBJECT)})


def _absent(*fields: str) -> Schema:
    return Schema(properties=dict.fromkeys(fields, _NULL))


def _one_of_two(first: str, second: str, given: Schema) -> Schema:
    """Exactly one of `first` and `second` is given (as `given` says), the other absent or null."""
    return Schema(
        one_of=[
            Schema(all_of=[Schema(required=[first], properties={first: given}), _absent(second)]),
            Schema(all_of=[Schema(required=[second], properties={second: given}), _absent(first)]),
        ]
    )


_CLASS_ENTRY: Final = Schema(
    properties={"timeInForce": Schema(enum=["day", "gtc"]), "extendedHours": Schema(const=False)},
)
"""Every class's entry: time in force day or gtc, not in extended hours."""


def _class_rule(name: str, types: list[str], exits: Schema, description: str) -> Schema:
    return Schema(
        description=description,
        schema_if=_class_is(name),
        then=Schema(all_of=[Schema(properties={"type": Schema(enum=types)}), _CLASS_ENTRY, exits]),
    )


_SUBMIT_RULES: Final = [
    _needs_price_for(["limit", "stop_limit"], "limitPrice", unless=_class_is("oco")),
    _needs_price_for(["stop", "stop_limit"], "stopPrice"),
    Schema(
        description="extendedHours is for limit orders with time in force day.",
        schema_if=Schema(properties={"extendedHours": Schema(const=True)}, required=["extendedHours"]),
        then=Schema(properties={"type": Schema(const="limit"), "timeInForce": Schema(const="day")}),
    ),
    Schema(
        description=(
            "A trailing_stop takes exactly one of trailPrice and trailPercent, time in force day or gtc; "
            "other types take neither."
        ),
        schema_if=Schema(properties={"type": Schema(const="trailing_stop")}, required=["type"]),
        then=Schema(
            all_of=[
                _one_of_two("trailPrice", "trailPercent", _NUMBER),
                Schema(properties={"timeInForce": Schema(enum=["day", "gtc"])}),
            ]
        ),
        schema_else=_absent("trailPrice", "trailPercent"),
    ),
    Schema(
        description="A simple order (the default orderClass) takes no takeProfit and no stopLoss.",
        schema_if=Schema(properties={"orderClass": Schema(const="simple")}),
        then=_absent("takeProfit", "stopLoss"),
    ),
    _class_rule(
        "bracket",
        ["market", "limit"],
        Schema(all_of=[_given("takeProfit"), _given("stopLoss")]),
        "A bracket: a market or limit entry with a takeProfit and a stopLoss.",
    ),
    _class_rule(
        "oto",
        ["market", "limit", "stop", "stop_limit"],
        _one_of_two("takeProfit", "stopLoss", Schema(type=OpenAPIType.OBJECT)),
        "An OTO: an entry with exactly one exit, a takeProfit or a stopLoss.",
    ),
    _class_rule(
        "oco",
        ["limit"],
        Schema(all_of=[_given("takeProfit"), _given("stopLoss"), _absent("limitPrice")]),
        "An OCO: an exit pair, a limit order whose price is its takeProfit.limitPrice (no limitPrice of its own).",
    ),
]
_SUBMIT_RULES_TEXT: Final = (
    "An order. Besides the rules below, the server checks what a schema cannot say, each answered 400 "
    "INVALID_ORDER naming the field. Where the exits sell (a buy's bracket or OTO, a sell OCO): "
    "takeProfit.limitPrice at least 0.01 above stopLoss.stopPrice, and a stopLoss.limitPrice at or below "
    "its stopPrice (the other way round where they buy). A bracket's or OTO's exits at least 0.01 on their "
    "sides of the entry's limit or stop price, or of the current price for a market entry."
)

_MODIFY_FIELDS: Final = ("quantity", "limitPrice", "stopPrice", "timeInForce", "trailPrice", "trailPercent")

RULES: Final[dict[str, dict[str, Any]]] = {
    "SubmitOrderRequest": {"all_of": _SUBMIT_RULES, "description": _SUBMIT_RULES_TEXT},
    "ModifyOrderRequest": {
        "any_of": [
            Schema(required=[f], properties={f: Schema(schema_not=_NULL)}, description=f"{f} is given")
            for f in _MODIFY_FIELDS
        ],
        "schema_not": Schema(
            required=["trailPrice", "trailPercent"], properties={"trailPrice": _NUMBER, "trailPercent": _NUMBER}
        ),
        "description": (
            "At least one of quantity, limitPrice, stopPrice, timeInForce, trailPrice and trailPercent, not "
            "null; at most one of trailPrice and trailPercent, the kind of trail the trailing stop has (a "
            "replacement cannot switch between them). A change the order does not take (a limitPrice for a "
            "stop order, a trail for another type or of the other kind) is refused 422 INVALID_MODIFICATION "
            "naming the field."
        ),
    },
}
"""Component name -> what its schema gains beyond its fields."""

PARAMETER_PATTERNS: Final = {
    ("/api/v1/orders", "get", "after"): CURSOR_PATTERN,
    ("/api/v1/fills", "get", "after"): FILL_CURSOR_PATTERN,
    ("/api/v1/positions/history", "get", "after"): FILL_CURSOR_PATTERN,
}

INSTANT_PARAMETERS: Final = frozenset(("since", "until", "start", "end"))
"""Query parameters read as RFC 3339 instants (`controllers.history.aware`) on every GET that has them."""
"""Parameters the server checks itself (to answer with a code of their own, `INVALID_CURSOR`)."""

_ORDER_ID: Final = {"orderId": "$response.body#/orderId"}
LINKS: Final = {
    ("/api/v1/orders", "post", status): {
        "GetOrder": Link(operation_id="ApiV1OrdersOrderidGetOrder", parameters=_ORDER_ID),
        "ModifyOrder": Link(operation_id="ApiV1OrdersOrderidModify", parameters=_ORDER_ID),
        "CancelOrder": Link(operation_id="ApiV1OrdersOrderidCancel", parameters=_ORDER_ID),
    }
    for status in ("201", "202")
}
"""The order an answer names, and what can be done with it next (schemathesis follows these)."""

EXAMPLES: Final[dict[str, list[dict[str, Any]]]] = {
    "SubmitOrderRequest": [
        {"symbol": "AAPL", "side": "buy", "quantity": 10, "type": "market"},
        {"symbol": "MSFT", "side": "buy", "quantity": 5, "type": "limit", "limitPrice": 300.5, "timeInForce": "gtc"},
        {"symbol": "AAPL", "side": "sell", "quantity": 2, "type": "stop", "stopPrice": 150, "clientOrderId": "s7-001"},
        {
            "symbol": "AAPL",
            "side": "buy",
            "quantity": 4,
            "type": "limit",
            "limitPrice": 185,
            "orderClass": "bracket",
            "takeProfit": {"limitPrice": 200},
            "stopLoss": {"stopPrice": 175, "limitPrice": 174.5},
        },
        {"symbol": "AAPL", "side": "sell", "quantity": 3, "type": "trailing_stop", "trailPercent": 2.5},
    ],
    "ModifyOrderRequest": [{"quantity": 8}, {"limitPrice": 301.25}, {"trailPercent": 1.5}],
    "ClosePositionRequest": [{"quantity": 2}],
    "RiskResetRequest": [{"by": "ops@desk", "reason": "loss recovered"}],
    "PaperPriceRequest": [{"price": 187.5}],
}
"""Requests as a client would send them: shown on the documentation page and sent first by schemathesis."""

CLOSED_BODIES: Final = (
    "SubmitOrderRequest",
    "TakeProfitBody",
    "StopLossBody",
    "ModifyOrderRequest",
    "ClosePositionRequest",
    "RiskResetRequest",
    "PaperPriceRequest",
)
"""Request bodies that refuse a field they do not name (msgspec's `forbid_unknown_fields`)."""


def finish(document: OpenAPI, *, public: set[tuple[str, str]]) -> None:
    """Add to Litestar's generated `document` what it cannot know; `public` is (method, path) open without a token."""
    schemas = (document.components.schemas if document.components else None) or {}
    for name in CLOSED_BODIES:
        if name in schemas:  # PaperPriceRequest: only with the paper exchange
            schemas[name].additional_properties = False
    for name, examples in EXAMPLES.items():
        if name in schemas:
            schemas[name].examples = [dict(e) for e in examples]
    for name, rules in RULES.items():
        for key, value in rules.items():
            setattr(schemas[name], key, value)
    for path, item in (document.paths or {}).items():
        for method in ("get", "put", "post", "delete", "patch", "head"):
            operation = getattr(item, method, None)
            if operation is not None:
                _finish_operation(operation, path, method, public=(method.upper(), path) in public)


def _finish_operation(operation: Operation, path: str, method: str, *, public: bool) -> None:
    if public:
        operation.security = []  # an empty list lifts the document's bearer requirement
    for parameter in operation.parameters or []:
        pattern = PARAMETER_PATTERNS.get((path, method, getattr(parameter, "name", "")))
        if pattern is not None and isinstance(parameter, Parameter) and isinstance(parameter.schema, Schema):
            parameter.schema = Schema(type=OpenAPIType.STRING, pattern=pattern, description=parameter.description)
        if isinstance(parameter, Parameter) and parameter.name in INSTANT_PARAMETERS and parameter.param_in == "query":
            parameter.schema = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.DATE_TIME, pattern=INSTANT_PATTERN)
    responses = operation.responses or {}
    _refusal_or_error(responses)
    for status, response in responses.items():
        links = LINKS.get((path, method, status))
        if links is not None and not isinstance(response, Reference):
            response.links = dict(links)
    body = operation.request_body
    if body is not None and not isinstance(body, Reference) and body.content and _nullable(body):
        body.required = False


def _refusal_or_error(responses: dict[str, Any]) -> None:
    """A 422 is a refused order kept for audit, or an error with no order (more than is held, say)."""
    response = responses.get("422")
    content = getattr(response, "content", None) or {}
    for media in content.values():
        if isinstance(media.schema, Reference) and media.schema.ref.endswith("/RejectedOrderBody"):
            media.schema = Schema(any_of=[media.schema, Reference(ref="#/components/schemas/ErrorBody")])


def _nullable(body: Any) -> bool:
    """A body typed `X | None` may be left out; Litestar documents every body as required."""
    schema = next(iter(body.content.values())).schema
    options = getattr(schema, "one_of", None) or []
    return any(getattr(o, "type", None) == OpenAPIType.NULL for o in options)
