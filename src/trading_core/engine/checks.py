"""Pre-trade checks: what the risk rules see for an order, and their verdict."""

from __future__ import annotations

from collections.abc import Collection
from decimal import ROUND_DOWN, Decimal
from types import MappingProxyType

import attrs

from trading_core import codes
from trading_core.engine.config import MarketClosedPolicy
from trading_core.engine.parts import EngineParts
from trading_core.enums import OrderClass, OrderType
from trading_core.errors import InvalidOrder
from trading_core.order_classes import check_exits_against
from trading_core.requests import OrderRequest
from trading_core.risk import PreTradeValidation, RiskContext, RiskEngine, Sizing
from trading_core.risk.protection import with_protection
from trading_core.values import FOUR_PLACES, ZERO, OrderId, Symbol


class PreTradeChecks:
    """Runs the risk rules on an order against the book and the broker's facts as of now.

    Args:
        parts: the engine's shared parts.
        risk: the rules.
    """

    def __init__(self, parts: EngineParts, risk: RiskEngine) -> None:
        self._parts = parts
        self._risk = risk
        book = parts.book
        # The book's mappings behind read-only views, made once: a view shows the book as it stands,
        # and RiskContext takes a read-only mapping as it is rather than wrapping it for every order.
        self._positions = MappingProxyType(book.positions)
        self._marks = MappingProxyType(book.marks)
        self._assets = MappingProxyType(book.assets)

    async def validate(self, request: OrderRequest) -> PreTradeValidation:
        """Run every pre-trade check on `request` without submitting anything."""
        return self._risk.validate(request, await self.risk_context(request.symbol))

    async def validate_stored(self, request: OrderRequest, stored: Collection[OrderId]) -> PreTradeValidation:
        """Run every pre-trade check on an order already stored, which the book holds as open:
        the orders of `stored` (it and its legs) are left out of those it is measured against."""
        ctx = await self.risk_context(request.symbol)
        working = {s: {i: o for i, o in held.items() if i not in stored} for s, held in ctx.working.items()}
        others = tuple(o for o in ctx.open_orders if o.id not in stored)
        return self._risk.validate(request, attrs.evolve(ctx, open_orders=others, working=working))

    async def risk_context(self, symbol: Symbol) -> RiskContext:
        """What the rules see for an order in `symbol`, as of now."""
        parts = self._parts
        facts, book, account = parts.facts, parts.book, parts.account
        await facts.mark(symbol)
        if symbol not in book.assets:
            await facts.asset(symbol)
        # The account and the clock are usually kept and fresh: taken without a coroutine then.
        return RiskContext(
            account=account.fresh() or await account.account(),
            clock=facts.fresh_clock() or await facts.market_clock(),
            positions=self._positions,
            marks=self._marks,
            assets=self._assets,
            open_orders=book.open_orders_in(symbol),  # made a tuple by the context
            working=book.open_by_symbol,
            day_trades=book.day_trades,
            trading_state=parts.trading.state,
        )

    def queueable(self, validation: PreTradeValidation) -> bool:
        """Whether a refused order may wait for the open instead: refused only as the market is
        closed, under `MarketClosedPolicy.QUEUE`."""
        only_session = all(r.code == codes.MARKET_CLOSED for r in validation.rejections)
        return only_session and self._parts.config.market_closed_policy is MarketClosedPolicy.QUEUE

    async def with_exits(self, request: OrderRequest) -> OrderRequest:
        """`request` with the configured exits when it opens exposure without its own
        (`risk.stopLossPercent`, `risk.takeProfitPercent`); a market entry's exits checked against the mark.

        Raises:
            InvalidOrder: a market entry's exit is on the wrong side of the current price.
        """
        limits = self._risk.limits
        configured = limits.stop_loss_percent is not None or limits.take_profit_percent is not None
        simple = request.order_class is OrderClass.SIMPLE
        if simple and not configured:
            return request
        context = await self.risk_context(request.symbol)
        mark = context.marks.get(request.symbol)
        if simple:
            opening = Sizing.of(request, context).opening > ZERO
            return with_protection(request, opening=opening, mark=mark, limits=limits)
        if request.type is OrderType.MARKET and mark is not None:
            check_exits_against(request, mark)  # Alpaca's base price for a market entry is the current one
        return request

    async def sized(self, request: OrderRequest) -> OrderRequest:
        """A notional order as a quantity, rounded down to what the asset trades in.

        Raises:
            InvalidOrder: no price to size it at, or it buys less than one unit.
        """
        if request.notional is None:
            return request
        facts = self._parts.facts
        mark = await facts.mark(request.symbol)
        if not mark:
            raise InvalidOrder(f"no current price for {request.symbol} to size a notional order", field="notional")
        asset = await facts.asset(request.symbol)
        step = FOUR_PLACES if asset is None or asset.fractionable else Decimal(1)
        qty = (request.notional / mark).quantize(step, rounding=ROUND_DOWN)
        if qty <= ZERO:
            raise InvalidOrder(f"notional {request.notional} buys less than one unit at {mark}", field="notional")
        return attrs.evolve(request, quantity=qty, notional=None)
