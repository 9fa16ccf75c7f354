"""Reading Alpaca requests as Alpaca does: JSON bodies, decimals as numbers or strings, query values.

Every refusal raises an `AlpacaError` (400 for a body that is not a JSON object, 422 40010001 for
a member that is missing, of the wrong type or out of range) before anything is changed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar

import msgspec

from apps.alpaca_sim import errors
from trading_core.values import ONE

_E = TypeVar("_E", bound=StrEnum)
_DECODER = msgspec.json.Decoder(float_hook=Decimal)
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})
_CENTS = Decimal("0.01")
_SUB_DOLLAR_TICK = Decimal("0.0001")
NINE_PLACES = Decimal("1e-9")
"""The finest share quantity Alpaca takes (fractional orders)."""
_MAX_QUANTITY = Decimal("99999999999")
_NANOS = re.compile(r"(\.\d{6})\d+")


def json_object(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object; 400 40010000 when it is not one."""
    try:
        value = _DECODER.decode(body)
    except msgspec.DecodeError as e:
        raise errors.malformed() from e
    if not isinstance(value, dict):
        raise errors.malformed()
    return value


def text(body: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise errors.invalid(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise errors.invalid(f"{name} must be a string")
    return value


def required_text(body: Mapping[str, Any], name: str) -> str:
    """A string member that must be there (Alpaca's 422 `<name> is required` when it is not)."""
    value = text(body, name)
    if value is None:
        raise errors.invalid(f"{name} is required")
    return value


def required_choice(kind: type[_E], body: Mapping[str, Any], name: str) -> _E:
    """An enumerated member that must be there (Alpaca's 422 `<name> is required` when it is not)."""
    value = choice(kind, body, name)
    if value is None:
        raise errors.invalid(f"{name} is required")
    return value


def choice(kind: type[_E], body: Mapping[str, Any], name: str, *, required: bool = False) -> _E | None:
    """An enumerated member (`side`, `type`, `time_in_force`...)."""
    value = text(body, name, required=required)
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError as e:
        raise errors.invalid(f"invalid {name}: {value!r}") from e


def decimal(body: Mapping[str, Any], name: str) -> Decimal | None:
    """A decimal member given as a JSON number or a numeric string; None when absent or null."""
    value = body.get(name)
    if value is None:
        return None
    return number(value, name)


def number(value: object, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise errors.invalid(f"{name} must be a number")
    try:
        result = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation as e:
        raise errors.invalid(f"invalid {name}: {value!r}") from e
    if not result.is_finite():
        raise errors.invalid(f"invalid {name}: {value!r}")
    return result


def positive(value: Decimal, name: str) -> Decimal:
    if value <= 0:
        raise errors.invalid(f"{name.replace('_', ' ')} must be > 0")
    return value


def quantity(value: Decimal, name: str) -> Decimal:
    """A share quantity as Alpaca takes it: > 0 with at most nine decimal places."""
    positive(value, name)
    if value > _MAX_QUANTITY or value != value.quantize(NINE_PLACES):
        raise errors.invalid(f"{name} must have at most 9 decimal places and 11 digits, was {value}")
    return value


def check_tick(value: Decimal | None, name: str) -> None:
    """Alpaca's sub-penny rule: at most 2 decimals from $1 up, 4 below (422 42210000)."""
    if value is None:
        return
    tick = _CENTS if value >= ONE else _SUB_DOLLAR_TICK
    if value != value.quantize(tick):
        raise errors.unprocessable(
            f"invalid {name} {value}. sub-penny increment does not fulfill minimum pricing criteria"
        )


def boolean(value: object, name: str) -> bool:
    """A JSON boolean member; null counts as false."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise errors.invalid(f"{name} must be a boolean")
    return value


class Query:
    """A query string: one value per name (the first), read and checked by type."""

    def __init__(self, values: Mapping[str, list[str]]) -> None:
        self._values = values

    def get(self, name: str) -> str | None:
        found = self._values.get(name)
        return found[0] if found else None

    def boolean(self, name: str, *, default: bool = False) -> bool:
        """`true`, `True` or `1` (alpaca-py writes Python's `True`); `false`, `0`."""
        value = self.get(name)
        if value is None or value == "":
            return default
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise errors.invalid(f"invalid {name}: {value!r}")

    def integer(self, name: str, *, default: int, low: int, high: int) -> int:
        value = self.get(name)
        if value is None or value == "":
            return default
        try:
            result = int(value)
        except ValueError as e:
            raise errors.invalid(f"invalid {name}: {value!r}") from e
        if result < low:
            raise errors.invalid(f"{name} must be at least {low}")
        return min(result, high)

    def choice(self, kind: type[_E], name: str) -> _E | None:
        value = self.get(name)
        if value is None or value == "":
            return None
        try:
            return kind(value)
        except ValueError as e:
            raise errors.invalid(f"invalid {name}: {value!r}") from e

    def decimal(self, name: str) -> Decimal | None:
        value = self.get(name)
        if value is None or value == "":
            return None
        return number(value, name)

    def timestamp(self, name: str) -> datetime | None:
        """RFC 3339 (`Z` or an offset, up to nanoseconds) or a bare date (midnight UTC)."""
        value = self.get(name)
        if value is None or value == "":
            return None
        # A literal '+' in a query reads as a space: put it back.
        cleaned = _NANOS.sub(r"\1", value.strip().replace(" ", "+"))
        try:
            moment = datetime.fromisoformat(cleaned)
        except ValueError as e:
            raise errors.invalid(f"invalid {name}: {value!r}") from e
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

    def day(self, name: str) -> date | None:
        value = self.get(name)
        if value is None or value == "":
            return None
        try:
            return date.fromisoformat(value[:10])
        except ValueError as e:
            raise errors.invalid(f"invalid {name}: {value!r}") from e

    def symbols(self, name: str) -> list[str] | None:
        value = self.get(name)
        if value is None or value == "":
            return None
        return [s for s in (part.strip() for part in value.split(",")) if s]
