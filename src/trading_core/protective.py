"""An order class's exits against its entry: what they may fill, when they work, what a fill ends.

Pure rules over `Order` values, the same for every venue that executes them (the paper exchange)
and for the engine that tracks them (Alpaca's semantics):

- the legs of a bracket or an OTO are `held` until the entry has filled completely, then work
  for what it filled: together they may fill no more than the entry has (`exit_cap`). Alpaca's
  order guide (docs.alpaca.markets, "Bracket Orders"): the exits "won't be active until the
  first order is completely filled";
- an OCO's two exits (the order itself and its leg) may fill its quantity once between them;
- a fill of one exit reduces what the other may fill (`executable`), and once the exits have
  filled all they may, with the entry done filling, the others are cancelled (`exits_to_cancel`);
- an entry that ends before it has filled completely (cancelled, expired) ends its legs, which
  never worked: "if any one of the orders is canceled, any remaining open order in the group is
  canceled" (the same guide). What it did fill is then held unprotected, as at Alpaca;
- the stop-loss beside a take-profit (a bracket's once its entry has filled, an OCO's) works while
  it still shows `held`: Alpaca routes the take-profit (`new`) and watches the stop itself, which
  fills straight out of `held` when the price crosses it (`watched_while_held`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Final, Protocol, TypeVar

from trading_core.enums import EngineProtection, OrderClass, OrderStatus, OrderType, Side
from trading_core.orders import Order
from trading_core.values import ZERO, OrderId

__all__ = [
    "GroupMember",
    "executable",
    "protecting",
    "exit_cap",
    "exits",
    "exits_to_cancel",
    "legs_held",
    "unfilled_once",
    "watched_while_held",
]


class GroupMember(Protocol):
    """What these rules read of an order: ours (`Order`) or a venue's own record of one."""

    @property
    def order_class(self) -> OrderClass:
        """The group's class (a leg's is its own, simple: only the parent's is read)."""

    @property
    def quantity(self) -> Decimal:
        """What the order is for."""

    @property
    def filled_quantity(self) -> Decimal:
        """What has filled."""

    @property
    def status(self) -> OrderStatus:
        """Where it stands."""

    @property
    def type(self) -> OrderType:
        """Its order type."""


_M = TypeVar("_M", bound=GroupMember)


def exits(parent: _M, legs: Iterable[_M]) -> list[_M]:
    """The group's exits: an OCO's order and its leg, else the legs alone."""
    found = list(legs)
    return [parent, *found] if parent.order_class is OrderClass.OCO else found


def exit_cap(parent: GroupMember) -> Decimal:
    """What the exits may fill between them: an OCO's quantity, else what the entry has filled."""
    return parent.quantity if parent.order_class is OrderClass.OCO else parent.filled_quantity


def legs_held(parent: GroupMember) -> bool:
    """Whether the legs wait for the entry: a bracket's or OTO's until it has filled completely."""
    return parent.order_class in (OrderClass.BRACKET, OrderClass.OTO) and parent.filled_quantity < parent.quantity


_STOP_EXITS: Final = frozenset({OrderType.STOP, OrderType.STOP_LIMIT})


def watched_while_held(parent: GroupMember, leg: GroupMember) -> bool:
    """Whether `leg` works (its stop is watched) while it shows `held`: the stop-loss of a bracket
    whose entry has filled completely, or of an OCO, whose take-profit holds the shares at the venue.

    Alpaca: "the take profit limit order leg is set to new and the stop loss leg remains held"
    until "the stop loss would be triggered and move to partial fill or fill" (its forum,
    forum.alpaca.markets/t/bracket-order-exit-trades-not-executing/3697; the same in
    alpaca-trade-api-python#322 and alpaca-py#198, and alpaca-py#182 added `held` for it). An
    OCO's passive leg "is reported as held and never gets a New event"
    (QuantConnect/Lean.Brokerages.Alpaca#74). An OTO's one exit has no take-profit beside it
    holding the shares, and works as `new` (no source shows an OTO's stop after its entry filled).
    """
    paired = parent.order_class in (OrderClass.BRACKET, OrderClass.OCO)
    return paired and leg.type in _STOP_EXITS and not legs_held(parent)


def executable(parent: _M, group: Sequence[_M], exit_order: _M) -> Decimal:
    """What `exit_order` (one of `group`, the exits) may fill now: its rest, within what the group may still fill."""
    if exit_order.status.is_terminal or (exit_order is not parent and legs_held(parent)):
        return ZERO
    room = exit_cap(parent) - sum((o.filled_quantity for o in group), ZERO)
    return max(ZERO, min(exit_order.quantity - exit_order.filled_quantity, room))


def exits_to_cancel(parent: _M, group: Sequence[_M]) -> list[_M]:
    """The open exits whose time is over.

    When the entry ended before it filled completely, all of its legs (they never worked); when
    the exits have filled all the entry gave them, or all of an OCO's quantity, the rest.
    """
    open_exits = [o for o in group if not o.status.is_terminal and o is not parent]
    filled = sum((o.filled_quantity for o in group), ZERO)
    if parent.order_class is OrderClass.OCO:
        return [o for o in group if not o.status.is_terminal] if filled >= parent.quantity else []
    complete = parent.filled_quantity >= parent.quantity
    if parent.status.is_terminal and not complete:
        return open_exits
    if complete and filled >= parent.filled_quantity:
        return open_exits
    return []


def unfilled_once(orders: Iterable[Order]) -> Decimal:
    """The unfilled quantity of `orders` (all on one side), each exit group's counted once.

    An OCO's two exits, or a bracket's, sell the same shares: the group holds the larger of
    their rests, not their sum. A leg still held for its entry holds nothing: it can only ever
    sell what the entry buys, and the entry is counted on its own side.
    """
    total = ZERO
    groups: dict[OrderId, Decimal] = {}
    for order in orders:
        rest = order.quantity - order.filled_quantity
        if order.leg_of is None and not order.legs:
            total += rest  # a simple order, the usual case
            continue
        if order.status is OrderStatus.HELD:
            continue
        key = order.leg_of or order.id
        groups[key] = max(groups.get(key, ZERO), rest)
    return total + sum(groups.values(), ZERO)


_STOPS: Final = frozenset({OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP})


def protecting(held: Decimal, orders: Iterable[Order]) -> list[Order]:
    """The open orders that protect a position of `held` (signed): on its closing side, exits of a
    group (legs, an OCO), stops and trailing stops of their own, and the engine's exits for what an
    entry filled before it ended in part (`trading_core.remainder`), a take-profit alone too. None
    for a flat position."""
    if not held:
        return []
    closing = Side.SELL if held > 0 else Side.BUY
    return [
        o
        for o in orders
        if o.side is closing
        and not o.is_terminal
        and (
            o.leg_of is not None
            or o.order_class is OrderClass.OCO
            or o.type in _STOPS
            or o.engine_protection is EngineProtection.FILLED_PART
        )
    ]
