"""Real domain events for wire tests, made by the core's own functions (no hand-built payloads).

`lifecycle_events()` walks orders through submission, partial and full fills, a close with P&L, a
flip through zero, a risk rejection and a cancellation, so every published event type appears.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from trading_core.enums import OrderStatus
from trading_core.events import Event
from trading_core.fills import Fill
from trading_core.lifecycle import apply_event, execute, mark_submitted, reject
from trading_core.orders import Order, TradeEvent
from trading_core.positions import Position
from trading_core.requests import OrderRequest
from trading_core.values import BrokerOrderId, ExecutionId, Symbol, new_client_order_id, new_order_id

T0 = datetime(2026, 3, 2, 14, 30, 0, 123456, tzinfo=UTC)
STRATEGY = "6f1d2c3b-4a59-4e7d-8c1b-2a3f4e5d6c7b"


class Book:
    """Orders and one position, moved by the core's functions, collecting the events they announce."""

    def __init__(self, symbol: str = "AAPL") -> None:
        self.symbol = Symbol(symbol)
        self.position = Position.flat(self.symbol)
        self.events: list[Event] = []
        self.now = T0
        self._fills = 0

    def tick(self) -> datetime:
        self.now += timedelta(milliseconds=250)
        return self.now

    def order(self, side: str, quantity: str, type: str = "market", **fields: object) -> Order:
        request = OrderRequest.create(
            symbol=self.symbol,
            side=side,
            type=type,
            quantity=quantity,
            strategy_id=STRATEGY,
            decision_id=str(uuid.uuid4()),
            **fields,
        )
        return Order.from_request(
            request, order_id=new_order_id(), client_order_id=new_client_order_id(), now=self.tick()
        )

    def submit(self, order: Order) -> Order:
        submitted, events = mark_submitted(
            order,
            broker_order_id=BrokerOrderId(str(uuid.uuid4())),
            status=OrderStatus.NEW,
            now=self.tick(),
            ts_event=self.now,
        )
        self.events += events
        return submitted

    def fill(self, order: Order, quantity: str, price: str) -> Order:
        self._fills += 1
        fill = Fill(
            order_id=order.id,
            execution_id=ExecutionId(f"exec-{self._fills}-{uuid.uuid4().hex[:8]}"),
            symbol=order.symbol,
            side=order.side,
            quantity=Decimal(quantity),
            price=Decimal(price),
            timestamp=self.tick(),
            commission=Decimal("0.0035"),
        )
        execution = execute(order, self.position, fill, now=self.now)
        assert execution is not None
        self.position = execution.position.after
        self.events += execution.events
        return execution.order

    def refuse(self, order: Order, code: str, reason: str) -> Order:
        refused, events = reject(order, code=code, reason=reason, now=self.tick())
        self.events += events
        return refused

    def broker(self, order: Order, event: TradeEvent, reason: str | None = None) -> Order:
        moved, events = apply_event(order, event, now=self.tick(), ts_event=self.now, reason=reason)
        self.events += events
        return moved


def lifecycle_events() -> list[Event]:
    """Every event type at least once, from a plausible trading session."""
    book = Book()
    buy = book.submit(book.order("buy", "10", "limit", limit_price="150.25"))
    buy = book.fill(buy, "4", "150.25")  # partial; position opened
    book.fill(buy, "6", "150.10")  # filled; position updated
    sell = book.submit(book.order("sell", "15", "market"))
    book.fill(sell, "15", "151.3333")  # filled; long closed with P&L, short opened (flip)
    cover = book.submit(book.order("buy", "5", "market"))
    book.fill(cover, "5", "149.0001")  # filled; short closed with P&L
    book.refuse(book.order("buy", "1000", "market"), "INSUFFICIENT_FUNDS", "buying power 1000 is below 150000")
    stop = book.submit(book.order("sell", "3", "stop", stop_price="140.00", time_in_force="gtc"))
    book.broker(stop, TradeEvent.CANCELED)
    return book.events
