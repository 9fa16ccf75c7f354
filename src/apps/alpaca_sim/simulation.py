"""One paper account behind Alpaca's API: the exchange, and what Alpaca shows that it does not keep.

The exchange knows orders, positions and cash; Alpaca's answers also carry asset ids, position
intents, yesterday's closing prices, and (under a `status_lag` rule) an order's earlier states.
The simulation keeps those, holds the fault rules, the stream hub and the rate limiter, and after
each request hands the exchange's trade updates to the account's activities and to the stream.
With a state file (`SimSettings.state`) each request's changes are journaled first (`state.py`),
and a simulator started on that file carries on the same account (`resume.py`).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import attrs

from adapters.calendar import NyseCalendar
from adapters.paper import PaperConfig, PaperExchange
from apps.alpaca_sim import wire
from apps.alpaca_sim.activities import ActivityLog
from apps.alpaca_sim.data_stream import MarketDataHub
from apps.alpaca_sim.faults import FaultBook, Rule
from apps.alpaca_sim.leg_classes import LegClasses
from apps.alpaca_sim.order_requests import PositionIntent
from apps.alpaca_sim.ratelimit import DEFAULT_RATE_LIMIT, RateLimiter
from apps.alpaca_sim.resume import resume_exchange
from apps.alpaca_sim.sessions import SessionFollower
from apps.alpaca_sim.state import Commit, Header, Journal, Replayed
from apps.alpaca_sim.stream import StreamHub
from apps.alpaca_sim.traffic import Traffic
from trading_core.broker_models import BrokerOrder, BrokerPosition, TradeUpdate
from trading_core.clock import Clock, SystemClock
from trading_core.enums import OrderStatus, Side
from trading_core.market import Asset
from trading_core.market_hours import MarketCalendar
from trading_core.ports import OrderFilter
from trading_core.values import ZERO, BrokerOrderId, Symbol

_log = logging.getLogger(__name__)
_MAX_REMEMBERED = 200_000
"""Position intents and lag histories kept, beyond which the oldest are forgotten."""
_HISTORY_DEPTH = 16
EVERYTHING = 1 << 62
"""A listing limit that lists every order."""


@attrs.frozen(kw_only=True)
class SimSettings:
    """How the simulator runs.

    Attributes:
        key_id: The API key id clients must send (`APCA-API-KEY-ID`; `ALPACA_SIM_KEY`).
        secret_key: Its secret (`APCA-API-SECRET-KEY`; `ALPACA_SIM_SECRET`).
        rate_limit: Requests a minute per key; 0 turns the limit (and its headers) off.
        paper: The paper exchange's configuration; `/_sim/reset` replaces its cash and seed.
        state: The journal that keeps the account across restarts (`--state`); None keeps it in
            memory only. A simulator started on an existing journal carries on its account (its
            cash and seed, not `paper`'s).
        always_open: The session is opened and closed only by hand (`/_sim/market`), open from the
            start unless `paper.market_open` says not (`--always-open`; tests and demos). False: it
            follows the calendar (`paper.calendar`, else the NYSE's) by the clock, and `/_sim/market`
            is refused. `/v2/calendar` answers from that calendar either way.
    """

    key_id: str = "test"
    secret_key: str = "test"  # noqa: S105  # the documented default of a loopback test server
    rate_limit: int = DEFAULT_RATE_LIMIT
    paper: PaperConfig = PaperConfig()
    state: Path | None = None
    always_open: bool = False


class Simulation:
    """The simulated account and everything its API answers from."""

    def __init__(self, settings: SimSettings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.faults = FaultBook(settings.paper.seed)
        self.traffic = Traffic()
        self.hub = StreamHub(settings.key_id, settings.secret_key, self.faults, on_fill_sent=self.traffic.fill_sent)
        self.limiter = RateLimiter(settings.rate_limit)
        self.market = MarketDataHub(settings.key_id, settings.secret_key, rate_limit=settings.rate_limit)
        self._later: set[asyncio.Task[None]] = set()
        """What fault rules scheduled for later (accept_later, pending_new, the replace race)."""
        self.activities = ActivityLog()
        self.dates: MarketCalendar = settings.paper.calendar or NyseCalendar()
        """The calendar `/v2/calendar` answers from."""
        self.sessions = None if settings.always_open else SessionFollower(self.dates, self.clock)
        """What opens and closes the session; None in the always-open mode."""
        self.journal = Journal(settings.state) if settings.state is not None else None
        replayed = self.journal.read() if self.journal is not None else None
        if replayed is None:
            self.reset(settings.paper)
        else:
            self._restore(replayed)

    def reset(self, config: PaperConfig) -> None:
        """A fresh exchange: no orders, no positions, no faults, nothing scheduled, fresh rate-limit windows
        (and journal)."""
        for task in self._later:
            task.cancel()
        self._later.clear()
        account_id = config.account_id
        if self.journal is not None and account_id is None:
            account_id = str(uuid.uuid4())  # kept in the journal's header
            config = attrs.evolve(config, account_id=account_id)
        self._fresh(config)
        if self.journal is not None and account_id is not None:
            header = Header(
                account_id=account_id,
                account_number=self.account_number,
                created_at=self.created_at,
                starting_cash=config.starting_cash,
                seed=config.seed,
            )
            self.journal.start(header)
        self._note_journaled()

    def _fresh(self, config: PaperConfig) -> None:
        sessions = self.sessions
        config = attrs.evolve(config, calendar=None if sessions is None else sessions.calendar)
        if sessions is not None:
            sessions.forget()
        self.config = config
        self.exchange = PaperExchange(self.clock, config=config)
        self.faults.reset(config.seed)
        self.hub.reset()
        self.limiter.clear()
        self.market.reset()
        assets = [listing.to_asset() for listing in config.listings]
        self.assets: dict[str, Asset] = {a.symbol: a for a in assets}
        self.assets_by_id: dict[str, Asset] = {a.asset_id: a for a in assets}
        self.lastday: dict[str, Decimal] = {listing.symbol: listing.price for listing in config.listings}
        """The previous session's closing price of each symbol (its listing price before any close)."""
        self.intents: dict[BrokerOrderId, str] = {}
        self.leg_classes = LegClasses()
        """The class each leg shows: its group's (`GET /v2/orders/{leg id}`, a listing, the stream)."""
        self.history: dict[BrokerOrderId, list[tuple[float, BrokerOrder]]] = {}
        self._recording = False
        self.traffic.clear()
        self.created_at: datetime = self.clock.now()
        self.account_number = "PA" + uuid.uuid4().hex[:10].upper()
        self.activities.clear()
        self._new_intents: dict[str, str] = {}
        self._new_orders: list[BrokerOrder] = []

    def _restore(self, replayed: Replayed) -> None:
        """Carry on the journal's account: orders, fills, positions, cash, prices, session."""
        header = replayed.header
        paper = self.settings.paper
        market_open = paper.market_open if replayed.market_open is None else replayed.market_open
        self._fresh(
            attrs.evolve(
                paper,
                starting_cash=header.starting_cash,
                seed=header.seed,
                account_id=header.account_id,
                market_open=market_open,
            )
        )
        self.account_number, self.created_at = header.account_number, header.created_at
        resume_exchange(self.exchange, replayed)
        self.intents = {BrokerOrderId(k): v for k, v in replayed.intents.items()}
        self.leg_classes.restore(replayed.orders.values())
        if replayed.lastday is not None:
            self.lastday = dict(replayed.lastday)
        self.activities.record(replayed.fills)
        self._note_journaled()
        self.publish()  # what resuming did (an order that executed at once) is journaled and streamed

    def _note_journaled(self) -> None:
        """What the journal now says of prices and the session, to journal only what changes."""
        exchange = self.exchange
        self._journaled_prices = {symbol: exchange.price(symbol) for symbol in self.assets}
        self._journaled_open = exchange.is_open
        self._journaled_last_equity = exchange.last_equity
        self._journaled_lastday = dict(self.lastday)

    def set_faults(self, rules: Sequence[Rule]) -> None:
        self.hub.flush()
        self.faults.replace(rules)
        kinds = {rule.kind for rule in rules}
        self.exchange.plan_fills(self.faults.plan_fills if "partial_fills" in kinds else None)
        self._recording = "status_lag" in kinds
        self.history.clear()

    def later(self, ms: int, action: Callable[[], Awaitable[object]]) -> None:
        """Run `action` in `ms` milliseconds, then publish its trade updates (a reset cancels it).

        Must be called on the server's event loop (from a request or a control).
        """

        async def run() -> None:
            await asyncio.sleep(ms / 1000)
            try:
                await action()
            except Exception:
                _log.exception("an action a fault rule scheduled failed")
            finally:
                self.publish()

        task = asyncio.get_running_loop().create_task(run())
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    # ---------------------------------------------------------------- lookups

    def resolve(self, text: str) -> Asset | None:
        """An asset by symbol (`AAPL`, `AAPL:NASDAQ`, `AAPL:NASDAQ:us_equity`, case-sensitive) or id."""
        if len(text) == 36 and text.count("-") == 4:
            return self.assets_by_id.get(text.lower())
        parts = text.split(":")
        asset = self.assets.get(parts[0])
        if asset is None or len(parts) > 3:
            return None
        if len(parts) >= 2 and parts[1] != asset.exchange:
            return None
        if len(parts) == 3 and parts[2] != "us_equity":
            return None
        return asset

    async def position(self, symbol: Symbol) -> BrokerPosition | None:
        for found in await self.exchange.list_positions():
            if found.symbol == symbol:
                return found
        return None

    async def held_for_orders(self, symbol: Symbol, quantity: Decimal) -> Decimal:
        """What open orders that reduce a position of this (signed) size already hold of it."""
        reducing = Side.SELL if quantity > ZERO else Side.BUY
        return sum(
            (
                o.quantity - o.filled_quantity
                for o in await self.exchange.list_orders(status=OrderFilter.OPEN, limit=EVERYTHING)
                if o.symbol == symbol and o.side is reducing
            ),
            ZERO,
        )

    # ---------------------------------------------------------------- what orders show

    def remember_intent(self, broker_order_id: BrokerOrderId, intent: str) -> None:
        intents = self.intents
        intents[broker_order_id] = intent
        if self.journal is not None:
            self._new_intents[broker_order_id] = intent
        if len(intents) > _MAX_REMEMBERED:
            del intents[next(iter(intents))]

    def note_taken(self, order: BrokerOrder) -> None:
        """Remember a class order's legs (and a leg's replacement) as taken: journaled with the next
        commit, since a held leg has no trade update to be journaled by; and the class they show."""
        self.leg_classes.note(order)
        if self.journal is not None:
            held = [leg for leg in (*order.legs, order) if leg.status is OrderStatus.HELD]
            self._new_orders.extend(held)

    @staticmethod
    def intent_for(side: Side, position_quantity: Decimal) -> PositionIntent:
        if side is Side.BUY:
            return PositionIntent.BUY_TO_CLOSE if position_quantity < ZERO else PositionIntent.BUY_TO_OPEN
        return PositionIntent.SELL_TO_CLOSE if position_quantity > ZERO else PositionIntent.SELL_TO_OPEN

    def order_json(self, snap: BrokerOrder, *, legs: Sequence[BrokerOrder] = ()) -> wire.JSON:
        """The Order object; a parent's `legs` as given (each showing the parent's class), else null.
        A leg read alone shows its parent's class too (`leg_classes`)."""
        asset = self.assets[snap.symbol]
        shown = None
        if legs:
            shown = [
                wire.order(
                    leg,
                    asset_id=asset.asset_id,
                    position_intent=self.intents.get(leg.broker_order_id),
                    order_class=snap.order_class,
                )
                for leg in legs
            ]
        return wire.order(
            snap,
            asset_id=asset.asset_id,
            position_intent=self.intents.get(snap.broker_order_id),
            legs=shown,
            order_class=self.leg_classes.get(snap.broker_order_id),
        )

    async def nested_json(self, snap: BrokerOrder) -> wire.JSON:
        """The Order object with a parent's legs as they stand now (`nested=true`, a submission's answer):
        a leg replaced is shown as its replacement, which took its place in the group."""
        legs = []
        for leg in snap.legs:
            current = await self.exchange.get_order(leg.broker_order_id)
            while current.status is OrderStatus.REPLACED and current.replaced_by is not None:
                current = await self.exchange.get_order(current.replaced_by)
            legs.append(current)
        return self.order_json(snap, legs=legs)

    def lagged(self, snap: BrokerOrder, lag_ms: int) -> BrokerOrder:
        """The order as it stood `lag_ms` ago (its first known state if it is younger than that)."""
        entries = self.history.get(snap.broker_order_id)
        if not entries:
            return snap
        cutoff = time.monotonic() - lag_ms / 1000
        shown = entries[0][1]
        for at, earlier in entries:
            if at > cutoff:
                break
            shown = earlier
        return shown

    # ---------------------------------------------------------------- trade updates

    def publish(self, extra: Sequence[TradeUpdate] = ()) -> None:
        """Journal what changed; hand the new trade updates (then `extra`) to the activities and the stream,
        and the prices that moved to the market-data stream."""
        exchange = self.exchange
        self.market.publish_moves({s: exchange.price(s) for s in self.assets}, self.assets, self.clock.now())
        updates = self.exchange.drain_updates()
        if extra:
            updates.extend(extra)
        if self.journal is not None:
            self._commit(self.journal, updates)
        if not updates:
            return
        self.activities.record(updates)
        if self._recording:
            self._record(updates)
        self.hub.publish([wire.trade_update(u, self.order_json(u.order)) for u in updates])

    def _commit(self, journal: Journal, updates: Sequence[TradeUpdate]) -> None:
        """Journal these updates and whatever else changed since the last commit (durable on return)."""
        exchange = self.exchange
        prices = {s: p for s in self.assets if (p := exchange.price(s)) != self._journaled_prices.get(s)}
        is_open, last_equity = exchange.is_open, exchange.last_equity
        commit = Commit(
            updates=updates,
            orders=self._new_orders,
            intents=self._new_intents,
            prices=prices,
            market_open=is_open if is_open != self._journaled_open else None,
            last_equity=last_equity if last_equity != self._journaled_last_equity else None,
            lastday=dict(self.lastday) if self.lastday != self._journaled_lastday else None,
        )
        if commit.empty:
            return
        journal.commit(commit)
        self._new_intents, self._new_orders = {}, []
        self._journaled_prices.update(prices)
        self._journaled_open, self._journaled_last_equity = is_open, last_equity
        self._journaled_lastday = dict(self.lastday)

    def _record(self, updates: Sequence[TradeUpdate]) -> None:
        now = time.monotonic()
        history = self.history
        for update in updates:
            snap = update.order
            entries = history.setdefault(snap.broker_order_id, [])
            entries.append((now, snap))
            if len(entries) > _HISTORY_DEPTH:
                del entries[1]
        while len(history) > _MAX_REMEMBERED:
            del history[next(iter(history))]

    # ---------------------------------------------------------------- session

    def close_market(self) -> None:
        """Close the session; today's last prices become tomorrow's `lastday_price`.

        Raises:
            RuntimeError: The session follows the calendar (it is not the always-open mode).
        """
        was_open = self.exchange.is_open
        self.exchange.close_market()
        if was_open:
            self._roll_lastday()

    def follow_calendar(self) -> None:
        """Open or close the session if the calendar's instant has come (a close as `close_market` does)."""
        if self.sessions is not None and self.sessions.follow(self.exchange) is False:
            self._roll_lastday()

    def _roll_lastday(self) -> None:
        self.lastday = {symbol: self.exchange.price(symbol) for symbol in self.lastday}
