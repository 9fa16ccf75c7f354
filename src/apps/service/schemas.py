"""The API's request and response bodies, in the spec's camelCase, separate from the domain classes.

Their field types (amounts, tickers, ids, the enums' words) are in `schema_fields`. Amounts are
`Decimal`: requests decode JSON numbers into them without float (see `codec`), and
responses encode them as JSON numbers with their exact digits. Optional fields are left out
when they have no value, as the spec's `averagePrice?` is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

from apps.service.schema_fields import (
    Amount,
    ClientOrderIdText,
    EngineProtectionName,
    HealthStatusName,
    MarketHoursName,
    OrderClassName,
    OrderPrice,
    OrderQuantity,
    OrderStatusName,
    OrderTypeName,
    PositionSideName,
    ResetBy,
    ResetReason,
    Side,
    SubmitStatusName,
    Ticker,
    TimeInForceName,
    TradingStateName,
    TrailPercent,
    UuidText,
    _Body,
    _Out,
)

# ---------------------------------------------------------------------------- errors


class ErrorBody(msgspec.Struct, rename="camel", kw_only=True):
    """The one error shape of every endpoint; `details` is always there, empty or not."""

    code: str
    message: str
    details: dict[str, Any]


class RejectedOrderBody(_Out):
    """A submission refused by a risk check or the broker: the error shape plus the order kept for audit."""

    code: str
    message: str
    details: dict[str, Any]
    order_id: str
    status: Literal["rejected"]
    reason: str
    created_at: datetime


# ---------------------------------------------------------------------------- orders


class TakeProfitBody(_Body):
    """A bracket's, OCO's or OTO's take-profit exit: a limit order."""

    limit_price: OrderPrice


class StopLossBody(_Body):
    """A bracket's, OCO's or OTO's stop-loss exit: a stop order, or a stop-limit with `limitPrice`."""

    stop_price: OrderPrice
    limit_price: OrderPrice | None = None


class SubmitOrderRequest(_Body):
    symbol: Ticker
    side: Side
    quantity: OrderQuantity
    type: OrderTypeName
    time_in_force: TimeInForceName = "day"
    limit_price: OrderPrice | None = None
    stop_price: OrderPrice | None = None
    trail_price: OrderPrice | None = None
    trail_percent: TrailPercent | None = None
    extended_hours: bool = False
    client_order_id: ClientOrderIdText | None = None
    strategy_id: UuidText | None = None
    order_class: OrderClassName = "simple"
    take_profit: TakeProfitBody | None = None
    stop_loss: StopLossBody | None = None


class SubmitOrderResponse(_Out):
    order_id: str
    status: SubmitStatusName
    """What happened to the submission, even when a market order filled at once."""
    created_at: datetime
    client_order_id: str
    order_status: OrderStatusName
    """The order's own status now, in the spec's five words."""
    broker_status: str
    follow_up_order_id: str | None = None
    """When the order crossed zero: the opening part, sent once this closing part fills."""


class ModifyOrderRequest(_Body):
    quantity: OrderQuantity | None = None
    limit_price: OrderPrice | None = None
    stop_price: OrderPrice | None = None
    time_in_force: TimeInForceName | None = None
    trail_price: OrderPrice | None = None
    """A trailing stop's new trail in dollars: for one that trails by price (Alpaca's `trail` cannot switch)."""
    trail_percent: TrailPercent | None = None
    """A trailing stop's new trail in percent: for one that trails by percent."""


class TakeProfitOut(_Out):
    limit_price: Amount


class StopLossOut(_Out):
    stop_price: Amount
    limit_price: Amount | None = None


class OrderBody(_Out):
    order_id: str
    symbol: str
    side: Side
    quantity: Amount
    filled_quantity: Amount
    status: OrderStatusName
    broker_status: str
    """The broker's detailed status (one of Alpaca's 18), beside the spec's word."""
    type: str
    time_in_force: str
    extended_hours: bool
    client_order_id: str
    created_at: datetime
    updated_at: datetime
    average_price: Amount | None = None
    limit_price: Amount | None = None
    stop_price: Amount | None = None
    broker_order_id: str | None = None
    strategy_id: str | None = None
    decision_id: str | None = None
    submitted_at: datetime | None = None
    filled_at: datetime | None = None
    cancelled_at: datetime | None = None
    rejection_code: str | None = None
    rejection_reason: str | None = None
    replaces: str | None = None
    replaced_by: str | None = None
    trail_price: Amount | None = None
    trail_percent: Amount | None = None
    hwm: Amount | None = None
    """A trailing stop's high-water mark (low-water for a buy), as the broker last reported it."""
    order_class: OrderClassName = "simple"
    legs: list[str] = msgspec.field(default_factory=list)
    """A parent's legs (orders of their own, by id): the take-profit first, then the stop-loss."""
    parent_order_id: str | None = None
    """A leg's parent: the entry (or the OCO's first exit) it belongs to. For the engine's exits
    of an entry that ended in part filled (`engineProtection: filled_part`): that entry."""
    engine_protection: EngineProtectionName | None = None
    """`exits_attached`: an entry sent with the exits `risk.stopLossPercent` / `risk.takeProfitPercent`
    attached; `filled_part`: the engine's exits for what such an entry filled before it ended in part."""
    in_doubt: bool = False
    """Sent and left unanswered (a timeout, a 5xx): perhaps at the broker, not known there yet
    (`pending_new`, no `brokerOrderId`) until its stream, a lookup or its order list settles it."""
    take_profit: TakeProfitOut | None = None
    """A parent's take-profit as it was asked for."""
    stop_loss: StopLossOut | None = None
    """A parent's stop-loss as it was asked for."""


class OrderListBody(_Out):
    orders: list[OrderBody]
    next_cursor: str | None = None


class CancelOrderResponse(_Out):
    success: bool
    """The cancel was taken (done, or requested at the broker); false when the order ended first."""
    message: str
    cancelled: bool
    """The order is cancelled now. False with `success` true: only requested, and it may still fill."""
    order_status: OrderStatusName
    """The order's status as the answer is given."""
    broker_status: str


class RiskCheckRejection(_Out):
    check: str
    code: str
    reason: str


class PreTradeChecks(_Out):
    """The spec's seven checks, then the two sizing rules."""

    buying_power: bool
    position_limit: bool
    daily_loss_limit: bool
    market_session: bool
    symbol_tradable: bool
    wash_trade: bool
    pattern_day_trader: bool
    sector_exposure: bool
    max_open_positions: bool


class PreTradeValidationBody(_Out):
    """The spec's PreTradeValidation, with every failed check's code."""

    checks: PreTradeChecks
    approved: bool
    rejection_reason: str | None = None
    rejection_code: str | None = None
    rejections: list[RiskCheckRejection] = msgspec.field(default_factory=list)


# ---------------------------------------------------------------------------- positions and account


class PositionBody(_Out):
    symbol: str
    quantity: Amount
    side: PositionSideName
    average_entry_price: Amount
    current_price: Amount
    market_value: Amount
    unrealized_pnl: Amount
    unrealized_pnl_percent: Amount
    cost_basis: Amount
    realized_pnl: Amount
    protective_order_ids: list[str] = msgspec.field(default_factory=list)
    """The open orders that protect the position (a bracket's or OCO's exits, stops, trailing stops)."""


class PositionListBody(_Out):
    positions: list[PositionBody]
    total_equity: Amount
    buying_power: Amount


class ClosePositionRequest(_Body):
    quantity: OrderQuantity | None = None


class ClosePositionResponse(_Out):
    order_id: str
    status: SubmitStatusName


class CloseAllRejection(_Out):
    symbol: str
    order_id: str
    code: str
    reason: str


class CloseAllResponse(_Out):
    closed_count: int
    order_ids: list[str]
    rejected: list[CloseAllRejection] = msgspec.field(default_factory=list)


class AccountBody(_Out):
    account_id: str
    equity: Amount
    cash: Amount
    buying_power: Amount
    daytrade_count: int
    pattern_day_trader: bool
    trading_blocked: bool
    account_blocked: bool
    last_equity: Amount
    daily_pnl: Amount
    trading_state: TradingStateName


# ---------------------------------------------------------------------------- risk


class RiskLimitsBody(_Out):
    max_position_size_percent: Amount
    max_sector_exposure_percent: Amount
    max_daily_loss_percent: Amount
    max_open_positions: int
    enable_wash_trade_protection: bool
    enable_day_trade_budget: bool
    max_day_trades: int
    day_trade_window_days: int
    day_trade_equity_threshold: Amount


class RiskBody(_Out):
    limits: RiskLimitsBody
    trading_state: TradingStateName
    reason: str
    daily_pnl: Amount
    daytrade_count: int
    changed_at: datetime | None = None
    changed_by: str | None = None


class RiskResetRequest(_Body):
    # Bounded: both are stored with the trading state and shown by GET /api/v1/risk.
    by: ResetBy | None = None
    reason: ResetReason | None = None


# ---------------------------------------------------------------------------- the paper exchange


class PaperPriceRequest(_Body):
    price: OrderPrice


class PaperPriceBody(_Out):
    symbol: str
    price: Amount
    previous_price: Amount


# ---------------------------------------------------------------------------- operations


class HealthChecks(msgspec.Struct, rename="camel", kw_only=True):
    database: str
    alpaca: str
    event_bus: str
    websocket: str


class HealthBody(msgspec.Struct, rename="camel", kw_only=True):
    status: HealthStatusName
    checks: HealthChecks
    last_order_at: datetime | None
    open_positions: int
    pending_orders: int
    market_hours: MarketHoursName
