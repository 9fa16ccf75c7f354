-- What the spec's tables need to hold our Order and Position without loss, and to be read fast.
-- Only additions: no column, check or index of 0001 is changed.
--
-- orders.status holds the broker's detailed status (pending_new, partially_filled, ...; the
-- longest, accepted_for_bidding, is 20 characters); the API's five words derive from it.
-- Exact amounts (products of two 4-place numbers and their sums) are NUMERIC without a scale,
-- so they keep every digit and the scale they were written with.

ALTER TABLE trading.orders
  ADD COLUMN trail_price DECIMAL(15, 4),
  ADD COLUMN trail_percent DECIMAL(15, 4),
  ADD COLUMN filled_notional NUMERIC NOT NULL DEFAULT 0,
  ADD COLUMN rejection_code TEXT,
  ADD COLUMN rejection_reason TEXT,
  ADD COLUMN replaces UUID,
  ADD COLUMN replaced_by UUID;

-- Listing newest first with a keyset cursor on (created_at, id), and the last order's time.
CREATE INDEX idx_orders_created ON trading.orders (created_at DESC, id DESC);
-- Open orders only (the final statuses of trading_core.enums): the open listing and the health
-- count never walk closed history. Queries repeat this predicate word for word.
CREATE INDEX idx_orders_open_created ON trading.orders (created_at DESC, id DESC)
  WHERE status NOT IN ('calculated', 'canceled', 'done_for_day', 'expired', 'filled', 'rejected', 'replaced');

-- positions caches OPEN positions: a position that goes flat is deleted. The spec's cost_basis
-- is rounded to cents; the exact, signed cost basis and the realised P&L live beside it.
ALTER TABLE trading.positions
  ADD COLUMN cost_basis_exact NUMERIC,
  ADD COLUMN realized_pnl NUMERIC NOT NULL DEFAULT 0,
  ADD COLUMN opened_at TIMESTAMP WITH TIME ZONE;
UPDATE trading.positions
  SET cost_basis_exact = CASE side WHEN 'short' THEN -quantity ELSE quantity END * average_entry_price;
ALTER TABLE trading.positions ALTER COLUMN cost_basis_exact SET NOT NULL;

-- A fill is stored once: the broker's execution id is unique within its order.
CREATE UNIQUE INDEX idx_fills_order_broker_fill ON trading.fills (order_id, broker_fill_id);
CREATE INDEX idx_fills_filled_at ON trading.fills (filled_at);
