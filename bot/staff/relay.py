"""Staff answering outside the dashboard: a reply to a handoff's post in the Telegram staff chat, and a message
typed in the Zalo OA's own chat; both through the same handoff library as the dashboard and the CLI.

A group is read by all its members: a post names the request's number, commune, reason and the last message
with phones and other numbers masked, never the person's name or chat id (those are on the dashboard).
"""

from __future__ import annotations

import datetime as dt
import re

from telegram import Bot, Message

from bot.app import App, OrderedHandler
from bot.dialog.handoff import place_for_staff
from bot.masking import mask_personal
from bot.messages import ConversationKey
from bot.staff.handoffs import REASONS, Handoffs, ReplyRefused, span
from bot.staff.store import Staff, StaffStore
from bot.storage.handoffs import Handoff

BACK_COMMANDS = ("/tralai", "/back")
LAST_SHOWN = 200  # characters of the last message shown in the group
REF = re.compile(r"^(?:Nhắc: )?Yêu cầu số (\d{1,9})\b")
HOW = "Trả lời tin này để nhắn cho bà con; trả lời /tralai để trả lại cho trợ lý."
UNLINKED = (
    "Tài khoản Telegram này (mã {id}) chưa được gắn với tài khoản cán bộ nào, nên tin chưa được gửi cho bà con. "
    "Anh/chị nhờ quản trị viên gắn mã này vào tài khoản của mình nhé."
)
NOT_YOURS = "Không có yêu cầu số {ref}, hoặc yêu cầu không thuộc xã của anh/chị; chưa gửi gì cho bà con."
SENT = "Đã gửi cho bà con (yêu cầu số {ref})."
BACK = "Đã trả lại yêu cầu số {ref} cho trợ lý; bà con được báo."
ALREADY_BACK = "Yêu cầu số {ref} đã được trả lại cho trợ lý từ trước."
TEXT_ONLY = "Chỉ gửi được tin nhắn chữ cho bà con. " + HOW
UNKNOWN_COMMAND = "Lệnh này không dùng ở đây. " + HOW
OA_AUTHOR = "Zalo OA"


def post(handoff: Handoff, last_message: str, where: str = "") -> str:
    """A new handoff as the staff chat reads it: its number, commune, reason and last message; no one's name.

    `where`: the commune as the notices name it ('Xã Vĩnh Thủy, Quảng Trị'), else the handoff's own.
    """
    last = mask_personal(" ".join(last_message.split()))
    last = last if len(last) <= LAST_SHOWN else last[: LAST_SHOWN - 1] + "…"
    lines = [
        f"Yêu cầu số {handoff.id} · {REASONS.get(handoff.reason, REASONS['asked'])}",
        where or handoff.commune or "Chưa rõ xã",
        f"Tin nhắn cuối: “{last}”" if last else "Chưa có tin nhắn nào.",
        HOW,
    ]
    return "\n".join(lines)


def reminder(handoff: Handoff, now: dt.datetime | None = None) -> str:
    """A handoff still waiting, reminded once; a reply to it works like one to the first post."""
    waited = (now or dt.datetime.now(dt.UTC)) - dt.datetime.fromisoformat(handoff.at)
    place = handoff.commune or "chưa rõ xã"
    said = span(waited) if waited >= dt.timedelta(minutes=1) else "chưa đến 1 phút"
    return f"Nhắc: Yêu cầu số {handoff.id} ({place}) đã chờ cán bộ {said} mà chưa ai trả lời.\n{HOW}"


def ref_of(message: Message, bot_id: int) -> int | None:
    """The handoff a message replies to: a post of this bot naming one, else None."""
    post = message.reply_to_message
    if post is None or post.from_user is None or post.from_user.id != bot_id:
        return None
    found = REF.match(post.text or "")
    return int(found.group(1)) if found else None


class StaffRelay:
    """Relays what staff write on Telegram and Zalo into handoffs; `replied` wakes this process's web polls."""

    def __init__(self, app: App, handler: OrderedHandler) -> None:
        self.app, self.handler = app, handler
        self.handoffs = Handoffs(app.repo, app.engine.texts.handoff, app.settings)
        self.staff = StaffStore(app.repo)

    # --- Zalo: the OA's own chat ------------------------------------------------------------------

    async def zalo_echo(self, key: ConversationKey, text: str) -> None:
        """Staff wrote in the OA's own chat: the conversation is held by staff, the message in the transcript."""
        await self.handler.call(self._took_over, key, text)

    def _took_over(self, key: ConversationKey, text: str) -> None:
        place = place_for_staff(self.app.engine.ctx, self.app.repo.load(key))
        self.handoffs.took_over(key, place, OA_AUTHOR, text)

    # --- Telegram: replies to a post in the staff chat --------------------------------------------

    async def telegram_reply(self, bot: Bot, message: Message) -> bool:
        """Relay a staff reply to a handoff's post (or hand back on /tralai); False when it is not one."""
        ref = ref_of(message, bot.id)
        if ref is None or message.from_user is None:
            return False
        answer = await self._answer(ref, message.from_user.id, message.text)
        await bot.send_message(chat_id=message.chat.id, text=answer, reply_to_message_id=message.message_id)
        return True

    async def _answer(self, ref: int, telegram_id: int, text: str | None) -> str:
        member = await self.handler.call(self.staff.by_telegram, telegram_id)
        if member is None:
            return UNLINKED.format(id=telegram_id)
        words = (text or "").split()
        if not words:
            return TEXT_ONLY
        command = words[0].split("@")[0].lower() if words[0].startswith("/") else ""
        if command in BACK_COMMANDS:
            return await self._back(member, ref)
        if command:
            return UNKNOWN_COMMAND
        try:
            await self.handler.call(self.handoffs.reply, member, ref, text or "", member.name)
        except ReplyRefused as refused:
            reason = str(refused).split(": ", 1)[-1]
            return NOT_YOURS.format(ref=ref) if str(refused).startswith("id:") else reason
        return SENT.format(ref=ref)

    async def _back(self, member: Staff, ref: int) -> str:
        found = await self.handler.call(self.handoffs.one, member, ref)
        if found is None:
            return NOT_YOURS.format(ref=ref)
        done = await self.handler.call(self.handoffs.hand_back, member, ref)
        return (BACK if done else ALREADY_BACK).format(ref=ref)
