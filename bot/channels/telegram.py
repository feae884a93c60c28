"""Telegram through python-telegram-bot 22: webhook on our server, or long polling; our engine owns the state."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from aiohttp import web

# Opt in to PTB's coming behaviour (retry_after as a timedelta, v22.2+); send() handles both forms.
os.environ.setdefault("PTB_TIMEDELTA", "1")
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot.channels.common import Delivery, EventClaims, NotDelivered, Outbox, Outcome, same_secret
from bot.config import Settings
from bot.messages import Button, ConversationKey, Incoming, Reply
from bot.storage.handoffs import nudged
from bot.storage.sqlite import SqliteRepository

if TYPE_CHECKING:
    from bot.staff.notify import StaffCommands
    from bot.staff.relay import StaffRelay

log = logging.getLogger("khuyencong.telegram")
CHANNEL = "telegram"
IN_PRIVATE_ONLY = (
    "Trợ lý chỉ trò chuyện trong tin nhắn riêng, để thông tin của bà con không lộ ra nhóm. "
    "Bà con bấm vào tên trợ lý rồi chọn “Nhắn tin” nhé."
)
MAX_TEXT = 4096
MAX_CALLBACK = 64  # bytes, ASCII
RELAY_SECONDS = 1.0  # long polling: how often staff replies written by another process are looked for


def build_application(
    token: str,
    api_base: str,
    delivery: Delivery,
    repo: SqliteRepository,
    polling: bool = False,
    commands: StaffCommands | None = None,
    claim: bool = True,
    relay: StaffRelay | None = None,
    background: Callable[[], Awaitable[Callable[[], Awaitable[None]]]] | None = None,
    per_second: float = 30.0,
) -> Application:  # type: ignore[type-arg]
    """A PTB Application whose only handler hands every update to our engine.

    `background`: started with long polling (notices, the idle sweep, reminders); returns how to stop it.
    """
    handler = Handler(delivery, repo, commands, claim, relay)
    handler.background = background
    app = _application(token, api_base, polling, handler, per_second)
    app.add_handler(TypeHandler(Update, handler.on_update))
    return app


def _application(
    token: str, api_base: str, polling: bool, handler: Handler | None = None, per_second: float = 30.0
) -> Application:  # type: ignore[type-arg]
    builder = ApplicationBuilder().token(token).base_url(api_base).concurrent_updates(True)
    # Every call of this bot (replies, staff posts, announcements) shares one limit; a 429 is left to us
    # (max_retries=0): a turn's reply waits in the outbox, an announcement pauses every send.
    limiter = AIORateLimiter(overall_max_rate=per_second, overall_time_period=1, max_retries=0)
    builder = builder.rate_limiter(limiter)  # type: ignore[arg-type]  # PTB types the builder's limiter as None
    builder = builder.base_file_url(api_base.replace("/bot", "/file/bot"))
    if not polling:
        builder = builder.updater(None)  # updates arrive through our own aiohttp webhook route
    elif handler is not None:  # a redelivered update is dropped as a duplicate: what it owes goes out at start
        builder = builder.post_init(handler.start_polling).post_shutdown(handler.stop_polling)
    return builder.build()


def keyboard(buttons: tuple[Button, ...]) -> InlineKeyboardMarkup | None:
    """One button per row (Vietnamese labels are long); only payloads Telegram accepts as callback data."""
    rows = [[InlineKeyboardButton(b.label[:64], callback_data=b.payload)] for b in buttons if _fits(b.payload)]
    return InlineKeyboardMarkup(rows) if rows else None


def _fits(payload: str) -> bool:
    return payload.isascii() and 0 < len(payload.encode()) <= MAX_CALLBACK


def split(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Telegram takes at most 4,096 characters a message."""
    return [text[i : i + limit] for i in range(0, len(text), limit)] or [""]


class Handler:
    """Translates updates into Incoming messages and sends the replies back, in order per person."""

    def __init__(
        self,
        delivery: Delivery,
        repo: SqliteRepository,
        commands: StaffCommands | None = None,
        claim: bool = True,
        relay: StaffRelay | None = None,
    ) -> None:
        self.delivery, self.repo, self.commands, self.relay = delivery, repo, commands, relay
        self.claim = claim  # by long polling updates are claimed here; webhook updates were claimed on receipt
        self.background: Callable[[], Awaitable[Callable[[], Awaitable[None]]]] | None = None
        self._stop_background: Callable[[], Awaitable[None]] | None = None

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """PTB's entry (long polling): handle one update."""
        await self.handle(update, context.bot)

    async def handle(self, update: Update, bot: Bot) -> None:
        """Dedupe, answer a button press first, run the engine, deliver the replies (raises if that failed)."""
        if self.claim and not await self.delivery.claims.claim(CHANNEL, f"u{update.update_id}"):
            return  # a redelivered update (after a timeout or a crash)
        chat, user = update.effective_chat, update.effective_user
        if chat is None or user is None:
            return
        key = ConversationKey(CHANNEL, str(user.id))
        message = update.message
        text = message.text if message is not None and isinstance(message.text, str) else None
        if chat.type != chat.PRIVATE and message is not None and await self._staff_reply(bot, message):
            return  # a staff reply to a handoff's post in the staff group
        if text and self.commands is not None and self.commands.is_command(text):
            private = chat.type == chat.PRIVATE and chat.id == user.id
            await self.commands.answer(bot, chat.id, user.id, text, private)
            return
        if update.callback_query is None and message is None:
            return
        if chat.type != chat.PRIVATE:  # a group: every member would read the person's answers and data
            await _quietly(bot.send_message(chat_id=chat.id, text=IN_PRIVATE_ONLY))
            return
        await self.outbox(bot).turn(key, str(chat.id), lambda: _incoming(key, update))

    async def _staff_reply(self, bot: Bot, message: Message) -> bool:
        return self.relay is not None and await self.relay.telegram_reply(bot, message)

    def outbox(self, bot: Bot) -> Outbox:
        return Outbox(self.delivery, self.repo, lambda address, reply: send(bot, int(address), reply))

    async def start_polling(self, app: Application) -> None:  # type: ignore[type-arg]
        """Long polling: deliver what a stopped run left, then relay staff replies as they are written."""
        await self.catch_up(app)
        app.create_task(self._relay(app))
        if self.background is not None:
            self._stop_background = await self.background()

    async def stop_polling(self, app: Application) -> None:  # type: ignore[type-arg]
        """Stop what start_polling started besides PTB's own work."""
        if self._stop_background is not None:
            await self._stop_background()

    async def _relay(self, app: Application) -> None:  # type: ignore[type-arg]
        """Staff replies queued by the dashboard or `khuyencong handoff reply` (no webhook worker runs here)."""
        outbox, call = self.outbox(app.bot), self.delivery.handler.call
        while True:
            await asyncio.sleep(RELAY_SECONDS)
            try:
                events = await call(self.repo.inbox_after, 0, 100)
                for event in events:
                    user = nudged(event.payload) if event.channel == CHANNEL else None
                    if user is not None:
                        await outbox.deliver(ConversationKey(CHANNEL, user))
                        await call(self.repo.inbox_done, [event.id])
            except Exception:  # the database or Telegram is busy now: the rows wait for the next round
                log.warning("telegram: staff replies not relayed now; trying again shortly")

    async def catch_up(self, app: Application) -> None:  # type: ignore[type-arg]
        """Deliver the replies a stopped or killed process left in the outbox (long polling)."""
        outbox = self.outbox(app.bot)
        for key in await self.delivery.handler.call(self.repo.outbox_people, CHANNEL):
            async with self.delivery.turn(key):
                try:
                    await outbox.flush(key)
                except NotDelivered:  # kept: their next message delivers it first
                    log.warning("telegram: replies kept for later, Telegram did not take them now")


async def _incoming(key: ConversationKey, update: Update) -> Incoming | None:
    """The message of an update (None for a photo, sticker, voice note…); a button press is answered first."""
    message_id = f"u{update.update_id}"  # a turn replayed after a crash is recognised by the engine
    query = update.callback_query
    if query is not None:
        await _quietly(query.answer())  # the client shows a spinner until this is called
        return Incoming(key, button=str(query.data or ""), message_id=message_id)
    if update.message is not None and isinstance(update.message.text, str):
        return Incoming(key, text=update.message.text, message_id=message_id)
    return None


async def send(bot: Bot, chat_id: int, reply: Reply) -> Outcome:
    """Send one reply (split at 4,096 characters); wait out a 429 once; what Telegram did with it."""
    parts = split(reply.text)
    for i, part in enumerate(parts):
        markup = keyboard(reply.buttons) if i == len(parts) - 1 else None
        for attempt in range(2):
            try:
                await bot.send_message(chat_id=chat_id, text=part, reply_markup=markup)
                break
            except RetryAfter as exc:
                if attempt:
                    log.error("telegram: still rate limited, message to %s kept for later", chat_id)
                    return "failed"
                wait = exc.retry_after
                await asyncio.sleep(wait.total_seconds() if isinstance(wait, timedelta) else float(wait))
            except TelegramError as exc:
                log.error("telegram: message to %s failed: %s", chat_id, exc)
                return _outcome(exc)
    return "sent"


def _outcome(exc: TelegramError) -> Outcome:
    """A network error or a timeout may pass later; anything else (a bad request, a blocked bot) stays refused."""
    return "failed" if isinstance(exc, NetworkError) and not isinstance(exc, BadRequest) else "refused"


async def _quietly(call: object) -> None:
    try:
        await call  # type: ignore[misc]
    except TelegramError as exc:  # a stale query: the answer still comes as a message
        log.info("telegram: callback answer failed: %s", exc)


class TelegramWebhook:
    """POST /webhooks/telegram: constant-time secret check, then the update is stored in the inbox."""

    def __init__(self, secret: str, claims: EventClaims, on_accept: Callable[[], None]) -> None:
        self.secret, self.claims, self.on_accept = secret, claims, on_accept

    async def handle(self, request: web.Request) -> web.Response:
        """Accept one update, or refuse it without doing anything."""
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not same_secret(given, self.secret):
            return web.json_response({"error": "sai mã bí mật"}, status=403)
        if request.content_type != "application/json":
            return web.json_response({"error": "Content-Type phải là application/json"}, status=415)
        try:
            data = json.loads(await request.read())
            valid = isinstance(data, dict) and isinstance(data.get("update_id"), int)
            valid = valid and Update.de_json(data) is not None  # the worker must be able to read it
        except (TypeError, KeyError, ValueError, AttributeError, OverflowError, RecursionError):
            valid = False  # bad JSON or UTF-8, absurd numbers and dates, 50,000 brackets, wrong shapes
        if not valid:
            return web.json_response({"error": "cập nhật không hợp lệ"}, status=400)
        # ASCII JSON: a lone surrogate stays an escape that SQLite can store
        if await self.claims.claim(CHANNEL, f"u{data['update_id']}", json.dumps(data), _sender(data)):
            self.on_accept()
        return web.json_response({"ok": True})


def _sender(data: dict[str, object]) -> str | None:
    """Who sent an update (their later updates wait behind it in the inbox)."""
    user = Update.de_json(data).effective_user
    return str(user.id) if user is not None else None


class TelegramProcessor:
    """Runs a stored update through our handler, with the python-telegram-bot client (initialised, not polling)."""

    def __init__(self, app: Application, handler: Handler) -> None:  # type: ignore[type-arg]
        self.app, self.handler = app, handler

    @classmethod
    def build(
        cls,
        settings: Settings,
        delivery: Delivery,
        repo: SqliteRepository,
        commands: StaffCommands | None,
        relay: StaffRelay | None = None,
    ) -> TelegramProcessor:
        """The processor with its client and a handler that does not claim again."""
        token, base = settings.telegram_bot_token or "", settings.telegram_api_base
        client = _application(token, base, polling=False, per_second=settings.telegram_per_second)
        return cls(client, Handler(delivery, repo, commands, False, relay))

    async def start(self) -> None:
        """getMe, and the HTTP client; Telegram unreachable at start is said and tried again with the next update."""
        try:
            await self.app.initialize()
        except TelegramError as exc:  # the web chat and the dashboard must not go down with Telegram
            log.warning("Telegram: not reachable at start (%s); trying again with the next update", exc)

    async def close(self) -> None:
        """Close the HTTP client."""
        await self.app.shutdown()

    async def process(self, payload: str) -> None:
        """One update, straight to our handler (PTB's dispatcher would swallow a failure we must retry)."""
        await self.app.initialize()  # a no-op once done; if Telegram is still away the update waits its retry
        waiting = nudged(payload)
        if waiting is not None:  # a staff reply or notice queued for this person: deliver it, in order
            await self.handler.outbox(self.app.bot).deliver(ConversationKey(CHANNEL, waiting))
            return
        await self.handler.handle(Update.de_json(json.loads(payload), self.app.bot), self.app.bot)
