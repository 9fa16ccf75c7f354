"""The paper account's id is the same at every start on the same database, and differs between databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from adapters.paper import PaperConfig, PaperExchange
from apps.bootstrap import paper_account_id
from apps.config import parse_settings
from trading_core import TestClock


def test_one_database_one_account_id(tmp_path: Path) -> None:
    url = "postgresql://trader:secret@db.example:5432/trading"

    same = paper_account_id(parse_settings(None, {"DATABASE_URL": url}))
    new_password = paper_account_id(parse_settings(None, {"DATABASE_URL": url.replace("secret", "rotated")}))
    other = paper_account_id(parse_settings(None, {"DATABASE_URL": url.replace("/trading", "/other")}))
    embedded = paper_account_id(parse_settings(None, {"TRADING_ENGINE_EMBEDDED_DATA_DIR": str(tmp_path)}))

    assert same == new_password == paper_account_id(parse_settings(None, {"DATABASE_URL": url}))
    assert len({same, other, embedded}) == 3
    assert embedded == paper_account_id(parse_settings(None, {"TRADING_ENGINE_EMBEDDED_DATA_DIR": str(tmp_path)}))
    assert uuid.UUID(same).version == 5
    as_keywords = "host=db.example port=5432 dbname=trading user=trader password=secret"
    assert paper_account_id(parse_settings(None, {"DATABASE_URL": as_keywords})) == same


async def test_the_exchange_answers_with_the_id_it_is_given_or_a_new_one() -> None:
    clock = TestClock(datetime(2026, 11, 26, 15, 0, tzinfo=UTC))
    given = PaperExchange(clock, config=PaperConfig(starting_cash=Decimal(1_000), account_id="acct-1"))
    fresh = [PaperExchange(clock) for _ in range(2)]

    assert (await given.get_account()).account_id == "acct-1"
    first, second = [(await e.get_account()).account_id for e in fresh]
    assert first != second
    assert first == (await fresh[0].get_account()).account_id  # stable for the life of the exchange
