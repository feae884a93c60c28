"""Natural replies at a step: 'không biết nữa', 'không nhớ số', 'không có tên', a note typed for a name."""

from __future__ import annotations

from collections.abc import Callable

from bot.answers import later, skipped, yes_no
from bot.dialog.context import Context
from bot.dialog.interview import MAX_MISSES, Interview
from bot.dialog.turn import Turn
from bot.flows import Step
from bot.messages import Button
from bot.storage import Conversation
from bot.text import find_phone, fold

# Particles people add to a short answer ('không biết nữa ạ'); dropped before the answer is compared.
_PARTICLES = {"a", "nua", "nhe", "nha", "day", "luon", "ha", "ak", "ah", "oi", "roi", "lam", "that", "ca", "gi", "ne"}
_DONT_KNOW = {"khong biet", "khong ro", "chua ro", "chua biet", "ko biet", "k biet", "ko ro", "ko bit", "k bit"}
_DONT_KNOW |= {"khong bit", "hong biet", "chiu", "khong nho", "ko nho", "khong chac", "chua chac", "ko chac"}
_UNKNOWN_LABELS = {"khong ro", "chua ro", "khong biet", "chua biet"}
# Yes said another way ('chuẩn', '👍'), besides the reader's own yes words.
_YES_MORE = {"chuan", "chuan roi", "chinh no", "dung vay", "dung the", "vang dung", "u dung", "ok dung", "oki", "okie"}
_YES_MORE |= {"👍", "uk", "uhm", "vang a", "da vang", "da", "da dung roi", "dung roi a", "uh dung", "um dung"}
_NEGATIONS = {"khong", "ko", "k", "chua", "thoi", "khoan", "sai"}
_YES_WORDS = {"u", "uh", "um", "uhm", "uk", "ok", "oke", "oki", "vang", "da", "dung", "phai", "chuan", "roi", "y"}
# 'Không có tên', 'chưa có': the facility has no name of its own.
_NO_NAME = {"khong co ten", "ko co ten", "k co ten", "chua co ten", "khong ten", "khong co", "ko co", "k co"}
_NO_NAME |= {"chua co", "chua dat ten", "khong co ten rieng", "khong co ten co so"}
# Words of a message to staff ('nhờ cán bộ gọi lại buổi chiều'), never of a facility's name.
_NOTE_WORDS: tuple[str, ...] = ("can bo", "goi lai", "goi cho", "goi dien", "lien he", "buoi sang", "buoi chieu")
_NOTE_WORDS += ("buoi toi",)
_NOTE_WORDS += ("nhan tin", "nhan lai", "giup em", "giup toi", "giup minh", "sau gio", "ngay mai")
# 'Không nhớ số', 'để con gửi sau', 'không có số': no phone at hand.
_NO_PHONE = ("so", "sdt", "dien thoai", "gui sau", "de sau", "bao sau", "nho", "quen", "chua co", "khong co")


def bare(text: str) -> str:
    """Folded text without the particles around a short answer ('không biết nữa ạ' -> 'khong biet')."""
    words = [w for w in fold(text).strip(" .!?,~").replace(",", " ").split() if w not in _PARTICLES]
    return " ".join(words)


def confirms(text: str) -> bool:
    """A yes: 'đúng', 'ừ', 'ok', 'uh', 'phải', 'chuẩn', '👍' (with or without a particle)."""
    said = bare(text) or text.strip()
    return yes_no(text) is True or yes_no(said) is True or said in _YES_MORE or text.strip() in _YES_MORE


def yes_with(text: str, verbs: tuple[str, ...]) -> bool:
    """'uh xóa đi', 'ừ đồng ý', 'xóa đi': a yes said with the verb of the question; never with a 'không', 'đừng'."""
    words = bare(text).split()
    if not words:
        return confirms(text)  # '👍'
    # 'đừng' folds as 'đúng' does: typed without its marks it stops an erasure, elsewhere it is 'đúng'.
    careful = "xoa" in verbs
    if "đừng" in text.lower() or any(w in _NEGATIONS or (careful and w == "dung") for w in words):
        return False
    said = " ".join(words)
    return any(v in said for v in verbs) or confirms(text) or all(w in _YES_WORDS for w in words)


def denies(text: str) -> bool:
    """'không đúng', 'chưa đúng ạ', 'ko phải': a no said with the yes it denies."""
    words = bare(text).split()
    return len(words) >= 2 and words[0] in _NEGATIONS and all(w in _YES_WORDS for w in words[1:])


def dont_know(text: str) -> bool:
    """'không biết', 'chưa rõ', 'ko bit', 'không biết nữa ạ'."""
    return bare(text) in _DONT_KNOW


def unknown_choice(step: Step) -> str | None:
    """The value of the step's 'Không rõ' / 'Chưa rõ' button, if it has one."""
    if step.parser == "yes_no":
        return "unknown"
    return next((c.value for c in step.choices if fold(c.label) in _UNKNOWN_LABELS), None)


def no_phone(text: str) -> bool:
    """No number in the message, and it speaks of the phone or of later ('không nhớ số', 'để con gửi sau')."""
    said = f" {bare(text)} "
    if find_phone(text) is not None or (skipped(text) and not later(text)):  # a bare 'không': the reader's hint
        return False
    return later(text) or any(f" {w} " in said for w in _NO_PHONE)


def no_phone_said(text: str) -> bool:
    """'không có số', 'để sau', 'quên số rồi' where name and phone are asked together; never 'Nguyễn Văn Số'."""
    said = f" {bare(text)} "
    words = set(said.split())
    if " sau " in said:  # 'để sau', 'gửi sau': later; a bare 'thôi' is a skip word, asked again
        return no_phone(text)
    of_phone = bool(words & {"so", "sdt"}) or " dien thoai " in said
    return of_phone and no_phone(text) and bool(words & {"khong", "ko", "k", "chua", "quen"})


def no_name(text: str) -> bool:
    """'không có tên', 'chưa có': the facility has no name of its own."""
    return bare(text) in _NO_NAME


def is_note(text: str) -> bool:
    """A sentence written to staff ('nhờ cán bộ gọi lại buổi chiều'), not a name."""
    said = f" {fold(text)} "
    return len(said.split()) >= 3 and any(f" {w} " in said for w in _NOTE_WORDS)


class NaturalReplies:
    """What people answer in their own words at a step, taken as they mean it, never as an FAQ question."""

    def __init__(self, ctx: Context, interview: Interview, postpone: Callable[[Conversation, Turn], None]) -> None:
        self.ctx, self.texts, self.interview = ctx, ctx.texts.steps, interview
        self.postpone = postpone  # nothing stored yet; the answers wait for 'đăng ký'

    def take(self, conv: Conversation, step: Step, text: str, turn: Turn) -> bool:
        """Handle a natural reply at the step; False when the text is for the step's own reader."""
        value = unknown_choice(step)
        if value is not None and dont_know(text):
            self.interview.button_answer(conv, value, turn)  # the 'Không rõ' button, typed
            return True
        if step.parser == "phone" and no_phone(text):
            self._no_phone(conv, step, text, turn)
            return True
        if step.id == "name" and "phone" not in conv.slots and no_phone_said(text):  # name and phone asked at once
            self._no_phone(conv, step, text, turn)
            return True
        if step.id == "name" and conv.misses == 0 and confirms(text):
            self._again(conv, step, self.texts.name_again, turn)  # 'đồng ý' is not a name
            return True
        if step.id == "facility":
            return self._facility(conv, step, text, turn)
        return False

    def _facility(self, conv: Conversation, step: Step, text: str, turn: Turn) -> bool:
        """'không có tên' skips the facility name; a note typed there is kept as the note."""
        if no_name(text):  # said to have no name ('bỏ qua' alone is asked again: a name is wanted)
            self.interview.fill(conv, step, "", turn)
            return True
        if is_note(text):
            note = " ".join(text.split())[:500]
            conv.slots["note"] = note
            turn.say(self.texts.facility_note.format(note=note))
            self.interview.fill(conv, step, "", turn)
            return True
        return False

    def _no_phone(self, conv: Conversation, step: Step, text: str, turn: Turn) -> None:
        """'Gửi sau': kept for later; else why the phone is needed, with 'Để sau' and 'Gặp cán bộ' (counted)."""
        if " sau " in f" {bare(text)} " or later(text):
            self.postpone(conv, turn)
            return
        conv.misses += 1
        if conv.misses > MAX_MISSES:
            self.interview.give_up(conv, step, turn)
            return
        buttons = [Button(self.texts.later_button, "later:"), self.ctx.command_button("staff")]
        turn.say(self.texts.phone_why, buttons)

    def _again(self, conv: Conversation, step: Step, text: str, turn: Turn) -> None:
        conv.misses += 1
        if conv.misses > MAX_MISSES:
            self.interview.give_up(conv, step, turn)
        else:
            turn.say(text, self.ctx.step_buttons(step))
