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


def test_a_brackets_stop_loss_held_beside_its_take_profit_still_protects_after_a_restart(
    alpaca_sim_process: Callable[..., SimProcess], tmp_path: Path
) -> None:
    """The entry filled before the kill: its take-profit works `new`, its stop-loss `held` (as at
    Alpaca); restarted, the group is one again: the stop fills out of `held`, its take-profit is
    cancelled, and the legs still show the bracket's class."""
    sim = alpaca_sim_process("--state", str(tmp_path / "sim.journal"))
    bracket = {
        **_market("AAPL", "10", "buy", "b-1"),
        "time_in_force": "gtc",
        "order_class": "bracket",
        "take_profit": {"limit_price": "250"},
        "stop_loss": {"stop_price": "150"},
    }
    take_profit, stop_loss = sim.http.post("/v2/orders", json=bracket).json()["legs"]

    sim.kill()
    sim.start()
    held = sim.http.get(f"/v2/orders/{stop_loss['id']}").json()
    sim.control("POST", "price", {"symbol": "AAPL", "price": "149"})

    assert (held["status"], held["order_class"]) == ("held", "bracket")
    stop = sim.http.get(f"/v2/orders/{stop_loss['id']}").json()
    profit = sim.http.get(f"/v2/orders/{take_profit['id']}").json()
    assert (stop["status"], stop["filled_avg_price"]) == ("filled", "149")
    assert (profit["status"], profit["order_class"]) == ("canceled", "bracket")
    assert sim.http.get("/v2/positions").json() == []


def test_a_held_legs_replacement_is_kept_in_its_group_across_a_restart(
    alpaca_sim_process: Callable[..., SimProcess], tmp_path: Path
) -> None:
    """A stop-loss moved while its limit entry rests: its replacement, held with no trade update of
    its own, is journaled and resumed in its group; the entry fills after the restart, the
    replacement is watched (held) and fills at its new stop."""
    sim = alpaca_sim_process("--state", str(tmp_path / "sim.journal"))
    bracket = {
        **_limit("AAPL", "10", "180", "b-2"),
        "order_class": "bracket",
        "take_profit": {"limit_price": "250"},
        "stop_loss": {"stop_price": "150"},
    }
    parent = sim.http.post("/v2/orders", json=bracket).json()
    take_profit, stop_loss = parent["legs"]
    moved = sim.http.patch(f"/v2/orders/{stop_loss['id']}", json={"stop_price": "160"}).json()

    sim.kill()
    sim.start()
    sim.control("POST", "price", {"symbol": "AAPL", "price": "179"})  # the entry fills
    shown = [sim.http.get(f"/v2/orders/{i}").json() for i in (take_profit["id"], moved["id"])]
    nested = sim.http.get(f"/v2/orders/{parent['id']}", params={"nested": "true"}).json()
    sim.control("POST", "price", {"symbol": "AAPL", "price": "159"})

    assert [(o["status"], o["order_class"]) for o in shown] == [("new", "bracket"), ("held", "bracket")]
    assert [leg["id"] for leg in nested["legs"]] == [take_profit["id"], moved["id"]]
    stop = sim.http.get(f"/v2/orders/{moved['id']}").json()
    assert (stop["status"], stop["filled_avg_price"]) == ("filled", "159")
    assert sim.http.get(f"/v2/orders/{take_profit['id']}").json()["status"] == "canceled"
    assert sim.http.get("/v2/positions").json() == []
