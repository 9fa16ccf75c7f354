-- The opening half of an order split at flat waits for its closing half: the link must survive a
-- restart, or the waiting half is taken for an order in doubt (and refused as never received)
-- instead of being sent once its closing half has filled. Only an addition, as in 0002.

ALTER TABLE trading.orders
  ADD COLUMN parent_id UUID;
