"""What a browser sends the dashboard, as values the code can trust: storable text, numbers, days, tokens."""

from __future__ import annotations

import datetime as dt
import hmac

from aiohttp import web
from multidict import MultiDict, MultiDictProxy


def clean(value: object, limit: int = 1000) -> str:
    """A form, query or cookie value as text SQLite can store: cut to `limit`, lone surrogates replaced."""
    found = value if isinstance(value, str) else ""  # a file in a multipart form is no text
    return found[:limit].encode("utf-8", "replace").decode("utf-8")


def same(given: str, expected: str) -> bool:
    """Constant-time comparison of a token someone sent (any text) with ours."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8", "replace"))


def number(value: str) -> int | None:
    """A page or commune number typed as plain digits, within reason; anything else is no number."""
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 9 else None


def day(value: str) -> dt.date | None:
    """A calendar day written as the date field sends it (YYYY-MM-DD), within this century."""
    try:
        found = dt.date.fromisoformat(value)
    except ValueError:
        return None
    return found if len(value) == 10 and 2000 <= found.year <= 2100 else None


def query(request: web.Request) -> dict[str, str]:
    """The query string, for the list's filters, its links and the export log: storable text only."""
    return {clean(key, 50): clean(value, 100) for key, value in request.query.items()}


async def posted(request: web.Request) -> MultiDictProxy[str | bytes | bytearray | web.FileField]:
    """The form a request carries; a broken one (a bad multipart boundary, bytes that are no text) is empty."""
    try:
        return await request.post()
    except ValueError:
        return MultiDictProxy(MultiDict())
