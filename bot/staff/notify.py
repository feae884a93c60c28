"""Staff notices on Telegram: each new or updated registration, and /leads, /stats, /export for staff ids."""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import logging
import tempfile
from pathlib import Path

from telegram import Bot
from telegram.error import TelegramError

from bot.app import App, OrderedHandler
from bot.config import Settings
from bot.staff.exports import STATUS_LABELS, duplicate_text, write_xlsx
from bot.staff.store import EVERYONE, LeadQuery, StaffStore
from bot.storage import Lead
from bot.text import national_phone

log = logging.getLogger("khuyencong.notify")
COMMANDS = ("/leads", "/stats", "/export")
REFUSED = "Lệnh này chỉ dành cho cán bộ được cấp quyền. Bà con gõ “menu” để dùng trợ lý nhé."


def lead_notice(lead: Lead, lines: dict[str, str]) -> str:
    """A short notice of a registration for the staff chat."""
    kind = "Cập nhật đăng ký" if lead.merged else "Đăng ký mới"
    flag = f" – {duplicate_text(lead)}" if lead.duplicate_of else ""
    wanted = ", ".join(lines.get(c, c) for c in lead.lines_wanted) or "chưa chọn"
    place = ", ".join(x for x in (lead.commune, lead.province) if x)
    return (
        f"{kind} {lead.ref}{flag}\n{lead.name} – {national_phone(lead.phone)}\n{lead.facility_name}, {place}\n"
        f"Muốn hỗ trợ: {wanted}"
    )


async def tell_staff(settings: Settings, text: str) -> None:
    """One message to the staff chat, when TELEGRAM_BOT_TOKEN and TELEGRAM_STAFF_CHAT_ID are set."""
    if not (settings.telegram_bot_token and settings.telegram_staff_chat_id):
        log.info("staff notice not sent (no staff chat configured): %s", text)
        return
    bot = Bot(settings.telegram_bot_token, base_url=settings.telegram_api_base)
    try:
        async with bot:
            await bot.send_message(chat_id=settings.telegram_staff_chat_id, text=text)
    except TelegramError as exc:
        log.error("staff notice not sent: %s", exc)


class StaffNotifier:
    """Sends registration notices to the staff chat from the engine's thread, without blocking it."""

    def __init__(self, bot: Bot, chat_id: str, loop: asyncio.AbstractEventLoop, app: App) -> None:
        self.bot, self.chat_id, self.loop = bot, chat_id, loop
        self.lines = app.engine.kb.line_names
        self.pending: set[concurrent.futures.Future[None]] = set()

    def lead_stored(self, lead: Lead) -> None:
        """Called by the engine (on its thread) after a registration is stored."""
        future = asyncio.run_coroutine_threadsafe(self._send(lead_notice(lead, self.lines)), self.loop)
        self.pending.add(future)
        future.add_done_callback(self.pending.discard)

    async def _send(self, text: str) -> None:
        try:
            await self.bot.send_message(chat_id=self.chat_id, text=text)
        except TelegramError as exc:
            log.error("staff notice not sent: %s", exc)


class StaffNotices:
    """The notices of one process's engine: on when TELEGRAM_BOT_TOKEN and TELEGRAM_STAFF_CHAT_ID are set."""

    def __init__(self, settings: Settings, app: App) -> None:
        self.settings, self.app = settings, app
        self.enabled = bool(settings.telegram_bot_token and settings.telegram_staff_chat_id)
        self._bot: Bot | None = None
        self._notifier: StaffNotifier | None = None

    async def start(self) -> None:
        """Connect the bot and hook the engine."""
        if not self.enabled:
            log.info("Staff notices on Telegram: off (set TELEGRAM_BOT_TOKEN and TELEGRAM_STAFF_CHAT_ID)")
            return
        chat = self.settings.telegram_staff_chat_id or ""
        self._bot = Bot(self.settings.telegram_bot_token or "", base_url=self.settings.telegram_api_base)
        await self._bot.initialize()
        self._notifier = StaffNotifier(self._bot, chat, asyncio.get_running_loop(), self.app)
        self.app.engine.on_lead = self._notifier.lead_stored
        log.info("Staff notices on Telegram: on (chat %s)", chat)

    async def stop(self) -> None:
        """Unhook the engine, let the notices in flight go out, close the bot."""
        self.app.engine.on_lead = None
        if self._notifier is not None and self._notifier.pending:
            await asyncio.wait([asyncio.wrap_future(f) for f in list(self._notifier.pending)], timeout=10)
        if self._bot is not None:
            await self._bot.shutdown()


class StaffCommands:
    """/leads, /stats and /export on Telegram, for the ids in TELEGRAM_STAFF_IDS only."""

    def __init__(self, app: App, handler: OrderedHandler, staff_ids: set[int]) -> None:
        self.app, self.handler, self.staff_ids = app, handler, staff_ids
        self.store = StaffStore(app.repo)

    @staticmethod
    def is_command(text: str | None) -> bool:
        """Whether a message is one of the staff commands."""
        words = (text or "").split()
        return bool(words) and words[0].split("@")[0] in COMMANDS

    async def answer(self, bot: Bot, chat_id: int, user_id: int, text: str) -> None:
        """Run a staff command, or refuse politely."""
        if user_id not in self.staff_ids:
            await bot.send_message(chat_id=chat_id, text=REFUSED)
            return
        command = text.split("@")[0].split()[0]
        if command == "/leads":
            await bot.send_message(chat_id=chat_id, text=await self._leads())
        elif command == "/stats":
            funnel = await self.handler.call(self.store.funnel, EVERYONE)
            await bot.send_message(chat_id=chat_id, text="\n".join(f"{label}: {n}" for label, n in funnel))
        else:
            leads = self.store.iter_leads(EVERYONE, LeadQuery())
            with tempfile.TemporaryDirectory(prefix="khuyencong-export-") as folder:  # no copy of the leads stays
                path = Path(folder) / "dang-ky.xlsx"
                count = await self.handler.call(write_xlsx, leads, path, self.app.engine.kb)
                document = io.BytesIO(path.read_bytes())
            await self.handler.call(self.app.repo.log_export, f"telegram:{user_id}", "xlsx", "all", count)
            await bot.send_document(chat_id=chat_id, document=document, filename=path.name, caption=f"{count} đăng ký")

    async def _leads(self) -> str:
        leads, total = await self.handler.call(self.store.leads, EVERYONE, LeadQuery(per_page=10))
        if not leads:
            return "Chưa có đăng ký nào."
        rows = [
            f"{x.ref} · {x.name} · {national_phone(x.phone)} · {x.commune or ''} · {STATUS_LABELS[x.status]}"
            for x in leads
        ]
        return f"{total} đăng ký, mới nhất:\n" + "\n".join(rows)
