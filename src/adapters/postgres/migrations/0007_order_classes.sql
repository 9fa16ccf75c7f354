-- Order classes (issue #17): a bracket's, OTO's or OCO's parent keeps its class and what its exits
-- were asked for (Alpaca's take_profit and stop_loss objects, their amounts as exact strings), and
-- its legs' ids; a leg names its parent; a trailing stop keeps the high-water mark last reported.
-- Only additions, as in 0002 and 0006: every order stored before is a simple one.

ALTER TABLE trading.orders
  ADD COLUMN order_class TEXT NOT NULL DEFAULT 'simple',
  ADD COLUMN take_profit JSONB,
  ADD COLUMN stop_loss JSONB,
  ADD COLUMN legs UUID[] NOT NULL DEFAULT '{}',
  ADD COLUMN leg_of UUID,
  ADD COLUMN hwm NUMERIC;

CREATE INDEX idx_orders_leg_of ON trading.orders (leg_of) WHERE leg_of IS NOT NULL;
