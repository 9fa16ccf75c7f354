"""The engine's trading state: active, reducing-only or halted, with who set it, when and why."""

from __future__ import annotations

import logging
from typing import Final

from trading_core.clock import Clock
from trading_core.enums import TradingState
from trading_core.market import EASTERN
from trading_core.ports import OrderStore, TradingStateRecord
from trading_core.risk import PreTradeValidation

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
