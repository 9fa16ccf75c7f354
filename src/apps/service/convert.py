"""Domain values -> API bodies (and API requests -> domain requests): the only place the two meet."""

from __future__ import annotations

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
    SubmitOrderRequest,
    SubmitOrderResponse,
)
from trading_core.orders import Order
from trading_core.requests import OrderRequest
from trading_core.risk import PreTradeValidation, RiskLimits
from trading_core.views import AccountView, PortfolioView, PositionView, RiskStatus, SubmitResult


def order_request(body: SubmitOrderRequest) -> OrderRequest:
    """Validate a submission into the domain's request; raises `InvalidOrder` naming the field."""
    return OrderRequest.create(
        symbol=body.symbol,
        side=body.side,
        type=body.type,
        quantity=body.quantity,
        time_in_force=body.time_in_force,
        limit_price=body.limit_price,
        stop_price=body.stop_price,
        extended_hours=body.extended_hours,
        client_order_id=body.client_order_id,
        strategy_id=body.strategy_id,
    )


def submit_response(result: SubmitResult) -> SubmitOrderResponse:
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
    return OrderBody(
        order_id=order.id,
        symbol=order.symbol,
        side=order.side.value,
        quantity=order.quantity,
        filled_quantity=order.filled_quantity,
        status=order.api_status.value,
        broker_status=order.status.value,
        type=order.type.value,
        time_in_force=order.time_in_force.value,
        extended_hours=order.extended_hours,
        client_order_id=order.client_order_id,
        created_at=order.created_at,
        updated_at=order.updated_at,
        average_price=order.average_fill_price,
        limit_price=order.limit_price,
        stop_price=order.stop_price,
        broker_order_id=order.broker_order_id,
        strategy_id=order.strategy_id,
        decision_id=order.decision_id,
        submitted_at=order.submitted_at,
        filled_at=order.filled_at,
        cancelled_at=order.cancelled_at,
        rejection_code=order.rejection_code,
        rejection_reason=order.rejection_reason,
        replaces=order.replaces,
        replaced_by=order.replaced_by,
    )


def position_body(view: PositionView) -> PositionBody:
    return PositionBody(
        symbol=view.symbol,
        quantity=view.quantity,
        side=view.side.value,
        average_entry_price=view.average_entry_price,
        current_price=view.current_price,
        market_value=view.market_value,
        unrealized_pnl=view.unrealized_pnl,
        unrealized_pnl_percent=view.unrealized_pnl_percent,
        cost_basis=view.cost_basis,
        realized_pnl=view.realized_pnl,
    )


def portfolio_body(view: PortfolioView) -> PositionListBody:
    return PositionListBody(
        positions=[position_body(p) for p in view.positions],
        total_equity=view.total_equity,
        buying_power=view.buying_power,
    )


def account_body(view: AccountView) -> AccountBody:
    return AccountBody(
        account_id=view.account_id,
        equity=view.equity,
        cash=view.cash,
        buying_power=view.buying_power,
        daytrade_count=view.daytrade_count,
        pattern_day_trader=view.pattern_day_trader,
        trading_blocked=view.trading_blocked,
        account_blocked=view.account_blocked,
        last_equity=view.last_equity,
        daily_pnl=view.daily_pnl,
        trading_state=view.trading_state.value,
    )


_CHECKS = (
    "buyingPower",
    "positionLimit",
    "dailyLossLimit",
    "marketSession",
    "symbolTradable",
    "washTrade",
    "patternDayTrader",
    "sectorExposure",
    "maxOpenPositions",
)


def validation_body(validation: PreTradeValidation) -> PreTradeValidationBody:
    checks = {name: validation.checks.get(name, True) for name in _CHECKS}
    return PreTradeValidationBody(
        checks=PreTradeChecks(
            buying_power=checks["buyingPower"],
            position_limit=checks["positionLimit"],
            daily_loss_limit=checks["dailyLossLimit"],
            market_session=checks["marketSession"],
            symbol_tradable=checks["symbolTradable"],
            wash_trade=checks["washTrade"],
            pattern_day_trader=checks["patternDayTrader"],
            sector_exposure=checks["sectorExposure"],
            max_open_positions=checks["maxOpenPositions"],
        ),
        approved=validation.approved,
        rejection_reason=validation.rejection_reason,
        rejection_code=validation.rejection_code,
        rejections=[RiskCheckRejection(check=r.check, code=r.code, reason=r.reason) for r in validation.rejections],
    )


def risk_body(status: RiskStatus, limits: RiskLimits) -> RiskBody:
    return RiskBody(
        limits=RiskLimitsBody(
            max_position_size_percent=limits.max_position_size_percent,
            max_sector_exposure_percent=limits.max_sector_exposure_percent,
            max_daily_loss_percent=limits.max_daily_loss_percent,
            max_open_positions=limits.max_open_positions,
            enable_wash_trade_protection=limits.enable_wash_trade_protection,
            enable_day_trade_budget=limits.enable_day_trade_budget,
            max_day_trades=limits.max_day_trades,
            day_trade_window_days=limits.day_trade_window_days,
            day_trade_equity_threshold=limits.day_trade_equity_threshold,
        ),
        trading_state=status.trading_state.value,
        reason=status.reason,
        daily_pnl=status.daily_pnl,
        daytrade_count=status.daytrade_count,
        changed_at=status.changed_at,
        changed_by=status.changed_by,
    )
