"""Staff answering people in their own chat: the inbox, a reply, handing back; one library for the dashboard,
`khuyencong handoff`, the idle sweep, and later the Telegram staff chat and Zalo's own OA chat.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass

from bot.config import Settings
from bot.dialog.handoff import commune_label
from bot.flows import HandoffTexts
from bot.messages import ConversationKey
from bot.staff import labels
from bot.staff.store import Staff
from bot.storage.handoffs import Handoff, HandoffStore, Line
from bot.storage.sqlite import SqliteRepository

MAX_REPLY, MAX_NAME = 2000, 60  # characters: Zalo's longest text message; a name as it is signed
CHANNELS = {"zalo": "Zalo", "telegram": "Telegram", "web": "Trang web"}
STATUSES = {"waiting": "Chờ cán bộ", "open": "Cán bộ đang trả lời", "closed": "Đã trả lại cho trợ lý"}
REASONS = {
    "asked": "Bà con muốn gặp cán bộ",
    "failed": "Trợ lý hai lần không trả lời được",
    "oa_chat": "Cán bộ trả lời trên Zalo OA",
    "question": "Cán bộ trả lời câu hỏi trợ lý chưa trả lời được",
}
UNDELIVERED = "Không gửi được: quá {days} ngày, hãy gọi điện cho bà con."


NO_CHAT = "Câu hỏi này không đến từ một cuộc trò chuyện Zalo, Telegram hay trang web, nên không trả lời được."


class ReplyRefused(ValueError):
    """A reply that cannot be sent: the reason in Vietnamese (the field, or the platform's window)."""


@dataclass(frozen=True)
class Window:
    """How long staff may still answer a Zalo chat: free of charge, and at all (from the person's last message)."""

    free_until: dt.datetime
    open_until: dt.datetime
    now: dt.datetime

    @property
    def closed(self) -> bool:
        """Past the last day Zalo lets the OA write first."""
        return self.now >= self.open_until

    @property
    def free(self) -> bool:
        """Still within the free reply period."""
        return self.now < self.free_until

    def said(self) -> str:
        """The window as an officer reads it."""
        if self.closed:
            return "Đã quá hạn Zalo cho phép nhắn lại: hãy gọi điện cho bà con."
        if self.free:
            free, total = span(self.free_until - self.now), span(self.open_until - self.now)
            return f"Còn {free} để trả lời miễn phí trên Zalo; còn {total} để nhắn được (sau đó tính phí)."
        return f"Hết thời gian miễn phí; còn {span(self.open_until - self.now)} để nhắn (tính phí) trên Zalo."


@dataclass(frozen=True)
class Asker:
    """The person behind a stored question: their chat (None when not from one) and whether a reply reaches them."""

    question_id: int
    key: ConversationKey | None
    commune_code: int | None
    question: str
    at: str
    window: Window | None
    refused: str  # why no reply can go now ("" when it can)


@dataclass(frozen=True)
class Item:
    """A handoff as the inbox and the command line show it."""

    handoff: Handoff
    last_message: str
    window: Window | None
    late: bool = False  # waiting past the reminder delay with no staff reply: shown highlighted
    undelivered: str = ""  # why the last staff reply did not reach the person, in words

    @property
    def channel(self) -> str:
        """The channel's name (never its code: a console test chat reads "Thử trên máy")."""
        return labels.channel(self.handoff.channel)

    @property
    def status(self) -> str:
        """Where it stands, in words."""
        return STATUSES[self.handoff.status]

    @property
    def reason(self) -> str:
        """Why it was opened, in words."""
        return REASONS.get(self.handoff.reason, REASONS["asked"])


class Handoffs:
    """The handoffs a staff account may see and answer."""

    def __init__(self, repo: SqliteRepository, texts: HandoffTexts, settings: Settings) -> None:
        self.store: HandoffStore = repo.handoffs
        self.texts, self.settings = texts, settings

    def listed(self, staff: Staff, commune: int | None = None, now: dt.datetime | None = None) -> list[Item]:
        """Waiting, held and closed handoffs of the account's communes (an admin's: all, or one commune)."""
        scope = staff.scope if commune is None else ([commune] if staff.sees(commune) else [])
        return [self._item(h, now) for h in self.store.listed(scope)]

    def one(self, staff: Staff, handoff_id: int, now: dt.datetime | None = None) -> tuple[Item, list[Line]] | None:
        """A handoff with its transcript, if this account may see it."""
        handoff = self.store.get(handoff_id)
        if handoff is None or not staff.sees(handoff.commune_code):
            return None
        return self._item(handoff, now), self.store.transcript(handoff.key)

    def reply(self, staff: Staff, handoff_id: int, text: str, name: str, now: dt.datetime | None = None) -> Handoff:
        """Deliver a staff reply in the person's channel, signed with the name; ReplyRefused says why not."""
        text, name = _checked(text, name)
        handoff = self.store.get(handoff_id)
        if handoff is None or not staff.sees(handoff.commune_code):
            raise ReplyRefused("id: không có yêu cầu này, hoặc không thuộc xã của bạn.")
        window = self.window(handoff, now)
        if window is not None and window.closed:
            days = f"{self.settings.zalo_reply_days:g}"
            raise ReplyRefused(
                f"Zalo: đã quá {days} ngày từ tin nhắn cuối của bà con nên không nhắn được; hãy gọi điện."
            )
        place = handoff.commune or "UBND xã"
        shown = self.texts.staff_says.format(name=name, place=place, text=text)
        self.store.staff_said(handoff, name, shown, staff.name)
        return handoff

    def hand_back(self, staff: Staff, handoff_id: int) -> bool:
        """Give the chat back to the assistant and tell the person; False when not found or already back."""
        handoff = self.store.get(handoff_id)
        if handoff is None or not staff.sees(handoff.commune_code):
            return False
        return self.store.close(handoff, "staff", self.texts.back, staff.name)

    def sweep(self, now: dt.datetime | None = None) -> int:
        """Give back every chat with nothing said for the idle time, telling each person; how many."""
        now = now or dt.datetime.now(dt.UTC)
        before = now - dt.timedelta(minutes=self.settings.khuyencong_handoff_idle_minutes)
        idle = self.store.idle(before.isoformat(timespec="seconds"))
        return sum(self.store.close(h, "idle", self.texts.idle) for h in idle)

    def window(self, handoff: Handoff, now: dt.datetime | None = None) -> Window | None:
        """Zalo's reply window for this chat (None for a channel without one)."""
        if handoff.channel != "zalo":
            return None
        # The person's last message, held or not (a reply to a chat given back counts from it too); a handoff
        # staff opened themselves does not count as the person writing.
        opened = "" if handoff.opened_by == "staff" else handoff.at
        said = max(handoff.last_person_at or opened, self.store.last_said_at(handoff.key))
        last = dt.datetime.fromisoformat(said) if said else dt.datetime.min.replace(tzinfo=dt.UTC)
        return Window(
            last + dt.timedelta(hours=self.settings.zalo_free_reply_hours),
            last + dt.timedelta(days=self.settings.zalo_reply_days),
            now or dt.datetime.now(dt.UTC),
        )

    def reminders(self, now: dt.datetime | None = None) -> list[Handoff]:
        """Handoffs waiting past the reminder delay with no staff reply, each returned once (marked reminded)."""
        delay = dt.timedelta(minutes=self.settings.khuyencong_handoff_remind_minutes)
        before = (now or dt.datetime.now(dt.UTC)) - delay
        due = self.store.due_reminders(before.isoformat(timespec="seconds"))
        return [h for h in due if self.store.reminded(h.id)]

    def took_over(self, key: ConversationKey, place: dict[str, object], author: str, text: str) -> Handoff:
        """Staff wrote to the person outside the assistant (the Zalo OA's own chat): the chat is held by staff."""
        code = place.get("code")
        label = commune_label(dict(place))
        return self.store.staff_wrote_elsewhere(
            key, "oa_chat", code if isinstance(code, int) else None, label, author, _clean(text)[:MAX_REPLY]
        )

    def asker(self, staff: Staff, question_id: int, now: dt.datetime | None = None) -> Asker | None:
        """Who asked a stored question, if this account may see it, and whether a reply can reach them."""
        found = self.store.question(question_id)
        if found is None:
            return None
        key, code, text, at = found
        if not (staff.sees(code) if code is not None else staff.all_communes):
            return None
        if key is None or key.channel not in CHANNELS:
            return Asker(question_id, None, code, text, at, None, NO_CHAT)
        handoff = self.store.active(key)
        window = self.window(handoff or _blank(key, code), now)
        why = ""
        if window is not None and window.closed:
            why = f"Zalo: đã quá {self.settings.zalo_reply_days:g} ngày từ tin nhắn cuối của bà con; hãy gọi điện."
        return Asker(question_id, key, code, text, at, window, why)

    def answer_asker(self, staff: Staff, question_id: int, text: str, name: str, commune: str = "") -> Handoff:
        """A staff reply to the person who asked a question, as a handoff reply (one opened by staff if none).

        `commune`: the commune as the reply is signed ('xã Vĩnh Thủy') when a handoff is opened for it.
        """
        asker = self.asker(staff, question_id)
        if asker is None:
            raise ReplyRefused("id: không có câu hỏi này, hoặc không thuộc xã của bạn.")
        if asker.refused or asker.key is None:
            raise ReplyRefused(asker.refused or NO_CHAT)
        _checked(text, name)
        place = self.store.active(asker.key)
        if place is None:
            place = self.store.opened_by_staff(asker.key, "question", asker.commune_code, commune)
        return self.reply(staff, place.id, text, name)

    def _item(self, handoff: Handoff, now: dt.datetime | None) -> Item:
        now = now or dt.datetime.now(dt.UTC)
        remind = dt.timedelta(minutes=self.settings.khuyencong_handoff_remind_minutes)
        late = handoff.status == "waiting" and not handoff.first_reply_at
        late = late and dt.datetime.fromisoformat(handoff.at) + remind <= now
        days = f"{self.settings.zalo_reply_days:g}"
        undelivered = UNDELIVERED.format(days=days) if handoff.undelivered else ""
        return Item(handoff, self.store.last_message(handoff.key), self.window(handoff, now), late, undelivered)


def _checked(text: str, name: str) -> tuple[str, str]:
    """A reply's text and signature, cleaned; ReplyRefused names the field that is wrong."""
    text, name = _clean(text), _clean(name)
    if not text or len(text) > MAX_REPLY:
        raise ReplyRefused(f"text: câu trả lời cần từ 1 đến {MAX_REPLY} ký tự.")
    if not name or len(name) > MAX_NAME or "\n" in name:
        raise ReplyRefused(f"as: tên cán bộ cần từ 1 đến {MAX_NAME} ký tự, trên một dòng.")
    return text, name


def _blank(key: ConversationKey, code: int | None) -> Handoff:
    """A handoff not opened yet, for the window of a chat staff would open."""
    return Handoff(
        0, key.channel, key.user, "open", "question", code, "", "", "", "", "", "", "", True, opened_by="staff"
    )


def _clean(value: str) -> str:
    """Text as it may be sent: NFC, no control characters but line breaks, trimmed."""
    value = unicodedata.normalize("NFC", value)
    return "".join(ch for ch in value if ch == "\n" or unicodedata.category(ch)[0] != "C").strip()


def span(delta: dt.timedelta) -> str:
    """A duration as people say it: '1 ngày 5 giờ', '3 giờ', '20 phút'."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, hours = minutes // 1440, minutes % 1440 // 60
    if days:
        return f"{days} ngày {hours} giờ" if hours else f"{days} ngày"
    return f"{hours} giờ" if hours else f"{minutes % 60} phút"
