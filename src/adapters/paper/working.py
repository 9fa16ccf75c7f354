"""An order the exchange is still working: a mutable record, and the frozen snapshot of it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import attrs

from trading_core.broker_models import BrokerOrder
from trading_core.enums import OrderClass, OrderStatus, OrderType, Side, TimeInForce
from trading_core.values import FOUR_PLACES, ZERO, BrokerOrderId, ClientOrderId, Symbol

_LIMIT_TYPES = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT})
_STOP_TYPES = frozenset({OrderType.STOP, OrderType.STOP_LIMIT})


class WorkingOrder:
    """The exchange's own record of an open order; it is dropped once the order is closed.

    Only the exchange mutates it. Every change is published as a `BrokerOrder` snapshot built by
    `snapshot()`, which is also what queries return, so callers never see this record.
    """

    __slots__ = (
        "client_order_id",
        "counted",
        "created_at",
        "extended_hours",
        "filled_at",
        "filled_average_price",
        "filled_notional",
        "filled_quantity",
        "hwm",
        "id",
        "in_book",
        "legs",
        "limit_price",
        "order_class",
        "parent",
        "quantity",
        "replaces",
        "reserve_price",
        "reserve_quantity",
        "seq",
        "side",
        "snap",
        "status",
        "stop_price",
        "symbol",
        "time_in_force",
        "trail_percent",
        "trail_price",
        "triggered",
        "type",
        "watched",
        "whole",
    )

    def __init__(
        self,
        *,
        id: BrokerOrderId,
        client_order_id: ClientOrderId,
        symbol: Symbol,
        side: Side,
        type: OrderType,
        time_in_force: TimeInForce,
        quantity: Decimal,
        limit_price: Decimal | None,
        stop_price: Decimal | None,
        extended_hours: bool,
        created_at: datetime,
        seq: int,
        replaces: BrokerOrderId | None = None,
    ) -> None:
        self.id = id
        self.client_order_id = client_order_id
        self.symbol = symbol
        self.side = side
        self.type = type
        self.time_in_force = time_in_force
        self.quantity = quantity
        self.limit_price = limit_price
        self.stop_price = stop_price
        self.extended_hours = extended_hours
        self.created_at = created_at
        self.seq = seq
        self.replaces = replaces
        self.triggered = type not in _STOP_TYPES
        """Whether a stop has been crossed (always true for orders without a stop)."""
        self.whole = quantity == quantity.to_integral_value()
        self._start_pending_new()

    def _start_pending_new(self) -> None:
        """The state an order starts in: `pending_new`, nothing filled or held, in no book or group, no trail."""
        self.status = OrderStatus.PENDING_NEW
        self.filled_quantity = ZERO
        self.filled_notional = ZERO
        self.filled_average_price: Decimal | None = None
        self.filled_at: datetime | None = None
        self.reserve_price = ZERO
        self.reserve_quantity = ZERO
        """The last `reserve_quantity` shares of the order add exposure; they hold buying power."""
        self.in_book = False
        self.snap: BrokerOrder | None = None
        self.order_class = OrderClass.SIMPLE
        """A parent's class; its legs (`legs`) name it as their `parent`."""
        self.legs: list[WorkingOrder] = []
        self.parent: WorkingOrder | None = None
        self.counted = True
        """Whether its unfilled quantity is in its instrument's open quantities: an exit group's once."""
        self.watched = False
        """A stop-loss that works while it shows `held` (`trading_core.protective.watched_while_held`)."""
        self.trail_price: Decimal | None = None
        self.trail_percent: Decimal | None = None
        self.hwm: Decimal | None = None
        """A trailing stop's high-water mark (low-water for a buy) since it started to work."""

    @property
    def remaining(self) -> Decimal:
        """What is left to fill."""
        return self.quantity - self.filled_quantity

    @property
    def is_open(self) -> bool:
        """Whether the order can still fill."""
        return self.status.is_open

    @property
    def has_limit(self) -> bool:
        """Whether the order has a limit price (limit and stop-limit orders)."""
        return self.type in _LIMIT_TYPES

    def record_fill(self, quantity: Decimal, price: Decimal, at: datetime) -> None:
        """Count one execution; the average is exact, shown at four places like the core's."""
        self.filled_quantity += quantity
        self.filled_notional += quantity * price
        if self.filled_quantity == quantity:
            self.filled_average_price = price
        else:
            self.filled_average_price = (self.filled_notional / self.filled_quantity).quantize(FOUR_PLACES)
        if self.filled_quantity == self.quantity:
            self.status = OrderStatus.FILLED
            self.filled_at = at
        else:
            self.status = OrderStatus.PARTIALLY_FILLED

    def snapshot(
        self,
        now: datetime,
        *,
        canceled_at: datetime | None = None,
        expired_at: datetime | None = None,
        replaced_by: BrokerOrderId | None = None,
    ) -> BrokerOrder:
        """The order as the broker reports it now; kept as the latest snapshot."""
        snap = BrokerOrder(
            broker_order_id=self.id,
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            side=self.side,
            type=self.type,
            time_in_force=self.time_in_force,
            quantity=self.quantity,
            status=self.status,
            created_at=self.created_at,
            updated_at=now,
            submitted_at=self.created_at,
            filled_quantity=self.filled_quantity,
            filled_average_price=self.filled_average_price,
            limit_price=self.limit_price,
            stop_price=self.stop_price,
            extended_hours=self.extended_hours,
            filled_at=self.filled_at,
            canceled_at=canceled_at,
            expired_at=expired_at,
            replaced_by=replaced_by,
            replaces=self.replaces,
        )
        if self.legs or self.order_class is not OrderClass.SIMPLE or self.type is OrderType.TRAILING_STOP:
            snap = attrs.evolve(
                snap,
                order_class=self.order_class,
                legs=tuple(leg.snap or leg.snapshot(now) for leg in self.legs),
                trail_price=self.trail_price,
                trail_percent=self.trail_percent,
                hwm=self.hwm,
            )
        self.snap = snap
        return snap
