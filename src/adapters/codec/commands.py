"""Inbound commands on the wire: decisions, market sessions and shutdown, checked against their schemas.

A command body is a JSON object, either bare or as the `data` of a CloudEvents envelope. It is
validated against its JSON Schema (`docs/events/`, shipped in `schemas/`) before anything reads it;
a decision is then structured into a `trading_core.decisions.Decision` by a private cattrs converter.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any, Final

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, override
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import best_match  # type: ignore[import-untyped]

from adapters.codec._json import decode_json
from trading_core.decisions import Decision
from trading_core.order_classes import StopLoss, TakeProfit

__all__ = [
    "DECISION_SCHEMA",
    "SESSION_SCHEMA",
    "SHUTDOWN_SCHEMA",
    "InvalidCommand",
    "decode_command",
    "decode_decision",
    "structure_decision",
]

DECISION_SCHEMA: Final = "ai.decision.generated.schema.json"
SESSION_SCHEMA: Final = "market.session.schema.json"
SHUTDOWN_SCHEMA: Final = "system.shutdown.schema.json"


class InvalidCommand(ValueError):
    """A command that is not JSON, not an object, or not valid against its schema.

    `raw` is the decoded object when there was one, so a caller can still name the decision.
    """

    def __init__(self, reason: str, raw: Mapping[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.raw = raw


@cache
def _validator(name: str) -> Draft202012Validator:
    text = resources.files("adapters.codec").joinpath("schemas", name).read_text(encoding="utf-8")
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _body(data: bytes, *, allow_empty: bool) -> dict[str, Any]:
    if not data.strip():
        if allow_empty:
            return {}
        raise InvalidCommand("the message body is empty")
    try:
        body = decode_json(data)
    except ValueError as e:
        raise InvalidCommand(f"the message body is not JSON: {e}") from e
    if not isinstance(body, dict):
        raise InvalidCommand(f"the message body must be a JSON object, was {type(body).__name__}")
    if "specversion" in body and "data" in body:  # a CloudEvents envelope around the command
        inner = body["data"]
        if not isinstance(inner, dict):
            raise InvalidCommand("the envelope's data must be a JSON object", body)
        return inner
    return body


def decode_command(data: bytes, schema: str, *, allow_empty: bool = False) -> dict[str, Any]:
    """Decode a command body and validate it against `schema` (a file name in `schemas/`).

    Raises:
        InvalidCommand: naming what is wrong, with the decoded object when there was one.
    """
    body = _body(data, allow_empty=allow_empty)
    error = best_match(_validator(schema).iter_errors(body))
    if error is not None:
        raise InvalidCommand(_reason(error), body)
    return body


def _reason(error: Any) -> str:
    """`path: message`; for a failed `anyOf` every alternative, without repeating the whole body."""
    if error.context:
        alternatives = sorted({_reason(e) for e in error.context})
        return "one of these must hold: " + " | ".join(alternatives)
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return f"{where}: {error.message}"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


_DECIMAL_TEXT: Final = re.compile(r"^[0-9]+(\.[0-9]+)?$")


def _structure_decimal(value: object, _: object) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str) and _DECIMAL_TEXT.match(value):
        return Decimal(value)
    raise ValueError(f"must be an exact number, was {value!r}")


def _structure_datetime(value: object, _: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"must be an RFC 3339 timestamp, was {value!r}")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"must carry a UTC offset, was {value!r}")
    return moment


def _converter() -> cattrs.Converter:
    converter = cattrs.Converter()
    converter.register_structure_hook(Decimal, _structure_decimal)
    converter.register_structure_hook(datetime, _structure_datetime)
    for cls in (Decision, TakeProfit, StopLoss):  # exits' members are camelCase too (`limitPrice`)
        renames: dict[str, Any] = {a.name: override(rename=_camel(a.name)) for a in attrs.fields(cls)}
        converter.register_structure_hook(cls, make_dict_structure_fn(cls, converter, **renames))
    return converter


_CONVERTER: Final = _converter()


def decode_decision(data: bytes) -> Decision:
    """Decode, validate and structure an `ai.decision.generated` message.

    Raises:
        InvalidCommand: the message is not a valid decision.
    """
    return structure_decision(decode_command(data, DECISION_SCHEMA))


def structure_decision(body: Mapping[str, Any]) -> Decision:
    """The `Decision` in a body already valid against the decision schema.

    Raises:
        InvalidCommand: a value the schema lets through that is still unusable.
    """
    try:
        decision = _CONVERTER.structure(body, Decision)
    except (cattrs.BaseValidationError, ValueError, TypeError) as e:
        reasons = "; ".join(cattrs.transform_error(e)) if isinstance(e, cattrs.BaseValidationError) else str(e)
        raise InvalidCommand(reasons, body) from e
    # One spelling per id, so that the same decision is recognised however it was written.
    strategy_id = decision.strategy_id and str(uuid.UUID(decision.strategy_id))
    return attrs.evolve(decision, decision_id=str(uuid.UUID(decision.decision_id)), strategy_id=strategy_id)
