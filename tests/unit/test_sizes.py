"""Every module of `src` fits on a few screens and every function on one (issue #15, "readable rooms").

A module over 400 lines, or a function over 50 (`def` line to last line, docstring included),
holds more than one idea: split it along its seam rather than raise the limit.
"""

from __future__ import annotations

import ast
import pathlib
from collections.abc import Iterator

SRC = pathlib.Path(__file__).parents[2] / "src"
PACKAGES = ("trading_core", "adapters", "apps")
MODULE_LINES = 400
FUNCTION_LINES = 50

# Functions allowed past FUNCTION_LINES (`module:qualified name`), each with its reason; keep this list short.
LONG_FUNCTIONS_ALLOWED = {
    # The public entry point of the library: a 28-line docstring, one entry per keyword argument,
    # over a body of one check and one constructor call.
    "adapters/inprocess.py:connect",
}


def _sources() -> dict[str, str]:
    """The text of every module under PACKAGES, by its path relative to `src`."""
    return {
        str(path.relative_to(SRC)): path.read_text()
        for package in PACKAGES
        for path in sorted((SRC / package).rglob("*.py"))
    }


def _functions(node: ast.AST, prefix: str = "") -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Every function under `node` (methods and nested functions too) with its qualified name."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            yield f"{prefix}{child.name}", child
            yield from _functions(child, f"{prefix}{child.name}.")
        elif isinstance(child, ast.ClassDef):
            yield from _functions(child, f"{prefix}{child.name}.")
        else:
            yield from _functions(child, prefix)


def _long_functions(source: str, where: str) -> dict[str, int]:
    """`where:qualified name` -> lines, for every function of `source` over the limit."""
    return {
        f"{where}:{name}": length
        for name, node in _functions(ast.parse(source))
        if (length := (node.end_lineno or node.lineno) - node.lineno + 1) > FUNCTION_LINES
    }


def _all_long_functions() -> dict[str, int]:
    return {
        name: lines for where, source in _sources().items() for name, lines in _long_functions(source, where).items()
    }


def test_no_module_is_over_400_lines() -> None:
    long_modules = {
        where: lines for where, source in _sources().items() if (lines := len(source.splitlines())) > MODULE_LINES
    }

    assert long_modules == {}


def test_no_function_is_over_50_lines() -> None:
    long_functions = {
        name: lines for name, lines in _all_long_functions().items() if name not in LONG_FUNCTIONS_ALLOWED
    }

    assert long_functions == {}


def test_every_allowed_long_function_still_exists_and_is_still_long() -> None:
    """An allowance goes once the function it excuses is gone or short."""
    stale = LONG_FUNCTIONS_ALLOWED - _all_long_functions().keys()

    assert stale == set()


def test_a_function_is_measured_from_its_def_line_to_its_last_line_under_its_qualified_name() -> None:
    body = "\n".join(f"        x{i} = {i}" for i in range(FUNCTION_LINES))
    source = f"class C:\n    def long(self):\n{body}\n\n    def short(self):\n        return 1\n"

    assert _long_functions(source, "m.py") == {"m.py:C.long": FUNCTION_LINES + 1}
