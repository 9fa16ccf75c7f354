-- The transactional outbox: events written in the transaction of the change they announce, and
-- published by a relay (with the event id as the message id) after they commit.
-- seq numbers rows in insert order; writers of one order or one position hold its row lock, so
-- their events are numbered in commit order. Relays claim the oldest unsent rows with
-- FOR UPDATE SKIP LOCKED and set sent_at once the bus has acknowledged them.

CREATE TABLE trading.outbox (
  event_id UUID PRIMARY KEY,
  seq BIGSERIAL NOT NULL UNIQUE,
  type VARCHAR(100) NOT NULL,
  occurred_at TIMESTAMP WITH TIME ZONE NOT NULL,
  payload JSONB NOT NULL,
  created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
  sent_at TIMESTAMP WITH TIME ZONE
);

CREATE INDEX idx_outbox_unsent ON trading.outbox (seq) WHERE sent_at IS NULL;
