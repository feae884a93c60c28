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


_ROOMY: dict[
    Handler, tuple[int, str]
] = {}  # route handlers taking larger bodies: limit in bytes, what a bigger one gets


def roomy(handler: Handler, limit: int, too_large: str) -> Handler:
    """Let one route take bodies up to `limit` bytes (a file upload); a larger one is answered `too_large` (413)."""
    _ROOMY[handler] = (limit, too_large)
    return handler


def body_deadline(seconds: float) -> Middleware:
    """Read a request's whole body within `seconds` (handlers then find it read); else 408 and close."""

    @web.middleware
    async def read_body_in_time(request: web.Request, handler: Handler) -> web.StreamResponse:
        room = _ROOMY.get(request.match_info.handler)
        if room is not None and request.body_exists:
            request = request.clone(client_max_size=room[0])  # before the body is read: the clone reads it
        if request.body_exists:
            # A multipart form (an upload) is read as a form: aiohttp parses it from the stream, never from read().
            read = request.read if room is None else request.post
            try:
                await asyncio.wait_for(read(), seconds)  # later read(), json() and post() reuse it
            except web.HTTPRequestEntityTooLarge:
                if room is None:
                    raise
                return _closing(web.Response(status=413, text=room[1], charset="utf-8"))
            except ValueError:  # a broken multipart form: the handler finds no form (and no CSRF token)
                room = None
            except TimeoutError:
                log.warning(
                    "slow client: body of %s not received within %s s; connection closed", request.path, seconds
                )
                return _closing(web.json_response({"error": TOO_SLOW}, status=408))
            except ConnectionError:  # the client went away mid-body (a phone losing its signal): nothing to do
                log.info("client left during the body of %s", request.path)
                return _closing(web.json_response({"error": TOO_SLOW}, status=400))
        try:
            return await handler(request)
        finally:
            if room is not None and request.body_exists:
                await _close_files(request)

    return read_body_in_time


async def _close_files(request: web.Request) -> None:
    """The uploaded files of a form, kept by aiohttp in temporary files: closed (and so removed) once answered."""
    for value in (await request.post()).values():  # read already: the form as parsed then
        if isinstance(value, web.FileField):
            value.file.close()


def _closing(response: web.Response) -> web.Response:
    response.force_close()
    return response


def server_options(settings: Settings) -> dict[str, Any]:
    """aiohttp's handler settings: its keep-alive timer, armed when a connection opens and after each
    response, closes a connection whose next request's headers have not all arrived by then."""
    return {"keepalive_timeout": settings.web_header_timeout, "lingering_time": LINGER}
