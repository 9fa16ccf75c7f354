"""`trading-engine alpaca-sim` starts the simulator with its keys from the environment and stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

SRC = Path(__file__).parents[2] / "src"
START_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("module", ["apps.cli", "apps.alpaca_sim"])
def test_the_command_serves_with_the_environments_keys_and_limit(module: str, tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", module]
    if module == "apps.cli":
        command.append("alpaca-sim")
    command += ["--port", str(port), "--rate-limit", "5", "--cash", "2500", "--log-level", "warning"]
    env = {**os.environ, "PYTHONPATH": str(SRC), "ALPACA_SIM_KEY": "PKCMD", "ALPACA_SIM_SECRET": "cmd-secret"}
    log = tmp_path / "sim.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        headers = {"APCA-API-KEY-ID": "PKCMD", "APCA-API-SECRET-KEY": "cmd-secret"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5, verify=False) as http:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    account = http.get("/v2/account", headers=headers)
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.05)
            default_keys = http.get("/v2/account", headers={"APCA-API-KEY-ID": "test", "APCA-API-SECRET-KEY": "test"})
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(10)

    assert (account.status_code, account.json()["cash"]) == (200, "2500")
    assert account.headers["X-Ratelimit-Limit"] == "5"
    assert default_keys.status_code == 401
    # uvicorn shuts down gracefully, then re-raises the signal it caught, as a process killed by it
    assert code in (0, -signal.SIGTERM), log.read_text()
