"""Writes orders one transaction each, as fast as it can, until it is killed.

Run by test_store_crash as `python -m tests.contract.crash_writer URL`. Each transaction stores an
order, its fill, the order filled, the position and three outbox events. Before a transaction it
prints `begin <order id>`, after its commit `commit <order id>`, so the test knows what was
committed and what was in flight when it sent SIGKILL.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from decimal import Decimal

from adapters.postgres import PostgresOrderStore
from tests.contract.builders import fill_for, filled, filled_event, new_order, payload_of, submitted
from trading_core.enums import OrderStatus
from trading_core.events import PositionOpened, PositionUpdated
from trading_core.positions import Position, apply_fill
from trading_core.values import Symbol, new_event_id

SYMBOL = Symbol("CRASH")


async def write_forever(url: str) -> None:
    store = await PostgresOrderStore.open(url, payload_of=payload_of, max_size=1)
    for number in itertools.count():
        order = new_order(symbol=SYMBOL, quantity="1.0000", status=OrderStatus.NEW)
        fill = fill_for(order, f"x-{number}", "1.0000", "10.0000")
        done = filled(order, fill)
        print("begin", order.id, flush=True)
        async with store.unit_of_work() as uow:
            await uow.add_order(order)
            await uow.add_fill(fill)
            await uow.update_order(done)
            held = await uow.get_position(SYMBOL, for_update=True) or Position.flat(SYMBOL)
            change = apply_fill(held, side=fill.side, quantity=fill.quantity, price=fill.price, at=fill.timestamp)
            await uow.save_position(change.after)
            kind = PositionOpened if change.opened else PositionUpdated
            extra = {} if change.opened else {"realized_pnl": Decimal(0)}
            position_event = kind(
                event_id=new_event_id(), ts_event=fill.timestamp, ts_init=fill.timestamp, position=change.after, **extra
            )
            await uow.add_events([submitted(order), filled_event(done, fill), position_event])
            await uow.commit()
        print("commit", order.id, flush=True)


if __name__ == "__main__":
    asyncio.run(write_forever(sys.argv[1]))
