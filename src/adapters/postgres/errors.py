"""Database errors translated into the store's own: nothing from psycopg leaves the adapter."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

import psycopg
from psycopg import errors as pg

from trading_core.errors import ConcurrentUpdate, DuplicateClientOrderId, StoreError, TradingError

CLIENT_ORDER_ID_KEY: Final = "orders_client_order_id_key"
FILL_KEY: Final = "idx_fills_order_broker_fill"

_CONCURRENT_CONSTRAINTS: Final = {
    FILL_KEY: "this fill of the order is already stored; reload the order and retry",
    "positions_symbol_key": "another writer stored a position in this symbol first; reload and retry",
}
_CONSTRAINT_MESSAGES: Final = {
    "orders_pkey": "an order with this id is already stored",
    "orders_broker_order_id_key": "an order with this broker order id is already stored",
    "outbox_pkey": "an event with this id is already in the outbox",
    "fills_order_id_fkey": "the fill names an order that is not stored",
}


def translate(error: psycopg.Error) -> TradingError:
    """The store error that stands for a psycopg (or pool) error; raise it `from` the original."""
    details = _details(error)
    constraint = details.get("constraint")
    if constraint == CLIENT_ORDER_ID_KEY:
        return DuplicateClientOrderId("client order id is already taken", details=details)
    if constraint in _CONCURRENT_CONSTRAINTS:
        return ConcurrentUpdate(_CONCURRENT_CONSTRAINTS[constraint], details=details)
    if isinstance(error, pg.SerializationFailure | pg.DeadlockDetected | pg.LockNotAvailable):
        return ConcurrentUpdate(f"another transaction got in the way: {_summary(error)}", details=details)
    if constraint in _CONSTRAINT_MESSAGES:
        message = _CONSTRAINT_MESSAGES[constraint]
    elif isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
        message = f"the database is unavailable: {_summary(error)}"
    else:
        message = f"the database refused the operation: {_summary(error)}"
    return StoreError(message, details=details)


@contextmanager
def translated() -> Iterator[None]:
    """Run a block whose psycopg errors come out as store errors.

    Raises:
        StoreError: a psycopg error, translated (`translate`).
    """
    try:
        yield
    except psycopg.Error as e:
        raise translate(e) from e


def _summary(error: psycopg.Error) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _details(error: psycopg.Error) -> dict[str, str]:
    details = {"sqlstate": error.sqlstate or ""}
    if isinstance(error, pg.IntegrityError) and error.diag.constraint_name:
        details["constraint"] = error.diag.constraint_name
    return details
