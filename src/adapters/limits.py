"""The one rule for the `limit` that store methods take: a listing's page size, an outbox batch's."""

from __future__ import annotations

__all__ = ["check_limit"]


def check_limit(limit: int) -> None:
    """Refuse a limit below 1.

    Raises:
        ValueError: `limit` is less than 1.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, was {limit}")
