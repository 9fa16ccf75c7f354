-- History for strategy code and the operator (issue #19): what each fill realized, the positions
-- that closed, and snapshots of the portfolio's value. Only additions, as in 0002.

-- A position's own realized P&L starts again each time it reopens, so the day's (and each
-- strategy's) is the sum of what its fills realized. Fills stored before this realized 0 here.
ALTER TABLE trading.fills
  ADD COLUMN realized_pnl NUMERIC NOT NULL DEFAULT 0;

-- (Fills by time are indexed since 0002: idx_fills_filled_at.)

-- The spec's "History" of the position tracker: each position from its opening fill to the fill
-- that took it to flat (or through it), named by that fill.
CREATE TABLE trading.position_history (
  order_id UUID NOT NULL REFERENCES trading.orders(id),
  execution_id VARCHAR(64) NOT NULL,
  symbol VARCHAR(10) NOT NULL,
  side VARCHAR(5) NOT NULL CHECK (side IN ('long', 'short')),
  opened_at TIMESTAMP WITH TIME ZONE,
  closed_at TIMESTAMP WITH TIME ZONE NOT NULL,
  realized_pnl NUMERIC NOT NULL,
  PRIMARY KEY (order_id, execution_id)
);

CREATE INDEX idx_position_history_closed ON trading.position_history (closed_at, execution_id COLLATE "C", order_id);

-- The portfolio's value at each fill and on the snapshot interval, in exact figures.
CREATE TABLE trading.portfolio_snapshots (
  id BIGSERIAL PRIMARY KEY,
  taken_at TIMESTAMP WITH TIME ZONE NOT NULL,
  equity NUMERIC NOT NULL,
  cash NUMERIC NOT NULL,
  exposure NUMERIC NOT NULL,
  realized_pnl NUMERIC NOT NULL,
  unrealized_pnl NUMERIC NOT NULL
);

CREATE INDEX idx_portfolio_snapshots_taken ON trading.portfolio_snapshots (taken_at, id);
