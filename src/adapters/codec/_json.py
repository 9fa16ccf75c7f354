"""JSON with exact numbers: Decimal out as a JSON number, a JSON number with a fraction in as Decimal."""

from __future__ import annotations

from collections.abc import Mapping
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
    return _ENCODER.encode(value)


def decode_json(data: bytes | str) -> Any:
    """Decode JSON, reading numbers with a fraction or exponent as `Decimal` (integers stay `int`).

    Raises:
        ValueError: the data is not valid JSON (`msgspec.DecodeError` is a `ValueError`).
    """
    return _DECODER.decode(data)
