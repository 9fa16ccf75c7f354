"""The trading engine (`TradingEngine`) and its configuration; its rooms are this package's modules."""

from trading_core.engine.config import EngineConfig, MarketClosedPolicy
from trading_core.engine.facade import TradingEngine

__all__ = ["EngineConfig", "MarketClosedPolicy", "TradingEngine"]
