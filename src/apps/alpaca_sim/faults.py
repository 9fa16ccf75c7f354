"""Fault rules: scripted misbehaviour of the REST answers, the stream and the executions.

A rule is `{"kind": ..., <its parameters>, "match": "POST /v2/orders", "share": 0.5, "count": 3}`
(docs/alpaca-sim.md). `match` (method and path prefix; a bare path matches every method) applies
to the rules that act on a request; `share` is the chance that a rule applies each time it could;
`count` caps how often it fires. Random choices come from a generator seeded by `/_sim/reset`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import attrs

from apps.alpaca_sim import errors, parse

REQUEST_KINDS = frozenset({"status", "refuse", "latency", "accept_then_status", "accept_then_drop", "accept_later"})
"""Rules applied by the request dispatcher, to every matching `/v2` request."""

_PARAMETERS: Mapping[str, frozenset[str]] = {
    "status": frozenset({"status"}),
    "refuse": frozenset({"status", "code", "message"}),
    "latency": frozenset({"ms"}),
    "accept_then_status": frozenset({"status"}),
    "accept_then_drop": frozenset(),
    "accept_later": frozenset({"status", "drop", "ms"}),
    "pending_new": frozenset({"ms"}),
    "fill_on_replace": frozenset({"ms"}),
    "replace_rejected": frozenset({"ms"}),
    "stream_silent": frozenset({"seconds"}),
    "stream_drop_after": frozenset({"messages"}),
    "duplicate_updates": frozenset(),
    "drop_updates": frozenset({"events"}),
    "stream_one_connection": frozenset(),
    "reorder_updates": frozenset({"window"}),
    "fill_on_cancel": frozenset(),
    "status_lag": frozenset({"ms"}),
    "partial_fills": frozenset({"sizes"}),
}
_COMMON = frozenset({"kind", "match", "share", "count"})
_FAULT_STATUSES = frozenset({429, 500, 502, 503, 504})
_METHODS = frozenset({"GET", "POST", "PATCH", "PUT", "DELETE", "*"})
_MAX_MS = 600_000
ONE = Decimal(1)


@attrs.define(kw_only=True)
class Rule:
    """One fault rule as given, parsed, with how often it has fired."""

    kind: str
    given: dict[str, Any]
    method: str = "*"
    path: str = "/v2"
    share: Decimal = ONE
    count: int | None = None
    status: int = 0
    code: int = 0
    message: str = ""
    ms: int = 0
    seconds: Decimal = Decimal(0)
    messages: int = 0
    window: int = 0
    sizes: tuple[Decimal, ...] = ()
    drop: bool = False
    events: frozenset[str] = frozenset()
    """drop_updates: the events it loses (empty: every event)."""
    fired: int = 0

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.fired >= self.count

    def matches(self, method: str, path: str) -> bool:
        return (self.method in ("*", method)) and path.startswith(self.path)

    def describe(self) -> dict[str, Any]:
        """The rule as given (numbers stay Decimal: encode them as JSON numbers) and how often it fired."""
        return {**self.given, "fired": self.fired}


@attrs.frozen
class RequestFaults:
    """What the rules do to one request."""

    status: int | None = None
    refusal: errors.AlpacaError | None = None
    latency_ms: int = 0
    accept_then_status: int | None = None
    accept_then_drop: bool = False
    later_ms: int | None = None
    """accept_later: answer now (`later_status`, or drop when `accept_then_drop`), carry it out this much later."""
    later_status: int | None = None


NO_FAULTS = RequestFaults()


class FaultBook:
    """The rules in force, and the seeded chance that decides each application."""

    def __init__(self, seed: int = 0) -> None:
        self.rules: list[Rule] = []
        self.silent_until = 0.0
        """`time.monotonic()` until which the stream holds its updates (stream_silent)."""
        self._rng = random.Random(seed)  # noqa: S311  # reproducible fault injection, not a secret

    def reset(self, seed: int) -> None:
        self.rules = []
        self.silent_until = 0.0
        self._rng = random.Random(seed)  # noqa: S311

    def replace(self, rules: Sequence[Rule]) -> None:
        """Put these rules in force instead of the current ones; a stream_silent rule starts now."""
        self.rules = list(rules)
        self.silent_until = 0.0
        for rule in self.rules:
            if rule.kind == "stream_silent" and self.fire(rule):
                self.silent_until = max(self.silent_until, time.monotonic() + float(rule.seconds))

    def fire(self, rule: Rule) -> bool:
        """Roll the rule's share; count it as fired when it applies."""
        if rule.exhausted:
            return False
        if rule.share < ONE and Decimal(self._rng.random()) >= rule.share:
            return False
        rule.fired += 1
        return True

    def active(self, kind: str) -> Rule | None:
        """The first rule of this kind that can still fire (its share not rolled)."""
        for rule in self.rules:
            if rule.kind == kind and not rule.exhausted:
                return rule
        return None

    def take(self, kind: str, method: str | None = None, path: str = "") -> Rule | None:
        """The first rule of this kind that matches the request (if given) and fires now."""
        for rule in self.rules:
            if rule.kind != kind or rule.exhausted:
                continue
            if method is not None and not rule.matches(method, path):
                continue
            if self.fire(rule):
                return rule
        return None

    def for_request(self, method: str, path: str) -> RequestFaults:
        if not self.rules:
            return NO_FAULTS
        status = self.take("status", method, path)
        refuse = None if status else self.take("refuse", method, path)
        latency = self.take("latency", method, path)
        later = None if status or refuse else self.take("accept_later", method, path)
        after = None if status or refuse or later else self.take("accept_then_status", method, path)
        drop = None if status or refuse or later or after else self.take("accept_then_drop", method, path)
        return RequestFaults(
            status=status.status if status else None,
            refusal=errors.AlpacaError(refuse.status, refuse.code, refuse.message) if refuse else None,
            latency_ms=latency.ms if latency else 0,
            accept_then_status=after.status if after else None,
            accept_then_drop=drop is not None or (later is not None and later.drop),
            later_ms=later.ms if later else None,
            later_status=later.status if later and not later.drop else None,
        )

    def plan_fills(self, quantity: Decimal) -> tuple[Decimal, ...] | None:
        """The paper exchange's fill plan: the sizes of a partial_fills rule, when one fires."""
        rule = self.take("partial_fills")
        return rule.sizes if rule else None

    def describe(self) -> list[dict[str, Any]]:
        return [rule.describe() for rule in self.rules]


def parse_rules(body: Mapping[str, Any]) -> list[Rule]:
    """The `rules` of a `POST /_sim/faults` body; 422 naming the first rule at fault."""
    given = body.get("rules")
    if not isinstance(given, list):
        raise errors.invalid("rules must be a list")
    rules = []
    for index, item in enumerate(given):
        try:
            rules.append(parse_rule(item))
        except errors.AlpacaError as e:
            raise errors.invalid(f"rules[{index}]: {e.message}") from e
    return rules


def parse_rule(item: object) -> Rule:
    if not isinstance(item, dict):
        raise errors.invalid("a rule must be an object")
    kind = item.get("kind")
    if not isinstance(kind, str) or kind not in _PARAMETERS:
        raise errors.invalid(f"kind must be one of {', '.join(sorted(_PARAMETERS))}, was {kind!r}")
    unknown = set(item) - _COMMON - _PARAMETERS[kind]
    if unknown:
        raise errors.invalid(f"{kind} takes no {', '.join(sorted(unknown))}")
    method, path = _match(item.get("match"))
    rule = Rule(kind=kind, given=dict(item), method=method, path=path, share=_share(item), count=_count(item))
    read = _READERS.get(kind)
    if read is not None:
        read(item, rule)
    return rule


def _status(item: Mapping[str, Any], rule: Rule) -> None:
    rule.status = _integer(item, "status", low=400, high=599)
    if rule.kind == "status" and rule.status not in _FAULT_STATUSES:
        raise errors.invalid(f"status must be one of {sorted(_FAULT_STATUSES)}, was {rule.status}")


def _refusal(item: Mapping[str, Any], rule: Rule) -> None:
    """A scripted business refusal, e.g. Alpaca's wash-trade answer."""
    rule.status = _integer(item, "status", low=400, high=499)
    rule.code = _integer(item, "code", low=10_000_000, high=99_999_999)
    message = item.get("message")
    if not isinstance(message, str) or not message:
        raise errors.invalid("message must be a non-empty string")
    rule.message = message


def _ms(item: Mapping[str, Any], rule: Rule) -> None:
    rule.ms = _integer(item, "ms", low=0, high=_MAX_MS)


def _optional_ms(item: Mapping[str, Any], rule: Rule) -> None:
    if item.get("ms") is not None:
        _ms(item, rule)


def _seconds(item: Mapping[str, Any], rule: Rule) -> None:
    rule.seconds = parse.positive(_required_number(item, "seconds"), "seconds")


def _messages(item: Mapping[str, Any], rule: Rule) -> None:
    rule.messages = _integer(item, "messages", low=1, high=1 << 31)


def _window(item: Mapping[str, Any], rule: Rule) -> None:
    rule.window = _integer(item, "window", low=2, high=10_000)


def _sizes(item: Mapping[str, Any], rule: Rule) -> None:
    value = item.get("sizes")
    if not isinstance(value, list) or not value:
        raise errors.invalid("sizes must be a non-empty list of quantities")
    rule.sizes = tuple(parse.positive(parse.number(v, "sizes"), "sizes") for v in value)


_Reader = Callable[[Mapping[str, Any], Rule], None]


def _accept_later(item: Mapping[str, Any], rule: Rule) -> None:
    """`ms`, and either `status` (a 4xx or 5xx answered now) or `"drop": true`."""
    rule.ms = _integer(item, "ms", low=0, high=_MAX_MS)
    rule.drop = parse.boolean(item.get("drop"), "drop")
    if rule.drop == (item.get("status") is not None):
        raise errors.invalid("accept_later takes either status or drop: true")
    if not rule.drop:
        rule.status = _integer(item, "status", low=400, high=599)


def _events(item: Mapping[str, Any], rule: Rule) -> None:
    value = item.get("events")
    if value is None:
        return
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise errors.invalid("events must be a non-empty list of event names")
    rule.events = frozenset(value)


def _match(value: object) -> tuple[str, str]:
    if value is None:
        return "*", "/v2"
    if not isinstance(value, str) or not value.strip():
        raise errors.invalid("match must be a string such as 'POST /v2/orders'")
    parts = value.split()
    if len(parts) == 1:
        method, path = "*", parts[0]
    elif len(parts) == 2:
        method, path = parts[0].upper(), parts[1]
    else:
        raise errors.invalid(f"match must be 'METHOD /path' or '/path', was {value!r}")
    if method not in _METHODS or not path.startswith("/"):
        raise errors.invalid(f"match must be 'METHOD /path' or '/path', was {value!r}")
    return method, path


def _share(item: Mapping[str, Any]) -> Decimal:
    value = item.get("share")
    if value is None:
        return ONE
    share = parse.number(value, "share")
    if not Decimal(0) <= share <= ONE:
        raise errors.invalid(f"share must be between 0 and 1, was {share}")
    return share


def _count(item: Mapping[str, Any]) -> int | None:
    if item.get("count") is None:
        return None
    return _integer(item, "count", low=0, high=1 << 31)


def _integer(item: Mapping[str, Any], name: str, *, low: int, high: int) -> int:
    value = item.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise errors.invalid(f"{name} must be an integer")
    if not low <= value <= high:
        raise errors.invalid(f"{name} must be between {low} and {high}, was {value}")
    return value


def _required_number(item: Mapping[str, Any], name: str) -> Decimal:
    value = item.get(name)
    if value is None:
        raise errors.invalid(f"{name} is required")
    return parse.number(value, name)


_READERS: Mapping[str, _Reader] = {
    "status": _status,
    "accept_then_status": _status,
    "refuse": _refusal,
    "latency": _ms,
    "status_lag": _ms,
    "pending_new": _ms,
    "accept_later": _accept_later,
    "fill_on_replace": _optional_ms,
    "replace_rejected": _optional_ms,
    "stream_silent": _seconds,
    "stream_drop_after": _messages,
    "reorder_updates": _window,
    "partial_fills": _sizes,
    "drop_updates": _events,
}
"""How each kind reads its parameters (kinds without parameters have none)."""
