"""Telegram through python-telegram-bot 22: webhook on our server, or long polling; our engine owns the state."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
from datetime import timedelta
from typing import TYPE_CHECKING

from aiohttp import web

# Opt in to PTB's coming behaviour (retry_after as a timedelta, v22.2+); send() handles both forms.
os.environ.setdefault("PTB_TIMEDELTA", "1")
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import RetryAfter, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot.channels.common import TEXT_ONLY, Delivery
from bot.messages import Button, ConversationKey, Incoming, Reply
from bot.storage.sqlite import SqliteRepository

if TYPE_CHECKING:
    from bot.staff.notify import StaffCommands

log = logging.getLogger("khuyencong.telegram")
CHANNEL = "telegram"
MAX_TEXT = 4096
MAX_CALLBACK = 64  # bytes, ASCII


def build_application(
    token: str,
    api_base: str,
    delivery: Delivery,
    repo: SqliteRepository,
    polling: bool = False,
    commands: StaffCommands | None = None,
) -> Application:  # type: ignore[type-arg]
    """A PTB Application whose only handler hands every update to our engine."""
    builder = ApplicationBuilder().token(token).base_url(api_base).concurrent_updates(True)
    builder = builder.base_file_url(api_base.replace("/bot", "/file/bot"))
    if not polling:
        builder = builder.updater(None)  # updates arrive through our own aiohttp webhook route
    app = builder.build()
    app.add_handler(TypeHandler(Update, Handler(delivery, repo, commands).on_update))
    return app


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

    def __init__(self, delivery: Delivery, repo: SqliteRepository, commands: StaffCommands | None = None) -> None:
        self.delivery, self.repo, self.commands = delivery, repo, commands

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Handle one update: dedupe, answer a button press first, run the engine, send the replies."""
        if not await self.delivery.claims.claim(CHANNEL, f"u{update.update_id}"):
            return  # a redelivered update (after a timeout or a crash)
        chat = update.effective_chat
        user = update.effective_user
        if chat is None or user is None:
            return
        key = ConversationKey(CHANNEL, str(user.id))
        query = update.callback_query
        if query is not None:
            await _quietly(query.answer())  # the client shows a spinner until this is called
            msg: Incoming | None = Incoming(key, button=query.data or "")
        elif update.message is not None and update.message.text is not None:
            if self.commands is not None and self.commands.is_command(update.message.text):
                await self.commands.answer(context.bot, chat.id, user.id, update.message.text)
                return
            msg = Incoming(key, text=update.message.text)
        elif update.message is not None:
            msg = None  # a photo, sticker, voice note…
        else:
            return
        async with self.delivery.turn(key):
            replies = [Reply(TEXT_ONLY)] if msg is None else await self.delivery.replies(msg)
            for reply in replies:
                await send(context.bot, chat.id, reply)


async def send(bot: Bot, chat_id: int, reply: Reply) -> None:
    """Send one reply (split at 4,096 characters); wait out a 429 once."""
    parts = split(reply.text)
    for i, part in enumerate(parts):
        markup = keyboard(reply.buttons) if i == len(parts) - 1 else None
        for attempt in range(2):
            try:
                await bot.send_message(chat_id=chat_id, text=part, reply_markup=markup)
                break
            except RetryAfter as exc:
                if attempt:
                    log.error("telegram: still rate limited, message to %s dropped", chat_id)
                    return
                wait = exc.retry_after
                await asyncio.sleep(wait.total_seconds() if isinstance(wait, timedelta) else float(wait))
            except TelegramError as exc:
                log.error("telegram: message to %s failed: %s", chat_id, exc)
                return


async def _quietly(call: object) -> None:
    try:
        await call  # type: ignore[misc]
    except TelegramError as exc:  # a stale query: the answer still comes as a message
        log.info("telegram: callback answer failed: %s", exc)


class TelegramWebhook:
    """POST /webhooks/telegram: constant-time secret check, then the update goes to the Application."""

    def __init__(self, app: Application, secret: str) -> None:  # type: ignore[type-arg]
        self.app, self.secret = app, secret

    async def handle(self, request: web.Request) -> web.Response:
        """Accept one update, or refuse it without doing anything."""
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            return web.json_response({"error": "sai mã bí mật"}, status=403)
        if request.content_type != "application/json":
            return web.json_response({"error": "Content-Type phải là application/json"}, status=415)
        try:
            data = json.loads(await request.read())
            update = Update.de_json(data, self.app.bot)
        except (json.JSONDecodeError, UnicodeDecodeError, TypeError, KeyError, ValueError):
            return web.json_response({"error": "cập nhật không hợp lệ"}, status=400)
        if update is None or not isinstance(data, dict) or "update_id" not in data:
            return web.json_response({"error": "cập nhật không hợp lệ"}, status=400)
        await self.app.update_queue.put(update)
        return web.json_response({"ok": True})
