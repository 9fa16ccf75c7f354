"""How configuration text becomes typed values: YAML without floats, `${VAR:default}`, coercion by type.

Pure functions over a mapping of environment variables, so that `apps.config` stays the only
reader of `os.environ`. Every failure raises `ConfigError` naming the key at fault.
"""

from __future__ import annotations

import enum
import functools
import re
import types
import typing
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

import attrs

if TYPE_CHECKING:
    import yaml

T = TypeVar("T")

_VARIABLE: Final = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}")
_CAMEL_BOUNDARY: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


class ConfigError(ValueError):
    """The configuration is invalid; `key` is the dotted path of the key at fault."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


def check(predicate: Callable[[Any], bool], expectation: str) -> Callable[[Any, Any, Any], None]:
    """An attrs validator that names the key and says what was expected and what it was."""

    def validate(_: Any, attribute: Any, value: Any) -> None:
        if value is not None and not predicate(value):
            raise ConfigError(attribute.metadata["key"], f"must be {expectation}, was {value!r}")

    return validate


@attrs.frozen(repr=False)
class Secret:
    """A value that never shows in a repr, a log line or a health answer; `reveal()` gives it."""

    _value: str

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"


def setting(
    default: Any,
    *,
    key: str,
    doc: str,
    env: tuple[str, ...] = (),
    unit: str = "",
    validator: Callable[[Any, Any, Any], None] | None = None,
) -> Any:
    """An attrs field that knows its key in the file, its environment variables and its meaning."""
    meta = {"key": key, "doc": doc, "env": env, "unit": unit}
    return attrs.field(default=default, validator=validator, metadata=meta)


def env_name(section: str, key: str) -> str:
    """The generic override variable of a key: `risk.maxOpenPositions` -> `TRADING_ENGINE_RISK_MAX_OPEN_POSITIONS`."""
    return "_".join(["TRADING_ENGINE", _snake(section), _snake(key)]).upper()


def _snake(name: str) -> str:
    return _CAMEL_BOUNDARY.sub("_", name).replace("-", "_").lower()


@functools.cache
def _exact_loader() -> type[yaml.SafeLoader]:
    """A YAML loader that reads decimal literals as `Decimal`, never through float.

    Built on first use: PyYAML comes with the `service` extra, and `trading-engine` must be able
    to say so (see `apps.cli`) rather than fail importing this module.
    """
    import yaml

    def exact_float(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
        text = str(loader.construct_scalar(node)).replace("_", "")  # type: ignore[arg-type]
        try:
            value = Decimal(text)
        except InvalidOperation as e:
            raise yaml.constructor.ConstructorError(None, None, f"not a finite number: {text}", node.start_mark) from e
        if not value.is_finite():
            raise yaml.constructor.ConstructorError(None, None, f"not a finite number: {text}", node.start_mark)
        return value

    class ExactLoader(yaml.SafeLoader):
        pass

    ExactLoader.add_constructor("tag:yaml.org,2002:float", exact_float)
    return ExactLoader


def read_yaml(text: str, *, source: str) -> Any:
    """Parse YAML text; a syntax error names the file and line."""
    import yaml

    try:
        return yaml.load(text, Loader=_exact_loader())  # noqa: S506  # a SafeLoader subclass
    except yaml.YAMLError as e:
        raise ConfigError(source, f"not valid YAML: {e}") from e


def substitute(value: Any, env: Mapping[str, str], *, key: str) -> Any:
    """Replace `${VAR}` and `${VAR:default}` in every string; an unset `${VAR}` alone becomes None."""
    if isinstance(value, dict):
        return {k: substitute(v, env, key=f"{key}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, env, key=f"{key}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value
    whole = _VARIABLE.fullmatch(value.strip())
    if whole is not None:
        name, default = whole.groups()
        found = env.get(name)
        return found if found not in (None, "") else default
    return _VARIABLE.sub(lambda m: env.get(m.group(1)) or m.group(2) or "", value)


def coerce(value: Any, kind: Any, *, key: str) -> Any:
    """Turn a YAML or environment value into `kind`, or raise `ConfigError` naming `key`."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        if value is None or value == "":
            return None
        return coerce(value, options[0], key=key)
    if origin is tuple:
        return _tuple(value, typing.get_args(kind)[0], key=key)
    if value is None:
        raise ConfigError(key, "a value is required, was empty")
    parse = _PARSERS.get(kind)
    if parse is not None:
        return parse(value, key)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return _enum(value, kind, key)
    raise TypeError(f"{key}: no parser for {kind!r}")  # a programming error in the settings classes


def _tuple(value: Any, item: Any, *, key: str) -> tuple[Any, ...]:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list):
        raise ConfigError(key, f"must be a list, was {value!r}")
    return tuple(coerce(v, item, key=f"{key}[{i}]") for i, v in enumerate(value))


def _int(value: Any, key: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(key, f"must be an integer, was {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
        return int(value)
    raise ConfigError(key, f"must be an integer, was {value!r}")


def _decimal(value: Any, key: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise ConfigError(key, f"must be a number, was {value!r}")
    try:
        result = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation as e:
        raise ConfigError(key, f"must be a number, was {value!r}") from e
    if not result.is_finite():
        raise ConfigError(key, f"must be a finite number, was {value!r}")
    return result


_TRUE: Final = frozenset({"true", "yes", "on", "1"})
_FALSE: Final = frozenset({"false", "no", "off", "0"})


def _bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(key, f"must be true or false, was {value!r}")


def _str(value: Any, key: str) -> str:
    if isinstance(value, dict | list):
        raise ConfigError(key, f"must be a string, was {value!r}")
    return str(value)


def _secret(value: Any, key: str) -> Secret:
    return Secret(_str(value, key))


def _path(value: Any, key: str) -> Path:
    return Path(_str(value, key))


E = TypeVar("E", bound=enum.Enum)


def _enum(value: Any, kind: type[E], key: str) -> E:
    try:
        return kind(str(value).strip().lower())
    except ValueError as e:
        allowed = ", ".join(str(m.value) for m in kind)
        raise ConfigError(key, f"must be one of {allowed}, was {value!r}") from e


_PARSERS: Final[dict[Any, Callable[[Any, str], Any]]] = {
    int: _int,
    Decimal: _decimal,
    bool: _bool,
    str: _str,
    Secret: _secret,
    Path: _path,
}


def build_section(cls: type[T], raw: Any, env: Mapping[str, str], *, section: str, root: str) -> T:
    """Build one settings section from its mapping, refusing unknown keys, with environment overrides."""
    path = f"{root}.{section}"
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(path, f"must be a mapping of keys, was {raw!r}")
    fields = {f.metadata["key"]: f for f in attrs.fields(cast(Any, cls))}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(f"{path}.{unknown[0]}", f"unknown key; the keys of {path} are {', '.join(fields)}")
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for key, field in fields.items():
        name = next((n for n in (*field.metadata["env"], env_name(section, key)) if env.get(n)), None)
        if name is not None:
            values[field.name] = coerce(env[name], hints[field.name], key=f"{path}.{key} (from ${name})")
        elif raw.get(key) is not None:  # an unset `${VAR}` leaves the default
            values[field.name] = coerce(raw[key], hints[field.name], key=f"{path}.{key}")
    try:
        return cls(**values)
    except ConfigError as e:  # raised by a validator, which knows only its own key
        raise ConfigError(f"{path}.{e.key}", e.message) from e
