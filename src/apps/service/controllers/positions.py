"""Positions: list with the account's totals, get one, close one (all or part), close all."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get
from litestar.params import JSONBody, PathParameter, QueryParameter

from apps.service.controllers.docs import Engine, errors, rejection
from apps.service.convert import portfolio_body, position_body
from apps.service.errors import OrderRefused, QuantityMismatch, clip
from apps.service.schema_fields import QueryQuantity
from apps.service.schemas import (
    CloseAllRejection,
    CloseAllResponse,
    ClosePositionRequest,
    ClosePositionResponse,
    PositionBody,
    PositionListBody,
)
from trading_core import values
from trading_core.enums import SubmitStatus
from trading_core.errors import InvalidOrder, PositionNotFound
from trading_core.values import Symbol

SymbolPath = Annotated[str, PathParameter(description="The ticker, e.g. AAPL.")]


def checked_symbol(symbol: str) -> Symbol:
    """A path symbol that is not a ticker names no position."""
    try:
        return Symbol(symbol)
    except InvalidOrder as e:
        raise PositionNotFound(f"no open position in {clip(symbol)!r}", details={"symbol": symbol}) from e


class PositionsController(Controller):
    path = "/api/v1/positions"
    tags = ["positions"]  # noqa: RUF012  # Litestar's declared class attribute

    @get("/", responses=errors(502), summary="List positions")
    async def list_positions(self, engine: Engine) -> PositionListBody:
        return portfolio_body(await engine.list_positions(), engine.protective_orders)

    @get("/{symbol:str}", responses=errors(404, 502), summary="Get a position")
    async def get_position(self, symbol: SymbolPath, engine: Engine) -> PositionBody:
        return position_body(await engine.get_position(checked_symbol(symbol)), engine.protective_orders)

    @delete("/{symbol:str}", status_code=200, responses=rejection(404, 413, 502), summary="Close a position")
    async def close_position(
        self,
        symbol: SymbolPath,
        engine: Engine,
        data: JSONBody[ClosePositionRequest | None] = None,
        quantity: Annotated[QueryQuantity | None, QueryParameter(description="Shares to close; default: all.")] = None,
    ) -> ClosePositionResponse:
        """Send a market order reducing the position by `quantity` (query or body), all of it by default.

        Given in both, the two must be equal (422 QUANTITY_MISMATCH); more than is held is 422
        INSUFFICIENT_QUANTITY.

        Closes of one symbol take turns (across replicas). What our working market orders already
        close is counted: only the rest is sent, and when nothing is left the answer names the
        newest working close, sending nothing. A position flat by this close's turn answers 404.
        """
        in_query = values.quantity(quantity) if quantity is not None else None
        in_body = values.quantity(data.quantity) if data is not None and data.quantity is not None else None
        if in_query is not None and in_body is not None and in_query != in_body:
            raise QuantityMismatch(
                f"quantity is {in_query} in the query and {in_body} in the body", details={"field": "quantity"}
            )
        amount = in_query if in_query is not None else in_body
        result = await engine.close_position(checked_symbol(symbol), amount)
        if result.status is SubmitStatus.REJECTED:
            raise OrderRefused(result.order)
        return ClosePositionResponse(order_id=result.order.id, status=result.status.value)  # type: ignore[arg-type]

    @delete("/", status_code=200, responses=errors(502), summary="Close all positions")
    async def close_all(self, engine: Engine) -> CloseAllResponse:
        """A market order per open position; refusals are listed in `rejected`."""
        results = await engine.close_all_positions()
        sent = [r for r in results if r.status is not SubmitStatus.REJECTED]
        refused = [
            CloseAllRejection(
                symbol=r.order.symbol,
                order_id=r.order.id,
                code=r.order.rejection_code or "",
                reason=r.order.rejection_reason or "",
            )
            for r in results
            if r.status is SubmitStatus.REJECTED
        ]
        return CloseAllResponse(closed_count=len(sent), order_ids=[r.order.id for r in sent], rejected=refused)
