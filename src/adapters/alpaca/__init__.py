"""Alpaca: the Broker and MarketData ports over Alpaca's REST API and trade_updates stream."""
