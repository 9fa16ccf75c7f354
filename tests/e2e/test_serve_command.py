"""`trading-engine serve` and `make run` as an operator meets them: JSON start lines, a clean SIGTERM,
startup failures said in one line, and no credential in anything shown.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import SRC, free_port

ROOT = SRC.parent
pytestmark = pytest.mark.slow


def _serve(env: dict[str, str], timeout: float = 90) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "apps.cli", "serve", "--port", str(free_port())]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(SRC),
        "TRADING_ENGINE_EMBEDDED_DATA_DIR": str(tmp_path / "data"),
        "TRADING_ENGINE_BROKER_PAPER_PRICE_WALK": "false",
        "TRADING_ENGINE_BROKER_PAPER_CALENDAR": "always-open",
        "LOG_FORMAT": "json",
        **extra,
    }


def _closed_port() -> int:
    return free_port()  # bound and released: nothing listens there


def _one_line_failure(run: subprocess.CompletedProcess[str], component: str, secret: str) -> dict[str, Any]:
    lines = [json.loads(line) for line in run.stderr.splitlines()]  # every line JSON, or this raises
    errors = [line for line in lines if line["level"] == "error"]
    assert run.returncode == 3, run.stderr
    assert len(errors) == 1, run.stderr
    assert errors[0]["message"].startswith(f"cannot start: {component}: ")
    assert "Traceback" not in run.stderr
    assert secret not in run.stdout + run.stderr
    return dict(errors[0])


def test_an_unreachable_database_is_one_line_naming_it(tmp_path: Path) -> None:
    url = f"postgresql://trader:db-s3cret@127.0.0.1:{_closed_port()}/trading"

    run = _serve(_base_env(tmp_path, DATABASE_URL=url))

    error = _one_line_failure(run, "database", "db-s3cret")
    assert "Connection refused" in error["message"]
    assert "trader:***@" in run.stderr or "port" in error["message"]


@pytest.mark.postgres
def test_a_wrong_database_password_is_one_line_naming_it(tmp_path: Path) -> None:
    """A PostgreSQL of the test's own that asks for a password (the shared one trusts every local user)."""
    import pgserver

    server = pgserver.get_server(str(tmp_path / "pg"), cleanup_mode="stop")  # type: ignore[attr-defined]
    try:
        server.psql("ALTER USER postgres PASSWORD 'right-one';")
        hba = tmp_path / "pg" / "pg_hba.conf"
        hba.write_text(hba.read_text().replace("trust", "scram-sha-256"))
        server.psql("SELECT pg_reload_conf();")
        socket_dir = server.get_uri().split("host=")[1].split("&")[0]
        url = f"postgresql://postgres:wrong-pw@/postgres?host={socket_dir}"

        run = _serve(_base_env(tmp_path, DATABASE_URL=url))
    finally:
        server.cleanup()

    error = _one_line_failure(run, "database", "wrong-pw")
    assert "password authentication failed" in error["message"]


@pytest.mark.postgres
def test_an_unreachable_nats_is_one_line_naming_it_without_its_password(postgres_url: str, tmp_path: Path) -> None:
    nats = f"nats://trader:nats-s3cret@127.0.0.1:{_closed_port()}"

    run = _serve(_base_env(tmp_path, DATABASE_URL=postgres_url, NATS_URL=nats))

    error = _one_line_failure(run, "eventBus", "nats-s3cret")
    assert "nats://trader:***@127.0.0.1" in error["message"]


@pytest.mark.postgres
def test_serve_stops_on_sigterm_with_exit_0_and_every_line_json(postgres_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = _base_env(tmp_path, DATABASE_URL=postgres_url, TRADING_ENGINE_EMBEDDED_NATS="false")
    command = [sys.executable, "-m", "apps.cli", "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_healthy(port, process)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()

    assert process.returncode == 0, err
    assert next(json.loads(line)["logger"] for line in err.splitlines()) == "apps.serve"  # even the first
    assert '"message": "stopped"' in err
    assert out == ""


def _wait_healthy(port: int, process: subprocess.Popen[str], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the service exited with {process.returncode}: {process.stderr.read()}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("the service was not healthy in time")


def _stop_embedded_postgres(data: Path) -> None:
    """`make run` leaves its embedded PostgreSQL running for the next start, by design; a test's must not
    outlive it. Stopped by signal (SIGINT: a fast shutdown), as pg_ctl refuses to run as root."""
    pid_file = data / "postgres" / "postmaster.pid"
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text().splitlines()[0]), signal.SIGINT)


def test_make_run_stopped_by_sigterm_ends_without_an_error_and_every_start_line_is_json(tmp_path: Path) -> None:
    """The embedded default of `make run` (pgserver, nats-server), stopped as a supervisor stops it."""
    port = free_port()
    env = {**_base_env(tmp_path), "LOG_FORMAT": "auto"}  # not a terminal: JSON, as an operator's logs are
    command = ["make", "-o", ".venv/.installed", "run", f"PORT={port}"]
    make = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        _wait_healthy(port, make)
        os.killpg(make.pid, signal.SIGTERM)  # as a supervisor or `timeout` would: make and the service
        out, err = make.communicate(timeout=60)
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
        _stop_embedded_postgres(tmp_path / "data")

    assert "make: ***" not in err + out
    assert "Terminated" not in err + out
    lines = err.splitlines()
    assert [json.loads(line)["level"] for line in lines]  # every line is JSON (json.loads raises otherwise)
    assert any(json.loads(line)["logger"] == "py.warnings" for line in lines) or "Warning" not in err
    assert '"message": "stopped"' in err


def test_the_console_works_at_once_on_make_run_and_an_open_feed_does_not_hold_up_a_stop(tmp_path: Path) -> None:
    """The embedded default has no token: the page and its event stream answer without one. A
    SIGTERM ends the stream the console keeps open, rather than waiting out the shutdown bound
    (60 s here) for a client that never hangs up."""
    port = free_port()
    env = {**_base_env(tmp_path), "TRADING_ENGINE_SERVER_SHUTDOWN_TIMEOUT": "60000"}
    command = ["make", "-o", ".venv/.installed", "run", f"PORT={port}"]
    make = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(port, make)
        page = httpx.get(base, timeout=10)
        with httpx.Client(base_url=base, timeout=30) as client, client.stream("GET", "/api/v1/events/stream") as feed:
            lines = feed.iter_lines()
            assert next(lines) == "event: ready"
            order = {"symbol": "AAPL", "side": "buy", "quantity": 1, "type": "market"}
            assert client.post("/api/v1/orders", json=order).status_code == 201
            assert "event: trade.order.submitted" in lines
            os.killpg(make.pid, signal.SIGTERM)
            rest = list(lines)  # ends when the server ends the stream
            _, err = make.communicate(timeout=30)  # well within the 60 s bound
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
        _stop_embedded_postgres(tmp_path / "data")

    assert page.status_code == 200
    assert "<title>Trading engine" in page.text
    assert "event: overflow" not in rest
    assert '"message": "stopped"' in err
