"""The trading engine: one object to submit, amend and answer for orders, over rooms that do the work.

It decides nothing itself: risk rules decide what passes, the order state machine and position
math decide what changes, and the broker decides what fills. The engine keeps the order of
operations that makes that safe: an order is stored before it is sent, every change commits
with the events that announce it (see `ledger`), and an ambiguous broker failure is resolved by
looking the client order id up, never by sending again. Each use case has a room of its own:

    submission       checks, stores and sends new orders (replays, notional sizing, splits at flat)
    amendment        cancels and replaces
    dispatch         sends stored orders, records the answer, releases a split's opening half
    updates          applies trade updates and the broker's copies of orders
    doubts           settles orders left unanswered, from the broker's order list
    reconciliation   the order poll and the position sync
    sessions         the open, the close, and shutdown
    checks           what the risk rules see, and their verdict
    history          listings by filter, the day's realized P&L, snapshots of the portfolio's value
    reads            what the engine answers without changing anything (inherited: `EngineReads`)
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from trading_core.account_sync import DriftListener
from trading_core.bars import Bar, Snapshot, Timeframe
from trading_core.book import Book
from trading_core.broker_models import BrokerOrder, TradeUpdate
from trading_core.clock import Clock
from trading_core.closing import PositionCloser
from trading_core.engine.amendment import Amendment
from trading_core.engine.checks import PreTradeChecks
from trading_core.engine.config import EngineConfig
from trading_core.engine.dispatch import Dispatch
from trading_core.engine.doubts import Doubts
from trading_core.engine.history import History
from trading_core.engine.market_data import MarketReader
from trading_core.engine.parts import EngineParts
from trading_core.engine.protection import Protection
from trading_core.engine.reads import EngineReads
from trading_core.engine.reconciliation import Reconciliation
from trading_core.engine.sessions import Sessions
from trading_core.engine.submission import Submission
from trading_core.engine.updates import BrokerUpdates
from trading_core.enums import TimeInForce, TradingState
from trading_core.errors import BrokerError
from trading_core.ledger import EventListener
from trading_core.orders import Order
from trading_core.ports import (
    Broker,
    MarketData,
    OrderStore,
    PushesMarks,
    TradingStateRecord,
)
from trading_core.reconcile import load_book
from trading_core.requests import OrderRequest
from trading_core.risk import PreTradeValidation, RiskContext, RiskEngine, RiskLimits
from trading_core.values import OrderId, Symbol
from trading_core.values import quantity as parse_quantity
from trading_core.views import CancelAllResult, SubmitResult

log = logging.getLogger("trading_core.engine")


class TradingEngine(EngineReads):
    """Submit, cancel and replace orders; apply broker updates; answer for orders, positions, account.

    Args:
        broker: where orders go (the paper exchange, Alpaca, or your own adapter).
        store: where orders, fills, positions and events are kept.
        clock: the engine's time.
        market_data: prices for the risk checks (the broker's facts when not given), and the bars and
            snapshots of `get_bars` and `get_snapshot`.
        config: how the engine behaves; its `limits` are the risk limits.
        risk: the risk rules, built from `config.limits` (`RiskEngine(limits).with_rules(...)`).

    Raises:
        ValueError: the risk limits are given twice, differently.
    """

    def __init__(
        self,
        *,
        broker: Broker,
        store: OrderStore,
        clock: Clock,
        market_data: MarketData | None = None,
        config: EngineConfig | None = None,
        risk: RiskEngine | None = None,
    ) -> None:
        if risk is not None and config is not None and config.limits != risk.limits:
            raise ValueError(
                "the risk limits are given twice, differently (config.limits and risk.limits): "
                "build the risk engine from the config's, RiskEngine(config.limits).with_rules(...)"
            )
        config = config or EngineConfig(limits=risk.limits if risk is not None else RiskLimits())
        parts = self._parts = EngineParts.assemble(
            broker=broker, store=store, clock=clock, market_data=market_data, config=config
        )
        self._checks = PreTradeChecks(parts, risk or RiskEngine(config.limits))
        # Dispatch applies other orders' updates that arrive with an answer: late-bound to the room below.
        self._dispatch = Dispatch(parts, apply_others=self._apply_in_order, send_exits=self._send_exits)
        self._protection = Protection(parts, self._checks, self._dispatch)
        parts.ledger.protect = self._protection.exits_for
        self._updates = BrokerUpdates(parts, self._dispatch)
        self._submission = Submission(parts, self._checks, self._dispatch)
        self._amendment = Amendment(parts, self._checks, self._dispatch, self._updates)
        doubts = Doubts(parts, self._dispatch, self._updates)
        self._reconciliation = Reconciliation(parts, self._dispatch, self._updates, doubts)
        self._sessions = Sessions(parts, self._dispatch, self._amendment)
        self._closer = PositionCloser(store=store, broker=broker, desk=self, book=parts.book)
        self._history = History(parts)
        self._market_reader = None if market_data is None else MarketReader(market_data, clock)
        if market_data is not None and isinstance(market_data, PushesMarks):  # mypy: see Facts
            market_data.watch_marks(parts.book.push_mark)

    async def _apply_in_order(self, updates: Sequence[TradeUpdate]) -> None:
        await self._updates.apply_in_order(updates)

    async def _send_exits(self, order: Order) -> Order:
        return await self._protection.send(order)

    # ----------------------------------------------------------------- what it works with

    @property
    def config(self) -> EngineConfig:
        """How the engine behaves."""
        return self._parts.config

    @property
    def broker(self) -> Broker:
        """Where orders go."""
        return self._parts.broker

    @property
    def store(self) -> OrderStore:
        """Where orders, fills and positions are kept."""
        return self._parts.store

    @property
    def book(self) -> Book:
        """This process's open orders, positions and marks (read it; the engine writes it)."""
        return self._parts.book

    @property
    def history(self) -> History:
        """Closed positions, the portfolio's value over time (`snapshot`, `portfolio_history`)."""
        return self._history

    @property
    def last_order_at(self) -> datetime | None:
        """When the last order was checked."""
        return self._submission.last_order_at

    @property
    def trading_state(self) -> TradingState:
        """Active, reducing-only or halted."""
        return self._parts.trading.state

    def now(self) -> datetime:
        """The engine's clock."""
        return self._parts.clock.now()

    async def start(self) -> None:
        """Load the book from the store, reconcile it with the broker, then read the account."""
        parts = self._parts
        await parts.trading.load()
        await load_book(parts.book, parts.store, parts.clock.now())
        await self._history.load()
        await self.reconcile()
        try:
            await parts.account.read()
        except BrokerError as e:  # the first check that needs it reads it (or fails, as it would have)
            log.warning("the account could not be read at start (%s); it is read when first needed", e)

    def subscribe(self, listener: EventListener) -> None:
        """Call `listener` with every event once its change has committed.

        A plain function, called in the engine's task: it must not block. An error it raises is
        logged and does not undo or fail the change. For async work, hand the event to a task or
        a queue from here.

        Raises:
            TypeError: `listener` is a coroutine function.
        """
        if inspect.iscoroutinefunction(listener) or inspect.iscoroutinefunction(type(listener).__call__):
            raise TypeError(f"{listener!r} is a coroutine function: a listener is called, not awaited")
        self._parts.ledger.listeners.append(listener)

    def watch_account_drift(self, listener: DriftListener) -> None:
        """Call `listener` with each figure of the account that a read found off by more than a cent.

        A plain function, called in the engine's task (see `subscribe`); the broker's figure is
        taken after it returns.
        """
        self._parts.account.listeners.append(listener)

    # ----------------------------------------------------------------- submission and amendment

    async def submit(self, request: OrderRequest) -> SubmitResult:
        """Check, store, then send an order; a repeated client order id returns the first order.

        A repeat must ask for the same order (`DuplicateClientOrderId` otherwise): a retry is
        answered with what became of the first, however the two calls overlapped.
        """
        return await self._submission.submit(request)

    async def validate(self, request: OrderRequest) -> PreTradeValidation:
        """Run every pre-trade check without submitting anything."""
        return await self._checks.validate(request)

    async def risk_context(self, symbol: Symbol) -> RiskContext:
        """What the rules see for an order in `symbol`, as of now."""
        return await self._checks.risk_context(symbol)

    async def record_rejection(self, request: OrderRequest, *, code: str, reason: str) -> Order:
        """Keep a refused order for the audit trail, announced as `trade.order.rejected`."""
        return await self._submission.record_rejection(request, code=code, reason=reason)

    async def cancel(self, order_id: OrderId | str) -> Order:
        """Ask the broker to cancel; an order still held here is cancelled on the spot (see `amendment`)."""
        return await self._amendment.cancel(order_id)

    async def replace(
        self,
        order_id: OrderId | str,
        *,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
        time_in_force: TimeInForce | None = None,
        trail: Decimal | None = None,
    ) -> SubmitResult:
        """Modify a working order: the broker replaces it with a new order (see `amendment`);
        `trail` is a trailing stop's new trail, of the kind it has."""
        return await self._amendment.replace(
            order_id,
            quantity=quantity,
            limit_price=limit_price,
            stop_price=stop_price,
            time_in_force=time_in_force,
            trail=trail,
        )

    async def close_position(self, symbol: str, quantity: Decimal | None = None) -> SubmitResult:
        """Reduce the position by `quantity` (all of it by default); see `trading_core.closing`.

        Raises:
            InvalidOrder: `quantity` is not a positive amount of at most four places, read as an
                order's is (a float refused); checked before any order in the way is cancelled.
            PositionNotFound: no position is open in `symbol`.
            InsufficientQuantity: `quantity` is more than is held.
        """
        amount = None if quantity is None else parse_quantity(quantity)
        return await self._closer.close(Symbol(symbol), amount)

    async def close_all_positions(self) -> list[SubmitResult]:
        """Close every open position with a market order each; see `trading_core.closing`."""
        return await self._closer.close_all()

    # ----------------------------------------------------------------- what the broker reports

    async def process_updates(self) -> int:
        """Apply every trade update that has arrived; returns how many there were."""
        return await self._updates.process()

    async def run_updates(self) -> None:
        """Apply trade updates as they arrive, until cancelled; one failure never stops the stream."""
        await self._updates.run()

    async def apply_trade_update(self, update: TradeUpdate) -> None:
        """Apply one trade update (from the stream, a poll or a test), then what it releases."""
        await self._updates.apply_in_order([update])

    async def take_broker_copy(self, order: Order, remote: BrokerOrder) -> Order:
        """Bring an order to the state of the broker's copy of it: acceptance, fills and status."""
        return await self._updates.take_broker_copy(order, remote)

    async def reconcile(self) -> int:
        """Bring open orders and positions in line with the broker; returns the corrections made."""
        return await self._reconciliation.reconcile()

    async def reconcile_orders(self) -> int:
        """The order status poll: repair open orders from the broker's copies; returns corrections made."""
        return await self._reconciliation.orders()

    async def reconcile_positions(self) -> int:
        """The position sync: adopt the broker's positions where ours differ; returns corrections made."""
        return await self._reconciliation.positions()

    # ----------------------------------------------------------------- sessions and trading state

    async def session_opened(self) -> int:
        """The market opened: orders queued while it was closed go out. Returns how many."""
        return await self._sessions.opened()

    async def session_closed(self) -> None:
        """The market closed: market orders are refused (or queued) until it opens."""
        self._sessions.closed()

    async def shutdown(self) -> int:
        """Cancel every open order, as on `system.shutdown`; returns how many were cancelled."""
        return len((await self._sessions.cancel_all()).cancelled)

    async def cancel_all_orders(self) -> CancelAllResult:
        """Cancel every open order; one that cannot be cancelled is listed with why, the rest go on."""
        return await self._sessions.cancel_all()

    async def halt_trading(self, *, by: str, reason: str = "halted by hand") -> TradingStateRecord:
        """Halt trading: from now on only orders that reduce a position pass (`TRADING_HALTED`).

        It lasts until `reset_trading_state`; a new trading day does not end it.
        """
        return await self._parts.trading.set(TradingState.HALTED, reason=reason, by=by)

    async def reset_trading_state(self, *, by: str, reason: str = "manual reset") -> TradingStateRecord:
        """End a reducing-only state by hand; refused while today's loss is over the limit.

        Raises:
            DailyLossLimitStands: today's loss is still over the limit.
        """
        account = await self._parts.account.read()
        return await self._parts.trading.reset(account, self.config.limits, by=by, reason=reason)

    async def get_bars(
        self, symbol: str, timeframe: Timeframe | str, start: datetime, end: datetime | None = None
    ) -> list[Bar]:
        """The bars of `symbol` in `timeframe` (`"1Min"`, `"5Min"`, `"1Hour"`, `"1Day"`...) that start
        in [start, end] (end: now by default), oldest first, from the engine's market data.

        Raises:
            InvalidMarketDataRequest: a malformed symbol or timeframe, an end before the start, a naive
                instant or one that is no datetime.
            UnknownSymbol: the market data does not list `symbol`.
            BrokerError: the market data could not be asked, or the engine was given none.
        """
        return await self._market().bars(symbol, timeframe, start, end)

    async def get_snapshot(self, symbol: str) -> Snapshot:
        """`symbol`'s latest trade, latest quote, minute bar, daily bar and previous daily bar.

        Raises:
            InvalidMarketDataRequest: a malformed symbol.
            UnknownSymbol: the market data does not list `symbol`.
            BrokerError: the market data could not be asked, or the engine was given none.
        """
        return await self._market().snapshot(symbol)

    async def get_snapshots(self, symbols: Iterable[str]) -> dict[Symbol, Snapshot]:
        """The snapshots of the listed symbols among `symbols` (one request); the others are left out.

        Raises:
            InvalidMarketDataRequest: a malformed symbol, or `symbols` a string rather than a list of them.
            BrokerError: the market data could not be asked, or the engine was given none.
        """
        return await self._market().snapshots(symbols)

    def _market(self) -> MarketReader:
        if self._market_reader is None:
            raise BrokerError("the engine was given no market data (TradingEngine(market_data=...))")
        return self._market_reader
