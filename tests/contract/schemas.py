"""Loading the JSON Schemas of `docs/events/` for validation in tests."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

EVENTS_DIR = Path(__file__).parents[2] / "docs" / "events"


def load(name: str) -> dict[str, Any]:
    return json.loads((EVENTS_DIR / name).read_text(encoding="utf-8"))


def _retrieve(uri: str) -> Resource:
    return Resource.from_contents(load(uri))


@cache
def validator(name: str) -> Draft202012Validator:
    """A validator for one schema file, resolving its references to the others in the folder."""
    return Draft202012Validator(
        load(name),
        registry=Registry(retrieve=_retrieve),
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def event_validator(event_type: str) -> Draft202012Validator:
    return validator(f"{event_type}.schema.json")


def errors(event_type: str, document: Any) -> list[str]:
    """Every violation of the event type's schema, as `path: message` lines (empty when valid)."""
    found = event_validator(event_type).iter_errors(document)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in found]
