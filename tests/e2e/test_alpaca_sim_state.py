"""`trading-engine alpaca-sim --state FILE` is the same broker after `kill -9` and a restart on that file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.fixtures.alpaca_sim import SimProcess


def _market(symbol: str, qty: str, side: str, client_order_id: str) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "qty": qty,
        "side": side,
        "type": "market",
        "time_in_force": "day",
        "client_order_id": client_order_id,
    }


def _limit(symbol: str, qty: str, price: str, client_order_id: str) -> dict[str, Any]:
    return {
        **_market(symbol, qty, "buy", client_order_id),
        "type": "limit",
        "limit_price": price,
        "time_in_force": "gtc",
    }


def _trade(sim: SimProcess) -> None:
    """Fills in parts, a short sale, a limit order that fills on a price move, one that rests, a cancel."""
    post = sim.http.post
    sim.control("POST", "faults", {"rules": [{"kind": "partial_fills", "sizes": ["3", "2"], "count": 1}]})
    assert post("/v2/orders", json=_market("AAPL", "10", "buy", "a-1")).status_code == 200
    sim.control("POST", "faults", {"rules": []})
    assert post("/v2/orders", json=_market("AAPL", "4", "sell", "a-2")).status_code == 200
    assert post("/v2/orders", json=_market("XOM", "5", "sell", "x-1")).status_code == 200
    assert post("/v2/orders", json=_limit("MSFT", "3", "410", "m-1")).status_code == 200
    assert post("/v2/orders", json=_limit("KO", "7", "50", "k-1")).status_code == 200
    canceled = post("/v2/orders", json=_limit("KO", "2", "40", "k-2")).json()
    assert sim.http.delete(f"/v2/orders/{canceled['id']}").status_code == 204
    sim.control("POST", "price", {"symbol": "MSFT", "price": "409.5"})
    sim.control("POST", "price", {"symbol": "AAPL", "price": "191.25"})


def _answers(sim: SimProcess) -> dict[str, Any]:
    """Everything a client can read of the account."""
    get = sim.http.get
    orders = get("/v2/orders", params={"status": "all", "limit": "500"}).json()
    return {
        "orders": orders,
        "each": [get(f"/v2/orders/{o['id']}").json() for o in orders],
        "by_client": [
            get("/v2/orders:by_client_order_id", params={"client_order_id": o["client_order_id"]}).json()
            for o in orders
        ],
        "open": get("/v2/orders").json(),
        "positions": get("/v2/positions").json(),
        "account": get("/v2/account").json(),
        "activities": get("/v2/account/activities").json(),
        "clock_open": get("/v2/clock").json()["is_open"],
    }


def test_after_kill_9_and_a_restart_on_its_state_the_broker_answers_as_before(
    alpaca_sim_process: Callable[..., SimProcess], tmp_path: Path
) -> None:
    state = tmp_path / "sim.journal"
    sim = alpaca_sim_process("--state", str(state))
    _trade(sim)
    before = _answers(sim)

    sim.kill()
    sim.start()
    after = _answers(sim)

    assert len(before["orders"]) == 6
    assert [(a["symbol"], a["qty"]) for a in before["activities"]] == [
        ("MSFT", "3"),
        ("XOM", "5"),
        ("AAPL", "4"),
        ("AAPL", "5"),
        ("AAPL", "2"),
        ("AAPL", "3"),
    ]
    assert after == before
    # The resting order is worked again: a price through its limit fills it, once.
    sim.control("POST", "price", {"symbol": "KO", "price": "49.9"})
    ko = sim.http.get("/v2/orders:by_client_order_id", params={"client_order_id": "k-1"}).json()
    assert (ko["status"], ko["filled_qty"]) == ("filled", "7")
    positions = {p["symbol"]: p["qty"] for p in sim.http.get("/v2/positions").json()}
    assert positions == {"AAPL": "6", "MSFT": "3", "XOM": "-5", "KO": "7"}


def test_a_reset_starts_a_new_account_in_the_same_state_file(
    alpaca_sim_process: Callable[..., SimProcess], tmp_path: Path
) -> None:
    state = tmp_path / "sim.journal"
    sim = alpaca_sim_process("--state", str(state))
    _trade(sim)
    sim.control("POST", "reset", {"cash": "5000"})
    account = sim.http.get("/v2/account").json()

    sim.kill()
    sim.start()

    assert sim.http.get("/v2/orders", params={"status": "all"}).json() == []
    assert sim.http.get("/v2/account").json() == account
    assert account["cash"] == "5000"


def test_a_commit_cut_short_by_the_kill_is_dropped_and_the_rest_is_kept(
    alpaca_sim_process: Callable[..., SimProcess], tmp_path: Path
) -> None:
    state = tmp_path / "sim.journal"
    sim = alpaca_sim_process("--state", str(state))
    _trade(sim)
    before = _answers(sim)
    sim.kill()
    with state.open("ab") as journal:
        journal.write(b'{"updates": [{"event": "fill", "ord')  # a write the kill interrupted

    sim.start()

    assert _answers(sim) == before
    assert state.read_bytes().endswith(b"\n")
