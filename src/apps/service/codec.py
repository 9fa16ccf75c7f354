"""Exact JSON at the edge: Decimal in and out as JSON numbers with their own digits, never float.

Litestar's default JSON decoding turns numbers into float before the handler's types see them,
and its encoder writes Decimal as a string or a float; the three classes here replace both, and
tell the OpenAPI document that amounts are numbers.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Final

import msgspec
from litestar import Request, Response
from litestar.datastructures import State
from litestar.enums import MediaType
from litestar.exceptions import ValidationException
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.plugins import OpenAPISchemaPlugin
from litestar.serialization import default_serializer
from litestar.types import Empty
from litestar.typing import FieldDefinition

from adapters.codec import encode_positional
from apps.service.schema_fields import JsonNumber, OrderPrice, OrderQuantity, QueryQuantity, TrailPercent

_decoder: Final = msgspec.json.Decoder(float_hook=Decimal)
_encoder: Final = msgspec.json.Encoder(enc_hook=default_serializer, decimal_format="number")


class BodyRefused(ValueError):
    """A request body refused before any of it is read; `field` is where, as the API spells it."""

    def __init__(self, message: str, field: str = "body") -> None:
        super().__init__(message)
        self.field = field


def decode_exact(body: bytes) -> Any:
    """JSON with every non-integer number as a Decimal (floats never appear).

    Raise `BodyRefused` for anything but one JSON value in UTF-8; for a key given twice in one
    object (msgspec keeps the last: `"side": "buy", ..., "side": "sell"` would be a sell); and for
    a NUL character in any string (PostgreSQL's text cannot hold one, so it must be refused before
    anything is stored).
    """
    try:
        value = _decoder.decode(body or b"null")
    except msgspec.DecodeError as e:
        raise BodyRefused(f"not valid JSON: {e}") from e
    except UnicodeDecodeError as e:  # msgspec checks a string's UTF-8 only as it builds the str
        raise BodyRefused(f"not valid UTF-8: {e}") from e
    except RecursionError as e:  # msgspec descends on the C stack, guarded by Python's recursion limit
        raise BodyRefused("nested too deeply") from e
    # Every colon outside a string follows a key, so the body's colons are at least its keys, which
    # are at least the keys the decoded objects hold: when the counts are equal, no key was given
    # twice. Only a body with a colon inside a string (or a repeat) pays for the scan.
    if body.count(b":") != _keys_held(value):
        _refuse_repeated_key(body)
    if b"\\u0000" in body:  # JSON can carry a NUL only escaped: without this, no string holds one
        _refuse_nul(value)
    return value


def _keys_held(value: Any) -> int:
    """How many keys the decoded objects hold, all levels together."""
    count = 0
    todo = [value]
    while todo:  # a loop, not recursion: the value may nest as deep as the decoder allowed
        item = todo.pop()
        if type(item) is dict:
            count += len(item)
            item = item.values()
        elif type(item) is not list:
            continue
        todo.extend(v for v in item if type(v) is dict or type(v) is list)
    return count


_STRING_OR_BRACE: Final = re.compile(rb'("[^"\\]*(?:\\.[^"\\]*)*")\s*(:)?|([{}])')
_text: Final = msgspec.json.Decoder(str)


def _refuse_repeated_key(body: bytes) -> None:
    """Raise naming the first key given twice in one object of `body` (valid JSON), if there is one.

    Each string is matched whole, so a brace or a colon inside one is not taken for structure (in
    valid JSON every quote outside a string opens one); a string followed by a colon is a key,
    compared decoded (`"\\u0073ide"` is `"side"`).
    """
    open_objects: list[set[str]] = []
    for string, colon, brace in _STRING_OR_BRACE.findall(body):
        if brace == b"{":
            open_objects.append(set())
        elif brace:
            open_objects.pop()
        elif colon:
            key = _text.decode(string)
            if key in open_objects[-1]:
                raise BodyRefused(f"the key {key!r} is given twice in one object")
            open_objects[-1].add(key)


def _refuse_nul(value: Any) -> None:
    """Raise naming the field whose string holds a NUL (`body` for the body itself or a key)."""
    todo: list[tuple[str, Any]] = [("", value)]
    while todo:  # a loop, not recursion: the value may nest as deep as the decoder allowed
        path, item = todo.pop()
        if isinstance(item, str) and "\x00" in item:
            raise BodyRefused("must not hold a NUL character (\\u0000)", field=path or "body")
        if isinstance(item, dict):
            if any("\x00" in key for key in item):
                raise BodyRefused("no key may hold a NUL character (\\u0000)", field=path or "body")
            todo.extend((f"{path}.{key}" if path else key, v) for key, v in item.items())
        elif isinstance(item, list):
            todo.extend((f"{path}[{i}]", v) for i, v in enumerate(item))


def encode_exact(value: Any) -> bytes:
    """JSON with Decimal written as a number with exactly its digits, in positional notation."""
    return encode_positional(_encoder, value, default_serializer)


def _decode_body(body: bytes) -> Any:
    try:
        return decode_exact(body)
    except BodyRefused as e:
        raise ValidationException(str(e), extra=[{"key": e.field, "message": str(e)}]) from e


class ExactRequest(Request[Any, Any, State]):
    """A request whose JSON body keeps decimal numbers exact, and is held strictly to its type.

    Litestar converts a body to the handler's type in msgspec's lax mode (meant for query
    strings), which takes `0` for `false`; the body is first checked against its type in strict
    mode, so that a JSON value of the wrong type is refused as the schema says.
    """

    async def json(self) -> Any:
        if self._json is Empty:
            cached = self._connection_state.json
            if cached is Empty:
                cached = _decode_body(await self.body())
                _check_strictly(cached, self.route_handler.parsed_data_field)
            self._json = cached
            self._connection_state.json = self._json
        return self._json


_PATH: Final = re.compile(r"^(.*) - at `\$\.?(.*)`$")


def _check_strictly(value: Any, data: FieldDefinition | None) -> None:
    """Raise `ValidationException` (400) where `value` is not of the body's type without coercion."""
    if data is None or value is None:
        return
    try:
        msgspec.convert(value, data.annotation, strict=True, dec_hook=_strict_hook, str_keys=True)
    except msgspec.ValidationError as e:
        matched = _PATH.match(str(e))
        message, key = (matched.group(1), matched.group(2)) if matched else (str(e), "")
        raise ValidationException(message, extra=[{"key": key or "data", "message": message, "source": "body"}]) from e


def _strict_hook(kind: Any, value: Any) -> Any:
    if is_number_type(kind):
        return decode_number(kind, value)
    raise TypeError(f"no strict decoding for {kind!r}")  # a programming error in the request types


class ExactResponse(Response[Any]):
    """A response that writes Decimal as an exact JSON number."""

    def render(self, content: Any, media_type: str, enc_hook: Any = default_serializer) -> bytes:
        if media_type == MediaType.JSON and not isinstance(content, bytes | str):
            return encode_exact(content)
        return super().render(content, media_type, enc_hook)


_QUERY_NUMBER: Final = re.compile(r"\d{1,20}(\.\d{1,20})?")


def is_number_type(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, JsonNumber | QueryQuantity)


def decode_number(kind: type[Decimal], value: Any) -> Decimal:
    """A request amount: a JSON number in a body (`"10"` is refused), decimal digits in a query.

    Raises ValueError, which Litestar answers with 400 naming the field.
    """
    if issubclass(kind, QueryQuantity):
        if isinstance(value, str) and _QUERY_NUMBER.fullmatch(value):
            return kind(value)
        raise ValueError("must be a decimal number such as 2 or 0.5")
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return kind(value)
    raise ValueError(f"must be a JSON number, was {_json_type(value)}")


def _json_type(value: Any) -> str:
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    return "an object" if isinstance(value, dict) else "an array" if isinstance(value, list) else type(value).__name__


_MAX_QUANTITY: Final = 99999999999.9999  # DECIMAL(15,4), as values.quantize4 bounds it
_QUANTITY: Final = Schema(
    type=OpenAPIType.NUMBER,
    exclusive_minimum=0,
    maximum=_MAX_QUANTITY,
    multiple_of=0.0001,
    description="Greater than 0, at most 4 decimal places.",
)
_AMOUNT_SCHEMAS: Final[dict[type, Schema]] = {
    OrderQuantity: _QUANTITY,
    QueryQuantity: _QUANTITY,
    TrailPercent: Schema(
        type=OpenAPIType.NUMBER,
        exclusive_minimum=0,
        exclusive_maximum=100,  # trading_core.trailing.MAX_TRAIL_PERCENT: at 100 a sell's stop is 0
        multiple_of=0.0001,
        description=(
            "A trail in percent of the high-water mark: greater than 0 and less than 100 (at 100 a sell's "
            "stop would be 0), at most 4 decimal places."
        ),
    ),
    OrderPrice: Schema(
        type=OpenAPIType.NUMBER,
        any_of=[
            Schema(type=OpenAPIType.NUMBER, exclusive_minimum=0, exclusive_maximum=1, multiple_of=0.0001),
            Schema(type=OpenAPIType.NUMBER, minimum=1, maximum=99999999999.99, multiple_of=0.01),
        ],
        description="Greater than 0: at most 4 decimal places below $1, at most 2 from $1 up (the sub-penny rule).",
    ),
}


class DecimalSchemaPlugin(OpenAPISchemaPlugin):
    """Amounts are documented as JSON numbers (Litestar's default says string), with their bounds."""

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        return self.is_plugin_supported_type(field_definition.annotation)

    @staticmethod
    def is_plugin_supported_type(value: Any) -> bool:
        return value is Decimal or is_number_type(value)

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        known = _AMOUNT_SCHEMAS.get(field_definition.annotation)
        if known is not None:
            return known
        return Schema(type=OpenAPIType.NUMBER, description="An exact decimal number, never rounded through float.")
