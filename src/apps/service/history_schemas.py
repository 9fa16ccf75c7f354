"""The history's answers: fills, closed positions and the portfolio's value over time (issue #19)."""

from __future__ import annotations

from datetime import datetime

from apps.service.schema_fields import Amount, PositionSideName, Side, _Out


class FillBody(_Out):
    order_id: str
    execution_id: str
    symbol: str
    side: Side
    quantity: Amount
    price: Amount
    commission: Amount
    realized_pnl: Amount
    """What this fill realized on its position (0 when it opened or added to it)."""
    timestamp: datetime


class FillListBody(_Out):
    fills: list[FillBody]
    next_cursor: str | None = None


class ClosedPositionBody(_Out):
    symbol: str
    side: PositionSideName
    closed_at: datetime
    realized_pnl: Amount
    """Everything the position realized from its opening to its close."""
    order_id: str
    """The order whose fill closed it."""
    execution_id: str
    opened_at: datetime | None = None


class ClosedPositionListBody(_Out):
    positions: list[ClosedPositionBody]
    next_cursor: str | None = None


class SnapshotBody(_Out):
    timestamp: datetime
    equity: Amount
    cash: Amount
    exposure: Amount
    """The positions' gross value at their marks."""
    realized_pnl: Amount
    """Realized on the snapshot's New York trading day."""
    unrealized_pnl: Amount


class AccountHistoryBody(_Out):
    timeframe: str
    snapshots: list[SnapshotBody]
