"""trading_core: the pure domain of the trading engine (orders, positions, risk), behind ports."""

from trading_core.bars import Bar, Snapshot, Timeframe, Trade
from trading_core.broker_models import BrokerOrder, BrokerPosition, TradeUpdate
from trading_core.clock import Clock, SystemClock, TestClock
from trading_core.daytrades import DayTrades
from trading_core.enums import (
    ApiStatus,
    OrderStatus,
    OrderType,
    PositionSide,
    Side,
    SubmitStatus,
    TimeInForce,
    TradingState,
)
from trading_core.errors import (
    BrokerError,
    BrokerRejected,
    InvalidMarketDataRequest,
    InvalidModification,
    InvalidOrder,
    InvalidTransition,
    OrderInDoubt,
    OrderNotFound,
    Overfill,
    TradingError,
    UnknownSymbol,
)
from trading_core.events import (
    Event,
    OrderCancelled,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    OrderSubmitted,
    PositionClosed,
    PositionOpened,
    PositionUpdated,
)
from trading_core.fills import Fill
from trading_core.lifecycle import Execution, apply_event, execute, fill_order, mark_submitted, reject
from trading_core.market import Account, Asset, MarketClock, Quote, Session
from trading_core.orders import TRANSITIONS, Order, TradeEvent
from trading_core.portfolio import Portfolio
from trading_core.positions import Position, PositionChange, apply_fill
from trading_core.requests import OrderRequest, split_at_flat
from trading_core.risk import PreTradeValidation, Rejection, RiskContext, RiskEngine, RiskLimits
from trading_core.values import (
    BrokerOrderId,
    ClientOrderId,
    EventId,
    ExecutionId,
    OrderId,
    Symbol,
)

__all__ = [
    # values and identifiers
    "Symbol",
    "OrderId",
    "ClientOrderId",
    "BrokerOrderId",
    "ExecutionId",
    "EventId",
    # vocabularies
    "Side",
    "OrderType",
    "TimeInForce",
    "OrderStatus",
    "ApiStatus",
    "SubmitStatus",
    "PositionSide",
    "TradingState",
    # orders and fills
    "OrderRequest",
    "split_at_flat",
    "Order",
    "TradeEvent",
    "TRANSITIONS",
    "apply_event",
    "mark_submitted",
    "reject",
    "Fill",
    "Execution",
    "execute",
    "fill_order",
    # positions and portfolio
    "Position",
    "PositionChange",
    "apply_fill",
    "Portfolio",
    "DayTrades",
    # market and account
    "Account",
    "Asset",
    "MarketClock",
    "Quote",
    "Session",
    # market data
    "Bar",
    "Snapshot",
    "Timeframe",
    "Trade",
    # broker view
    "BrokerOrder",
    "BrokerPosition",
    "TradeUpdate",
    # risk
    "RiskEngine",
    "RiskLimits",
    "RiskContext",
    "PreTradeValidation",
    "Rejection",
    # events
    "Event",
    "OrderSubmitted",
    "OrderPartiallyFilled",
    "OrderFilled",
    "OrderRejected",
    "OrderCancelled",
    "PositionOpened",
    "PositionUpdated",
    "PositionClosed",
    # time
    "Clock",
    "SystemClock",
    "TestClock",
    # errors
    "TradingError",
    "InvalidModification",
    "InvalidOrder",
    "InvalidTransition",
    "Overfill",
    "OrderNotFound",
    "BrokerError",
    "BrokerRejected",
    "OrderInDoubt",
    "UnknownSymbol",
    "InvalidMarketDataRequest",
]
