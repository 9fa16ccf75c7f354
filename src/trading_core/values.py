"""Amounts, symbols and identifiers: Decimal values quantised as the schema stores them.

Quantities and prices are stored as DECIMAL(15,4), so every one is quantised to four places on
construction and refused beyond eleven integer digits. Money that comes from multiplying them
(cost basis, P&L) stays exact: the product of two four-place numbers has eight places, well
inside Decimal's 28 significant digits, and is rounded only where a report shows it.
"""

from __future__ import annotations

import itertools
import os
import re
import time
import uuid
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Final

from trading_core.errors import InvalidOrder

FOUR_PLACES: Final = Decimal("0.0001")
CENTS: Final = Decimal("0.01")
EXACT: Final = Decimal("0.00000001")
"""The scale that cost basis and P&L are kept at: exact for products of two 4-place values."""

ZERO: Final = Decimal(0)
ONE: Final = Decimal(1)
HUNDRED: Final = Decimal(100)
_MAX_AMOUNT: Final = Decimal("99999999999.9999")  # DECIMAL(15,4)

_SYMBOL_RE: Final = re.compile(r"^[A-Z][A-Z0-9]{0,5}([./-][A-Z0-9]{1,3})?$")


def to_decimal(value: object, *, field: str) -> Decimal:
    """Turn an int, str or Decimal into a finite Decimal; floats are refused as inexact.

    Raises:
        InvalidOrder: The value is a float or a bool, not a number, or not finite (`field` named).
    """
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool | float):
        raise InvalidOrder(
            f"{field} must be a Decimal, an int or a numeric string, was {type(value).__name__}",
            field=field,
        )
    elif isinstance(value, int | str):
        try:
            result = Decimal(value.strip() if isinstance(value, str) else value)
        except InvalidOperation as e:
            raise InvalidOrder(f"{field} must be a number, was {value!r}", field=field) from e
    else:
        raise InvalidOrder(f"{field} must be a number, was {type(value).__name__}", field=field)
    if not result.is_finite():
        raise InvalidOrder(f"{field} must be finite, was {value!r}", field=field)
    return result


def quantize4(value: Decimal, *, field: str = "amount") -> Decimal:
    """Quantise to DECIMAL(15,4), refusing values the schema could not hold or that lose digits.

    Raises:
        InvalidOrder: The value is beyond DECIMAL(15,4) or has more than four decimal places.
    """
    # The bound comes first: quantising a value of more than 28 digits would trap InvalidOperation.
    if abs(value) > _MAX_AMOUNT:
        raise InvalidOrder(f"{field} is beyond DECIMAL(15,4), was {value}", field=field)
    quantized = value.quantize(FOUR_PLACES, rounding=ROUND_HALF_EVEN)
    if quantized != value:  # compared, not read from as_tuple(): 1.00000 has five places and loses none
        raise InvalidOrder(f"{field} has more than 4 decimal places, was {value}", field=field)
    return quantized


def at_four_places(value: Decimal) -> Decimal:
    """`value` written with four decimal places when that is exact (`10` -> `10.0000`), else as it is.

    For quantities and prices a broker reports at its own scale: ours are shown at four places.
    """
    fixed = value.quantize(FOUR_PLACES)
    return fixed if fixed == value else value


def quantity(value: object, *, field: str = "quantity") -> Decimal:
    """Parse a strictly positive order quantity with at most four decimal places.

    Raises:
        InvalidOrder: The value is not such a quantity (`field` named).
    """
    result = quantize4(to_decimal(value, field=field), field=field)
    if result <= ZERO:
        raise InvalidOrder(f"{field} must be greater than 0, was {result}", field=field)
    return result


def price(value: object, *, field: str = "price") -> Decimal:
    """Parse a strictly positive price with at most four decimal places.

    Raises:
        InvalidOrder: The value is not such a price (`field` named).
    """
    result = quantize4(to_decimal(value, field=field), field=field)
    if result <= ZERO:
        raise InvalidOrder(f"{field} must be greater than 0, was {result}", field=field)
    return result


def money(value: Decimal) -> Decimal:
    """Round an exact amount to cents, half to even, for reports."""
    return value.quantize(CENTS, rounding=ROUND_HALF_EVEN)


class Symbol(str):
    """A ticker: upper case letters and digits, with an optional class suffix such as `BRK.B`.

    Raises:
        InvalidOrder: The value is not a string, or not a valid ticker.
    """

    __slots__ = ()

    def __new__(cls, value: str) -> Symbol:
        if isinstance(value, Symbol):
            return value
        known = _KNOWN_SYMBOLS.get(value) if type(value) is str else None
        if known is not None:
            return known
        if not isinstance(value, str):
            raise InvalidOrder(f"symbol must be a string, was {type(value).__name__}", field="symbol")
        text = value.strip().upper()
        if len(text) > 10 or not _SYMBOL_RE.match(text):
            raise InvalidOrder(f"symbol is not a valid ticker, was {value!r}", field="symbol")
        symbol = super().__new__(cls, text)
        if len(_KNOWN_SYMBOLS) < _KNOWN_SYMBOLS_MAX:
            _KNOWN_SYMBOLS[value] = symbol
        return symbol


_KNOWN_SYMBOLS: dict[str, Symbol] = {}
"""Symbols already checked, by the text given: the same few tickers are parsed on every request."""

_KNOWN_SYMBOLS_MAX: Final = 10_000
"""Enough for any real universe; beyond it, arbitrary input is checked each time instead of kept."""


def canonical_uuid(value: object) -> str | None:
    """`value` as a UUID in its one canonical spelling (lower case, hyphenated), or None if it is none.

    The one check of ids that are UUIDs (ours, the broker's, strategies' and decisions'): text that
    is not one names nothing and must not reach a UUID column, and one id written two ways
    (upper case, braces, no hyphens) is recognised as the same id.
    """
    if isinstance(value, uuid.UUID):
        return str(value)
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


class _Id(str):
    """A string identifier of one kind; the subclasses keep kinds from being mixed up."""

    __slots__ = ()

    @classmethod
    def new(cls) -> _Id:
        """A new identifier of this kind: a random version 4 UUID string."""
        return cls(str(uuid.uuid4()))


class OrderId(_Id):
    """Our id of an order (the orders table's UUID primary key)."""

    __slots__ = ()


class ClientOrderId(_Id):
    """The id we give an order before it leaves us; the broker's idempotency key (<= 48 chars)."""

    __slots__ = ()


class BrokerOrderId(_Id):
    """The broker's id of an order."""

    __slots__ = ()


class ExecutionId(_Id):
    """The broker's id of one execution (fill); a repeated one is a duplicate."""

    __slots__ = ()


class EventId(_Id):
    """The id of one published event; the event bus deduplicates on it."""

    __slots__ = ()


_UUID_COUNT_START: Final = 1 << 48
"""A sequence's counter runs from 2^48 to 2^49: hex() of each is "0x1" then the count in twelve
zero-padded digits, which a slice yields for less than a "{:012x}" format costs."""
_UUID_COUNT_END: Final = 1 << 49


class _UuidSequence:
    """Version 4 UUID strings: 74 random bits drawn once per process, then a 48-bit counter.

    Unique like `uuid4()` (a new random prefix every process start, a counter within it) at a
    tenth of the cost, which matters when an order produces half a dozen ids.
    """

    __slots__ = ("_counter", "_prefix")

    def __init__(self) -> None:
        self._prefix = ""
        self._counter = itertools.count(_UUID_COUNT_START)
        self._reseed()

    def _reseed(self) -> None:
        head = uuid.uuid4().hex
        self._prefix = f"{head[:8]}-{head[8:12]}-4{head[13:16]}-{'89ab'[int(head[16], 16) % 4]}{head[17:20]}-"
        self._counter = itertools.count(_UUID_COUNT_START)

    def next(self) -> str:  # a method, not __call__: calling an instance costs a slot lookup more
        n = next(self._counter)
        if n >= _UUID_COUNT_END:  # after 2^48 ids, draw a new prefix rather than wrap
            self._reseed()
            n = next(self._counter)
        return self._prefix + hex(n)[3:]


_uuids = _UuidSequence()


def new_order_id(now: datetime | None = None) -> OrderId:
    """A version 7 UUID: the creation time (`now`, else the system's) to the millisecond, then 74 random bits.

    Ids sort as the orders were created, and the random bits keep anyone from guessing another
    order's id from one they hold (sequential ids could be enumerated through the API).
    """
    return OrderId(_uuid7s.next(int(now.timestamp() * 1000) if now is not None else time.time_ns() // 1_000_000))


_MS_MASK: Final = (1 << 48) - 1
_RAND_B_MASK: Final = (1 << 62) - 1
_VARIANT: Final = 0b10 << 62
_VERSION: Final = 0x7 << 12


class _Uuid7Sequence:
    """Version 7 UUID strings (RFC 9562) that keep the order they were made in.

    An id made in the same millisecond as the one before takes that one's random bits plus a
    random step of 1 to 2^48 (the RFC's "monotonic random"): it sorts after it, and is still
    one of 2^48 values to anyone guessing it.
    """

    __slots__ = ("_head", "_last_ms", "_last_random")

    def __init__(self) -> None:
        self._last_ms = -1
        self._last_random = 0
        self._head = ""

    def next(self, ms: int) -> str:
        ms &= _MS_MASK
        if ms == self._last_ms:
            rand = self._last_random + int.from_bytes(os.urandom(6)) + 1
            if rand >> 74:  # past the 74 bits (one chance in 2^26): a fresh draw
                rand = int.from_bytes(os.urandom(10)) >> 6
        else:
            rand = int.from_bytes(os.urandom(10)) >> 6
            h = f"{ms:012x}"  # the time, written once a millisecond: orders made together share it
            self._head = f"{h[:8]}-{h[8:]}-"
            self._last_ms = ms
        self._last_random = rand
        # hex() rather than a format spec (cheaper): the version's 7 and the variant's
        # top bit make each part's digits a fixed count ("7" + rand_a's 3; "8"-"b" + 15).
        version_and_a = hex(_VERSION | rand >> 62)
        variant_and_b = hex(_VARIANT | rand & _RAND_B_MASK)
        return f"{self._head}{version_and_a[2:]}-{variant_and_b[2:6]}-{variant_and_b[6:]}"


_uuid7s = _Uuid7Sequence()


def new_client_order_id() -> ClientOrderId:
    """A new client order id: a version 4 UUID string, well within the broker's 48 characters."""
    return ClientOrderId(_uuids.next())


def new_event_id() -> EventId:
    """A new event id: a version 4 UUID string."""
    return EventId(_uuids.next())
