"""Staff notices on Telegram: each new or updated registration, and /leads, /stats, /export for staff ids."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import io
import logging
import tempfile
from pathlib import Path

from telegram import Bot
from telegram.error import TelegramError

from bot.app import App, OrderedHandler
from bot.config import Settings
from bot.knowledge import vn_today
from bot.profiles import staff_chat_for
from bot.staff.exports import STATUS_LABELS, download_name, duplicate_text, write_xlsx
from bot.staff.store import LeadQuery, Staff, StaffStore
from bot.storage import Lead

log = logging.getLogger("khuyencong.notify")
COMMANDS = ("/leads", "/stats", "/export")
REFUSED = "Lệnh này chỉ dành cho cán bộ được cấp quyền. Bà con gõ “menu” để dùng trợ lý nhé."
CONTACT_ON_DASHBOARD = "Họ tên, số điện thoại: xem trên trang cán bộ (mã đăng ký ở trên)."
NOT_HERE = "Lệnh cán bộ chỉ dùng trong tin nhắn riêng với trợ lý hoặc trong nhóm cán bộ."
UNLINKED = (
    "Tài khoản Telegram này (mã {id}) chưa được gắn với tài khoản cán bộ nào, nên chưa xem được dữ liệu. "
    "Anh/chị nhờ quản trị viên gắn mã này vào tài khoản của mình nhé."
)


def lead_notice(lead: Lead, lines: dict[str, str]) -> str:
    """A short notice of a registration for the staff chat: no name and no phone.

    Why: a Telegram group is read by every member, its messages sit on servers abroad and stay there after
    the person erases their data; the contact details are on the dashboard, behind the commune's scope.
    """
    kind = "Cập nhật đăng ký" if lead.merged else "Đăng ký mới"
    flag = f" – {duplicate_text(lead)}" if lead.duplicate_of else ""
    wanted = ", ".join(lines.get(c, "nội dung khác") for c in lead.lines_wanted) or "chưa chọn"
    place = ", ".join(x for x in (lead.commune, lead.province) if x)
    return f"{kind} {lead.ref}{flag}\n{_product(lead)}, {place}\nMuốn hỗ trợ: {wanted}\n{CONTACT_ON_DASHBOARD}"


def handoff_notice(place: dict[str, object]) -> str:
    """A request for staff, for the staff chat: where from, never who (see lead_notice)."""
    where = ", ".join(str(x) for x in (place.get("commune"), place.get("province")) if x) or "chưa rõ xã"
    return f"Có người nhờ gặp cán bộ ({where}). Xem và liên hệ trên trang cán bộ."


def _product(lead: Lead) -> str:
    return str(lead.profile.get("activity") or "").strip() or "chưa rõ sản phẩm"


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
    """Sends registration notices from the engine's thread, without blocking it, to the commune's own staff chat
    (its profile's `staff_chat_id`), else to the unit's TELEGRAM_STAFF_CHAT_ID."""

    def __init__(self, bot: Bot, chat_id: str | None, loop: asyncio.AbstractEventLoop, app: App) -> None:
        self.bot, self.chat_id, self.loop, self.app = bot, chat_id, loop, app
        self.lines = app.engine.kb.line_names
        self.pending: set[concurrent.futures.Future[None]] = set()

    def chat_for(self, commune_code: int | None) -> str | None:
        """Where a notice about that commune goes (the profiles as the engine saw them this turn)."""
        return staff_chat_for(self.app.engine.kb.localities, commune_code, self.chat_id)

    def lead_stored(self, lead: Lead) -> None:
        """Called by the engine (on its thread) after a registration is stored."""
        self.tell(lead.commune_code, lead_notice(lead, self.lines))

    def handed_over(self, place: dict[str, object]) -> None:
        """Called by the engine (on its thread) after a person asked for staff: a post staff can reply to."""
        code, handoff_id = place.get("code"), place.get("handoff_id")
        handoff = self.app.repo.handoffs.get(handoff_id) if isinstance(handoff_id, int) else None
        if handoff is None:
            self.tell(code if isinstance(code, int) else None, handoff_notice(place))
            return
        from bot.staff.relay import post  # the relay's own format: a reply to it is read back by its number

        where = ", ".join(str(x) for x in (place.get("commune"), place.get("province")) if x)
        self.tell(handoff.commune_code, post(handoff, self.app.repo.handoffs.last_message(handoff.key), where))

    def tell(self, commune_code: int | None, text: str) -> None:
        """Send a notice about a commune's person, from any thread (a handoff's, too)."""
        chat = self.chat_for(commune_code)
        if chat is None:
            log.info("staff notice not sent: no staff chat for commune %s", commune_code)
            return
        future = asyncio.run_coroutine_threadsafe(self._send(chat, text), self.loop)
        self.pending.add(future)
        future.add_done_callback(self.pending.discard)

    async def _send(self, chat: str, text: str) -> None:
        try:
            await self.bot.send_message(chat_id=chat, text=text)
        except TelegramError as exc:
            log.error("staff notice not sent: %s", exc)


class StaffNotices:
    """The notices of one process's engine: on when TELEGRAM_BOT_TOKEN is set (a commune's profile may name its
    own staff chat at any time; TELEGRAM_STAFF_CHAT_ID is the fallback)."""

    def __init__(self, settings: Settings, app: App) -> None:
        self.settings, self.app = settings, app
        self.enabled = bool(settings.telegram_bot_token)
        self._bot: Bot | None = None
        self._notifier: StaffNotifier | None = None

    async def start(self) -> None:
        """Connect the bot and hook the engine."""
        if not self.enabled:
            log.info("Staff notices on Telegram: off (set TELEGRAM_BOT_TOKEN; chats come from profiles or settings)")
            return
        chat = self.settings.telegram_staff_chat_id or None
        self._bot = Bot(self.settings.telegram_bot_token or "", base_url=self.settings.telegram_api_base)
        try:
            await self._bot.initialize()
        except TelegramError as exc:  # notices fail one by one (logged); the server itself keeps running
            log.warning("Staff notices: Telegram not reachable at start (%s)", exc)
        self._notifier = StaffNotifier(self._bot, chat, asyncio.get_running_loop(), self.app)
        self.app.engine.on_lead = self._notifier.lead_stored
        self.app.engine.on_handoff = self._notifier.handed_over
        log.info("Staff notices on Telegram: on (communes' own chats, else %s)", chat or "none")

    def tell(self, commune_code: int | None, text: str) -> None:
        """A notice about a commune's person to its staff chat (nothing when notices are off)."""
        if self._notifier is not None:
            self._notifier.tell(commune_code, text)

    async def stop(self) -> None:
        """Unhook the engine, let the notices in flight go out, close the bot."""
        self.app.engine.on_lead = None
        self.app.engine.on_handoff = None
        if self._notifier is not None and self._notifier.pending:
            await asyncio.wait([asyncio.wrap_future(f) for f in list(self._notifier.pending)], timeout=10)
        if self._bot is not None:
            await self._bot.shutdown()


class StaffCommands:
    """/leads, /stats and /export on Telegram: for an id in TELEGRAM_STAFF_IDS tied to a staff account, in a
    private chat or the staff chat, and showing that account's communes only."""

    def __init__(self, app: App, handler: OrderedHandler, staff_ids: set[int]) -> None:
        self.app, self.handler, self.staff_ids = app, handler, staff_ids
        self.staff_chat = app.settings.telegram_staff_chat_id
        self.store = StaffStore(app.repo)

    @staticmethod
    def is_command(text: str | None) -> bool:
        """Whether a message is one of the staff commands."""
        words = (text or "").split()
        return bool(words) and words[0].split("@")[0] in COMMANDS

    async def answer(self, bot: Bot, chat_id: int, user_id: int, text: str, private: bool = False) -> None:
        """Run a staff command, or refuse politely."""
        member = await self._member(chat_id, user_id, private)
        if isinstance(member, str):
            await bot.send_message(chat_id=chat_id, text=member)
            return
        command = text.split("@")[0].split()[0]
        if command == "/leads":
            await bot.send_message(chat_id=chat_id, text=await self._leads(member))
        elif command == "/stats":
            funnel = await self.handler.call(self.store.funnel, member)
            await bot.send_message(chat_id=chat_id, text="\n".join(f"{label}: {n}" for label, n in funnel))
        else:
            leads, followups = self.store.with_followups(self.store.iter_leads(member, LeadQuery()))
            with tempfile.TemporaryDirectory(prefix="khuyencong-export-") as folder:  # no copy of the leads stays
                path = Path(folder) / download_name("xlsx", self._commune_name(member), vn_today())
                write = functools.partial(write_xlsx, followups=followups)
                count = await self.handler.call(write, leads, path, self.app.engine.kb)
                document = io.BytesIO(path.read_bytes())
            scope = "all" if member.scope is None else ",".join(map(str, member.scope))
            await self.handler.call(self.app.repo.log_export, f"telegram:{user_id}", "xlsx", scope, count)
            await bot.send_document(chat_id=chat_id, document=document, filename=path.name, caption=f"{count} đăng ký")

    async def _member(self, chat_id: int, user_id: int, private: bool) -> Staff | str:
        """The staff account a command runs for, or why it does not run here."""
        if not private and str(chat_id) not in self._staff_chats():
            return NOT_HERE  # a group anyone may join: no data, whoever asks
        if user_id not in self.staff_ids:
            return REFUSED
        member = await self.handler.call(self.store.by_telegram, user_id)
        return member if member is not None else UNLINKED.format(id=user_id)

    def _commune_name(self, member: Staff) -> str | None:
        """The one commune an account covers, for the file's name (None: several or all)."""
        scope = member.scope or []
        place = self.app.engine.assessor.gazetteer.place_by_code(scope[0]) if len(scope) == 1 else None
        return place.name if place is not None else None

    def _staff_chats(self) -> set[str]:
        """The unit's staff chat and each commune's own (set in its profile): the rooms staff commands run in."""
        own = {loc.staff_chat_id for loc in self.app.engine.kb.localities if not loc.historical and loc.staff_chat_id}
        return {c.strip() for c in (*own, self.staff_chat or "") if c.strip()}

    async def _leads(self, member: Staff) -> str:
        leads, total = await self.handler.call(self.store.leads, member, LeadQuery(per_page=10))
        if not leads:
            return "Chưa có đăng ký nào."
        rows = [
            f"{x.ref} · {_product(x)} · {x.commune or ''} · {STATUS_LABELS[x.status]}" for x in leads
        ]  # no name, no phone: see lead_notice
        return f"{total} đăng ký, mới nhất:\n" + "\n".join(rows) + "\n" + CONTACT_ON_DASHBOARD
