"""The account kept here between reads: the broker's cash, equity and buying power, moved as it moves them.

One read gives the broker's figures. From then on our own fills, the holds of our open orders and
the marks of what we hold move them as the broker moves its own, so a pre-trade check needs no
request. The rule is Alpaca's (the paper exchange models it), for an account whose buying power
multiplier is `m` (1: a cash account, 2: margin, 4: a pattern day trader's):

    equity       = cash + the sum of quantity x mark over the positions (a short counts negative)
    buying power = max(equity x m - the sum of |quantity x mark| - what open orders hold, 0)

An open order holds `opening x price`. `opening` is the part of it that adds exposure, counted
when the broker took it, against the position and our other orders on its side that the broker
holds (`opening_quantity`); `price` is what that part could cost (`reference_price`). As the
order fills, its adding part fills last, so `min(opening, unfilled) x price` stays held. A
replacement takes over when the broker accepts it: the old order's hold goes as the new one's
is counted, and the old order's unfilled part does not count on the new one's side. An order
in doubt (sent, unanswered) holds too, apart: the broker may not have it, so a read neither
expects its hold in the broker's figures nor takes it out of ours (`held_in_doubt`).

What the model cannot know (another client's trades on the account, fees, a rule the broker
applies differently) shows when the account is read again: a difference beyond a cent is an
`AccountDrift`, and the broker's figures are taken, our later changes moving them on from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Final

import attrs

from trading_core.enums import Side
from trading_core.market import Account
from trading_core.positions import Position
from trading_core.values import CENTS, ONE, ZERO, OrderId, Symbol

FIGURES: Final = ("cash", "equity", "buying_power")
"""The figures a read compares, as `AccountDrift.figure` names them."""


@attrs.frozen
class AccountDrift:
    """A figure of ours that differed from the broker's by more than a cent when the account was read."""

    figure: str
    """`cash`, `equity` or `buying_power`."""
    ours: Decimal
    broker: Decimal

    @property
    def difference(self) -> Decimal:
        """The broker's figure less ours."""
        return self.broker - self.ours


def opening_quantity(side: Side, quantity: Decimal, held: Decimal, same_side: Decimal) -> Decimal:
    """The part of an order that adds exposure: what is left once it has reduced the position.

    `held` is the position (negative when short); `same_side` the unfilled quantity of the other
    open orders on the order's side, which reduce the position first.
    """
    against = -held if side is Side.BUY else held
    if against <= same_side:
        return quantity  # nothing left to reduce: all of it opens or adds
    covered = against - same_side
    return quantity - covered if quantity > covered else ZERO


def reference_price(
    side: Side, limit_price: Decimal | None, stop_price: Decimal | None, mark: Decimal | None
) -> Decimal:
    """What the adding part of an order could cost a share, as far as is known when it is taken.

    A buy: its limit, else its stop when above the mark, else the mark. A sale (a short adds
    exposure): its limit when above the mark, else the mark. Without a mark, the order's own price.
    """
    current = mark if mark is not None else limit_price or stop_price or ZERO
    if side is Side.BUY:
        if limit_price is not None:
            return limit_price
        if stop_price is not None and stop_price > current:
            return stop_price
        return current
    if limit_price is not None and limit_price > current:
        return limit_price
    return current


class Hold:
    """What one open order holds of the buying power: `min(quantity, unfilled) x price`."""

    __slots__ = ("acknowledged", "amount", "price", "quantity", "reads", "superseded", "unfilled")

    def __init__(self, quantity: Decimal, price: Decimal, unfilled: Decimal, *, acknowledged: bool, reads: int) -> None:
        self.quantity = quantity
        """The adding part when the broker took the order."""
        self.price = price
        self.unfilled = unfilled
        self.acknowledged = acknowledged
        """The broker has shown the order; False while it is in doubt."""
        self.superseded = False
        """A replacement the broker accepted holds instead (the order is replaced, or about to be)."""
        self.reads = reads
        """`AccountBook.reads` when the hold was placed."""
        self.amount = ZERO
        """What it adds to `AccountBook.held` (or `held_in_doubt`) now."""


class AccountBook:
    """The account's figures between reads, over the engine's positions and marks.

    `market_value` (signed) and `gross_value` (absolute) are sums over the positions. A fill or a
    new mark tells which symbol `moved`; only those are valued again, when the figures are next
    read, so a price change costs the same with one position held or a hundred, and a symbol that
    moves and fills before the next order is valued once. Decimal sums of four-place products
    are exact: they do not drift from the broker's own sums.

    Args:
        positions: The engine's open positions, read as they are whenever the figures are.
        marks: The engine's latest prices, likewise.
    """

    def __init__(self, positions: Mapping[Symbol, Position], marks: Mapping[Symbol, Decimal]) -> None:
        self._positions = positions
        self._marks = marks
        self.reread = False
        """A read is wanted: something happened that the broker's figures tell better than ours."""
        self.reads = 0
        """How many reads have been taken (`take` with the balances)."""
        self.cash = ZERO
        self.multiplier = ONE
        self.market_value = ZERO
        self.gross_value = ZERO
        self.cost_basis = ZERO
        """The positions' cost basis, summed as `market_value` is (the portfolio's unrealized P&L)."""
        self.held = ZERO
        """Held for the open orders the broker has shown."""
        self.held_in_doubt = ZERO
        """Held for orders in doubt: taken off the buying power shown, never compared."""
        self.equity_offset = ZERO
        self.power_offset = ZERO
        """What the broker's equity and buying power were beyond ours at the last read (a rule of
        its own, prices of its own): added to ours until the next."""
        self.holds: dict[OrderId, Hold] = {}
        self._values: dict[Symbol, Decimal] = {}
        self._costs: dict[Symbol, Decimal] = {}
        self._moved: set[Symbol] = set()
        """Symbols whose position or mark changed since they were last valued."""
        self._adjustment = ZERO
        """`power_offset - held - held_in_doubt`, kept as they change: the buying power's terms
        that are not the positions'."""
        self._read: Account | None = None
        """The last read: the account's id, flags and `last_equity` are the broker's."""
        self._built: Account | None = None

    # ---------------------------------------------------------------- the figures

    @property
    def known(self) -> bool:
        """Whether the account has been read."""
        return self._read is not None

    @property
    def equity(self) -> Decimal:
        """Cash plus the positions' value at their marks, as the broker would show it."""
        if self._moved:
            self._value_moved()
        equity = self.cash + self.market_value
        # Taken after every run of fills (the portfolio's snapshot); the offset is mostly zero: as in `account`.
        return equity + self.equity_offset if self.equity_offset else equity

    @property
    def unrealized_pnl(self) -> Decimal:
        """The positions' value at their marks less what they cost."""
        if self._moved:
            self._value_moved()
        return self.market_value - self.cost_basis

    @property
    def tracked_power(self) -> Decimal:
        """Buying power as the broker should show it: the holds of orders in doubt left out."""
        power = self.equity * self.multiplier - self.gross_value - self.held + self.power_offset
        return power if power > ZERO else ZERO

    @property
    def buying_power(self) -> Decimal:
        """Buying power for the risk checks: orders in doubt hold theirs too."""
        power = self.equity * self.multiplier - self.gross_value + self._adjustment
        return power if power > ZERO else ZERO

    def account(self) -> Account:
        """The figures as an `Account`: the last read's, with our cash, equity and buying power.

        Raises:
            RuntimeError: the account has not been read yet.
        """
        if self._moved:
            self._value_moved()
        built = self._built
        if built is None:
            read = self._read
            if read is None:
                raise RuntimeError("the account has not been read yet")
            # Built for most orders (a fill moves the cash): the terms that are usually zero are
            # skipped, as a Decimal operation costs some 700 instructions.
            cash = self.cash
            equity = cash + self.market_value
            if self.equity_offset:
                equity += self.equity_offset
            power = equity * self.multiplier - self.gross_value
            if self._adjustment:
                power += self._adjustment
            # Written out rather than `attrs.evolve(read, ...)`: that looks the class's fields up
            # on every call, twice the cost of this.
            built = self._built = Account(
                account_id=read.account_id,
                cash=cash,
                equity=equity,
                buying_power=power if power > ZERO else ZERO,
                last_equity=read.last_equity,
                multiplier=read.multiplier,
                shorting_enabled=read.shorting_enabled,
                trading_blocked=read.trading_blocked,
                account_blocked=read.account_blocked,
                currency=read.currency,
            )
        return built

    def differences(self, broker: Account) -> list[AccountDrift]:
        """Our figures that differ from the broker's by more than a cent."""
        ours = (self.cash, self.equity, self.tracked_power)
        theirs = (broker.cash, broker.equity, broker.buying_power)
        return [
            AccountDrift(figure, mine, its)
            for figure, mine, its in zip(FIGURES, ours, theirs, strict=True)
            if abs(its - mine) > CENTS
        ]

    # ---------------------------------------------------------------- reads

    def take(self, broker: Account, *, balances: bool = True) -> None:
        """Take a read: the broker's figures, with our positions valued at our marks beneath them.

        Without `balances`, only the account's id, flags, multiplier and `last_equity` are taken
        (the balances wait for a second read: they may differ by updates on their way).
        """
        self._read = broker
        self.multiplier = broker.multiplier
        self._value_all()
        if balances:
            self.cash = broker.cash
            self.equity_offset = broker.equity - broker.cash - self.market_value
            power = broker.equity * self.multiplier - self.gross_value - self.held
            if broker.buying_power > ZERO or power > ZERO:
                self.power_offset = broker.buying_power - power
            else:  # the broker shows zero for any shortfall: ours is zero too, whatever it is short by
                self.power_offset = ZERO
            self._adjust()
            self.reads += 1

    # ---------------------------------------------------------------- fills and marks

    def fill(self, symbol: Symbol, side: Side, quantity: Decimal, price: Decimal) -> None:
        """A fill moves the cash by its notional, and the position it changed."""
        if side is Side.BUY:
            self.cash -= quantity * price
        else:
            self.cash += quantity * price
        self._moved.add(symbol)
        self._built = None

    def moved(self, symbol: Symbol) -> None:
        """The position in `symbol` or its mark changed: it is valued again when next needed."""
        self._moved.add(symbol)

    def _value_moved(self) -> None:
        positions, marks, values, costs = self._positions, self._marks, self._values, self._costs
        for symbol in self._moved:
            position = positions.get(symbol)
            if position is None:
                value = cost = ZERO
            else:
                mark = marks.get(symbol)
                value = position.quantity * (mark if mark is not None else position.average_entry_price)
                cost = position.cost_basis
            old_cost = costs.get(symbol, ZERO)
            if cost is not old_cost:  # the same object while only the mark moved: nothing to add
                costs[symbol] = cost
                self.cost_basis += cost - old_cost
            old = values.get(symbol, ZERO)
            values[symbol] = value
            change = value - old
            self.market_value += change
            # |value| - |old| in one operation while the position stays on its side (most changes).
            short = value.is_signed()
            if short is not old.is_signed():
                self.gross_value += abs(value) - abs(old)
            elif short:
                self.gross_value -= change
            else:
                self.gross_value += change
        self._moved.clear()
        self._built = None

    def _value_all(self) -> None:
        values: dict[Symbol, Decimal] = {}
        costs: dict[Symbol, Decimal] = {}
        market = gross = cost = ZERO
        marks = self._marks
        for symbol, position in self._positions.items():
            value = values[symbol] = _value(position, marks.get(symbol))
            market += value
            gross += abs(value)
            costs[symbol] = position.cost_basis
            cost += position.cost_basis
        self._values, self.market_value, self.gross_value = values, market, gross
        self._costs, self.cost_basis = costs, cost
        self._moved.clear()
        self._built = None

    # ---------------------------------------------------------------- holds

    def place(
        self, order_id: OrderId, quantity: Decimal, price: Decimal, unfilled: Decimal, *, acknowledged: bool
    ) -> None:
        """Hold `min(quantity, unfilled) x price` for an order: it replaces the order's hold, never adds to it."""
        self.release(order_id)
        hold = self.holds[order_id] = Hold(quantity, price, unfilled, acknowledged=acknowledged, reads=self.reads)
        self._count(hold)

    def acknowledge(self, order_id: OrderId) -> bool:
        """The broker shows an order that was in doubt: its hold is the broker's too.

        Returns whether the account was read while it was in doubt: that read may have shown it
        held already, and taken it into our figures (read again).
        """
        hold = self.holds.get(order_id)
        if hold is None or hold.acknowledged:
            return False
        self._uncount(hold)
        hold.acknowledged = True
        self._count(hold)
        return hold.reads != self.reads

    def resize(self, order_id: OrderId, unfilled: Decimal, price: Decimal | None = None) -> None:
        """The order's unfilled quantity (or, routed at the open, its price) changed."""
        hold = self.holds.get(order_id)
        if hold is None or (hold.unfilled == unfilled and price is None):
            return
        self._uncount(hold)
        hold.unfilled = unfilled
        if price is not None:
            hold.price = price
        self._count(hold)

    def supersede(self, order_id: OrderId, *, superseded: bool) -> None:
        """A replacement holds instead of the order (or, refused, no longer does)."""
        hold = self.holds.get(order_id)
        if hold is None or hold.superseded is superseded:
            return
        self._uncount(hold)
        hold.superseded = superseded
        self._count(hold)

    def release(self, order_id: OrderId) -> None:
        """The order no longer holds anything (it ended)."""
        hold = self.holds.pop(order_id, None)
        if hold is not None:
            self._uncount(hold)

    def _count(self, hold: Hold) -> None:
        amount = (hold.quantity if hold.quantity < hold.unfilled else hold.unfilled) * hold.price
        hold.amount = ZERO if hold.superseded or amount < ZERO else amount
        if not hold.amount:
            return  # it holds nothing (an order that only reduces the position): no figure moves
        if hold.acknowledged:
            self.held += hold.amount
        else:
            self.held_in_doubt += hold.amount
        self._adjust()

    def _uncount(self, hold: Hold) -> None:
        if not hold.amount:
            return  # it held nothing: no figure moves
        if hold.acknowledged:
            self.held -= hold.amount
        else:
            self.held_in_doubt -= hold.amount
        hold.amount = ZERO
        self._adjust()

    def _adjust(self) -> None:
        self._adjustment = self.power_offset - self.held - self.held_in_doubt
        self._built = None


def _value(position: Position, mark: Decimal | None) -> Decimal:
    """A position's signed value at `mark`, or at its average entry price without one."""
    return position.quantity * (mark if mark is not None else position.average_entry_price)
