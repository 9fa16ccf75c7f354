"""Alpaca's JSON read with exact numbers, and the one private cattrs converter with its scalar hooks.

JSON is decoded with numbers exact (a JSON number with a fraction becomes a `Decimal`, never a
float), and the converter refuses a float wherever a `Decimal` is expected. Unknown members are
ignored; an order status we do not know reads as `new` (open) with a warning. Share quantities
finer than the core's four places are read rounded toward zero (`shares`, `fill_quantity`).
The readers (`decoders.py`) and the body builders (`bodies.py`) share this converter; `codec.py`
is the module the rest of the adapter imports.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any, Final, TypeVar

import cattrs
import msgspec
from cattrs.gen import make_dict_structure_fn, override

from trading_core.broker_models import BrokerOrder, BrokerPosition
from trading_core.enums import OrderClass, OrderStatus
from trading_core.market import Account, Asset
from trading_core.orders import TradeEvent
from trading_core.values import FOUR_PLACES, BrokerOrderId, ClientOrderId, ExecutionId, Symbol

__all__ = [
    "WireError",
    "decode",
    "encode",
    "exact_decimal",
    "fill_quantity",
    "optional_decimal",
    "present",
    "shares",
    "structure",
    "unstructure_present",
]

# The name the adapter has always logged under (operators filter on it).
log = logging.getLogger("adapters.alpaca.codec")

T = TypeVar("T")


class WireError(ValueError):
    """A message from Alpaca that is not JSON or does not have the shape we read."""


_DECODER: Final = msgspec.json.Decoder(float_hook=Decimal)
_ENCODER: Final = msgspec.json.Encoder()


def decode(data: bytes | str) -> Any:
    """Parse JSON with exact numbers: `1.5` is `Decimal("1.5")`; integers stay `int`.

    Raises:
        WireError: `data` is not JSON.
    """
    try:
        return _DECODER.decode(data)
    except msgspec.DecodeError as e:
        raise WireError(f"not JSON: {e}") from e


def encode(value: Any) -> bytes:
    """Encode a JSON-ready value (decimals already written as strings by the body builders)."""
    return _ENCODER.encode(value)


# ---------------------------------------------------------------- scalar hooks


def exact_decimal(value: object, _: type = Decimal) -> Decimal:
    """A JSON number or string as an exact, finite `Decimal` (a float is refused: it was parsed lossily).

    Raises:
        TypeError: A float, a bool or a non-number.
        ValueError: Not a finite decimal number.
    """
    if isinstance(value, bool | float):  # a float here means someone parsed JSON lossily
        raise TypeError(f"a decimal must be a string or an exact number, was {type(value).__name__}")
    if not isinstance(value, str | int | Decimal):
        raise TypeError(f"a decimal must be a string or a number, was {type(value).__name__}")
    try:
        result = Decimal(value)
    except InvalidOperation as e:
        raise ValueError(f"not a decimal number: {value!r}") from e
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def _timestamp(value: object, _: type) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"a timestamp must be an RFC 3339 string, was {type(value).__name__}")
    text = value
    head, dot, rest = value.partition(".")
    if dot:  # Alpaca sends nanoseconds; datetime keeps microseconds
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"a timestamp must carry an offset, was {value!r}")
    return moment


_warned_statuses: set[str] = set()


def _status(value: object, _: type) -> OrderStatus:
    try:
        return OrderStatus(str(value))
    except ValueError:
        if value not in _warned_statuses:
            _warned_statuses.add(str(value))
            log.warning("unknown Alpaca order status %r: read as 'new' (open)", value)
        return OrderStatus.NEW


_ORDER_CLASSES: Final = {c.value: c for c in OrderClass}
"""Alpaca's `order_class` words; `""` (and a class we do not trade, `mleg`) read as simple."""


def _legs(value: object) -> tuple[BrokerOrder, ...]:
    """A parent's `legs` (null unless asked for `nested`, and on a leg itself)."""
    if not isinstance(value, list):
        return ()
    return tuple(_conv.structure(leg, BrokerOrder) for leg in value)


def _event(value: object, _: Any) -> TradeEvent | str:
    text = str(value)
    try:
        return TradeEvent(text)
    except ValueError:
        return text  # kept raw: the ledger ignores events it does not know


def _str_as(cls: Callable[[str], T]) -> Callable[[object, type], T]:
    def structure(value: object, _: type) -> T:
        if not isinstance(value, str):
            raise TypeError(f"expected a string, was {type(value).__name__}")
        return cls(value)

    return structure


def _plain_decimal(value: Decimal) -> str:
    return format(value, "f")  # never scientific notation: "1E+2" is not a quantity Alpaca reads


_conv = cattrs.Converter(forbid_extra_keys=False)
_conv.register_structure_hook(Decimal, exact_decimal)
_conv.register_structure_hook(datetime, _timestamp)
_conv.register_structure_hook(OrderStatus, _status)
_conv.register_structure_hook(OrderClass, lambda value, _: _ORDER_CLASSES.get(value, OrderClass.SIMPLE))
_conv.register_structure_hook_func(lambda t: t == tuple[BrokerOrder, ...], lambda value, _: _legs(value))
_conv.register_structure_hook_func(lambda t: t == (TradeEvent | str), _event)
for _cls in (BrokerOrderId, ClientOrderId, ExecutionId, Symbol):
    _conv.register_structure_hook(_cls, _str_as(_cls))
_conv.register_unstructure_hook(Decimal, _plain_decimal)


def _read_renamed(cls: type, **alpaca_names: str) -> None:
    """Read `cls` from Alpaca's object, whose members for these fields have Alpaca's names."""
    renames = {field: override(rename=name) for field, name in alpaca_names.items()}
    # Typed loosely: cattrs types the overrides (**kwargs) like its boolean options.
    make: Callable[..., Callable[[Any, Any], Any]] = make_dict_structure_fn
    _conv.register_structure_hook(cls, make(cls, _conv, **renames))


_read_renamed(
    BrokerOrder,
    broker_order_id="id",
    quantity="qty",
    filled_quantity="filled_qty",
    filled_average_price="filled_avg_price",
)
_read_renamed(BrokerPosition, quantity="qty", average_entry_price="avg_entry_price")
_read_renamed(Account, account_id="id")
_read_renamed(Asset, asset_id="id")


def structure(data: Any, cls: type[T], what: str) -> T:
    """`data` read as `cls` by the converter.

    Raises:
        WireError: `data` is not an object, or not one `cls` can be read from (`what` names it).
    """
    if not isinstance(data, Mapping):
        raise WireError(f"{what} must be a JSON object, was {type(data).__name__}")
    try:
        return _conv.structure(data, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as e:
        detail = "; ".join(cattrs.transform_error(e)) if isinstance(e, cattrs.BaseValidationError) else str(e)
        raise WireError(f"unreadable {what}: {detail}") from e


def shares(value: Decimal) -> Decimal:
    """A broker's share quantity at our four places, rounded toward zero; as given when it fits."""
    fixed = value.quantize(FOUR_PLACES, rounding=ROUND_DOWN)
    return value if fixed == value else fixed


def fill_quantity(cumulative: Decimal | None, qty: Decimal) -> Decimal:
    """A fill's quantity at four places: the step between its order's rounded filled quantities."""
    if shares(qty) is qty and (cumulative is None or shares(cumulative) is cumulative):
        return qty
    if cumulative is None:
        return shares(qty)
    return shares(cumulative) - shares(cumulative - qty)


def present(data: Mapping[str, Any]) -> dict[str, Any]:
    """Members that carry a value: a null reads as absent, so the model's default applies."""
    return {key: value for key, value in data.items() if value is not None}


def optional_decimal(value: object) -> Decimal | None:
    """`exact_decimal` of a value that may be missing (None)."""
    return None if value is None else exact_decimal(value)


def unstructure_present(body: Mapping[str, Any]) -> dict[str, Any]:
    """A request body ready to encode: members without a value left out, decimals as plain strings."""
    unstructured: dict[str, Any] = _conv.unstructure({k: v for k, v in body.items() if v is not None})
    return unstructured
