"""Credentials out of anything shown: every URL's password (and a NATS token) is masked.

`mask(text)` is applied wherever text leaves the process: `config check`, every log line (the
formatters in `apps.logs`), `/health`, error answers and the one-line startup failure. It masks
any URL in the text, whichever setting it came from (DATABASE_URL, NATS_URL, the Alpaca URLs):

    postgresql://app:s3cret@db:5432/x     ->  postgresql://app:***@db:5432/x
    nats://user:pw@a:4222,nats://b:4222   ->  nats://user:***@a:4222,nats://b:4222
    nats://t0ken@host:4222                ->  nats://***@host:4222   (NATS takes a lone user as a token)
    host=db password=s3cret               ->  host=db password=***   (libpq's key=value form, and ?password=)
"""

from __future__ import annotations

import re
from typing import Final

# The user information runs to the authority's last `@` (a password may hold an unescaped one).
_USERINFO: Final = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/\s'\"<>]*)@")
_TOKEN_SCHEMES: Final = frozenset({"nats://", "tls://", "ws://", "wss://"})
_PASSWORD_PAIR: Final = re.compile(r"(?i)\b(password|passwd|pwd|secret|token)=([^\s&'\"]+)")
MASK: Final = "***"


def mask(text: str) -> str:
    """`text` with every URL's password, NATS token and `password=` value replaced by `***`."""
    if "@" not in text and "=" not in text:
        return text
    return _PASSWORD_PAIR.sub(lambda m: f"{m.group(1)}={MASK}", _USERINFO.sub(_masked_userinfo, text))


def _masked_userinfo(m: re.Match[str]) -> str:
    scheme, userinfo = m.group("scheme"), m.group("userinfo")
    user, colon, _ = userinfo.partition(":")
    if colon:
        return f"{scheme}{user}:{MASK}@"
    if scheme.lower() in _TOKEN_SCHEMES and user:
        return f"{scheme}{MASK}@"
    return m.group(0)
