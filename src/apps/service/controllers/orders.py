"""Orders: submit, validate, list, get, modify (replace) and cancel."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from litestar import Controller, Response, delete, get, patch, post
from litestar.openapi import ResponseSpec
from litestar.params import FromQuery, JSONBody, PathParameter, QueryParameter

from apps.logs import order_context
from apps.service.codec import ExactResponse
from apps.service.control_schemas import CancelAllOrdersResponse, CancelFailureBody
from apps.service.controllers.docs import Engine, errors, rejection
from apps.service.controllers.history import (
    LimitQuery,
    SideQuery,
    SinceQuery,
    StrategyQuery,
    SymbolQuery,
    UntilQuery,
    aware,
    named_after,
)
from apps.service.convert import order_body, order_request, submit_response, validation_body
from apps.service.errors import OrderRefused, clip
from apps.service.schemas import (
    CancelOrderResponse,
    ModifyOrderRequest,
    OrderBody,
    OrderListBody,
    PreTradeValidationBody,
    SubmitOrderRequest,
    SubmitOrderResponse,
)
from trading_core.engine import TradingEngine
from trading_core.enums import OrderStatus, SubmitStatus, TimeInForce
from trading_core.errors import InvalidCursor, InvalidModification, InvalidOrder, OrderNotFound, RiskRejected
from trading_core.orders import Order
from trading_core.ports import OrderFilter
from trading_core.trailing import check_trail_percent
from trading_core.values import OrderId, canonical_uuid

_PENDING = ResponseSpec(
    data_container=SubmitOrderResponse,
    description="Taken, not yet at the broker (queued for the open, or its submission unanswered: in doubt).",
    generate_examples=False,
)

OrderIdPath = Annotated[str, PathParameter(description="The order's id (a UUID).")]


def checked_id(order_id: str) -> OrderId:
    """Our ids are UUIDs: anything else names no order (and must not reach a UUID column)."""
    canonical = canonical_uuid(order_id)
    if canonical is None:
        raise OrderNotFound(f"no order with id {clip(order_id)!r}", details={"orderId": order_id})
    return OrderId(canonical)


async def _new_trail(data: ModifyOrderRequest, engine: TradingEngine, order_id: OrderId) -> Decimal | None:
    """The trail a PATCH gives, checked against the trailing stop it changes: Alpaca's replace takes
    one `trail`, of the kind the order has, and cannot switch from a trail in dollars to one in percent.

    Raises:
        InvalidOrder: both trailPrice and trailPercent, or a trailPercent not in (0, 100).
        InvalidModification: a trail for an order that is no trailing stop, or of the other kind.
    """
    trails = (("trail_price", data.trail_price), ("trail_percent", data.trail_percent))
    given = [(name, value) for name, value in trails if value is not None]
    if not given:
        return None
    if len(given) == 2:
        raise InvalidOrder("give one of trailPrice and trailPercent, not both", field="trail_price")
    if data.trail_percent is not None:  # malformed whatever the order: 400, before the order is read
        check_trail_percent(data.trail_percent)
    ((name, value),) = given
    old = await engine.get_order(order_id)
    kind = "trail_price" if old.trail_price is not None else "trail_percent" if old.trail_percent is not None else None
    details = {"orderId": order_id}
    if kind is None:
        raise InvalidModification(f"{old.type} orders take no trail", field=name, details=details)
    if kind != name:
        raise InvalidModification(
            f"order {order_id} trails by {kind}: a replacement's trail cannot switch to {name}",
            field=name,
            details=details,
        )
    return value


def _cancel_answer(order: Order, *, success: bool, message: str) -> CancelOrderResponse:
    return CancelOrderResponse(
        success=success,
        message=message,
        cancelled=order.status is OrderStatus.CANCELED,
        order_status=order.api_status.value,
        broker_status=order.status.value,
    )


class OrdersController(Controller):
    path = "/api/v1/orders"
    tags = ["orders"]  # noqa: RUF012  # Litestar's declared class attribute

    @post("/", status_code=201, responses={**rejection(409, 413, 502), 202: _PENDING}, summary="Submit an order")
    async def submit(self, data: JSONBody[SubmitOrderRequest], engine: Engine) -> Response[SubmitOrderResponse]:
        """Check, store and send an order. A risk or broker refusal answers 422 with the kept order's id.

        201 when the broker has it; 202 `pending` when it is held here (queued for the open) or in
        doubt (the broker left the submission unanswered): the outcome comes on the order's record.
        """
        result = await engine.submit(order_request(data))
        with order_context(result.order.id):
            if result.status is SubmitStatus.REJECTED:
                raise OrderRefused(result.order)
            status = 202 if result.status is SubmitStatus.PENDING else 201
            return ExactResponse(submit_response(result), status_code=status)

    @post("/validate", status_code=200, responses=errors(404, 413), summary="Run the pre-trade checks only")
    async def validate(self, data: JSONBody[SubmitOrderRequest], engine: Engine) -> PreTradeValidationBody:
        """Run every pre-trade check on an order without submitting it (the spec's PreTradeValidation)."""
        return validation_body(await engine.validate(order_request(data)))

    @get("/", responses=errors(), summary="List orders")
    async def list_orders(
        self,
        *,
        engine: Engine,
        status: FromQuery[Literal["open", "closed", "all"]] = "open",
        limit: LimitQuery = 100,
        after: Annotated[str | None, QueryParameter(description="nextCursor of the previous page.")] = None,
        symbol: SymbolQuery = None,
        side: SideQuery = None,
        strategyId: StrategyQuery = None,  # noqa: N803  # the query parameter's name
        since: SinceQuery = None,
        until: UntilQuery = None,
    ) -> OrderListBody:
        """Newest first; `nextCursor` is there when more orders remain. `symbol`, `side`, `strategyId`
        and the time range (`since`, `until`: created in [since, until)) narrow the listing."""
        try:
            page = await engine.list_orders(
                status=OrderFilter(status),
                limit=limit,
                cursor=after,
                symbol=symbol,
                side=side,
                strategy_id=strategyId,
                since=aware("since", since),
                until=aware("until", until),
            )
        except InvalidCursor as e:  # named as this API's query parameter
            raise named_after(e) from e
        return OrderListBody(orders=[order_body(o) for o in page.orders], next_cursor=page.next_cursor)

    @get("/{orderId:str}", responses=errors(404), summary="Get an order")
    async def get_order(self, orderId: OrderIdPath, engine: Engine) -> OrderBody:  # noqa: N803
        with order_context(orderId):
            return order_body(await engine.get_order(checked_id(orderId)))

    @delete("/{orderId:str}", status_code=200, responses=errors(404, 409, 502), summary="Cancel an order")
    async def cancel(self, orderId: OrderIdPath, engine: Engine) -> CancelOrderResponse:  # noqa: N803
        """Cancel an order: `cancelled` says whether it is cancelled now, or the cancel only requested.

        A broker takes a cancel and carries it out later (Alpaca answers 204): until it confirms,
        the answer is `success: true, cancelled: false`, and the order may still fill first.
        """
        with order_context(orderId):
            order = await engine.cancel(checked_id(orderId))
            if order.status is OrderStatus.CANCELED:
                return _cancel_answer(order, success=True, message=f"order {order.id} cancelled")
            if order.is_terminal:
                return _cancel_answer(order, success=False, message=f"order {order.id} ended {order.status} first")
            message = (
                f"cancel of {order.id} requested, not yet done ({order.status}): the broker may still fill it "
                "first; its record says which (GET /api/v1/orders/{orderId})"
            )
            return _cancel_answer(order, success=True, message=message)

    @delete("/", status_code=200, responses=errors(502), summary="Cancel every open order")
    async def cancel_all(self, engine: Engine) -> CancelAllOrdersResponse:
        """Cancel every open order; one that cannot be (it ended first) is listed in `failed` with why.

        As for one order, a cancel the broker took may not be done yet: the orders' records say.
        """
        result = await engine.cancel_all_orders()
        return CancelAllOrdersResponse(
            cancelled_count=len(result.cancelled),
            order_ids=[o.id for o in result.cancelled],
            failed=[CancelFailureBody(order_id=f.order_id, code=f.code, message=f.message) for f in result.failed],
        )

    # 422: a refusal of the change (INVALID_MODIFICATION, a risk check), or the broker's of the
    # replacement, which then carries the kept order as a submission's refusal does
    @patch("/{orderId:str}", responses=errors(404, 409, 413, 422, 502), summary="Modify an order")
    async def modify(
        self,
        orderId: OrderIdPath,  # noqa: N803
        data: JSONBody[ModifyOrderRequest],
        engine: Engine,
    ) -> OrderBody:
        """Replace a working order: the answer is the new order, whose `replaces` is the old one."""
        with order_context(orderId):
            old_id = checked_id(orderId)
            if data == ModifyOrderRequest():
                raise InvalidOrder(
                    "give at least one of quantity, limitPrice, stopPrice, timeInForce, trailPrice, trailPercent",
                    field="body",
                )
            result = await engine.replace(
                old_id,
                quantity=data.quantity,
                limit_price=data.limit_price,
                stop_price=data.stop_price,
                time_in_force=TimeInForce(data.time_in_force) if data.time_in_force else None,
                trail=await _new_trail(data, engine, old_id),
            )
            validation = result.validation
            if result.order.id == old_id and validation is not None and not validation.approved:
                code = validation.rejection_code or "RISK_REJECTED"
                raise RiskRejected(code, validation.rejection_reason or "refused", details={"orderId": old_id})
            if result.status is SubmitStatus.REJECTED:
                raise OrderRefused(result.order, details={"replaces": old_id})
            return order_body(result.order)
