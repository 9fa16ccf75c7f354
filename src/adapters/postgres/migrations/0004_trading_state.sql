-- The engine's trading state (active, reducing only, halted), kept as a history of changes; the
-- latest row is the current state.

CREATE TABLE trading.trading_state (
  id BIGSERIAL PRIMARY KEY,
  state VARCHAR(20) NOT NULL CHECK (state IN ('active', 'reducing_only', 'halted')),
  reason TEXT NOT NULL,
  changed_at TIMESTAMP WITH TIME ZONE NOT NULL,
  changed_by TEXT NOT NULL,
  created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW()
);
