"""The web widget: POST /api/chat (design §4.4 shapes) and a small chat page at /."""

from __future__ import annotations

import re
from dataclasses import replace
from importlib import resources

from aiohttp import web

from bot.channels.common import Delivery
from bot.channels.limits import AddressLimit
from bot.dialog import DialogEngine
from bot.dialog.handoff import office_of
from bot.messages import ConversationKey, Incoming, incoming_from_json
from bot.proxy import Network, client_address
from bot.storage import Conversation

CHANNEL = "web"
# The page makes a random 128-bit id; requiring a long one keeps other people's chats unguessable.
_USER = re.compile(r"^[A-Za-z0-9_-]{16,100}\Z")
# The page names each message it sends (a header, so the body keeps design §4.4's shape): a message sent
# again after its answer was lost on the way is answered once, with the same replies.
MESSAGE_ID = "X-Message-Id"
_MESSAGE_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}\Z")
BAD_MESSAGE_ID = "Mã tin nhắn (X-Message-Id) phải có 8–64 ký tự: chữ, số, - hoặc _."
BUSY = "Có quá nhiều tin nhắn từ mạng của bà con lúc này. Bà con đợi một phút rồi nhắn tiếp nhé."
_STATIC = {"chat.js": "text/javascript", "chat.css": "text/css", "staff.css": "text/css"}
_SECURITY = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors *",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _bad(message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": message}, status=status)


def parse(raw: bytes, message_id: str | None = None) -> Incoming | str:
    """The message of a request body (and the page's id for it, if any), or a polite Vietnamese error."""
    if message_id is not None and not _MESSAGE_ID.match(message_id):
        return BAD_MESSAGE_ID
    msg = incoming_from_json(raw, CHANNEL, _USER, "mã ngẫu nhiên 16–100 ký tự (chữ, số, - hoặc _)")
    if isinstance(msg, str) or message_id is None:
        return msg
    return replace(msg, message_id=f"{msg.key.user}:{message_id}")  # one person's ids never meet another's


def office_card(engine: DialogEngine, key: ConversationKey) -> dict[str, str]:
    """The office the page shows in its header: the person's commune once known, else the deployment's."""
    office = office_of(engine.ctx, engine.repo.load(key) or Conversation(key))
    return {"name": office.name, **({"phone": office.phone} if office.phone else {})}


class WebChat:
    """The widget's API and its page."""

    def __init__(self, delivery: Delivery, limit: AddressLimit, trusted: list[Network]) -> None:
        self.delivery, self.limit, self.trusted = delivery, limit, trusted

    async def api(self, request: web.Request) -> web.Response:
        """One message in, the replies out."""
        if request.content_type != "application/json":
            return _bad("Content-Type phải là application/json.", 415)
        msg = parse(await request.read(), request.headers.get(MESSAGE_ID))
        if isinstance(msg, str):
            return _bad(msg)
        address = client_address(request.remote, request.headers.get("X-Forwarded-For"), self.trusted)
        if not self.limit.allow(address, msg.key.user):  # many chats from one address: a flood, not people
            return web.json_response({"error": BUSY}, status=429, headers={**_SECURITY, "Retry-After": "60"})
        async with self.delivery.turn(msg.key):
            replies = await self.delivery.replies(msg)
        body: dict[str, object] = {"replies": [r.as_json() for r in replies]}
        if any(r.erased for r in replies):
            body["erased"] = True  # the page then forgets its copy of the chat and takes a new id
        handler = self.delivery.handler
        body["office"] = await handler.call(office_card, handler.engine, msg.key)  # an extra field (design §4.7)
        return web.json_response(body, headers=_SECURITY)

    async def page(self, request: web.Request) -> web.Response:
        """The chat page (everything it needs comes from this server)."""
        html = resources.files("bot.static").joinpath("chat.html").read_text("utf-8")
        return web.Response(text=html, content_type="text/html", charset="utf-8", headers=_SECURITY)

    async def static(self, request: web.Request) -> web.Response:
        """The page's script and style."""
        name = request.match_info["name"]
        if name not in _STATIC:
            raise web.HTTPNotFound()
        body = resources.files("bot.static").joinpath(name).read_text("utf-8")
        return web.Response(text=body, content_type=_STATIC[name], charset="utf-8", headers=_SECURITY)
