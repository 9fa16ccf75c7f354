"""The `trading-engine` command line: help for each command, config check, refusing an exposed host."""

from __future__ import annotations

import socket
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


def test_a_port_already_taken_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run(
            [sys.executable, "-m", "apps.cli", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            env={"PYTHONPATH": str(SRC), "TRADING_ENGINE_EMBEDDED_DATA_DIR": str(tmp_path / "data")},
            check=False,
            timeout=60,
        )

    assert out.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in out.stderr
    assert "PORT=" in out.stderr
    assert not (tmp_path / "data").exists()  # no embedded database was started first


@pytest.mark.parametrize(
    ("host", "loopback"), [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False)]
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_the_server_freezes_what_start_up_made_and_collects_the_young_less_often() -> None:
    """In a process of its own: the collector's settings are the whole process's."""
    script = (
        "import gc; from apps.cli import GC_YOUNG_THRESHOLD, quiet_collector; quiet_collector();"
        " print(gc.get_freeze_count() > 1000, gc.get_threshold()[0] == GC_YOUNG_THRESHOLD)"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env={"PYTHONPATH": str(SRC)}, check=True
    )

    assert out.stdout.split() == ["True", "True"]
