"""The broker's ports: where orders go, and what some brokers can do besides (`RecoversFills`,
`ReportsReconnects`).

Re-exported by `trading_core.ports`, where the engine's other ports are.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from trading_core.broker_models import BrokerOrder, BrokerPosition, TradeUpdate
from trading_core.enums import TimeInForce
from trading_core.market import Account, Asset, MarketClock
from trading_core.orders import Order
from trading_core.store_ports import OrderFilter
from trading_core.values import BrokerOrderId, ClientOrderId, Symbol


class Broker(Protocol):
    """The brokerage: orders, positions, account, assets, clock, and trade updates."""

    async def submit_order(self, order: Order) -> BrokerOrder:
        """Send a new order under its `client_order_id`.

        Raises:
            BrokerRejected: The broker refused it.
            OrderInDoubt: It went unanswered and may be at the broker: never send it again.
            BrokerError: It was not sent.
        """

    async def get_order(self, broker_order_id: BrokerOrderId) -> BrokerOrder:
        """The broker's copy of an order.

        Raises:
            OrderNotFound: the broker does not know it.
            BrokerError: the broker could not be asked.
        """

    async def get_order_by_client_id(self, client_order_id: ClientOrderId) -> BrokerOrder | None:
        """The broker's copy of the order sent under `client_order_id`; None if it has none.

        Raises:
            BrokerError: the broker could not be asked (which says nothing about the order).
        """

    async def list_orders(
        self,
        *,
        status: OrderFilter = OrderFilter.OPEN,
        after: datetime | None = None,
        until: datetime | None = None,
        limit: int = 500,
    ) -> list[BrokerOrder]:
        """Newest first; submitted after `after` and before `until` (both exclusive, as at Alpaca)."""

    async def cancel_order(self, broker_order_id: BrokerOrderId) -> None:
        """Ask the broker to cancel an order; the outcome comes as a trade update.

        Raises:
            OrderNotFound: the broker does not know it.
            OrderNotCancelable: it has ended, or is ending, at the broker.
            BrokerError: the request failed.
        """

    async def replace_order(
        self,
        broker_order_id: BrokerOrderId,
        *,
        client_order_id: ClientOrderId,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
        time_in_force: TimeInForce | None = None,
        trail: Decimal | None = None,
    ) -> BrokerOrder:
        """Replace a working order with a new one under `client_order_id`; None keeps a field.

        `trail` is a trailing stop's new trail, in its own kind (price or percent: Alpaca's `trail`).

        Raises:
            BrokerRejected: the broker refused the replacement; the old order works on.
            OrderNotFound, OrderNotCancelable: the old order has ended at the broker.
            OrderInDoubt: it went unanswered and may be at the broker.
            BrokerError: it was not sent.
        """

    async def list_positions(self) -> list[BrokerPosition]:
        """The account's open positions, as the broker holds them."""

    async def get_account(self) -> Account:
        """The account: cash, buying power, equity, and whether it may trade."""

    async def get_clock(self) -> MarketClock:
        """Whether the market is open, and its next open and close."""

    async def get_asset(self, symbol: Symbol) -> Asset | None:
        """What the broker knows of `symbol` (tradable, shortable, fractionable...); None if nothing."""

    def drain_updates(self) -> list[TradeUpdate]:
        """Trade updates that have arrived and not been taken yet, oldest first; never blocks."""

    async def next_updates(self) -> list[TradeUpdate]:
        """Wait until at least one trade update has arrived, then take all that have."""

    async def health(self) -> Mapping[str, str]:
        """Component name -> "connected" or a short reason it is not."""


@runtime_checkable
class RecoversFills(Protocol):
    """A broker whose executions can be read one by one, each with its own id (Alpaca's activities).

    The order poll uses it instead of making up an averaged fill when the broker's copy of an
    order shows fills we have not applied: they may only be on their way (in the stream's inbox),
    and a fill made up from the order's cumulative quantity would stand in for the real executions.
    """

    async def recover_fills(self, remote: BrokerOrder) -> list[TradeUpdate] | None:
        """The executions of `remote` not yet delivered, as trade updates with the broker's own
        execution ids (none when the stream has delivered them already); None when they cannot be read."""


@runtime_checkable
class ReportsReconnects(Protocol):
    """A broker whose trade update stream can be lost and connected again (Alpaca's).

    Fills the stream delivered while it was away reach us late, or (if it missed them) by a
    backfill: the engine reads the account again after each reconnection.
    """

    @property
    def reconnections(self) -> int:
        """How many times the stream has connected and caught up; it grows with each reconnection."""
