"""The engine's working memory: open orders, open positions, marks, assets, the day-trade count.

The store and the broker stay the sources of truth; the book is rebuilt from them at start and
kept current as changes commit, so that a pre-trade check reads memory, not the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from trading_core.daytrades import DayTrades
from trading_core.market import Account, Asset, MarketClock
from trading_core.orders import Order
from trading_core.positions import Position, PositionChange
from trading_core.values import ZERO, BrokerOrderId, ClientOrderId, OrderId, Symbol


class Book:
    """Mutable caches owned by one engine; every method is O(1) in the history's length."""

    def __init__(self) -> None:
        self.open_orders: dict[OrderId, Order] = {}
        self.open_by_symbol: dict[Symbol, dict[OrderId, Order]] = {}
        self.by_broker_id: dict[BrokerOrderId, OrderId] = {}
        self.by_client_id: dict[ClientOrderId, OrderId] = {}
        self.positions: dict[Symbol, Position] = {}
        self.marks: dict[Symbol, Decimal] = {}
        self.assets: dict[Symbol, Asset] = {}
        self.account: Account | None = None
        self.account_stale = True
        self.clock: MarketClock | None = None
        self.day_trades = DayTrades()

    def track(self, order: Order) -> None:
        """Record an order's latest state: kept while open, dropped once closed."""
        previous = self.open_orders.get(order.id)
        if previous is not None and previous.broker_order_id is not None:
            self.by_broker_id.pop(previous.broker_order_id, None)
        if order.is_open:
            self.reserve(order)
            self.by_client_id[order.client_order_id] = order.id
            if order.broker_order_id is not None:
                self.by_broker_id[order.broker_order_id] = order.id
            return
        if previous is None:
            return
        del self.open_orders[order.id]
        self.by_client_id.pop(order.client_order_id, None)
        self._drop_from_symbol(order)

    def _drop_from_symbol(self, order: Order) -> None:
        same_symbol = self.open_by_symbol.get(order.symbol)
        if same_symbol is not None:
            same_symbol.pop(order.id, None)
            if not same_symbol:  # so that the symbols listed are those with open orders
                del self.open_by_symbol[order.symbol]

    def reserve(self, order: Order) -> None:
        """Hold a new order as open before the store has it, so that checks made meanwhile see it.

        `track` takes over once it is stored; `release` drops it if the store refused it.
        """
        if order.is_open:
            self.open_orders[order.id] = order
            self.open_by_symbol.setdefault(order.symbol, {})[order.id] = order

    def release(self, order: Order) -> None:
        """Drop a reserved order that was never stored."""
        if self.open_orders.get(order.id) is order:
            del self.open_orders[order.id]
            self._drop_from_symbol(order)

    def open_orders_in(self, symbol: Symbol) -> Iterable[Order]:
        return self.open_by_symbol.get(symbol, {}).values()

    def find_open(self, broker_order_id: BrokerOrderId, client_order_id: ClientOrderId) -> OrderId | None:
        return self.by_broker_id.get(broker_order_id) or self.by_client_id.get(client_order_id)

    def held(self, symbol: Symbol) -> Decimal:
        position = self.positions.get(symbol)
        return position.quantity if position is not None else ZERO

    def apply_position(self, change: PositionChange, day: date, price: Decimal) -> None:
        after = change.after
        if after.is_open:
            self.positions[after.symbol] = after
        else:
            self.positions.pop(after.symbol, None)
        self.marks[after.symbol] = price
        self.day_trades = self.day_trades.record(after.symbol, change, day)
        self.account_stale = True
