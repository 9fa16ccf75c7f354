"""Every public function and class of `trading_core` and of the adapters says what it is for.

A method that implements a port (`trading_core.ports`, and the store's and broker's ports it
re-exports) may take the port's docstring as its own.
"""

from __future__ import annotations

import ast
import pathlib

SRC = pathlib.Path(__file__).parents[2] / "src"


PORT_MODULES = ("ports.py", "store_ports.py", "broker_ports.py")


def _port_methods() -> set[str]:
    trees = [ast.parse((SRC / "trading_core" / name).read_text()) for name in PORT_MODULES]
    return {
        member.name
        for tree in trees
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        for member in node.body
        if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef) and ast.get_docstring(member)
    }


def _undocumented(path: pathlib.Path, documented_by_ports: set[str]) -> list[str]:
    missing: list[str] = []

    def walk(body: list[ast.stmt], owner: str | None) -> None:
        for node in body:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            if node.name.startswith("_"):
                continue
            implements_a_port = owner is not None and node.name in documented_by_ports
            if ast.get_docstring(node) is None and (isinstance(node, ast.ClassDef) or not implements_a_port):
                missing.append(f"{path.relative_to(SRC)}:{node.lineno} {owner + '.' if owner else ''}{node.name}")
            if isinstance(node, ast.ClassDef):
                walk(node.body, node.name)

    walk(ast.parse(path.read_text()).body, None)
    return missing


def test_every_public_function_and_class_of_the_core_and_the_adapters_has_a_docstring() -> None:
    ports = _port_methods()
    missing = [
        entry
        for package in ("trading_core", "adapters")
        for path in sorted((SRC / package).rglob("*.py"))
        for entry in _undocumented(path, ports)
    ]

    assert missing == []


def _raises_directly(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether `function`'s own body raises an exception it names (not a bare re-raise, not in a nested def)."""

    def walk(node: ast.AST) -> bool:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
                continue
            if (isinstance(child, ast.Raise) and child.exc is not None) or walk(child):
                return True
        return False

    return walk(function)


def _raises_unsaid(path: pathlib.Path) -> list[str]:
    missing: list[str] = []

    def walk(body: list[ast.stmt], owner: str | None) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                walk(node.body, node.name)
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or node.name.startswith("_"):
                continue
            doc = ast.get_docstring(node)
            if doc is not None and "Raises:" not in doc and _raises_directly(node):
                missing.append(f"{path.relative_to(SRC)}:{node.lineno} {owner + '.' if owner else ''}{node.name}")

    walk(ast.parse(path.read_text()).body, None)
    return missing


def test_a_public_function_that_raises_says_what_under_raises() -> None:
    missing = [
        entry
        for package in ("trading_core", "adapters")
        for path in sorted((SRC / package).rglob("*.py"))
        for entry in _raises_unsaid(path)
    ]

    assert missing == []
