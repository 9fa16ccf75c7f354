-- The spec's `trading` schema, as written in trading-engine-service.md (Data Model).
-- Only the first statement differs: IF NOT EXISTS, because the migration runner creates the
-- schema first to hold its own record table (trading.schema_migrations).

-- trading schema
CREATE SCHEMA IF NOT EXISTS trading;

-- Orders table
CREATE TABLE trading.orders (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  broker_order_id VARCHAR(64) UNIQUE,
  client_order_id VARCHAR(64) UNIQUE,
  symbol VARCHAR(10) NOT NULL,
  side VARCHAR(4) NOT NULL CHECK (side IN ('buy', 'sell')),
  quantity DECIMAL(15, 4) NOT NULL,
  filled_quantity DECIMAL(15, 4) DEFAULT 0,
  order_type VARCHAR(20) NOT NULL,
  time_in_force VARCHAR(10) NOT NULL,
  limit_price DECIMAL(15, 4),
  stop_price DECIMAL(15, 4),
  average_fill_price DECIMAL(15, 4),
  status VARCHAR(20) NOT NULL,
  extended_hours BOOLEAN DEFAULT FALSE,
  strategy_id UUID,
  decision_id UUID,
  submitted_at TIMESTAMP WITH TIME ZONE,
  filled_at TIMESTAMP WITH TIME ZONE,
  cancelled_at TIMESTAMP WITH TIME ZONE,
  created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
  updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);

-- Positions table (cache of broker positions)
CREATE TABLE trading.positions (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  symbol VARCHAR(10) UNIQUE NOT NULL,
  quantity DECIMAL(15, 4) NOT NULL,
  side VARCHAR(5) NOT NULL CHECK (side IN ('long', 'short')),
  average_entry_price DECIMAL(15, 4) NOT NULL,
  current_price DECIMAL(15, 4),
  market_value DECIMAL(15, 2),
  unrealized_pnl DECIMAL(15, 2),
  cost_basis DECIMAL(15, 2),
  last_synced_at TIMESTAMP WITH TIME ZONE,
  created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
  updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);

-- Fills table (individual order fills)
CREATE TABLE trading.fills (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  order_id UUID REFERENCES trading.orders(id),
  broker_fill_id VARCHAR(64),
  quantity DECIMAL(15, 4) NOT NULL,
  price DECIMAL(15, 4) NOT NULL,
  commission DECIMAL(10, 4) DEFAULT 0,
  filled_at TIMESTAMP WITH TIME ZONE NOT NULL,
  created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);

-- Indexes
CREATE INDEX idx_orders_symbol ON trading.orders(symbol);
CREATE INDEX idx_orders_status ON trading.orders(status);
CREATE INDEX idx_orders_strategy ON trading.orders(strategy_id);
CREATE INDEX idx_orders_submitted ON trading.orders(submitted_at);
CREATE INDEX idx_positions_symbol ON trading.positions(symbol);
