"""The limits the risk rules enforce, with the spec's defaults."""

from __future__ import annotations

from decimal import Decimal

import attrs


@attrs.frozen(kw_only=True)
class RiskLimits:
    """Risk configuration (the spec's `risk` block, plus the day-trade budget)."""

    max_position_size_percent: Decimal = Decimal(10)
    """Largest position, as a percent of equity."""
    max_sector_exposure_percent: Decimal = Decimal(30)
    """Largest exposure to one sector, as a percent of equity."""
    max_daily_loss_percent: Decimal = Decimal(3)
    """Loss since the previous close, as a percent of that close's equity, that stops new exposure."""
    max_open_positions: int = 20
    enable_wash_trade_protection: bool = True
    enable_day_trade_budget: bool = True
    max_day_trades: int = 3
    """Day trades allowed in the window while equity is under the threshold."""
    day_trade_window_days: int = 5
    """Business days in the window."""
    day_trade_equity_threshold: Decimal = Decimal(25000)
    """At or above this equity the budget does not apply."""
    stop_loss_percent: Decimal | None = None
    """When set, an opening order without exits is sent with a stop-loss this % from its entry price."""
    take_profit_percent: Decimal | None = None
    """When set, an opening order without exits is sent with a take-profit this % from its entry price."""
