"""The OrderStore's history, on both stores: listings by filter, fills by filter, the day's realized
P&L by strategy, closed positions and portfolio snapshots (the store fixture runs each on both)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import attrs
import pytest

from tests.contract.builders import fill_for, filled, moment, new_order
from tests.contract.test_order_store import store_all
from trading_core.enums import OrderStatus, PositionSide, Side
from trading_core.errors import InvalidCursor
from trading_core.fills import Fill
from trading_core.history import ClosedPosition, HistoryFilter, PortfolioSnapshot
from trading_core.orders import Order
from trading_core.ports import OrderFilter, OrderStore
from trading_core.values import Symbol

TREND = "0190a0e0-0000-7000-8000-000000000001"
MEAN = "0190a0e0-0000-7000-8000-000000000002"


async def a_book(store: OrderStore) -> list[Order]:
    """Six orders, oldest first: AAPL and MSFT, both sides, two strategies and none, one open."""
    made = [
        new_order(symbol="AAPL", side=Side.BUY, created_at=moment(0), strategy_id=TREND),
        new_order(symbol="MSFT", side=Side.BUY, created_at=moment(10), strategy_id=MEAN),
        new_order(symbol="AAPL", side=Side.SELL, created_at=moment(20), strategy_id=TREND),
        new_order(symbol="AAPL", side=Side.BUY, created_at=moment(30)),
        new_order(symbol="MSFT", side=Side.SELL, created_at=moment(40), strategy_id=MEAN),
        new_order(symbol="AAPL", side=Side.SELL, created_at=moment(50), status=OrderStatus.NEW, strategy_id=TREND),
    ]
    orders = [attrs.evolve(o, status=OrderStatus.FILLED) if i < 5 else o for i, o in enumerate(made)]
    await store_all(store, *orders)
    return orders


def ids(orders: object) -> list[str]:
    return [o.id for o in orders]  # type: ignore[attr-defined]


class TestOrderFilters:
    @pytest.mark.parametrize(
        ("where", "expected"),
        [
            (HistoryFilter(symbol=Symbol("AAPL")), [5, 3, 2, 0]),
            (HistoryFilter(side=Side.SELL), [5, 4, 2]),
            (HistoryFilter(strategy_id=MEAN), [4, 1]),
            (HistoryFilter(since=moment(10), until=moment(40)), [3, 2, 1]),
            (HistoryFilter(symbol=Symbol("AAPL"), side=Side.BUY, since=moment(5)), [3]),
            (HistoryFilter(strategy_id="0190a0e0-0000-7000-8000-0000000000ff"), []),
        ],
    )
    async def test_orders_are_listed_by_symbol_side_strategy_and_time(
        self, store: OrderStore, where: HistoryFilter, expected: list[int]
    ) -> None:
        orders = await a_book(store)
        page = await store.list_orders(status=OrderFilter.ALL, where=where)
        assert ids(page.orders) == [orders[i].id for i in expected]

    async def test_the_status_filter_applies_with_the_others(self, store: OrderStore) -> None:
        orders = await a_book(store)
        aapl = HistoryFilter(symbol=Symbol("AAPL"))
        assert ids((await store.list_orders(status=OrderFilter.OPEN, where=aapl)).orders) == [orders[5].id]
        closed = await store.list_orders(status=OrderFilter.CLOSED, where=aapl)
        assert ids(closed.orders) == [orders[i].id for i in (3, 2, 0)]

    async def test_a_filtered_listing_pages_with_its_cursor(self, store: OrderStore) -> None:
        orders = await a_book(store)
        aapl = HistoryFilter(symbol=Symbol("AAPL"))
        first = await store.list_orders(status=OrderFilter.ALL, limit=3, where=aapl)
        second = await store.list_orders(status=OrderFilter.ALL, limit=3, where=aapl, cursor=first.next_cursor)
        assert ids(first.orders) == [orders[i].id for i in (5, 3, 2)]
        assert ids(second.orders) == [orders[0].id]
        assert second.next_cursor is None


async def fills_of_a_book(store: OrderStore) -> tuple[list[Order], list[Fill]]:
    """A fill for each of the five filled orders, at its order's time plus a second; two realize P&L."""
    orders = (await a_book(store))[:5]
    fills = [fill_for(order, f"exec-{i}", "10.0000", "100.0000", seconds=1) for i, order in enumerate(orders)]
    fills[2] = attrs.evolve(fills[2], realized_pnl=Decimal("-370.00000000"))
    fills[4] = attrs.evolve(fills[4], realized_pnl=Decimal("125.50000000"))
    async with store.unit_of_work() as uow:
        for order, fill in zip(orders, fills, strict=True):
            await uow.add_fill(fill)
            await uow.update_order(filled(attrs.evolve(order, status=OrderStatus.NEW), fill))
        await uow.commit()
    return orders, fills


class TestFills:
    async def test_fills_are_listed_newest_first_with_what_they_realized(self, store: OrderStore) -> None:
        await fills_of_a_book(store)
        page = await store.find_fills()
        assert [f.execution_id for f in page.fills] == [f"exec-{i}" for i in (4, 3, 2, 1, 0)]
        assert [f.realized_pnl for f in page.fills] == [Decimal("125.50"), 0, Decimal("-370.00"), 0, 0]
        assert page.next_cursor is None

    @pytest.mark.parametrize(
        ("where", "expected"),
        [
            (HistoryFilter(symbol=Symbol("MSFT")), [4, 1]),
            (HistoryFilter(side=Side.BUY), [3, 1, 0]),
            (HistoryFilter(strategy_id=TREND), [2, 0]),
            (HistoryFilter(since=moment(11), until=moment(31)), [2, 1]),
        ],
    )
    async def test_fills_are_filtered_as_orders_are(
        self, store: OrderStore, where: HistoryFilter, expected: list[int]
    ) -> None:
        await fills_of_a_book(store)
        page = await store.find_fills(where=where)
        assert [f.execution_id for f in page.fills] == [f"exec-{i}" for i in expected]

    async def test_pages_of_fills_follow_their_cursor(self, store: OrderStore) -> None:
        await fills_of_a_book(store)
        seen: list[str] = []
        cursor = None
        while True:
            page = await store.find_fills(limit=2, cursor=cursor)
            seen.extend(f.execution_id for f in page.fills)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == [f"exec-{i}" for i in (4, 3, 2, 1, 0)]

    @pytest.mark.parametrize("cursor", ["", "zz", "0" * 47, "0" * 47 + "00", "3" + "0" * 48])
    async def test_a_fill_cursor_the_store_did_not_issue_is_refused(self, store: OrderStore, cursor: str) -> None:
        with pytest.raises(InvalidCursor):
            await store.find_fills(cursor=cursor)

    async def test_the_days_realized_pnl_is_added_up_by_strategy(self, store: OrderStore) -> None:
        await fills_of_a_book(store)
        assert await store.realized_by_strategy(moment().date()) == {TREND: Decimal("-370"), MEAN: Decimal("125.5")}
        assert await store.realized_by_strategy(date(2026, 3, 3)) == {}


def closed(symbol: str, order: Order, seconds: int, pnl: str) -> ClosedPosition:
    return ClosedPosition(
        symbol=Symbol(symbol),
        side=PositionSide.LONG,
        opened_at=moment(0),
        closed_at=moment(seconds),
        realized_pnl=Decimal(pnl),
        order_id=order.id,
        execution_id=f"exec-{seconds}",
    )


class TestClosedPositions:
    async def test_closed_positions_are_kept_with_their_fill_and_listed_latest_first(self, store: OrderStore) -> None:
        orders = await a_book(store)
        records = [closed("AAPL", orders[2], 21, "-370.00000000"), closed("MSFT", orders[4], 41, "125.5")]
        records.append(attrs.evolve(closed("AAPL", orders[3], 31, "12"), side=PositionSide.SHORT))
        async with store.unit_of_work() as uow:
            for record in records:
                await uow.add_closed_position(record)
            await uow.commit()

        page = await store.list_closed_positions()
        assert page.positions == [records[1], records[2], records[0]]
        aapl = await store.list_closed_positions(symbol=Symbol("AAPL"), limit=1)
        assert aapl.positions == [records[2]]
        rest = await store.list_closed_positions(symbol=Symbol("AAPL"), limit=1, cursor=aapl.next_cursor)
        assert rest.positions == [records[0]]
        assert rest.next_cursor is None
        window = await store.list_closed_positions(since=moment(25), until=moment(41))
        assert window.positions == [records[2]]

    async def test_a_closed_position_rolled_back_is_not_kept(self, store: OrderStore) -> None:
        orders = await a_book(store)
        async with store.unit_of_work() as uow:
            await uow.add_closed_position(closed("AAPL", orders[2], 21, "1"))
        assert (await store.list_closed_positions()).positions == []


class TestSnapshots:
    async def test_snapshots_come_back_exact_and_in_time_order(self, store: OrderStore) -> None:
        def snap(seconds: int, equity: str) -> PortfolioSnapshot:
            return PortfolioSnapshot(
                taken_at=moment(seconds),
                equity=Decimal(equity),
                cash=Decimal("1000.12345678"),
                exposure=Decimal("5.5"),
                realized_pnl=Decimal("-630.00000000"),
                unrealized_pnl=Decimal("0.00000001"),
            )

        taken = [snap(0, "100000.00"), snap(30, "100010.00"), snap(10, "99990.5"), snap(60, "1")]
        for snapshot in taken:
            await store.add_snapshot(snapshot)
        found = await store.list_snapshots(since=moment(0), until=moment(60))
        assert found == [taken[0], taken[2], taken[1]]
        assert await store.list_snapshots(since=moment(61), until=moment(61) + timedelta(days=1)) == []
