"""The one exception family of the trading engine, each with a stable, machine-readable code.

    TradingError (code)
    ├── InvalidOrder            INVALID_ORDER      a request a broker would refuse as malformed
    │   └── InvalidModification INVALID_MODIFICATION a change that does not fit the order it changes
    ├── InvalidTransition       INVALID_TRANSITION an order event that its state does not allow
    ├── Overfill                OVERFILL           a fill beyond the order's quantity
    ├── NotFound                NOT_FOUND
    │   ├── OrderNotFound       ORDER_NOT_FOUND
    │   ├── PositionNotFound    POSITION_NOT_FOUND
    │   └── UnknownSymbol       SYMBOL_NOT_FOUND   market data asked of a symbol the source does not list
    ├── RiskRejected            (the rule's code)  raised only where a caller asked for an exception
    ├── OrderNotCancelable      ORDER_NOT_CANCELABLE
    ├── InvalidCursor           INVALID_CURSOR     a listing cursor we did not issue
    ├── InvalidMarketDataRequest INVALID_MARKET_DATA_REQUEST bars asked with an unknown timeframe or a range
    │                                              that ends before it starts
    ├── DuplicateClientOrderId  DUPLICATE_CLIENT_ORDER_ID
    ├── DailyLossLimitStands    DAILY_LOSS_LIMIT_STANDS a reset refused while today's loss is over the limit
    ├── InsufficientQuantity    INSUFFICIENT_QUANTITY more to sell or close than is held
    ├── BrokerError             BROKER_ERROR       the broker failed or refused for a technical reason
    │   ├── BrokerRejected      (the mapped code)  the broker refused the order for a business reason
    │   └── OrderInDoubt        BROKER_ERROR       a submission went unanswered: it may be at the broker
    ├── StoreError              STORE_ERROR        the order store failed
    │   └── ConcurrentUpdate    CONCURRENT_UPDATE
    └── EventBusError           EVENT_BUS_ERROR

Expected business outcomes (a risk rule refusing an order) are values, not exceptions: see
`trading_core.risk`. These classes are for refusals a caller must handle and broken invariants.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class TradingError(Exception):
    """Base of every error the engine raises; `code` is stable and machine-readable."""

    code: ClassVar[str] = "TRADING_ERROR"

    def __init__(self, message: str, *, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class InvalidOrder(TradingError, ValueError):
    """An order request that is malformed; `field` names the field at fault."""

    code = "INVALID_ORDER"

    def __init__(self, message: str, *, field: str, details: Mapping[str, Any] | None = None):
        super().__init__(message, details={"field": field, **(details or {})})
        self.field = field


class InvalidModification(InvalidOrder):
    """A change that does not fit the order it changes (a limit price for a stop order, a trail for an
    order that is no trailing stop): well formed alone, refused for what it asks of that order."""

    code = "INVALID_MODIFICATION"


class InvalidTransition(TradingError):
    """An event that the order's current status does not allow (`FROM -> EVENT`)."""

    code = "INVALID_TRANSITION"


class Overfill(TradingError):
    """A fill that would take the filled quantity above the order's quantity."""

    code = "OVERFILL"


class NotFound(TradingError, LookupError):
    """Something asked for by id does not exist."""

    code = "NOT_FOUND"


class OrderNotFound(NotFound):
    """No order has the id that was asked for."""

    code = "ORDER_NOT_FOUND"


class PositionNotFound(NotFound):
    """No open position exists in the symbol that was asked for."""

    code = "POSITION_NOT_FOUND"


class UnknownSymbol(NotFound):
    """Market data asked of a symbol the source does not list."""

    code = "SYMBOL_NOT_FOUND"


class InvalidMarketDataRequest(TradingError, ValueError):
    """Bars asked with an unknown timeframe, or a range that ends before it starts; `field` names the culprit."""

    code = "INVALID_MARKET_DATA_REQUEST"

    def __init__(self, message: str, *, field: str, details: Mapping[str, Any] | None = None):
        super().__init__(message, details={"field": field, **(details or {})})
        self.field = field


class OrderNotCancelable(TradingError):
    """The order is already in a state that cannot be cancelled or replaced."""

    code = "ORDER_NOT_CANCELABLE"


class InvalidCursor(TradingError, ValueError):
    """A listing cursor that is malformed or was not issued by the store."""

    code = "INVALID_CURSOR"


class DuplicateClientOrderId(TradingError):
    """A client order id that is already taken by another order."""

    code = "DUPLICATE_CLIENT_ORDER_ID"


class DailyLossLimitStands(TradingError):
    """A reset of the trading state refused: today's loss is still over the daily-loss limit."""

    code = "DAILY_LOSS_LIMIT_STANDS"


class InsufficientQuantity(TradingError):
    """More shares asked to be sold or closed than are held (and not held for other orders)."""

    code = "INSUFFICIENT_QUANTITY"


class RiskRejected(TradingError):
    """A pre-trade check refused the order; `code` is the rule's code for this instance."""

    code = "RISK_REJECTED"

    def __init__(self, code: str, message: str, *, details: Mapping[str, Any] | None = None):
        super().__init__(message, details=details)
        self.code = code  # type: ignore[misc]  # the instance carries the rule's own code


class BrokerError(TradingError):
    """The broker failed, timed out or answered something we could not use."""

    code = "BROKER_ERROR"

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        status: int | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.retryable = retryable
        self.status = status


class BrokerRejected(BrokerError):
    """The broker refused an order for a business reason; `code` is mapped to ours."""

    def __init__(self, code: str, message: str, *, details: Mapping[str, Any] | None = None):
        super().__init__(message, details=details)
        self.code = code  # type: ignore[misc]  # one of the spec's codes, per instance


class OrderInDoubt(BrokerError):
    """A submission or replacement went unanswered and the broker could not yet show it.

    Neither sent nor refused as far as anyone knows: the engine keeps the order pending (and its
    risk exposure held) until evidence settles it. Never a reason to send the order again.
    """

    def __init__(self, message: str, *, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message, retryable=False, details=details)


class StoreError(TradingError):
    """The order store failed."""

    code = "STORE_ERROR"


class ConcurrentUpdate(StoreError):
    """Another writer changed the same row first; the caller may reload and retry."""

    code = "CONCURRENT_UPDATE"


class EventBusError(TradingError):
    """The event bus failed to publish or acknowledge."""

    code = "EVENT_BUS_ERROR"
