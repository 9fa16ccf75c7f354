"""The `trading-engine` command line: help for each command, config check, refusing an exposed host."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs as attrs_module
import pytest

from apps.cli import hold_data_folder, is_loopback, main
from apps.config import load_settings
from apps.embedded import LOCK_FILE, FolderInUse, hold_folder

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


HOLDER = (
    "import sys, time; from pathlib import Path; from apps.embedded import hold_folder;"
    " hold_folder(Path(sys.argv[1])); print('held', flush=True); time.sleep(60)"
)


@contextmanager
def held_by_another_process(folder: Path) -> Iterator[subprocess.Popen[str]]:
    """A process of ours holding `folder`'s lock, as a running trading-engine would; killed on exit."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True, env={"PYTHONPATH": str(SRC)}
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "held\n"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_second_instance_on_the_same_data_folder_is_refused_before_anything_starts(tmp_path: Path) -> None:
    """Two `make run` on other ports would share the embedded database and NATS store, each with its own exchange."""
    data = tmp_path / "data"
    with held_by_another_process(data) as first:
        out = subprocess.run(
            [sys.executable, "-m", "apps.cli", "serve", "--port", str(free_port())],
            capture_output=True,
            text=True,
            env={"PYTHONPATH": str(SRC), "TRADING_ENGINE_EMBEDDED_DATA_DIR": str(data)},
            check=False,
            timeout=30,
        )

    assert out.returncode == 2
    assert f"another trading-engine is using {data.resolve()} (pid {first.pid})" in out.stderr
    assert "TRADING_ENGINE_EMBEDDED_DATA_DIR=" in out.stderr
    assert os.listdir(data) == [LOCK_FILE]  # neither PostgreSQL nor NATS was started


def test_the_data_folder_is_free_again_once_its_holder_is_killed(tmp_path: Path) -> None:
    """The kernel drops the lock with the process, so a crashed run never blocks the next."""
    with held_by_another_process(tmp_path) as first:
        with pytest.raises(FolderInUse) as refused:
            hold_folder(tmp_path)
        assert refused.value.holder == str(first.pid)
        first.kill()
        first.wait()

        fd = hold_folder(tmp_path)
    os.close(fd)

    assert (tmp_path / LOCK_FILE).read_text() == f"{os.getpid()}\n"


def test_children_do_not_inherit_the_lock(tmp_path: Path) -> None:
    """The embedded PostgreSQL outlives the service: had it inherited the lock, no next start could take it."""
    fd = hold_folder(tmp_path)
    child = subprocess.Popen(["sleep", "30"], close_fds=False)
    try:
        os.close(fd)
        os.close(hold_folder(tmp_path))
    finally:
        child.kill()
        child.wait()


def test_replicas_given_a_database_and_nats_take_no_lock(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"TRADING_ENGINE_EMBEDDED_DATA_DIR": str(data), "DATABASE_URL": "postgresql://db/trading"}
    external = load_settings(env={**env, "NATS_URL": "nats://nats:4222"})
    no_nats = load_settings(env={**env, "TRADING_ENGINE_EMBEDDED_NATS": "false"})
    embedded_nats = load_settings(env=env)  # a second nats-server on the same JetStream store would corrupt it

    assert hold_data_folder(external) is None
    assert hold_data_folder(no_nats) is None
    assert not data.exists()
    fd = hold_data_folder(embedded_nats)
    assert fd is not None
    os.close(fd)


@pytest.mark.parametrize(
    ("host", "loopback"), [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False)]
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_the_server_freezes_what_start_up_made_and_collects_the_young_less_often() -> None:
    """In a process of its own: the collector's settings are the whole process's."""
    script = (
        "import gc; from apps.serving import GC_YOUNG_THRESHOLD, quiet_collector; quiet_collector();"
        " print(gc.get_freeze_count() > 1000, gc.get_threshold()[0] == GC_YOUNG_THRESHOLD)"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env={"PYTHONPATH": str(SRC)}, check=True
    )

    assert out.stdout.split() == ["True", "True"]


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """A Python with only the core's dependencies (attrs, cattrs): `pip install trading-engine`, no extra."""
    import venv

    root = tmp_path_factory.mktemp("bare")
    venv.create(root / "venv", with_pip=False)
    lib = root / "lib"
    lib.mkdir()
    here = Path(attrs_module.__file__).parents[1]  # the site-packages the core's dependencies are in
    for name in ("attr", "attrs", "cattr", "cattrs", "typing_extensions.py"):
        (lib / name).symlink_to(here / name)
    return [str(root / "venv" / "bin" / "python"), f"{SRC}{os.pathsep}{lib}"]


@pytest.mark.parametrize(
    ("command", "missing"),
    [
        (["serve"], "litestar, uvicorn, yaml"),
        (["migrate"], "yaml, psycopg"),
        (["alpaca-sim"], "uvicorn, httpx, msgspec"),
        (["config", "check"], "yaml"),
        (["config", "reference"], "yaml"),
    ],
)
def test_without_its_extra_a_command_says_in_one_line_what_to_install(
    bare_python: list[str], command: list[str], missing: str
) -> None:
    python, path = bare_python

    run = subprocess.run(
        [python, "-m", "apps.cli", *command], capture_output=True, text=True, env={"PYTHONPATH": path}, check=False
    )

    assert run.returncode == 4, run.stderr
    assert run.stderr.count("\n") == 1
    assert run.stderr.startswith(f"trading-engine {command[0]} needs the service extra ({missing}")
    assert run.stderr.rstrip().endswith("pip install 'trading-engine[service]'")
    assert "Traceback" not in run.stderr


def test_without_extras_the_help_still_answers(bare_python: list[str]) -> None:
    python, path = bare_python

    run = subprocess.run(
        [python, "-m", "apps.cli", "--help"], capture_output=True, text=True, env={"PYTHONPATH": path}, check=False
    )

    assert (run.returncode, "usage: trading-engine" in run.stdout) == (0, True), run.stderr
