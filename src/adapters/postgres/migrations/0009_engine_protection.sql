-- The engine's own protection (issue #17, `risk.stopLossPercent` / `risk.takeProfitPercent`): an
-- entry sent with exits the engine attached is marked 'exits_attached'; the exits the engine sends
-- for what such an entry filled before it ended in part are marked 'filled_part' (their parent_id
-- names the entry). Only an addition, as in 0002, 0006 and 0007: no order stored before is either.
-- No CHECK: the spec's table keeps exactly its own constraints (the domain's enum is the check).

ALTER TABLE trading.orders
  ADD COLUMN engine_protection TEXT;
