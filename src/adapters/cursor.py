"""Opaque listing cursors: the (created_at, id) of the last order of a page, for keyset paging.

Both stores list orders newest first, ordered by (created_at, id) descending, and a page after a
cursor holds the orders strictly below it. Orders inserted meanwhile sort above the first page
(they are newer), so a traversal never sees an order twice and never skips one that existed when
it started.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Final

from trading_core.errors import InvalidCursor
from trading_core.values import OrderId, canonical_uuid

_PREFIX: Final = "o1|"


def encode_cursor(created_at: datetime, order_id: str) -> str:
    """The cursor that continues a listing after the order with this creation time and id."""
    text = f"{_PREFIX}{created_at.astimezone(UTC).isoformat()}|{order_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, OrderId]:
    """The (created_at, id) a cursor stands for; `InvalidCursor` when the store did not issue it."""
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        prefix, moment, order_id = raw.decode().split("|")
        created_at = datetime.fromisoformat(moment)
        canonical = canonical_uuid(order_id)  # None, or the id as issued: checked below
    except (ValueError, UnicodeError, binascii.Error) as e:
        raise _not_ours(cursor) from e
    if f"{prefix}|" != _PREFIX or created_at.tzinfo is None or canonical != order_id:
        raise _not_ours(cursor)
    return created_at, OrderId(order_id)


def _not_ours(cursor: str) -> InvalidCursor:
    shown = cursor if len(cursor) <= 80 else f"{cursor[:80]}..."  # not the whole of whatever was sent
    return InvalidCursor(f"cursor is not one this service issued, was {shown!r}", details={"field": "cursor"})
