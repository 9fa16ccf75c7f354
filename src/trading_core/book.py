"""The engine's working memory: open orders, open positions, marks, the account, assets, day trades.

The store and the broker stay the sources of truth; the book is rebuilt from them at start and
kept current as changes commit, so that a pre-trade check reads memory, not the database, and
the account as last read from the broker moved on by what happened since (`account_book`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from trading_core.account_book import AccountBook, opening_quantity, reference_price
from trading_core.daytrades import DayTrades
from trading_core.enums import OrderStatus
from trading_core.fills import Fill
from trading_core.market import Asset, MarketClock
from trading_core.orders import Order
from trading_core.positions import Position, PositionChange
from trading_core.protective import unfilled_once
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
        self._pushed: set[Symbol] = set()
        """Symbols whose mark is the last price their market data pushed (not a fill's, not one asked for)."""
        self.assets: dict[Symbol, Asset] = {}
        self.account = AccountBook(self.positions, self.marks)
        self.clock: MarketClock | None = None
        self.day_trades = DayTrades()

    def track(self, order: Order) -> None:
        """Record an order's latest state: kept while open, dropped once closed."""
        previous = self.open_orders.get(order.id)
        if previous is not None and previous.broker_order_id is not None:
            self.by_broker_id.pop(previous.broker_order_id, None)
        # Held as it is since `reserve` (a new order, now stored): open, as the book holds no other.
        held_as_is = previous is order
        if held_as_is or order.is_open:
            if not held_as_is:
                self._keep(order)
            self.by_client_id[order.client_order_id] = order.id
            if order.broker_order_id is not None:
                self.by_broker_id[order.broker_order_id] = order.id
                self._hold(order, previous)
            elif order.submitted_at is not None and order.status is OrderStatus.PENDING_NEW:
                self._hold_in_doubt(order)
            return
        if previous is None:
            return
        del self.open_orders[order.id]
        self.by_client_id.pop(order.client_order_id, None)
        self._drop_from_symbol(order)
        if self.account.holds:
            self._release_hold(order)

    def _hold(self, order: Order, previous: Order | None) -> None:
        """An order the broker has holds what it would add at its price, from when the broker took it."""
        account = self.account
        hold = account.holds.get(order.id)
        if hold is not None and hold.acknowledged:
            price = None
            if _routed_at_open(previous, order):  # taken while the market was closed: priced again
                price = reference_price(order.side, order.limit_price, order.stop_price, self.marks.get(order.symbol))
            account.resize(order.id, order.remaining_quantity, price)
            return
        if hold is None:
            opening, price = self._hold_terms(order)
            account.place(order.id, opening, price, order.remaining_quantity, acknowledged=True)
            if previous is None:  # one refused as never received that the broker reports after all:
                account.reread = True  # the last read may have counted it
        else:  # it was in doubt: the same hold, now the broker's too
            if account.acknowledge(order.id):
                account.reread = True
            account.resize(order.id, order.remaining_quantity)
        if order.replaces is not None:
            account.supersede(order.replaces, superseded=True)  # the broker took the replacement

    def _hold_in_doubt(self, order: Order) -> None:
        """An order sent and unanswered may be at the broker: it holds, apart, and the account is read again."""
        account = self.account
        if order.id not in account.holds:
            opening, price = self._hold_terms(order)
            account.place(order.id, opening, price, order.remaining_quantity, acknowledged=False)
            account.reread = True

    def _hold_terms(self, order: Order) -> tuple[Decimal, Decimal]:
        """What an order adds to the position (and its price) as the broker counts it when it takes it.

        Our other orders on its side that the broker has reduce the position first; the order it
        replaces does not (the broker closes it as it takes this one).
        """
        price = reference_price(order.side, order.limit_price, order.stop_price, self.marks.get(order.symbol))
        if order.leg_of is not None:
            return ZERO, price  # an exit of its group: it sells (or buys back) what the group's entry adds
        skipped = (order.id, order.replaces)
        same_side = unfilled_once(
            other
            for other in self.open_orders_in(order.symbol)
            if other.side is order.side and other.broker_order_id is not None and other.id not in skipped
        )
        opening = opening_quantity(order.side, order.quantity, self.held(order.symbol), same_side)
        return opening, price

    def _release_hold(self, order: Order) -> None:
        account = self.account
        account.release(order.id)
        replaced = order.replaces
        if replaced is not None and not order.filled_quantity and replaced in self.open_orders:
            account.supersede(replaced, superseded=False)  # a replacement that never took over

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
            self._keep(order)

    def _keep(self, order: Order) -> None:
        """Hold an open order's latest state, by id and by symbol."""
        self.open_orders[order.id] = order
        self.open_by_symbol.setdefault(order.symbol, {})[order.id] = order

    def release(self, order: Order) -> None:
        """Drop a reserved order that was never stored."""
        if self.open_orders.get(order.id) is order:
            del self.open_orders[order.id]
            self._drop_from_symbol(order)

    def open_orders_in(self, symbol: Symbol) -> Iterable[Order]:
        """Our open orders in `symbol`, including those not yet stored."""
        return self.open_by_symbol.get(symbol, {}).values()

    def find_open(self, broker_order_id: BrokerOrderId, client_order_id: ClientOrderId) -> OrderId | None:
        """The open order the broker knows by `broker_order_id`, or we sent under `client_order_id`."""
        return self.by_broker_id.get(broker_order_id) or self.by_client_id.get(client_order_id)

    def held(self, symbol: Symbol) -> Decimal:
        """The position's signed quantity in `symbol` (0 when flat)."""
        position = self.positions.get(symbol)
        return position.quantity if position is not None else ZERO

    def apply_position(self, change: PositionChange, fill: Fill, day: date) -> None:
        """Take a fill's position change: the position, its mark and the day's trades."""
        after = change.after
        symbol = after.symbol
        if after.is_open:
            self.positions[symbol] = after
        else:
            self.positions.pop(symbol, None)
        self.marks[symbol] = fill.price
        self._pushed.discard(symbol)
        self.day_trades = self.day_trades.record(symbol, change, day)
        self.account.fill(symbol, fill.side, fill.quantity, fill.price)

    def set_mark(self, symbol: Symbol, price: Decimal) -> None:
        """A price asked for: the mark of `symbol`, at which what we hold of it is valued."""
        marks = self.marks
        if marks.get(symbol) is price:  # the one pushed last
            return
        marks[symbol] = price
        self._pushed.discard(symbol)
        if symbol in self.positions:
            self.account.moved(symbol)

    def push_mark(self, symbol: Symbol, price: Decimal) -> None:
        """A price the market data pushed (`PushesMarks`): the mark until another comes, or a fill."""
        self.set_mark(symbol, price)
        self._pushed.add(symbol)

    def pushed_mark(self, symbol: Symbol) -> Decimal | None:
        """The mark of `symbol` when it is the last price pushed, else None."""
        return self.marks.get(symbol) if symbol in self._pushed else None

    def adopt_position(self, position: Position) -> None:
        """Take a position from elsewhere (the broker's, at reconciliation): the account is read again,
        as the trades that made the difference moved the broker's cash too."""
        symbol = position.symbol
        if position.is_open:
            self.positions[symbol] = position
        else:
            self.positions.pop(symbol, None)
        self.account.moved(symbol)
        self.account.reread = True


def _routed_at_open(previous: Order | None, order: Order) -> bool:
    """The broker took the order while the market was closed (`accepted`) and has routed it now."""
    return previous is not None and previous.status is OrderStatus.ACCEPTED and order.status is not OrderStatus.ACCEPTED
