"""The paper exchange: a simulated broker in-process, behind the Broker and MarketData ports.

It behaves like Alpaca's paper account: orders get the broker's statuses and the trade_updates
events in Alpaca's order, fills move an account of cash and positions (positions through the
core's own `apply_fill`, so engine and exchange agree to the cent), and it refuses what Alpaca
refuses with the codes listed in `adapters.paper.checks`.

Everything happens synchronously inside the call that causes it: `submit_order` of a market
order in session has emitted `new` and `fill` by the time it returns; the returned order is the
one of the `new` event (Alpaca's REST answer reports the order as accepted; fills follow on the
stream). An order sent while the market is closed is `accepted` and routed (`new`) at the next
`open_market()`, or, with a calendar (`PaperConfig.calendar`), at the calendar's next open.
Time comes from the injected clock; prices move by `set_price` and `step_prices` (the seeded walk
of `adapters.paper.walk`; `adapters.paper.timers` runs it on an interval and opens and closes the
session by the calendar). Trailing stops and the bracket, OCO and OTO classes execute as at
Alpaca (`adapters.paper.groups`, `trading_core.protective`, `trading_core.trailing`). Not
simulated: notional orders. With a calendar, orders with `extended_hours` (day limit orders only, as at
Alpaca) also trade in the pre-market and after-hours sessions; the others wait for the regular one.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from adapters.calendar import NyseCalendar
from adapters.paper.calendar import next_open_and_close
from adapters.paper.config import PaperConfig
from adapters.paper.instrument import Instrument
from adapters.paper.market import PaperMarketData
from adapters.paper.prehistory import Prehistory
from adapters.paper.restart import restore_history, resume_account
from adapters.paper.scripting import ScriptControls
from adapters.paper.sessions import SessionControls
from adapters.paper.tape import Tape
from adapters.paper.venue import Venue
from adapters.paper.walk import PriceWalk
from trading_core.broker_models import BrokerOrder, BrokerPosition, TradeUpdate
from trading_core.clock import Clock
from trading_core.enums import TimeInForce
from trading_core.errors import OrderNotFound
from trading_core.market import Account, Asset, MarketClock, Session
from trading_core.market_hours import market_clock
from trading_core.orders import Order
from trading_core.ports import MarkListener, OrderFilter
from trading_core.positions import Position
from trading_core.values import BrokerOrderId, ClientOrderId, Symbol, price

if TYPE_CHECKING:
    from trading_core.ports import Broker, MarketData, PushesMarks


class PaperExchange(ScriptControls, SessionControls, PaperMarketData):
    """A simulated brokerage account with a market of listed assets.

    Market data (quotes, bars, snapshots: `PaperMarketData`) is of its own prices, from its start.
    Controls for tests and simulations: `set_price`, `step_prices` (a seeded random walk in
    whole cents), `open_market` and `close_market`; `plan_fills` and `fill_now` script fills.

    Args:
        clock: Where every timestamp comes from.
        config: Account, listings and fill behaviour; the defaults are a $100,000 margin account
            (multiplier 2) on a small US universe, market open, one fill per execution.
    """

    def __init__(self, clock: Clock, *, config: PaperConfig | None = None) -> None:
        self.config = cfg = config or PaperConfig()
        self._clock = clock
        self._walk = PriceWalk(cfg.seed, cfg.volatility_bp)
        self._updates: deque[TradeUpdate] = deque(maxlen=cfg.max_pending_updates)
        self._arrived = asyncio.Event()
        self.dropped_updates = 0
        """Trade updates dropped because nobody drained them (see `max_pending_updates`)."""
        self._venue = Venue(clock, cfg, self._emit)
        self._session_day = None
        if cfg.calendar is not None:
            self.follow_calendar()
        self._account_id = cfg.account_id or str(uuid.uuid4())
        self._mark_listeners: list[MarkListener] = []
        self._tape = Tape(cfg.minute_bars_kept, _prehistory(cfg, clock))
        self._record_prices()

    # ---------------------------------------------------------------- the Broker port: orders

    async def submit_order(self, order: Order) -> BrokerOrder:
        """Take a new order under its `client_order_id`; a refusal raises `BrokerRejected`."""
        return self._venue.submit(order)

    async def get_order(self, broker_order_id: BrokerOrderId) -> BrokerOrder:
        """The order's latest snapshot, open or closed (while `closed_order_retention` keeps it).

        Raises:
            OrderNotFound: The exchange has no order under this id.
        """
        snap = self._venue.orders.get(broker_order_id)
        if snap is None:
            raise OrderNotFound("order not found", details={"orderId": broker_order_id})
        return snap

    async def get_order_by_client_id(self, client_order_id: ClientOrderId) -> BrokerOrder | None:
        """The order taken under our client order id, None when there is none."""
        broker_order_id = self._venue.by_client.get(client_order_id)
        return None if broker_order_id is None else self._venue.orders[broker_order_id]

    async def list_orders(
        self,
        *,
        status: OrderFilter = OrderFilter.OPEN,
        after: datetime | None = None,
        until: datetime | None = None,
        limit: int = 500,
    ) -> list[BrokerOrder]:
        """Newest first, like Alpaca's default direction; `after` and `until` are exclusive.

        Orders are kept in submission order, so the walk stops at the first one submitted at or
        before `after` (this assumes the clock does not move backwards).
        """
        source: Iterator[BrokerOrder]
        if status is OrderFilter.OPEN:
            source = (w.snap for w in reversed(self._venue.working.values()) if w.snap is not None)
        else:
            source = reversed(self._venue.orders.values())
        found: list[BrokerOrder] = []
        for snap in source:
            if len(found) >= limit or (after is not None and snap.submitted_at <= after):
                break
            if (status is OrderFilter.CLOSED and snap.status.is_open) or (
                until is not None and snap.submitted_at >= until
            ):
                continue
            found.append(snap)
        return found

    async def cancel_order(self, broker_order_id: BrokerOrderId) -> None:
        """Cancel an open order: `pending_cancel`, then `canceled`.

        Raises:
            OrderNotFound: No order has this id.
            OrderNotCancelable: The order is closed already (filled, canceled, expired, ...).
        """
        self._venue.cancel(broker_order_id)

    async def cancel_all_orders(self) -> list[BrokerOrderId]:
        """Cancel every open order; the ids of those cancelled, oldest first."""
        ids = list(self._venue.working)
        for broker_order_id in ids:
            self._venue.cancel(broker_order_id)
        return ids

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
        """Replace an open order by a new one; return the new order.

        What is not given is copied from the old order. `quantity` is the new order's whole
        quantity (it starts unfilled); when omitted, the new order takes the old one's unfilled
        remainder, so replacing only a price never buys again what has filled. Events: the old
        order `pending_replace` then `replaced` (with `replaced_by`), then `new` (or `accepted`
        when the market is closed) for the new order, which then executes like a submission.
        Only `new` and `partially_filled` orders can be replaced, as at Alpaca.
        """
        return self._venue.replace(
            broker_order_id,
            client_order_id=client_order_id,
            quantity=quantity,
            limit_price=limit_price,
            stop_price=stop_price,
            time_in_force=time_in_force,
            trail=trail,
        )

    # ---------------------------------------------------------------- account, assets, clock

    async def list_positions(self) -> list[BrokerPosition]:
        """Open positions, by symbol, valued at the current price."""
        return [
            BrokerPosition(
                symbol=symbol,
                quantity=inst.position.quantity,
                average_entry_price=inst.position.average_entry_price,
                cost_basis=inst.position.cost_basis,
                current_price=inst.price,
            )
            for symbol, inst in sorted(self._venue.instruments.items())
            if inst.position.quantity
        ]

    async def get_account(self) -> Account:
        """The account with its balances now."""
        ledger = self._venue.ledger
        return Account(
            account_id=self._account_id,
            cash=ledger.cash,
            equity=ledger.equity,
            buying_power=ledger.buying_power,
            last_equity=ledger.last_equity,
            multiplier=ledger.multiplier,
            shorting_enabled=self._venue.can_short,
        )

    def resume(self, positions: Iterable[Position], cash: Decimal, open_orders: Iterable[Order] = ()) -> None:
        """Carry on an account that outlived the process: its cash, its positions, its open orders.

        See `adapters.paper.restart.resume_account`.

        Raises:
            ValueError: The exchange has taken orders already, or an order or position is in a
                symbol it does not list; nothing is changed.
        """
        resume_account(self._venue, positions, cash, open_orders)

    def restore_history(self, orders: Iterable[BrokerOrder], *, last_equity: Decimal) -> None:
        """After `resume`: the account's record of orders as it stood before the restart, and `last_equity`.

        See `adapters.paper.restart.restore_history`.
        """
        restore_history(self._venue, orders, last_equity=last_equity)

    async def get_clock(self) -> MarketClock:
        """The market clock: by the calendar when there is one, else open or closed as set here
        (the next open and close then fall on weekdays at 9:30 and 16:00 New York time)."""
        now = self._clock.now()
        calendar = self.config.calendar
        if calendar is not None:
            self.follow_calendar()
            return market_clock(calendar, now)
        is_open = self._venue.is_open
        next_open, next_close = next_open_and_close(now, is_open=is_open)
        return MarketClock(
            timestamp=now,
            is_open=is_open,
            next_open=next_open,
            next_close=next_close,
            session=Session.REGULAR if is_open else Session.CLOSED,
        )

    async def get_asset(self, symbol: Symbol) -> Asset | None:
        """The listed asset, None for a symbol the exchange does not list."""
        inst = self._venue.instruments.get(symbol)
        return None if inst is None else inst.asset

    async def list_assets(self) -> list[Asset]:
        """Every listed asset."""
        return [inst.asset for inst in self._venue.instruments.values()]

    def watch_marks(self, listener: MarkListener) -> None:
        """Call `listener(symbol, price)` whenever a price moves (`set_price`, `step_prices`)."""
        self._mark_listeners.append(listener)

    def pushing(self, symbol: Symbol) -> bool:
        """Every listed symbol's: each move is told to the listeners as it is made, in this process."""
        return symbol in self._venue.instruments

    async def health(self) -> Mapping[str, str]:
        """Always connected: the exchange is in this process."""
        return {"broker": "connected"}

    # ---------------------------------------------------------------- the trade update stream

    def drain_updates(self) -> list[TradeUpdate]:
        """Trade updates not taken yet, oldest first; never blocks."""
        taken = list(self._updates)
        self._updates.clear()
        return taken

    async def next_updates(self) -> list[TradeUpdate]:
        """Wait until at least one trade update is there, then take all of them."""
        while not self._updates:
            self._arrived.clear()
            await self._arrived.wait()
        return self.drain_updates()

    def _emit(self, update: TradeUpdate) -> None:
        updates = self._updates
        if len(updates) == updates.maxlen:
            self.dropped_updates += 1
        updates.append(update)
        self._arrived.set()

    # ---------------------------------------------------------------- controls

    @property
    def is_open(self) -> bool:
        """The market is open (see `open_market` and `close_market`)."""
        return self._venue.is_open

    @property
    def last_equity(self) -> Decimal:
        """The equity at the last close (the day's P&L starts from it)."""
        return self._venue.ledger.last_equity

    def price(self, symbol: str) -> Decimal:
        """The current price of a listed symbol."""
        return self._instrument(symbol).price

    def set_price(self, symbol: str, new_price: Decimal) -> None:
        """Move a symbol's price; in session, the resting orders it crosses execute."""
        inst = self._instrument(symbol)
        now = self._clock.now()
        self._venue.move(inst, price(new_price, field="price"), now)
        self._tape.record(inst.asset.symbol, inst.price, now)
        for listener in self._mark_listeners:
            listener(inst.asset.symbol, inst.price)

    def step_prices(self, n: int = 1) -> None:
        """Advance every price `n` steps of the seeded random walk (`adapters.paper.walk`), in whole cents.

        One step moves a price by a uniform whole number of cents within `volatility_bp` basis
        points of it (at least one cent either way), never below one cent.
        """
        walk = self._walk
        for _ in range(n):
            now = self._clock.now()
            for inst in self._venue.instruments.values():
                self._venue.move(inst, walk.step(inst.price), now)
                self._tape.record(inst.asset.symbol, inst.price, now)
                for listener in self._mark_listeners:
                    listener(inst.asset.symbol, inst.price)

    def _instrument(self, symbol: str) -> Instrument:
        instruments = self._venue.instruments
        inst: Instrument | None = instruments.get(symbol)  # type: ignore[call-overload]  # a listed one, as given
        if inst is None:
            inst = instruments.get(Symbol(symbol))
        if inst is None:
            raise KeyError(f"{symbol} is not listed on the paper exchange")
        return inst


def _prehistory(cfg: PaperConfig, clock: Clock) -> Prehistory | None:
    """The made-up sessions before the start (`PaperConfig.history_days`), on the exchange's calendar or the NYSE's."""
    if not cfg.history_days:
        return None
    calendar = cfg.calendar or NyseCalendar()
    return Prehistory(calendar, clock.now(), days=cfg.history_days, seed=cfg.seed, volatility_bp=cfg.volatility_bp)


if TYPE_CHECKING:

    def _implements_the_ports(exchange: PaperExchange) -> tuple[Broker, MarketData, PushesMarks]:
        """mypy checks here that the exchange has every method of the ports, exactly typed."""
        return exchange, exchange, exchange
