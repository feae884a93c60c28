"""Time limits for slow clients: a request's headers and its body must arrive within a bound."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from bot.config import Settings

log = logging.getLogger("khuyencong.server")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LINGER = 2.0  # seconds a refused request's unread body is drained before the socket closes
TOO_SLOW = "Kết nối quá chậm, bà con thử gửi lại nhé."


def body_deadline(seconds: float) -> Middleware:
    """Read a request's whole body within `seconds` (handlers then find it read); else 408 and close."""

    @web.middleware
    async def read_body_in_time(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.body_exists:
            try:
                await asyncio.wait_for(request.read(), seconds)  # later read(), json() and post() reuse it
            except TimeoutError:
                log.warning(
                    "slow client: body of %s not received within %s s; connection closed", request.path, seconds
                )
                return _closing(web.json_response({"error": TOO_SLOW}, status=408))
            except ConnectionError:  # the client went away mid-body (a phone losing its signal): nothing to do
                log.info("client left during the body of %s", request.path)
                return _closing(web.json_response({"error": TOO_SLOW}, status=400))
        return await handler(request)

    return read_body_in_time


def _closing(response: web.Response) -> web.Response:
    response.force_close()
    return response


def server_options(settings: Settings) -> dict[str, Any]:
    """aiohttp's handler settings: its keep-alive timer, armed when a connection opens and after each
    response, closes a connection whose next request's headers have not all arrived by then."""
    return {"keepalive_timeout": settings.web_header_timeout, "lingering_time": LINGER}
