"""Opaque listing cursors: the (created_at, id) of the last order of a page, for keyset paging.

Both stores list orders newest first, ordered by (created_at, id) descending, and a page after a
cursor holds the orders strictly below it. Orders inserted meanwhile sort above the first page
(they are newer), so a traversal never sees an order twice and never skips one that existed when
it started.

A cursor is 47 lower-case hex digits: the creation time in microseconds since 1970 (15 digits,
the first 0, 1 or 2, which keeps it before the year 8800), then the order id's 32. Every string of
that shape is a place in the listing, so `CURSOR_PATTERN` says exactly which cursors are taken:
the API's schema can promise it, and any other string is refused as `InvalidCursor`.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Final

from trading_core.errors import InvalidCursor
from trading_core.values import OrderId

CURSOR_PATTERN: Final = r"^[0-2][0-9a-f]{46}$"
_CURSOR: Final = re.compile(CURSOR_PATTERN)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def encode_cursor(created_at: datetime, order_id: str) -> str:
    """The cursor that continues a listing after the order with this creation time and id."""
    micros = (created_at - _EPOCH) // timedelta(microseconds=1)
    return f"{micros:015x}{uuid.UUID(order_id).hex}"


def decode_cursor(cursor: str) -> tuple[datetime, OrderId]:
    """The (created_at, id) a cursor stands for; `InvalidCursor` when it is not of a cursor's shape.

    Raises:
        InvalidCursor: `cursor` is not of a cursor's shape.
    """
    if not _CURSOR.fullmatch(cursor):
        shown = cursor if len(cursor) <= 80 else f"{cursor[:80]}..."  # not the whole of whatever was sent
        raise InvalidCursor(
            f"cursor is not one this service issues (47 hex digits), was {shown!r}", details={"field": "cursor"}
        )
    created_at = _EPOCH + timedelta(microseconds=int(cursor[:15], 16))
    return created_at, OrderId(str(uuid.UUID(hex=cursor[15:])))


FILL_CURSOR_PATTERN: Final = r"^[0-2][0-9a-f]{46}(?:[1-9a-f][0-9a-f]|0[1-9a-f]){1,256}$"
"""A cursor in a listing of fills (or of the positions they closed): an order cursor's 47 digits
(the fill's time and its order's id), then its execution id's UTF-8 bytes in hex (none of them 0)."""
_FILL_CURSOR: Final = re.compile(FILL_CURSOR_PATTERN)


def encode_fill_cursor(at: datetime, order_id: str, execution_id: str) -> str:
    """The cursor that continues a listing of fills after the fill of `order_id` and `execution_id` at `at`."""
    return encode_cursor(at, order_id) + execution_id.encode().hex()


def decode_fill_cursor(cursor: str) -> tuple[datetime, OrderId, str]:
    """The (time, order id, execution id) a fill cursor stands for; `InvalidCursor` when it is not of its shape.

    Every string of the shape is a place in the listing: bytes that are not UTF-8 stand for the
    replacement character, which sorts where it sorts.

    Raises:
        InvalidCursor: `cursor` is not of a fill cursor's shape.
    """
    if not _FILL_CURSOR.fullmatch(cursor):
        shown = cursor if len(cursor) <= 80 else f"{cursor[:80]}..."
        raise InvalidCursor(
            f"cursor is not one this service issues for fills (49 or more hex digits), was {shown!r}",
            details={"field": "cursor"},
        )
    at, order_id = decode_cursor(cursor[:47])
    return at, order_id, bytes.fromhex(cursor[47:]).decode(errors="replace")
