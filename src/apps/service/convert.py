"""Domain values -> API bodies (and API requests -> domain requests): the only place the two meet.

One field map: a body's field takes the value of the domain field of the same name, through one
cattrs converter (`_API`), which writes enums as their words and leaves amounts, moments and ids
as they are (the JSON encoder writes them exactly). Only what differs is written here: a field
renamed (an order's `id` is the body's `orderId`) and a field worked out (its `status` is the
spec's word, `api_status`). Building the converter checks that every field of every body is
given one way or the other, so a field added to a body cannot silently go missing.

Amounts are written at one scale per kind (`SCALES`, by body field): quantities, prices and
percentages with four decimal places (`0.0000`, never `0`), money in cents rounded half to even;
a position's cost basis is absolute, as its quantity is and the events show it.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

import attrs
import cattrs
import msgspec
from cattrs.gen import make_dict_unstructure_fn, override

from apps.service.schemas import (
    AccountBody,
    OrderBody,
    PositionBody,
    PositionListBody,
    PreTradeChecks,
    PreTradeValidationBody,
    RiskBody,
    RiskCheckRejection,
    RiskLimitsBody,
    StopLossOut,
    SubmitOrderRequest,
    SubmitOrderResponse,
    TakeProfitOut,
)
from trading_core.enums import EngineProtection, OrderType
from trading_core.errors import InvalidOrder
from trading_core.order_classes import StopLoss, TakeProfit
from trading_core.orders import Order, in_doubt
from trading_core.requests import OrderRequest
from trading_core.risk import PreTradeValidation, RiskLimits
from trading_core.risk.rules import Rejection
from trading_core.trailing import trail_stop_price
from trading_core.values import at_four_places, money
from trading_core.views import AccountView, PortfolioView, PositionView, RiskStatus, SubmitResult


def _four(value: Decimal | None) -> Decimal | None:
    return None if value is None else at_four_places(value)


def _cents(value: Decimal | None) -> Decimal | None:
    return None if value is None else money(value)


def _absolute_cents(value: Decimal) -> Decimal:
    return money(abs(value))


SCALES: Final[dict[str, Callable[[Any], Any]]] = {
    **dict.fromkeys(
        (
            "quantity",
            "filled_quantity",
            "average_price",
            "limit_price",
            "stop_price",
            "trail_price",
            "trail_percent",
            "hwm",
            "average_entry_price",
            "current_price",
            "unrealized_pnl_percent",
        ),
        _four,
    ),
    **dict.fromkeys(
        (
            "market_value",
            "unrealized_pnl",
            "realized_pnl",
            "total_equity",
            "buying_power",
            "equity",
            "cash",
            "last_equity",
            "daily_pnl",
            "day_trade_equity_threshold",
        ),
        _cents,
    ),
    "cost_basis": _absolute_cents,
}
"""Body field -> how its amount is written."""


def order_request(body: SubmitOrderRequest) -> OrderRequest:
    """Validate a submission into the domain's request (each body field is the argument of its name).

    Raises:
        InvalidOrder: a field breaks a rule; the field is named.
    """
    if body.order_class == "oco" and body.limit_price is not None:
        # One price, given once: the OpenAPI schema says so, and a second copy could only disagree.
        raise InvalidOrder(
            "an oco order's limit is its take_profit.limit_price: give no limit_price", field="limit_price"
        )
    fields = msgspec.structs.asdict(body)
    # The exits go to the core as mappings of what was given (a stop-loss's limit only when given).
    for exit_field in ("take_profit", "stop_loss"):
        given = fields[exit_field]
        if given is not None:
            fields[exit_field] = {k: v for k, v in msgspec.structs.asdict(given).items() if v is not None}
    return OrderRequest.create(**fields)


def submit_response(result: SubmitResult) -> SubmitOrderResponse:
    """What became of a submission: the order's ids and both of its statuses."""
    order = result.order
    return SubmitOrderResponse(
        order_id=order.id,
        status=result.status.value,
        created_at=order.created_at,
        client_order_id=order.client_order_id,
        order_status=order.api_status.value,
        broker_status=order.status.value,
        follow_up_order_id=result.follow_up.id if result.follow_up is not None else None,
    )


def order_body(order: Order) -> OrderBody:
    """The order as the API shows it: the spec's status word beside the broker's; a trailing stop's
    `stopPrice` is the one its trail derives from its mark as the broker last reported it."""
    fields = _API.unstructure(order)
    if order.engine_protection is EngineProtection.FILLED_PART:
        fields["parent_order_id"] = order.parent_id  # the entry whose filled part it protects
    if order.type is OrderType.TRAILING_STOP and order.hwm is not None and order.stop_price is None:
        stop = trail_stop_price(order.side, order.hwm, trail_price=order.trail_price, trail_percent=order.trail_percent)
        fields["stop_price"] = _four(stop)
    return OrderBody(
        **fields,
        status=order.api_status.value,
        average_price=_four(order.average_fill_price),
        in_doubt=in_doubt(order),
    )


def position_body(view: PositionView, protective: Callable[[str], list[Order]]) -> PositionBody:
    """A position valued at its mark, with the ids of the orders `protective` says protect it."""
    return PositionBody(**_API.unstructure(view), protective_order_ids=[o.id for o in protective(view.symbol)])


def portfolio_body(view: PortfolioView, protective: Callable[[str], list[Order]]) -> PositionListBody:
    """Every open position with the account's totals (`protective` as `position_body` takes it)."""
    return PositionListBody(
        positions=[position_body(p, protective) for p in view.positions],
        total_equity=money(view.total_equity),
        buying_power=money(view.buying_power),
    )


def account_body(view: AccountView) -> AccountBody:
    """The account, with today's P&L."""
    return AccountBody(**_API.unstructure(view), daily_pnl=money(view.daily_pnl))


def validation_body(validation: PreTradeValidation) -> PreTradeValidationBody:
    """Every check's outcome (one the rules did not run passed), the approval and each rejection."""
    checks = validation.checks
    return PreTradeValidationBody(
        checks=PreTradeChecks(**{field: checks.get(name, True) for field, name in _CHECK_NAMES}),
        approved=validation.approved,
        rejection_reason=validation.rejection_reason,
        rejection_code=validation.rejection_code,
        rejections=[RiskCheckRejection(**_API.unstructure(r)) for r in validation.rejections],
    )


def risk_body(status: RiskStatus, limits: RiskLimits) -> RiskBody:
    """The limits in force, the trading state and today's P&L."""
    return RiskBody(limits=RiskLimitsBody(**_API.unstructure(limits)), **_API.unstructure(status))


_CHECK_NAMES: Final = tuple(zip(PreTradeChecks.__struct_fields__, PreTradeChecks.__struct_encode_fields__, strict=True))
"""Each check's body field with its name as the rules report it, which is its camelCase key."""


def _shape(
    converter: cattrs.Converter,
    source: type[attrs.AttrsInstance],
    body: type[msgspec.Struct],
    *,
    renamed: dict[str, str] | None = None,
    worked_out: tuple[str, ...] = (),
    given: tuple[str, ...] = (),
) -> None:
    """Register `source`'s hook: a dict of its fields that `body` has, as `renamed` says.

    Args:
        converter: the converter to register the hook with.
        source: the domain class.
        body: the API shape it is shown as.
        renamed: source field -> body field, where the names differ.
        worked_out: body fields the caller works out from the value (its properties).
        given: body fields the caller gives from elsewhere.

    Raises:
        TypeError: a field of `body` that no field of `source` gives and that is not
            `worked_out` or `given` (checked when the converter is built, at import).
    """
    renamed = renamed or {}
    wanted = set(body.__struct_fields__)
    fields: dict[str, Any] = {}
    for a in attrs.fields(source):
        name = renamed.get(a.name, a.name)
        fields[a.name] = (
            override(rename=name, unstruct_hook=SCALES.get(name)) if name in wanted else override(omit=True)
        )
    missing = wanted - {renamed.get(a.name, a.name) for a in attrs.fields(source)} - {*worked_out, *given}
    if missing:
        raise TypeError(f"{body.__name__} has fields that {source.__name__} does not give: {sorted(missing)}")
    converter.register_unstructure_hook(source, make_dict_unstructure_fn(source, converter, **fields))


def _api_converter() -> cattrs.Converter:
    converter = cattrs.Converter()
    converter.register_unstructure_hook(StrEnum, lambda member: member.value)  # not str's hook: enums as words
    converter.register_unstructure_hook(TakeProfit, lambda t: TakeProfitOut(limit_price=at_four_places(t.limit_price)))
    converter.register_unstructure_hook(
        StopLoss, lambda s: StopLossOut(stop_price=at_four_places(s.stop_price), limit_price=_four(s.limit_price))
    )
    _shape(
        converter,
        Order,
        OrderBody,
        renamed={"id": "order_id", "status": "broker_status", "leg_of": "parent_order_id"},
        worked_out=("status", "average_price", "in_doubt"),
    )
    _shape(converter, PositionView, PositionBody, given=("protective_order_ids",))
    _shape(converter, AccountView, AccountBody, worked_out=("daily_pnl",))
    _shape(converter, Rejection, RiskCheckRejection)
    _shape(converter, RiskLimits, RiskLimitsBody)
    _shape(converter, RiskStatus, RiskBody, given=("limits",))
    return converter


_API: Final = _api_converter()
