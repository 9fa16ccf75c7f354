"""JSON with exact numbers: Decimal out as a JSON number, a JSON number with a fraction in as Decimal."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import msgspec


def _enc_hook(value: Any) -> Any:
    # Our identifiers and symbols are str subclasses, which msgspec does not encode itself;
    # a payload read back from a store may be any Mapping.
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        return dict(value)
    raise NotImplementedError(f"cannot encode {type(value).__name__} as JSON")


_ENCODER = msgspec.json.Encoder(decimal_format="number", enc_hook=_enc_hook)
_DECODER = msgspec.json.Decoder(float_hook=Decimal)


def encode_json(value: Any) -> bytes:
    """Encode to compact JSON; a `Decimal` becomes a number with exactly its digits, never a float."""
    return encode_positional(_ENCODER, value, _enc_hook)


def encode_positional(encoder: msgspec.json.Encoder, value: Any, enc_hook: Callable[[Any], Any]) -> bytes:
    """`encoder.encode(value)`, with every Decimal in positional notation.

    msgspec writes a Decimal as `str()` does, which is scientific for a zero or a tiny amount at
    eight places (`0E-8`, `1E-8`): valid JSON, but not what anyone reads as money. Only a body in
    which an exponent shows is walked again, with such amounts written out (`0.00000000`).
    """
    encoded = encoder.encode(value)
    if b"E-" not in encoded and b"E+" not in encoded:
        return encoded
    return encoder.encode(_written_out(msgspec.to_builtins(value, builtin_types=(Decimal,), enc_hook=enc_hook)))


def _written_out(value: Any) -> Any:
    if isinstance(value, Decimal):
        return msgspec.Raw(format(value, "f").encode()) if value.is_finite() and "E" in str(value) else value
    if isinstance(value, dict):
        return {k: _written_out(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_written_out(v) for v in value]
    return value


def decode_json(data: bytes | str) -> Any:
    """Decode JSON, reading numbers with a fraction or exponent as `Decimal` (integers stay `int`).

    Raises:
        ValueError: the data is not valid JSON (`msgspec.DecodeError` is a `ValueError`), or is
            nested too deeply to read.
    """
    try:
        return _DECODER.decode(data)
    except RecursionError as e:  # past Python's recursion limit: unreadable, as a caller sees it
        raise msgspec.DecodeError("JSON nested too deeply to read") from e
