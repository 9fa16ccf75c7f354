"""The exit codes of `trading-engine` (docs/operations.md lists them)."""

from __future__ import annotations

EXIT_CONFIG = 2
"""The configuration is invalid; the line printed names the key and what is wrong."""
EXIT_STARTUP = 3
"""A component (database, broker, event bus) could not start; the one line logged says which and why."""
EXIT_MISSING_EXTRA = 4
"""A command's extra is not installed; the one line printed says what to install."""
EXIT_INTERRUPTED = 130
"""Stopped by Ctrl-C (SIGINT) after a graceful stop, as a shell reports an interrupted command."""
