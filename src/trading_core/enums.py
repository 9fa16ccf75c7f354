"""The closed vocabularies: sides, order types, time in force and order statuses."""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    """An order's side."""

    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell: the sign of the position change."""
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        """The other side."""
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    """How an order is priced: at the market, a limit, a stop, both, or a trailing stop."""

    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"
    TRAILING_STOP = "trailing_stop"


class TimeInForce(StrEnum):
    """How long an order works: the day, until cancelled, at once or never (IOC, FOK), at the open or close."""

    DAY = "day"
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"
    OPG = "opg"
    CLS = "cls"


class OrderClass(StrEnum):
    """How an order goes with others (Alpaca's `order_class`): alone, or as a group with exits.

    A bracket is an entry with a take-profit and a stop-loss; an OTO is an entry with one of the
    two; an OCO is an exit pair for a position already held (one fills, the other is cancelled).
    """

    SIMPLE = "simple"
    BRACKET = "bracket"
    OCO = "oco"
    OTO = "oto"


class EngineProtection(StrEnum):
    """The engine's part in an order's exits (`risk.stopLossPercent`, `risk.takeProfitPercent`).

    An entry sent with exits the engine attached is protected by them once it has filled
    completely; should it end in part filled (cancelled, expired), its legs end with it, as at
    Alpaca, and the engine sends exits of its own for what it did fill (`trading_core.remainder`).
    """

    EXITS_ATTACHED = "exits_attached"
    """An entry whose exits the engine attached: what it fills is the engine's to protect."""
    FILLED_PART = "filled_part"
    """The engine's exits for what their entry (`parent_id`) filled before it ended in part."""


class PositionSide(StrEnum):
    """Which way a position faces."""

    LONG = "long"
    SHORT = "short"


class OrderStatus(StrEnum):
    """Every status an Alpaca order can have (alpaca-py lists these 18)."""

    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    DONE_FOR_DAY = "done_for_day"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REPLACED = "replaced"
    PENDING_CANCEL = "pending_cancel"
    PENDING_REPLACE = "pending_replace"
    PENDING_REVIEW = "pending_review"
    ACCEPTED = "accepted"
    PENDING_NEW = "pending_new"
    ACCEPTED_FOR_BIDDING = "accepted_for_bidding"
    STOPPED = "stopped"
    REJECTED = "rejected"
    SUSPENDED = "suspended"
    CALCULATED = "calculated"
    HELD = "held"

    @property
    def is_terminal(self) -> bool:
        """Whether the order has ended: nothing more can fill or change it."""
        return self in _TERMINAL

    @property
    def is_open(self) -> bool:
        """Open as Alpaca's `status=open` filter counts it."""
        return self not in _CLOSED

    @property
    def api_status(self) -> ApiStatus:
        """The spec's five-word status for this broker status."""
        return _API_STATUS[self]


class ApiStatus(StrEnum):
    """The order status words of the spec's REST API (note the spelling `cancelled`)."""

    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


class SubmitStatus(StrEnum):
    """What happened to a submission, as the spec's submit response words it."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class TradingState(StrEnum):
    """Whether the engine lets new exposure through."""

    ACTIVE = "active"
    REDUCING_ONLY = "reducing_only"
    HALTED = "halted"


_TERMINAL = frozenset(
    {
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
        OrderStatus.EXPIRED,
        OrderStatus.REPLACED,
        OrderStatus.REJECTED,
    }
)
_CLOSED = _TERMINAL | {OrderStatus.DONE_FOR_DAY, OrderStatus.CALCULATED}

_API_STATUS = {
    OrderStatus.PARTIALLY_FILLED: ApiStatus.PARTIALLY_FILLED,
    OrderStatus.FILLED: ApiStatus.FILLED,
    OrderStatus.CANCELED: ApiStatus.CANCELLED,
    OrderStatus.EXPIRED: ApiStatus.CANCELLED,
    OrderStatus.REPLACED: ApiStatus.CANCELLED,
    OrderStatus.REJECTED: ApiStatus.REJECTED,
}
for _status in OrderStatus:
    _API_STATUS.setdefault(_status, ApiStatus.NEW)
