"""What every room of the engine works with."""

from __future__ import annotations

import attrs

from trading_core.account_sync import AccountSync
from trading_core.book import Book
from trading_core.clock import Clock
from trading_core.engine.config import EngineConfig
from trading_core.engine.in_flight import InFlight
from trading_core.errors import OrderNotFound
from trading_core.facts import BrokerFacts
from trading_core.ledger import OrderLedger
from trading_core.orders import Order
from trading_core.ports import Broker, MarketData, OrderStore
from trading_core.trading_state import TradingStateKeeper
from trading_core.values import OrderId


@attrs.frozen(kw_only=True)
class EngineParts:
    """The ports and the in-process state the engine's rooms share (each room takes what it needs).

    Attributes:
        broker: where orders go.
        store: where orders, fills and positions are kept.
        book: this process's open orders, positions and marks.
        ledger: the one writer of order changes, each with its events.
        clock: the engine's time.
        facts: the broker's clock, assets and prices, cached.
        account: the account kept between reads of the broker's (see `trading_core.account_sync`).
        in_flight: the orders on their way to the broker.
        trading: the trading state (active, reducing-only, halted).
        config: how the engine behaves.
    """

    broker: Broker
    store: OrderStore
    book: Book
    ledger: OrderLedger
    clock: Clock
    facts: BrokerFacts
    account: AccountSync
    in_flight: InFlight
    trading: TradingStateKeeper
    config: EngineConfig

    @classmethod
    def assemble(
        cls, *, broker: Broker, store: OrderStore, clock: Clock, market_data: MarketData | None, config: EngineConfig
    ) -> EngineParts:
        """The parts of a new engine on these ports: an empty book, and the state kept around it."""
        book = Book()
        facts = BrokerFacts(broker=broker, market_data=market_data, clock=clock, book=book, clock_ttl=config.clock_ttl)
        return cls(
            broker=broker,
            store=store,
            book=book,
            ledger=OrderLedger(store, book, clock),
            clock=clock,
            facts=facts,
            account=AccountSync(
                broker=broker,
                book=book,
                clock=clock,
                interval=config.account_sync_interval,
                read_gap=config.account_read_gap,
                refresh_marks=facts.refresh_marks,
            ),
            in_flight=InFlight(),
            trading=TradingStateKeeper(store, clock),
            config=config,
        )

    async def order(self, order_id: OrderId | str) -> Order:
        """The order as stored.

        Raises:
            OrderNotFound: no order has that id.
        """
        order = await self.store.get_order(OrderId(order_id))
        if order is None:
            raise OrderNotFound(f"no order with id {order_id}", details={"orderId": str(order_id)})
        return order

    async def current(self, order: Order) -> Order:
        """`order` as last committed (its sender, the stream or the poll may have moved it on)."""
        return self.book.open_orders.get(order.id) or await self.store.get_order(order.id) or order
