"""The domain core stays pure: no adapter, framework or I/O library is imported by it."""

import ast
import pathlib
import subprocess
import sys

import pytest

CORE = pathlib.Path(__file__).parents[2] / "src" / "trading_core"
FORBIDDEN = (
    "httpx",
    "websockets",
    "nats",
    "psycopg",
    "psycopg_pool",
    "litestar",
    "asyncpg",
    "requests",
    "adapters",
    "apps",
    "exchange_calendars",
    "pandas",
    "numpy",
)


def _imported_modules(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: str(p.relative_to(CORE)))
def test_core_module_imports_nothing_forbidden(path: pathlib.Path) -> None:
    """No file under trading_core names an adapter, framework or I/O library in an import."""
    forbidden = _imported_modules(path) & set(FORBIDDEN)

    assert forbidden == set()


def test_importing_the_core_loads_no_forbidden_module() -> None:
    """Importing trading_core (and its risk and testing packages) pulls none of them in."""
    code = (
        "import sys, trading_core, trading_core.risk, trading_core.ports, trading_core.testing;"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=CORE.parent)

    assert out.stdout.strip() == "[]"


def test_core_uses_no_float() -> None:
    """Amounts are Decimal: `float(` appears nowhere in the core."""
    offenders = [str(p) for p in CORE.rglob("*.py") if "float(" in p.read_text()]

    assert offenders == []
