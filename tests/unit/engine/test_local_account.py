"""The account kept by the engine between reads: our fills, holds and marks move it as the broker's moves.

The paper exchange models Alpaca's account (cash, equity from its prices, buying power by the
multiplier less what open orders hold); the engine keeps its own copy from one read at start.
These tests hold the two to the same figures, read nothing more while nothing asks for a read,
and read again (once) when something does.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.codec.events import event_payload
from adapters.memory.store import InMemoryOrderStore
from adapters.paper import PaperConfig, PaperExchange
from tests.unit.engine.conftest import GENEROUS, MONDAY_10AM_ET, limit, market, started_engine
from trading_core import OrderRequest, OrderStatus, SubmitStatus, TestClock, TradingError
from trading_core.account_book import AccountDrift
from trading_core.broker_models import BrokerOrder, TradeUpdate
from trading_core.clock import Clock
from trading_core.engine import EngineConfig, TradingEngine
from trading_core.errors import BrokerError, OrderInDoubt
from trading_core.market import Account, Quote
from trading_core.orders import Order
from trading_core.values import BrokerOrderId, ClientOrderId, Symbol, new_client_order_id, new_order_id

SYMBOLS = ("AAPL", "MSFT", "XOM")
CONFIG = EngineConfig(limits=GENEROUS)


class CountingExchange(PaperExchange):
    """The paper exchange, counting the reads of its account (and failing them when told)."""

    def __init__(self, clock: Clock, *, config: PaperConfig | None = None) -> None:
        super().__init__(clock, config=config)
        self.account_reads = 0
        self.quotes_asked = 0
        self.unreachable = False

    async def get_account(self) -> Account:
        if self.unreachable:
            raise BrokerError("503 from the gateway", retryable=True)
        self.account_reads += 1
        return await super().get_account()

    async def latest_quote(self, symbol: Symbol) -> Quote | None:
        self.quotes_asked += 1
        return await super().latest_quote(symbol)

    async def figures(self) -> tuple[Decimal, Decimal, Decimal]:
        """Cash, equity and buying power as the exchange has them (not counted as a read)."""
        account = await super().get_account()
        return account.cash, account.equity, account.buying_power


def kept(engine: TradingEngine) -> tuple[Decimal, Decimal, Decimal]:
    """The engine's cash, equity and buying power as kept: no read is made to show them."""
    account = engine.book.account.account()
    return account.cash, account.equity, account.buying_power


def foreign_order(symbol: str, side: str, quantity: int) -> Order:
    """An order placed on the account by someone else (another client, the broker's web page)."""
    request = OrderRequest.create(symbol=symbol, side=side, type="market", quantity=quantity)
    return Order.from_request(
        request, order_id=new_order_id(), client_order_id=new_client_order_id(), now=MONDAY_10AM_ET
    )


# ---------------------------------------------------------------------------- any sequence of fills

submits = st.tuples(
    st.just("submit"),
    st.sampled_from(SYMBOLS),
    st.sampled_from(["buy", "sell"]),
    st.integers(1, 40),
    st.sampled_from(["market", "limit", "stop"]),
    st.integers(-300, 300),  # limit or stop offset in cents from the price
)
cancels = st.tuples(st.just("cancel"), st.integers(0, 1000))
replaces = st.tuples(st.just("replace"), st.integers(0, 1000), st.integers(1, 40), st.integers(-300, 300))
moves = st.tuples(st.just("move"), st.sampled_from(SYMBOLS), st.integers(-500, 500))
steps = st.lists(st.one_of(submits, cancels, replaces, moves), min_size=1, max_size=40)
accounts = st.sampled_from(
    [
        PaperConfig(starting_cash=Decimal(100_000)),
        PaperConfig(starting_cash=Decimal(30_000), account_type="cash"),
        PaperConfig(starting_cash=Decimal(50_000), multiplier=Decimal(4), fill_parts=3),
        PaperConfig(starting_cash=Decimal(100_000), max_fill_quantity=Decimal(7)),
    ]
)


def _request(exchange: PaperExchange, action: tuple[object, ...]) -> OrderRequest:
    _, symbol, side, quantity, kind, offset = action
    price = exchange.price(str(symbol))
    other = max(Decimal("0.01"), price + Decimal(int(str(offset))).scaleb(-2))
    if kind == "limit":
        return limit(str(symbol), str(side), int(str(quantity)), str(other))
    if kind == "stop":
        return OrderRequest.create(
            symbol=str(symbol), side=str(side), type="stop", quantity=int(str(quantity)), stop_price=other
        )
    return market(str(symbol), str(side), int(str(quantity)))


async def _trade(config: PaperConfig, actions: list[tuple[object, ...]]) -> tuple[TradingEngine, CountingExchange]:
    clock = TestClock(MONDAY_10AM_ET)
    exchange = CountingExchange(clock, config=config)
    engine = await started_engine(exchange, clock, CONFIG)
    placed: list[str] = []
    for action in actions:
        try:
            if action[0] == "submit":
                placed.append((await engine.submit(_request(exchange, action))).order.id)
            elif action[0] == "cancel" and placed:
                await engine.cancel(placed[int(str(action[1])) % len(placed)])
            elif action[0] == "replace" and placed:
                _, index, quantity, offset = action
                order = await engine.get_order(placed[int(str(index)) % len(placed)])
                price = order.limit_price
                if price is not None:
                    price = max(Decimal("0.01"), price + Decimal(int(str(offset))).scaleb(-2))
                result = await engine.replace(order.id, quantity=Decimal(int(str(quantity))), limit_price=price)
                placed.append(result.order.id)
            elif action[0] == "move":
                _, symbol, cents = action
                moved = max(Decimal("1.00"), exchange.price(str(symbol)) + Decimal(int(str(cents))).scaleb(-2))
                exchange.set_price(str(symbol), moved)
                await engine.process_updates()
        except TradingError:
            pass  # refusals (not cancelable, not affordable, not shortable) are part of the game
    await engine.process_updates()
    return engine, exchange


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(accounts, steps)
def test_the_kept_account_equals_the_brokers_after_any_sequence_of_fills(
    config: PaperConfig, actions: list[tuple[object, ...]]
) -> None:
    """Cash, equity and buying power, exactly: fills, resting orders' holds, replacements, price moves."""
    engine, exchange = asyncio.run(_trade(config, actions))

    theirs = asyncio.run(exchange.figures())

    assert kept(engine) == theirs
    assert exchange.account_reads == 1  # the one at start: nothing since needed a request


# ---------------------------------------------------------------------------- holds


@pytest.fixture
def exchange(clock: TestClock) -> CountingExchange:
    exchange = CountingExchange(clock, config=PaperConfig(starting_cash=Decimal(100_000)))
    for symbol in SYMBOLS:
        exchange.set_price(symbol, Decimal("100.00"))
    return exchange


@pytest.fixture
async def engine(exchange: CountingExchange, clock: TestClock) -> TradingEngine:
    return await started_engine(exchange, clock, CONFIG)


async def test_a_resting_order_holds_its_cost_until_it_fills_or_is_cancelled(
    engine: TradingEngine, exchange: CountingExchange
) -> None:
    power = kept(engine)[2]

    resting = await engine.submit(limit("AAPL", "buy", 10, "95.00"))

    assert kept(engine)[2] == power - Decimal(950) == (await exchange.figures())[2]
    await engine.cancel(resting.order.id)
    assert kept(engine)[2] == power == (await exchange.figures())[2]
    assert exchange.account_reads == 1


async def test_a_reduction_holds_nothing_and_only_what_goes_past_flat_holds(
    engine: TradingEngine, exchange: CountingExchange
) -> None:
    await engine.submit(market("AAPL", "buy", 10))
    power = kept(engine)[2]

    await engine.submit(limit("AAPL", "sell", 10, "120.00"))  # only reduces
    assert kept(engine)[2] == power == (await exchange.figures())[2]

    await engine.submit(limit("MSFT", "sell", 4, "130.00"))  # a short: 4 x its limit
    assert kept(engine)[2] == power - Decimal(520) == (await exchange.figures())[2]


async def test_a_restarted_engine_holds_its_open_orders_as_the_broker_does(
    engine: TradingEngine, exchange: CountingExchange, clock: TestClock
) -> None:
    """The orders it finds open at start hold as the broker counted them: a reduction nothing."""
    await engine.submit(market("AAPL", "buy", 10))
    sale = await engine.submit(limit("AAPL", "sell", 10, "120.00"))
    purchase = await engine.submit(limit("MSFT", "buy", 5, "90.00"))

    again = await started_engine(exchange, clock, CONFIG, store=engine.store)  # type: ignore[arg-type]
    assert kept(again) == await exchange.figures()
    await again.cancel(sale.order.id)
    await again.cancel(purchase.order.id)

    assert kept(again) == await exchange.figures()


class TestReplacements:
    """The old order's hold goes and the new one's comes when the broker takes the replacement."""

    async def test_a_smaller_reduction_replacing_a_reduction_holds_nothing(
        self, engine: TradingEngine, exchange: CountingExchange
    ) -> None:
        """10 held, a sale of 10 resting, replaced by a sale of 8: still only a reduction.

        Were the old sale still counted on its side when the replacement is taken, the new one
        would seem to sell short and hold 8 x its price.
        """
        await engine.submit(market("AAPL", "buy", 10))
        resting = await engine.submit(limit("AAPL", "sell", 10, "120.00"))
        power = kept(engine)[2]

        replaced = await engine.replace(resting.order.id, quantity=Decimal(8))

        assert replaced.order.status is OrderStatus.NEW
        assert kept(engine)[2] == power == (await exchange.figures())[2]

    async def test_a_bigger_sale_replacing_a_reduction_holds_what_it_would_sell_short(self, clock: TestClock) -> None:
        """At a broker that lets an order go through zero: 10 held, 10 for sale, replaced by 15 for sale."""
        exchange = CountingExchange(clock, config=PaperConfig(starting_cash=Decimal(100_000), reject_flips=False))
        exchange.set_price("AAPL", Decimal("100.00"))
        engine = await started_engine(exchange, clock, CONFIG)
        await engine.submit(market("AAPL", "buy", 10))
        resting = await engine.submit(limit("AAPL", "sell", 10, "120.00"))
        power = kept(engine)[2]

        replaced = await engine.replace(resting.order.id, quantity=Decimal(15))

        assert replaced.order.status is OrderStatus.NEW
        assert kept(engine)[2] == power - 5 * Decimal("120.00") == (await exchange.figures())[2]

    async def test_a_resting_buy_replaced_holds_the_new_quantity_at_the_new_price_only(
        self, engine: TradingEngine, exchange: CountingExchange
    ) -> None:
        power = kept(engine)[2]
        resting = await engine.submit(limit("AAPL", "buy", 10, "95.00"))

        await engine.replace(resting.order.id, quantity=Decimal(20), limit_price=Decimal("90.00"))

        assert kept(engine)[2] == power - 20 * Decimal("90.00") == (await exchange.figures())[2]
        assert exchange.account_reads == 1

    async def test_the_old_orders_hold_goes_when_the_replacement_is_taken_not_when_its_news_comes(
        self, clock: TestClock
    ) -> None:
        """At Alpaca the replace is answered with the new order; the old one's `replaced` comes later,
        on the stream. The broker has released the old hold by then: so have we."""
        exchange = LateNews(clock, config=PaperConfig(starting_cash=Decimal(100_000)))
        exchange.set_price("AAPL", Decimal("100.00"))
        engine = await started_engine(exchange, clock, CONFIG)
        resting = await engine.submit(limit("AAPL", "buy", 10, "95.00"))
        power = kept(engine)[2]
        assert resting.order.broker_order_id is not None
        exchange.late = resting.order.broker_order_id

        await engine.replace(resting.order.id, quantity=Decimal(20))
        assert (await engine.get_order(resting.order.id)).status is OrderStatus.NEW  # its news is late

        assert kept(engine)[2] == power - 10 * Decimal("95.00") == (await exchange.figures())[2]
        exchange.late = None
        await engine.process_updates()
        assert (await engine.get_order(resting.order.id)).status is OrderStatus.REPLACED
        assert kept(engine)[2] == power - 10 * Decimal("95.00") == (await exchange.figures())[2]


class LateNews(CountingExchange):
    """Trade updates of one order (`late`) are held back until it is unset, as a slow stream would."""

    def __init__(self, clock: Clock, *, config: PaperConfig | None = None) -> None:
        super().__init__(clock, config=config)
        self.late: BrokerOrderId | None = None
        self._held: list[TradeUpdate] = []

    def drain_updates(self) -> list[TradeUpdate]:
        taken = self._held + super().drain_updates()
        self._held = [u for u in taken if u.order.broker_order_id == self.late]
        return [u for u in taken if u.order.broker_order_id != self.late]


class Gateway(CountingExchange):
    """The exchange behind a gateway that takes a submission and answers nothing, or loses it."""

    take_unanswered = False
    drop_unanswered = False
    hide = False

    async def submit_order(self, order: Order) -> BrokerOrder:
        if self.drop_unanswered:
            raise OrderInDoubt(f"order {order.client_order_id} is in doubt: 502 from the gateway")
        accepted = await super().submit_order(order)
        if self.take_unanswered:
            raise OrderInDoubt(f"order {order.client_order_id} is in doubt: 504 from the gateway")
        return accepted

    async def get_order_by_client_id(self, client_order_id: ClientOrderId) -> BrokerOrder | None:
        return None if self.hide else await super().get_order_by_client_id(client_order_id)


class TestOrdersInDoubt:
    @pytest.fixture
    def gateway(self, clock: TestClock) -> Gateway:
        gateway = Gateway(clock, config=PaperConfig(starting_cash=Decimal(100_000)))
        gateway.set_price("AAPL", Decimal("100.00"))
        return gateway

    @pytest.fixture
    async def in_doubt(self, gateway: Gateway, clock: TestClock) -> TradingEngine:
        return await started_engine(gateway, clock, CONFIG)

    async def test_an_order_in_doubt_that_the_broker_holds_is_held_once_when_it_turns_up(
        self, in_doubt: TradingEngine, gateway: Gateway
    ) -> None:
        """Held while in doubt (the broker may have it), then the same hold once the broker shows it."""
        engine = in_doubt
        power = kept(engine)[2]
        gateway.take_unanswered = gateway.hide = True
        result = await engine.submit(limit("AAPL", "buy", 10, "95.00"))
        assert (result.order.status, result.order.broker_order_id) == (OrderStatus.PENDING_NEW, None)
        assert kept(engine)[2] == power - Decimal(950)  # held here too, as the broker holds it

        gateway.take_unanswered = gateway.hide = False
        assert await engine.reconcile_orders() == 1  # the order list shows it: settled
        assert (await engine.get_order(result.order.id)).status is OrderStatus.NEW

        assert kept(engine)[2] == power - Decimal(950) == (await gateway.figures())[2]

    async def test_an_order_in_doubt_the_broker_never_got_holds_nothing_once_refused(
        self, in_doubt: TradingEngine, gateway: Gateway, clock: TestClock
    ) -> None:
        engine = in_doubt
        power = kept(engine)[2]
        gateway.drop_unanswered = True
        await engine.submit(limit("AAPL", "buy", 10, "95.00"))
        assert kept(engine)[2] == power - Decimal(950)

        clock.advance(timedelta(seconds=61))  # past the window: the order list proves it absent
        await engine.reconcile_orders()

        assert kept(engine)[2] == power == (await gateway.figures())[2]

    async def test_orders_going_in_doubt_ask_for_one_read_and_it_finds_no_difference(
        self, in_doubt: TradingEngine, gateway: Gateway, clock: TestClock
    ) -> None:
        """A read while orders are in doubt compares without their holds: the broker may not have them."""
        engine = in_doubt
        drifts: list[AccountDrift] = []
        engine.watch_account_drift(drifts.append)
        gateway.drop_unanswered = True
        for _ in range(3):
            await engine.submit(limit("AAPL", "buy", 10, "95.00"))
        assert gateway.account_reads == 1  # a read follows the last by the read gap at least

        clock.advance(timedelta(seconds=2))
        await engine.validate(market("AAPL", "buy", 1))
        await engine.validate(market("AAPL", "buy", 1))

        assert gateway.account_reads == 2
        assert drifts == []
        assert kept(engine)[2] == (await gateway.figures())[2] - 3 * Decimal(950)


async def test_an_order_taken_while_closed_is_held_again_at_the_price_of_the_open(clock: TestClock) -> None:
    """The broker queues it with its hold at the price of the moment, and prices it again when it routes it."""
    exchange = CountingExchange(clock, config=PaperConfig(starting_cash=Decimal(100_000), max_fill_quantity=Decimal(2)))
    exchange.set_price("AAPL", Decimal("100.00"))
    engine = await started_engine(exchange, clock, CONFIG)
    exchange.close_market()
    await engine.session_closed()
    stop = OrderRequest.create(symbol="AAPL", side="buy", type="stop", quantity=5, stop_price=Decimal("105.00"))
    assert (await engine.submit(stop)).order.status is OrderStatus.ACCEPTED
    exchange.set_price("AAPL", Decimal("108.00"))

    exchange.open_market()  # routed, held at 108, triggered: 2 of 5 fill
    await engine.session_opened()
    await engine.process_updates()

    assert kept(engine) == await exchange.figures()
    assert kept(engine)[2] == 2 * kept(engine)[1] - 2 * Decimal("108.00") - 3 * Decimal("108.00")


# ---------------------------------------------------------------------------- marks


async def test_a_price_move_in_a_held_symbol_moves_equity_without_a_read(
    engine: TradingEngine, exchange: CountingExchange
) -> None:
    await engine.submit(market("AAPL", "buy", 100))
    await engine.submit(market("MSFT", "sell", 50))
    equity = kept(engine)[1]

    exchange.set_price("AAPL", Decimal("90.00"))  # pushed to the engine: nothing asks for it
    exchange.set_price("MSFT", Decimal("90.00"))

    assert kept(engine)[1] == equity - 1000 + 500 == (await exchange.figures())[1]
    assert kept(engine) == await exchange.figures()
    assert exchange.account_reads == 1


async def test_a_pushed_price_is_the_mark_until_a_fill_sets_another(
    engine: TradingEngine, exchange: CountingExchange
) -> None:
    """A price the market data pushed is current while it pushes every change: no quote is asked.

    A fill's price is the mark after it (the position is valued at it, as before); the next check
    asks for the quote again.
    """
    resting = await engine.submit(limit("AAPL", "buy", 10, "95.00"))
    exchange.set_price("AAPL", Decimal("101.00"))
    asked = exchange.quotes_asked

    await engine.validate(market("AAPL", "buy", 1))
    assert (exchange.quotes_asked, engine.book.marks["AAPL"]) == (asked, Decimal("101.00"))

    assert resting.order.broker_order_id is not None
    exchange.fill_now(resting.order.broker_order_id)  # at its limit, 95, the price staying at 101
    await engine.process_updates()
    assert engine.book.marks["AAPL"] == Decimal("95.00")
    await engine.validate(market("AAPL", "buy", 1))

    assert (exchange.quotes_asked, engine.book.marks["AAPL"]) == (asked + 1, Decimal("101.00"))
    assert kept(engine) == await exchange.figures()


# ---------------------------------------------------------------------------- reads


class TestReads:
    async def test_orders_make_no_read_while_the_figures_are_fresh(
        self, engine: TradingEngine, exchange: CountingExchange, clock: TestClock
    ) -> None:
        for n in range(20):
            clock.advance(timedelta(seconds=2))
            await engine.submit(market(SYMBOLS[n % 3], "buy" if n % 2 else "sell", 3))

        assert exchange.account_reads == 1
        assert kept(engine) == await exchange.figures()

    async def test_the_account_is_read_again_after_the_interval(
        self, engine: TradingEngine, exchange: CountingExchange, clock: TestClock
    ) -> None:
        clock.advance(timedelta(seconds=59))
        await engine.validate(market("AAPL", "buy", 1))
        assert exchange.account_reads == 1

        clock.advance(timedelta(seconds=1))
        await engine.validate(market("AAPL", "buy", 1))
        await engine.validate(market("AAPL", "buy", 1))
        assert exchange.account_reads == 2

    async def test_the_account_is_read_again_when_a_new_day_begins_in_new_york(
        self, exchange: CountingExchange, clock: TestClock
    ) -> None:
        """`last_equity` moves on at the close: the day's P&L starts from the broker's new figure."""
        engine = await started_engine(
            exchange, clock, EngineConfig(limits=GENEROUS, account_sync_interval=timedelta(days=1))
        )
        await engine.submit(market("AAPL", "buy", 100))
        clock.advance(timedelta(hours=13, minutes=30))  # 23:30 in New York
        exchange.close_market()
        exchange.set_price("AAPL", Decimal("101.00"))
        await engine.risk_status()
        assert exchange.account_reads == 1

        clock.advance(timedelta(minutes=31))  # a new day; the interval has not passed
        status = await engine.risk_status()

        assert exchange.account_reads == 2
        assert status.daily_pnl == 100  # since the close, not since the start

    async def test_a_session_signal_and_an_adopted_position_each_ask_for_a_read(
        self, engine: TradingEngine, exchange: CountingExchange, clock: TestClock
    ) -> None:
        await engine.session_closed()
        await engine.session_opened()
        clock.advance(timedelta(seconds=2))
        await engine.risk_status()
        await engine.risk_status()
        assert exchange.account_reads == 2  # two signals, one read

        await exchange.submit_order(foreign_order("MSFT", "buy", 5))  # a position we did not take
        await engine.process_updates()
        assert await engine.reconcile_positions() == 1  # adopted from the broker's
        clock.advance(timedelta(seconds=2))
        await engine.risk_status()
        assert exchange.account_reads == 3

    async def test_a_difference_is_taken_once_a_second_read_confirms_it(
        self, engine: TradingEngine, exchange: CountingExchange, clock: TestClock
    ) -> None:
        """Someone else's trade on the account moved the broker's cash: counted, then taken."""
        drifts: list[AccountDrift] = []
        engine.watch_account_drift(drifts.append)
        await exchange.submit_order(foreign_order("MSFT", "buy", 10))  # 1,000 of cash into shares
        await engine.process_updates()  # for an order we did not place: ignored
        ours = kept(engine)

        clock.advance(timedelta(seconds=60))
        await engine.risk_status()
        assert (exchange.account_reads, drifts, kept(engine)) == (2, [], ours)  # not taken on one read

        clock.advance(timedelta(seconds=1))
        await engine.risk_status()
        assert exchange.account_reads == 2  # the second read waits for its delay
        clock.advance(timedelta(seconds=1))
        await engine.risk_status()

        assert exchange.account_reads == 3
        assert [(d.figure, d.difference) for d in drifts] == [
            ("cash", Decimal(-1000)),
            ("buying_power", Decimal(-1000)),
        ]
        assert kept(engine) == await exchange.figures()

    async def test_a_difference_that_was_a_fill_on_its_way_is_not_taken(
        self, engine: TradingEngine, exchange: CountingExchange, clock: TestClock
    ) -> None:
        drifts: list[AccountDrift] = []
        engine.watch_account_drift(drifts.append)
        await engine.submit(limit("AAPL", "buy", 10, "99.00"))
        exchange.set_price("AAPL", Decimal("98.00"))  # fills it; the fill waits in the exchange's outbox

        clock.advance(timedelta(seconds=60))
        await engine.risk_status()  # the broker's cash has moved, ours not yet: a difference
        await engine.process_updates()  # the fill arrives
        clock.advance(timedelta(seconds=2))
        await engine.risk_status()

        assert exchange.account_reads == 3
        assert drifts == []
        assert kept(engine) == await exchange.figures()

    async def test_a_read_that_fails_leaves_the_kept_figures_in_use_and_is_tried_again(
        self, engine: TradingEngine, exchange: CountingExchange, clock: TestClock
    ) -> None:
        exchange.unreachable = True
        clock.advance(timedelta(seconds=60))

        result = await engine.submit(market("AAPL", "buy", 1))
        assert result.status is SubmitStatus.ACCEPTED
        exchange.unreachable = False
        await engine.submit(market("AAPL", "buy", 1))
        assert exchange.account_reads == 1  # not again at once
        clock.advance(timedelta(seconds=5))
        await engine.submit(market("AAPL", "buy", 1))
        assert exchange.account_reads == 2

    async def test_a_reset_reads_a_fresh_account(self, engine: TradingEngine, exchange: CountingExchange) -> None:
        await engine.reset_trading_state(by="ops@example.com")

        assert exchange.account_reads == 2

    async def test_without_a_first_read_the_first_check_reads_or_fails_as_the_broker_does(
        self, exchange: CountingExchange, clock: TestClock
    ) -> None:
        exchange.unreachable = True
        engine = await started_engine(exchange, clock, CONFIG)  # the start goes on without it

        with pytest.raises(BrokerError):
            await engine.submit(market("AAPL", "buy", 1))
        exchange.unreachable = False
        assert (await engine.submit(market("AAPL", "buy", 1))).status is SubmitStatus.ACCEPTED
        assert exchange.account_reads == 1


async def test_an_engine_without_pushed_marks_values_what_it_holds_at_each_read(clock: TestClock) -> None:
    """Market data that does not push prices: the held symbols' marks are asked for before each read."""
    exchange = CountingExchange(clock)
    exchange.set_price("AAPL", Decimal("100.00"))
    engine = TradingEngine(
        broker=exchange,
        store=InMemoryOrderStore(payload_of=event_payload),
        clock=clock,
        market_data=_Quotes(exchange),
        config=CONFIG,
    )
    await engine.start()
    await engine.submit(market("AAPL", "buy", 10))
    exchange.set_price("AAPL", Decimal("110.00"))
    assert kept(engine)[1] == (await exchange.figures())[1] - 100  # not told

    clock.advance(timedelta(seconds=60))
    await engine.risk_status()

    assert kept(engine) == await exchange.figures()


class _Quotes:
    """Market data that answers when asked and pushes nothing."""

    def __init__(self, exchange: PaperExchange) -> None:
        self._exchange = exchange

    async def latest_quote(self, symbol: Symbol) -> Quote | None:
        return await self._exchange.latest_quote(symbol)
