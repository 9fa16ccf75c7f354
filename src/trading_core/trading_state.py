"""The engine's trading state: active, reducing-only or halted, with who set it, when and why."""

from __future__ import annotations

import logging
from typing import Final

from trading_core.clock import Clock
from trading_core.enums import TradingState
from trading_core.errors import DailyLossLimitStands
from trading_core.market import EASTERN, Account
from trading_core.ports import OrderStore, TradingStateRecord
from trading_core.risk import PreTradeValidation, RiskLimits
from trading_core.values import HUNDRED, ZERO, money

log = logging.getLogger("trading_core.trading_state")

RISK: Final = "risk"
"""Who set a state the daily-loss rule switched to."""


class TradingStateKeeper:
    """Holds the current state and records every change in the store."""

    def __init__(self, store: OrderStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self.record = TradingStateRecord(
            state=TradingState.ACTIVE, reason="started", changed_at=clock.now(), changed_by="engine"
        )

    @property
    def state(self) -> TradingState:
        """The trading state now: active, reducing-only or halted."""
        return self.record.state

    async def load(self) -> None:
        """Take the last recorded state, if there is one."""
        self.record = await self._store.get_trading_state() or self.record

    async def set(self, state: TradingState, *, reason: str, by: str) -> TradingStateRecord:
        """Change the state, recorded with who and why."""
        record = TradingStateRecord(state=state, reason=reason, changed_at=self._clock.now(), changed_by=by)
        async with self._store.unit_of_work() as uow:
            await uow.save_trading_state(record)
            await uow.commit()
        self.record = record
        log.warning("trading state is now %s (%s, by %s)", state, reason, by)
        return record

    async def reset(self, account: Account, limits: RiskLimits, *, by: str, reason: str) -> TradingStateRecord:
        """Make trading active again by hand, unless today's loss is still over the daily-loss limit.

        While it is, the daily-loss rule refuses the next order that adds exposure and turns
        trading reducing-only again: a reset would not last one order. So it is refused with
        `DailyLossLimitStands` (409 over HTTP), saying the loss, the limit and when it ends: once
        the loss is back under the limit, or on the next trading day.

        Raises:
            DailyLossLimitStands: today's loss is still over the daily-loss limit.
        """
        loss = account.last_equity - account.equity
        cap = account.last_equity * limits.max_daily_loss_percent / HUNDRED
        if account.last_equity > ZERO and loss > cap:
            raise DailyLossLimitStands(
                f"trading stays {self.state}: today's loss {loss:.2f} is still over "
                f"{limits.max_daily_loss_percent}% of last equity ({cap:.2f}); the limit stands "
                "until the loss is back under it or the next trading day",
                details={
                    "tradingState": self.state.value,
                    "dailyLoss": money(loss),
                    "dailyLossLimit": money(cap),
                    "maxDailyLossPercent": limits.max_daily_loss_percent,
                },
            )
        return await self.set(TradingState.ACTIVE, reason=reason, by=by)

    async def after_checks(self, validation: PreTradeValidation) -> None:
        """A daily-loss breach turns an active engine reducing-only."""
        breach = next((r for r in validation.rejections if r.check == "dailyLossLimit"), None)
        if breach is not None and self.record.state is TradingState.ACTIVE:
            await self.set(TradingState.REDUCING_ONLY, reason=breach.reason, by=RISK)

    async def before_checks(self) -> None:
        """A reducing-only state the daily-loss rule set lasts until the next trading day."""
        record = self.record
        if record.state is not TradingState.REDUCING_ONLY or record.changed_by != RISK:
            return
        if self._clock.now().astimezone(EASTERN).date() > record.changed_at.astimezone(EASTERN).date():
            await self.set(TradingState.ACTIVE, reason="a new trading day", by="engine")
