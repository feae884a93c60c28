"""Pending yes/no questions (a guess to confirm, consent, the summary, erasure) and asking again where we were."""

from __future__ import annotations

from bot.answers import later, postponed, skipped, yes_no
from bot.dialog.context import Context
from bot.dialog.corrections import Corrections
from bot.dialog.interview import MAX_MISSES, Interview
from bot.dialog.news import News
from bot.dialog.person import PersonData
from bot.dialog.registration import Registration
from bot.dialog.steps import denies, yes_with
from bot.dialog.turn import Turn
from bot.storage import Conversation

# The verb of each pending question: said after a yes ('uh xóa đi'), or alone ('xóa đi'), it is a yes.
_VERBS = {"delete": ("xoa",), "consent": ("dong y",), "news": ("dong y",), "summary": ("xac nhan",)}


class Pending:
    """The question waiting for a yes or a no, and its outcome."""

    def __init__(
        self,
        ctx: Context,
        interview: Interview,
        registration: Registration,
        person: PersonData,
        corrections: Corrections,
    ) -> None:
        self.ctx, self.texts, self.interview = ctx, ctx.texts, interview
        self.registration, self.person, self.corrections = registration, person, corrections
        self.news = News(ctx)

    def reask(self, conv: Conversation, turn: Turn) -> None:
        """Ask again what the person was in the middle of; every re-ask counts towards the miss limit."""
        step = self.ctx.current(conv)
        kind = conv.pending.get("kind")
        if kind in ("summary", "consent", "delete", "guess", "understood", "news"):
            self._again(conv, turn)
        elif step is not None:
            self.interview.reask(conv, step, turn, self.texts.faq_then_back)

    def _again(self, conv: Conversation, turn: Turn) -> None:
        """A pending yes/no asked once more, or, past the miss limit, the menu and the staff instead."""
        step = self.ctx.current(conv)
        if conv.pending.get("kind") == "guess" and step is not None:  # a guess shares its step's count
            conv.misses += 1
            if conv.misses > MAX_MISSES:
                conv.pending = {}
                self.interview.give_up(conv, step, turn)
            else:
                turn.say(self._question(conv), self.ctx.pending_buttons(conv))
            return
        asked = int(conv.pending.get("asked") or 0) + 1
        if asked > MAX_MISSES:
            self.interview.pause(conv, turn)
            return
        kind = conv.pending.get("kind")
        if kind == "summary":
            self.registration.summary(conv, turn)
        elif kind == "understood":
            self.registration.understood(conv, turn)
        else:
            turn.say(self._question(conv), self.ctx.pending_buttons(conv))
        conv.pending["asked"] = asked

    def typed(self, conv: Conversation, text: str) -> bool | None:
        """A typed yes or no; at consent (and erasure) 'thôi', 'để sau', 'không cần' are a no."""
        answer = yes_no(text)
        kind = conv.pending.get("kind")
        if answer is None and kind in ("consent", "delete", "news") and (later(text) or skipped(text)):
            return False
        if answer is None and denies(text):  # 'không đúng', 'chưa đúng'
            return False
        if answer is None and yes_with(text, _VERBS.get(str(kind), ())):  # 'chuẩn', 'uh xóa đi', 'ừ đồng ý'
            return True
        return answer

    def at_summary(self, conv: Conversation, text: str, turn: Turn) -> bool:
        """'để sau' leaves the registration unsaved; 'không', 'không có gì' is nothing to add, the summary waits."""
        if postponed(text):
            self.registration.postpone(conv, turn)
        elif skipped(text) or yes_no(text) is False:
            asked = int(conv.pending.get("asked") or 0) + 1
            if asked > MAX_MISSES:  # the same summary is not offered without end
                self.interview.pause(conv, turn)
                return True
            self.registration.nothing_to_add(conv, turn)
            conv.pending["asked"] = asked
        else:
            return False
        return True

    def _question(self, conv: Conversation) -> str:
        kind = conv.pending.get("kind")
        return {
            "consent": self.registration.consent_text(conv),
            "summary": self.texts.summary,
            "delete": self.texts.delete_confirm,
            "news": self.news.consent_text(conv),
        }.get(kind or "", self.texts.confirm_guess.format(value=conv.pending.get("shown", "")))

    def decide(self, conv: Conversation, yes: bool, turn: Turn) -> None:
        """A yes or a no to the pending question."""
        kind = conv.pending.get("kind")
        if kind == "guess":
            self._guess_decided(conv, yes, turn)
        elif kind == "understood" and yes:
            self.registration.result(conv, turn)
        elif kind == "understood":
            self.corrections.edit(conv, turn)  # 'Sửa': which answer to change, then straight to the result
        elif kind == "consent":
            self.registration.consent_decided(conv, yes, turn)
        elif kind == "summary" and yes:
            self.registration.confirmed(conv, turn)
        elif kind == "summary":
            self.corrections.edit(conv, turn)  # 'sửa': which answer to change
        elif kind == "delete":
            self.person.delete_decided(conv, yes, turn)
        elif kind == "news":
            self.news.decided(conv, yes, turn)
        else:
            conv.pending = {}
            self.ctx.menu(turn)

    def _guess_decided(self, conv: Conversation, yes: bool, turn: Turn) -> None:
        step = self.ctx.current(conv)
        guess = conv.pending.get("value")
        conv.pending = {}
        if step is None:
            self.ctx.menu(turn)
        elif yes:
            self.interview.fill(conv, step, guess, turn)
        else:
            self.interview.reask(conv, step, turn, step.hint)  # 'no' to a guess: the step again, counted
