"""The `trading-engine` command line: help for each command, config check, refusing an exposed host."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from apps.cli import is_loopback, main

SRC = Path(__file__).parents[2] / "src"


@pytest.mark.parametrize("command", [[], ["serve"], ["migrate"], ["alpaca-sim"], ["config"], ["config", "check"]])
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])

    assert exited.value.code == 0
    assert "usage: trading-engine" in capsys.readouterr().out


def test_config_check_prints_the_effective_config_with_secrets_masked(tmp_path: Path) -> None:
    file = tmp_path / "engine.yaml"
    file.write_text("trading-engine:\n  api:\n    token: hunter2\n  risk:\n    maxOpenPositions: 7\n")

    out = subprocess.run(
        [sys.executable, "-m", "apps.cli", "config", "check", "--config", str(file)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(SRC)},
        check=False,
    )

    assert out.returncode == 0, out.stderr
    assert '"maxOpenPositions": 7' in out.stdout
    assert "hunter2" not in out.stdout + out.stderr
    assert "configuration ok" in out.stderr


def test_config_check_names_the_bad_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "engine.yaml"
    file.write_text("trading-engine:\n  sync:\n    positionSync: 1\n")

    code = main(["config", "check", "--config", str(file)])

    assert code == 2
    assert "trading-engine.sync.positionSync: unknown key" in capsys.readouterr().err


def test_serving_beyond_loopback_without_a_token_is_refused() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "apps.cli", "serve", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(SRC)},
        check=False,
    )

    assert out.returncode == 2
    assert "not a loopback address" in out.stderr


@pytest.mark.parametrize(
    ("host", "loopback"), [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False)]
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
