"""Order ids are version 7 UUIDs: ordered by creation time, and random enough not to be enumerated."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from trading_core.values import OrderId, new_order_id

_RANDOM_BITS = (1 << 74) - 1


def _millis(order_id: str) -> int:
    return uuid.UUID(order_id).int >> 80


def _random_part(order_id: str) -> int:
    """The 74 random bits: rand_a (12) and rand_b (62), without the version and variant."""
    value = uuid.UUID(order_id).int
    return (value >> 64 & 0xFFF) << 62 | value & ((1 << 62) - 1)


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(9999, 1, 1), timezones=st.just(UTC)))
def test_an_order_id_is_a_version_7_uuid_carrying_its_creation_time(now: datetime) -> None:
    order_id = new_order_id(now)
    parsed = uuid.UUID(order_id)

    assert isinstance(order_id, OrderId)
    assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
    assert str(parsed) == order_id
    assert _millis(order_id) == int(now.timestamp() * 1000)


def test_order_ids_sort_as_their_orders_were_created() -> None:
    start = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    times = [start + timedelta(milliseconds=n) for n in range(0, 5000, 7)]

    ids = [new_order_id(t) for t in times]

    assert sorted(ids) == ids


def test_the_random_part_is_drawn_afresh_each_millisecond() -> None:
    """Sequential ids (`...-000000000001`, `...-000000000002`) could be enumerated; these cannot."""
    start = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)

    parts = [_random_part(new_order_id(start + timedelta(milliseconds=n))) for n in range(2000)]

    assert len(set(parts)) == len(parts)
    ones = sum(bin(p).count("1") for p in parts) / len(parts)
    assert 37 - 2 < ones < 37 + 2  # half of the 74 bits set, on average: drawn, not counted


def test_ids_made_in_one_millisecond_are_a_random_step_apart() -> None:
    now = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)

    parts = [_random_part(new_order_id(now)) for _ in range(2000)]

    steps = [b - a for a, b in itertools.pairwise(parts)]
    assert min(steps) > 1 << 20  # never the next count: the step is one of 2^48
    assert len(set(steps)) == len(steps)


def test_without_a_time_the_id_carries_the_systems() -> None:
    before = int(datetime.now(UTC).timestamp() * 1000)

    order_id = new_order_id()

    after = int(datetime.now(UTC).timestamp() * 1000)
    assert before <= _millis(order_id) <= after
    assert uuid.UUID(order_id).version == 7


def test_ids_made_in_one_millisecond_sort_in_the_order_they_were_made() -> None:
    """A clock that stands still (a test's, or two orders in one millisecond) still orders them."""
    now = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)

    ids = [new_order_id(now) for _ in range(1000)]

    assert sorted(ids) == ids
