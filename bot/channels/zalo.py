"""Zalo Official Account: signed webhook in, customer-service messages out (Open API v3, OAuth v4)."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from bot.channels.common import Delivery, EventClaims, Outbox, Outcome, same_secret
from bot.channels.zalo_auth import Tokens
from bot.config import Settings
from bot.messages import ConversationKey, Incoming, Reply
from bot.staff.notify import tell_staff
from bot.storage import Consent
from bot.storage.announcements import NEWS
from bot.storage.handoffs import nudged
from bot.storage.sqlite import SqliteRepository
from bot.text import ascii_int

log = logging.getLogger("khuyencong.zalo")
CHANNEL = "zalo"
BUTTON_PREFIX = "#kc:"  # a button's payload cannot collide with typed text
MAX_BUTTONS = 4  # more do not fit a template: they become numbered lines in the text
MAX_TEXT = 2000
MAX_EVENT_AGE = dt.timedelta(hours=24)  # Zalo retries for about 12 h; older signed events are replays
RETRYABLE = {-32, -100}
# Refused for good: the request itself or the OA's setup is wrong (channels.md). Any other code, -211 (out of
# quota) and -234 (not at night) among them, may pass: the event stays in the inbox and is tried again later.
PERMANENT = {-201, -204, -205, -209, -210, -212, -223}
TOKEN_ERRORS = {-216, -220, -124}
WINDOW_ERRORS = {-213, -217, -227, -230, -232, -244}
ECHO = "oa_send_"  # oa_send_text, oa_send_image, …: a message the OA sent, echoed to its webhook
ATTACHMENT = "[Cán bộ gửi tệp, ảnh hoặc nhãn dán trên Zalo OA]"
NOT_TEXT = {
    "user_send_image",
    "user_send_file",
    "user_send_gif",
    "user_send_sticker",
    "user_send_audio",
    "user_send_video",
    "user_send_location",
    "user_send_link",
    "user_send_business_card",
}


def signature(app_id: str, raw: bytes, timestamp: str, oa_secret: str) -> str:
    """Zalo's MAC: lowercase hex SHA-256 of app id + raw body + timestamp + OA secret key."""
    return hashlib.sha256(app_id.encode() + raw + timestamp.encode() + oa_secret.encode()).hexdigest()


def verify(raw: bytes, header: str | None, app_id: str, oa_secret: str, timestamp: str) -> bool:
    """Check X-ZEvent-Signature ('mac=<hex>' or '<hex>') in constant time."""
    if not header:
        return False
    got = header.strip()
    got = got[4:].strip() if got.lower().startswith("mac=") else got
    return same_secret(got.lower(), signature(app_id, raw, timestamp, oa_secret))


@dataclass
class ZaloSettings:
    """What the Zalo channel needs from Settings."""

    app_id: str
    oa_secret_key: str
    access_token: str
    refresh_token: str | None
    app_secret_key: str | None
    api_base: str
    oauth_base: str
    secret_key: str | None = None  # seals the stored tokens (KHUYENCONG_SECRET_KEY)
    alert: Callable[[str], Awaitable[None]] | None = None  # tells staff of a change of auth state


def message_of(reply: Reply) -> dict[str, Any]:
    """A CS message: text, with up to four buttons as a template, or numbered lines when more."""
    text = reply.text
    if len(reply.buttons) > MAX_BUTTONS:
        text += "\n" + "\n".join(f"{i}. {b.label}" for i, b in enumerate(reply.buttons, 1))
        text += "\n(Bà con gõ số để chọn)"
        return {"text": text[:MAX_TEXT]}
    message: dict[str, Any] = {"text": text[:MAX_TEXT]}
    if reply.buttons:
        buttons = [
            {"title": b.label[:100], "type": "oa.query.hide", "payload": BUTTON_PREFIX + b.payload}
            for b in reply.buttons
        ]
        message["attachment"] = {"type": "template", "payload": {"buttons": buttons}}
    return message


class ZaloClient:
    """Sends customer-service messages, retrying what can be retried."""

    def __init__(self, config: ZaloSettings, tokens: Tokens, backoff: float = 0.5) -> None:
        self.config, self.tokens, self.backoff = config, tokens, backoff
        self.session: aiohttp.ClientSession | None = None
        # Told the message id of each message Zalo took: its echo (oa_send_*) is ours, not a human taking over.
        self.on_sent: Callable[[str], Awaitable[None]] | None = None

    async def start(self) -> None:
        """Open the HTTP session."""
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        await self.tokens.current()  # recover an interrupted refresh now, not at the first message

    async def close(self) -> None:
        """Close the HTTP session."""
        if self.session is not None:
            await self.session.close()

    async def send(self, user_id: str, reply: Reply, once: bool = False) -> Outcome:
        """Send one reply; retry rate limits and outages, refresh the token once, stop at a window error.

        `once`: a timeout or a 5xx, after which Zalo may have delivered it, is not retried ("failed").
        """
        assert self.session is not None, "start() first"
        body = {"recipient": {"user_id": user_id}, "message": message_of(reply)}
        url = f"{self.config.api_base.rstrip('/')}/v3.0/oa/message/cs"
        refreshed = False
        for attempt in range(4):
            token = await self.tokens.current()
            code, sent_id = await self._post(url, token, body)
            if code == 0:
                if sent_id and self.on_sent is not None:
                    await self.on_sent(sent_id)
                return "sent"
            if code in TOKEN_ERRORS and not refreshed:
                refreshed = True
                if await self.tokens.refresh(self.session, token):
                    continue
                return "failed"
            if code in WINDOW_ERRORS:
                return "unreachable"
            if code is None and once:
                return "failed"
            if code in RETRYABLE or code is None:
                await asyncio.sleep(self.backoff * 2**attempt)
                continue
            if code in PERMANENT:
                log.error("zalo: message to %s refused with error %s", user_id, code)
                return "refused"  # sending it again gets the same answer
            log.warning("zalo: message to %s not sent now (error %s); it will be tried again", user_id, code)
            return "failed"
        log.error("zalo: message to %s not sent after retries", user_id)
        return "failed"

    async def _post(self, url: str, token: str, body: dict[str, Any]) -> tuple[int | None, str]:
        """The Zalo error code (0 is success; None for a network error or a 5xx) and the sent message's id."""
        assert self.session is not None
        try:
            async with self.session.post(url, json=body, headers={"access_token": token}) as resp:
                if resp.status >= 500:
                    return None, ""
                data = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None, ""
        if not isinstance(data, dict):
            return None, ""
        sent = data.get("data")
        sent_id = (sent.get("message_id") or sent.get("msg_id")) if isinstance(sent, dict) else None  # msg_id: ZBS
        return int(data.get("error", 0)), str(sent_id)[:100] if sent_id else ""


class ZaloWebhook:
    """POST /webhooks/zalo: verify, store the event in the inbox, answer 200; the worker does the rest."""

    def __init__(self, config: ZaloSettings, claims: EventClaims, on_accept: Callable[[], None]) -> None:
        self.config, self.claims, self.on_accept = config, claims, on_accept

    async def handle(self, request: web.Request) -> web.Response:
        """Check and accept one event; everything slow happens after the 200."""
        raw = await request.read()
        if raw.strip() in (b"", b"{}") and "X-ZEvent-Signature" not in request.headers:
            return web.json_response({"ok": True})  # the console's probe when the URL is saved
        if request.content_type != "application/json":
            return web.json_response({"error": "Content-Type phải là application/json"}, status=415)
        try:
            event = json.loads(raw)
        except (ValueError, RecursionError):  # bad JSON or UTF-8, a 5,000-digit number, 50,000 brackets
            return web.json_response({"error": "JSON không hợp lệ"}, status=400)
        if not isinstance(event, dict):
            return web.json_response({"error": "JSON không hợp lệ"}, status=400)
        stamp = str(event.get("timestamp", ""))
        header = request.headers.get("X-ZEvent-Signature")
        if not verify(raw, header, self.config.app_id, self.config.oa_secret_key, stamp):
            return web.json_response({"error": "chữ ký không hợp lệ"}, status=401)
        if not _fresh(stamp):
            return web.json_response({"error": "sự kiện quá cũ"}, status=403)
        name = str(event.get("event_name", ""))
        if name.startswith("oa_") and not name.startswith(ECHO):
            return web.json_response({"ok": True})  # other OA events: nothing for the chat
        person = _person(event) or None
        if not await self.claims.claim(CHANNEL, _event_id(event), _text(raw, event), person):
            return web.json_response({"ok": True, "duplicate": True})
        self.on_accept()
        return web.json_response({"ok": True})


class ZaloProcessor:
    """Runs a stored Zalo event's turn and delivers its replies through the outbox, in order per person."""

    def __init__(self, delivery: Delivery, client: ZaloClient, repo: SqliteRepository) -> None:
        self.delivery, self.client, self.repo = delivery, client, repo
        self.outbox = Outbox(delivery, repo, client.send)
        client.on_sent = self._sent
        # Set by the staff relay: a message staff typed in the OA's own chat (the person, its text).
        self.on_echo: Callable[[ConversationKey, str], Awaitable[None]] | None = None

    async def _sent(self, message_id: str) -> None:
        await self.delivery.handler.call(self.repo.handoffs.sent, CHANNEL, [message_id])

    @classmethod
    def build(cls, config: ZaloSettings, delivery: Delivery, repo: SqliteRepository) -> ZaloProcessor:
        """The processor with its client and token keeper."""
        return cls(delivery, ZaloClient(config, Tokens(config, delivery.handler, repo)), repo)

    async def start(self) -> None:
        """Open the HTTP session."""
        await self.client.start()

    async def close(self) -> None:
        """Close the HTTP session."""
        await self.client.close()

    async def process(self, payload: str) -> None:
        """One event: the welcome for a follower, a polite note for media, else the engine's turn.

        Raises when the turn or its delivery failed: the event stays in the inbox and is tried again.
        """
        waiting = nudged(payload)
        if waiting is not None:  # a staff reply or notice queued for this person: deliver it, in order
            await self.outbox.deliver(ConversationKey(CHANNEL, waiting))
            return
        event = json.loads(payload)
        name = str(event.get("event_name", ""))
        user = _person(event)
        if not user:
            return
        key = ConversationKey(CHANNEL, user)
        if name == "unfollow":  # they left the OA: no news goes to them any more
            await self.delivery.handler.call(self.repo.announcements.unsubscribe, key, self._unfollowed(key))
            return
        if name.startswith(ECHO):
            await self._echo(key, event)
            return

        async def read() -> Incoming | None:
            msg = _incoming(key, name, event)
            if msg is not None:  # they wrote: they can be answered again
                await self.delivery.handler.call(self.repo.clear_unreachable, key)
            return msg

        await self.outbox.turn(key, user, read)

    def _unfollowed(self, key: ConversationKey) -> Consent:
        """The withdrawal an unfollow records."""
        texts = self.delivery.handler.engine.texts.news
        return Consent(key.channel, key.user, NEWS, texts.consent_version, texts.unfollowed, False)

    async def _echo(self, key: ConversationKey, event: dict[str, Any]) -> None:
        """A message the OA sent: ours (ignored), or staff typing in the OA's own chat (the chat is theirs now)."""
        message = _part(event, "message")
        message_id = str(message.get("msg_id") or "")
        text = str(message.get("text") or "") or ATTACHMENT
        async with self.delivery.turn(key):  # after our own send to them has recorded its id
            ours: bool = await self.delivery.handler.call(self.repo.handoffs.ours, CHANNEL, message_id)
            if message_id and ours:
                return
            if self.on_echo is not None:
                await self.on_echo(key, text)


def _person(event: dict[str, Any]) -> str:
    """The person an event is about: the follower or sender, or the recipient of the OA's own message."""
    if str(event.get("event_name", "")).startswith(ECHO):
        return str(_part(event, "recipient").get("id", ""))
    return str((_part(event, "follower") or _part(event, "sender")).get("id", ""))


def _incoming(key: ConversationKey, name: str, event: dict[str, Any]) -> Incoming | None:
    # The event id doubles as the message id: a turn replayed after a crash is recognised by the engine.
    message, event_id = _part(event, "message"), _event_id(event)
    if name == "follow":
        return Incoming(key, text="", message_id=event_id)  # a new follower gets the welcome and the menu
    if name in NOT_TEXT:
        return None
    text = str(message.get("text") or message.get("payload") or "")
    if text.startswith(BUTTON_PREFIX):
        return Incoming(key, button=text[len(BUTTON_PREFIX) :], message_id=event_id)
    return Incoming(key, text=text, message_id=event_id)


def zalo_settings(settings: Settings) -> ZaloSettings:
    """What the Zalo channel needs, from the settings."""
    return ZaloSettings(
        app_id=settings.zalo_app_id or "",
        oa_secret_key=settings.zalo_oa_secret_key or "",
        access_token=settings.zalo_access_token or "",
        refresh_token=settings.zalo_refresh_token,
        app_secret_key=settings.zalo_app_secret_key,
        api_base=settings.zalo_api_base,
        oauth_base=settings.zalo_oauth_base,
        secret_key=settings.khuyencong_secret_key or None,
        alert=functools.partial(tell_staff, settings),
    )


def _text(raw: bytes, event: dict[str, Any]) -> str:
    """The event as stored: its own UTF-8 text when it is that (the usual case, and the cheapest)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:  # JSON may also come as UTF-16 or UTF-32
        return json.dumps(event)  # ASCII: a lone surrogate is kept as an escape SQLite can store


def _part(event: dict[str, Any], name: str) -> dict[str, Any]:
    """A nested object of the event, or {} when it is missing or not an object (a malformed event)."""
    part = event.get(name)
    return part if isinstance(part, dict) else {}


def _event_id(event: dict[str, Any]) -> str:
    msg_id = _part(event, "message").get("msg_id")
    if msg_id:
        return str(msg_id)
    sender = (_part(event, "follower") or _part(event, "sender")).get("id", "")
    # Kept a week to spot a redelivery: a digest, so the table of event ids holds no one's Zalo id.
    digest = hashlib.sha256(f"{sender}:{event.get('timestamp')}".encode("utf-8", "surrogatepass")).hexdigest()
    return f"{event.get('event_name')}:{digest[:32]}"


def _fresh(stamp: str) -> bool:
    """A timestamp (ms) within the retry period, not from the future."""
    number = ascii_int(stamp, 16)
    if number is None:
        return False
    age = time.time() - number / 1000
    return -300 <= age <= MAX_EVENT_AGE.total_seconds()
