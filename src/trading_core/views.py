"""Read models the engine answers with: a submission's outcome, positions and the account valued now."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import attrs

from trading_core.enums import PositionSide, SubmitStatus, TradingState
from trading_core.orders import Order
from trading_core.positions import Position
from trading_core.risk.engine import PreTradeValidation
from trading_core.values import ZERO, Symbol, money


@attrs.frozen(slots=False)  # a __dict__: built per order (docs/architecture.md, "Speed")
class SubmitResult:
    """What became of a submission: the order as stored and the checks it went through."""

    order: Order
    validation: PreTradeValidation | None = None
    """None when the order was not checked (an idempotent repeat of an earlier submission)."""
    follow_up: Order | None = None
    """The opening half of an order split at flat, waiting for `order` (the closing half) to fill."""

    @property
    def status(self) -> SubmitStatus:
        """The submission's outcome for the API: pending, accepted or rejected."""
        return self.order.submit_status


@attrs.frozen(kw_only=True)
class PositionView:
    """A position valued at the current price."""

    symbol: Symbol
    quantity: Decimal
    """Absolute number of shares; `side` says which way."""
    side: PositionSide
    average_entry_price: Decimal
    current_price: Decimal
    market_value: Decimal
    cost_basis: Decimal
    unrealized_pnl: Decimal
    unrealized_pnl_percent: Decimal
    realized_pnl: Decimal

    @classmethod
    def of(cls, position: Position, mark: Decimal | None) -> PositionView:
        """The position valued at `mark` (at its average entry price when there is no mark)."""
        price = mark if mark is not None else position.average_entry_price
        return cls(
            symbol=position.symbol,
            quantity=abs(position.quantity),
            side=position.side,
            average_entry_price=position.average_entry_price,
            current_price=price,
            market_value=money(position.market_value(price)),
            cost_basis=money(position.cost_basis),
            unrealized_pnl=money(position.unrealized_pnl(price)),
            unrealized_pnl_percent=position.unrealized_pnl_percent(price),
            realized_pnl=money(position.realized_pnl),
        )


@attrs.frozen(kw_only=True)
class AccountView:
    """The account as the spec shows it, with the day-trade count from our own fills."""

    account_id: str
    equity: Decimal
    cash: Decimal
    buying_power: Decimal
    last_equity: Decimal
    daytrade_count: int
    pattern_day_trader: bool
    """True while the self-imposed day-trade budget is used up (equity under the threshold)."""
    trading_blocked: bool
    account_blocked: bool
    trading_state: TradingState

    @property
    def daily_pnl(self) -> Decimal:
        """Equity now less equity at the last close."""
        return self.equity - self.last_equity


@attrs.frozen(kw_only=True)
class PortfolioView:
    """All open positions with the account's totals."""

    positions: tuple[PositionView, ...]
    total_equity: Decimal
    buying_power: Decimal

    @property
    def unrealized_pnl(self) -> Decimal:
        """The positions' unrealized P&L, added up."""
        return sum((p.unrealized_pnl for p in self.positions), ZERO)


@attrs.frozen(kw_only=True)
class CancelFailure:
    """An open order a cancel-all could not cancel, with the refusal's code and message."""

    order_id: str
    code: str
    message: str


@attrs.frozen(kw_only=True)
class CancelAllResult:
    """What a cancel of every open order did: each order as the cancel left it, and each refusal."""

    cancelled: tuple[Order, ...]
    """Cancelled, or the cancel requested at the broker (it may still fill first)."""
    failed: tuple[CancelFailure, ...] = ()


@attrs.frozen(kw_only=True)
class RiskStatus:
    """The limits in force, the trading state and today's P&L."""

    trading_state: TradingState
    reason: str
    changed_at: datetime | None
    changed_by: str | None
    daily_pnl: Decimal
    daytrade_count: int
