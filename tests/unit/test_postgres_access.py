"""How the PostgreSQL unit of work writes the rows it holds: as remembered, or locked.

The outcomes on a real database (a version that no longer matches fails the commit, the engine
redoes it with locks) are in tests/contract/test_postgres_optimistic.py; here, which write and
which check each way of holding a row asks for, without a database.
"""

from __future__ import annotations

import attrs
import pytest

from adapters.postgres.access import LockedRows, RememberedAccess
from adapters.postgres.batch import WriteKind
from adapters.postgres.remembered import RememberedRows
from tests.contract.builders import new_order, position
from trading_core.enums import OrderStatus
from trading_core.positions import Position
from trading_core.values import Symbol

ORDER = new_order(status=OrderStatus.NEW)
OPEN = position("AAPL")


def memory() -> RememberedRows:
    """AAPL's order and position written at version 10, and MSFT known to have no position."""
    rows = RememberedRows()
    rows.wrote([ORDER], [("AAPL", OPEN), ("MSFT", None)], "10")
    return rows


class TestRememberedRows:
    def test_rows_are_taken_as_this_process_last_wrote_them(self) -> None:
        access = RememberedAccess(memory(), optimistic=True)

        taken = (access.order(ORDER.id), access.position("AAPL"), access.position("MSFT"), access.position("TSLA"))

        assert taken == (ORDER, (True, OPEN), (True, None), (False, None))
        assert (access.holds_order(ORDER.id), access.holds_position("AAPL"), access.holds_position("TSLA")) == (
            True,
            True,
            False,
        )

    def test_a_unit_that_is_not_optimistic_takes_nothing_from_memory(self) -> None:
        access = RememberedAccess(memory(), optimistic=False)

        assert (access.order(ORDER.id), access.position("AAPL")) == (None, (False, None))
        assert not access.holds_any()

    @pytest.mark.parametrize(
        ("symbol", "quantity", "kind", "version"),
        [
            ("AAPL", "5.0000", WriteKind.POSITION_AT_VERSION, "10"),
            ("AAPL", "0", WriteKind.FLAT_AT_VERSION, "10"),
            ("MSFT", "5.0000", WriteKind.NEW_POSITION, None),
            ("MSFT", "0", WriteKind.STILL_FLAT, None),
        ],
        ids=["changed", "closed", "opened where there was none", "flat stays flat"],
    )
    def test_a_position_is_written_only_if_it_is_still_as_taken(
        self, symbol: str, quantity: str, kind: WriteKind, version: str | None
    ) -> None:
        access = RememberedAccess(memory(), optimistic=True)
        access.position(symbol)

        written, params = access.position_write(position(symbol, quantity))

        assert written is kind
        assert kind.counted  # the statement fails unless the row was as expected
        assert version is None or params[-1] == version

    def test_an_order_is_written_at_its_version(self) -> None:
        access = RememberedAccess(memory(), optimistic=True)
        access.order(ORDER.id)

        kind, params = access.order_write(attrs.evolve(ORDER, rejection_reason="changed"))

        assert (kind, params[-2:]) == (WriteKind.ORDER_AT_VERSION, (ORDER.id, "10"))

    def test_rows_taken_and_not_written_are_checked_and_written_ones_are_not(self) -> None:
        access = RememberedAccess(memory(), optimistic=True)
        access.order(ORDER.id)
        access.position("AAPL")
        access.position("MSFT")

        unwritten = dict(access.checks({}, {}))
        after_writes = dict(access.checks({ORDER.id: ORDER}, {"AAPL": OPEN, "MSFT": None}))

        assert unwritten == {
            ("order", ORDER.id): (WriteKind.ORDER_UNCHANGED, (ORDER.id, "10")),
            ("position", "AAPL"): (WriteKind.POSITION_UNCHANGED, ("AAPL", "10")),
            ("position", "MSFT"): (WriteKind.STILL_FLAT, ("MSFT",)),
        }
        assert after_writes == {}

    def test_a_commit_is_remembered_and_a_failed_one_forgets_what_it_touched(self) -> None:
        rows = memory()
        access = RememberedAccess(rows, optimistic=True)
        access.order(ORDER.id)
        closed = Position.flat(Symbol("AAPL"))

        access.committed({}, {"AAPL": None}, "11")
        assert rows.position("AAPL") == (None, None)
        access.abandoned({}, {"AAPL": closed})

        assert (rows.order(ORDER.id), rows.position("AAPL"), rows.position("MSFT")) == (None, None, (None, None))


class TestLockedRows:
    def test_the_position_read_with_its_order_is_used_once_and_then_held(self) -> None:
        locked = LockedRows()
        locked.order_locked(ORDER, None, keep_position=True)

        first, second = locked.take_position("AAPL"), locked.take_position("AAPL")

        assert (first, second) == ((True, None), (False, None))
        assert locked.holds_position("AAPL")
        assert locked.holds_order(ORDER.id)

    def test_writes_of_locked_rows_need_no_check(self) -> None:
        locked = LockedRows()
        locked.order_locked(ORDER, None, keep_position=True)
        locked.position_locked("AAPL")

        writes = [
            locked.order_write(ORDER)[0],
            locked.position_write(OPEN)[0],
            locked.position_write(position("AAPL", "0"))[0],
        ]

        assert writes == [WriteKind.ORDER, WriteKind.POSITION, WriteKind.FLAT]
        assert not any(kind.counted for kind in writes)
        assert list(locked.checks({}, {})) == []
