"""The Litestar service: the HTTP API over the engine, health, metrics and its lifespan."""
