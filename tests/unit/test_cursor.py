"""Listing cursors: every string of the documented shape is a place in the listing, any other is refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.cursor import CURSOR_PATTERN, decode_cursor, encode_cursor
from trading_core.errors import InvalidCursor


@given(
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(8800, 1, 1), timezones=st.just(UTC)),
    st.uuids(),
)
def test_a_cursor_stands_for_the_order_it_was_made_from(created_at: datetime, order_id: uuid.UUID) -> None:
    cursor = encode_cursor(created_at, str(order_id))

    assert decode_cursor(cursor) == (created_at, str(order_id))
    assert len(cursor) == 47


@given(st.from_regex(CURSOR_PATTERN, fullmatch=True))
def test_every_string_of_the_documented_shape_is_taken(cursor: str) -> None:
    """The API schema gives `after` this pattern: a value it allows must never be refused."""
    created_at, order_id = decode_cursor(cursor)

    assert encode_cursor(created_at, order_id) == cursor


NOT_CURSORS = ["", "not a cursor", "bm90IGEgY3Vyc29y", "3" + "0" * 46, "0" * 46, "0" * 48, "A" * 47, "0" * 47 + "\n"]


@pytest.mark.parametrize("cursor", NOT_CURSORS)
def test_any_other_string_is_refused_and_echoed_bounded(cursor: str) -> None:
    with pytest.raises(InvalidCursor) as raised:
        decode_cursor(cursor + "x" * 200 if cursor == "" else cursor)

    assert raised.value.code == "INVALID_CURSOR"
    assert len(raised.value.message) < 200
