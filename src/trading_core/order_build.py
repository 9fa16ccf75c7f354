"""The one fast construction path: an `Order` built, or changed, as a dict of its fields.

Why: every order submitted is built once (`Order.from_request`) and changed two or three times
more (sent, filled, ...). attrs builds a frozen instance by calling `object.__setattr__` once per
field, and `attrs.evolve` first reads every field back: for Order's 30 fields that is ~40k and
~70k instructions on CPython 3.11 (callgrind). Installing a dict of the fields as the instance's
`__dict__` builds the same value for ~3k, and a change, a copy of that dict with the changes
written in, costs ~10k. In `benchmarks/core.py` that is ~150k of the ~925k instructions per order
the engine took without it, about a tenth more orders per second.

Why it is the same value: `Order` is an attrs class with a `__dict__` (`slots=False`) and no
validators, converters, factories or init hooks, so what `__init__` does is store each field in
that `__dict__`, and attrs' `__eq__`, `__hash__` and `__repr__` read the fields back from it.
tests/unit/test_order_build.py checks `built` and `changed` against `Order(...)` and
`attrs.evolve` for any order and any change.

Only `trading_core.orders` and `trading_core.fills` use it, for the Order changes made on every
order; everything else builds and changes orders with `Order(...)` and `attrs.evolve`, which
give equal values. To mypy, `changed` is `attrs.evolve`: it checks the changes the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

__all__ = ["built", "changed"]

_T = TypeVar("_T")


def built(cls: type[_T], fields: dict[str, Any]) -> _T:
    """An instance of `cls` whose `__dict__` is `fields`: every field, in declaration order."""
    instance = object.__new__(cls)
    object.__setattr__(instance, "__dict__", fields)  # the class's own __setattr__ refuses: it is frozen
    return instance


if TYPE_CHECKING:
    from attrs import evolve as changed
else:

    def changed(instance: _T, **changes: Any) -> _T:
        """`attrs.evolve(instance, **changes)`, as a copy of the instance's `__dict__`.

        Raises:
            TypeError: A change names no field of the instance's class.
        """
        fields = dict(vars(instance))  # a dict of its own, even from one attrs' __init__ filled
        count = len(fields)
        fields.update(changes)
        if len(fields) != count:
            unknown = sorted(changes.keys() - vars(instance).keys())
            raise TypeError(f"{type(instance).__name__} has no field {', '.join(unknown)}")
        return built(type(instance), fields)
