"""A conversation handed to staff: waiting for them, or held by them.

Held (a staff member has answered): the assistant stores and forwards and says nothing, but for the global
commands on the person's own data (see it, erase it, stop news). Waiting (nobody has answered yet): what is
typed goes to staff, and the person is told so each time with the way to call, never met with silence; the
assistant's own commands and buttons ("menu", "kiểm tra", a tapped choice) are still answered by it, so a
person handed over after two misunderstood messages is never stuck. After the configured idle time the chat
returns to the assistant, and the person is told.
"""

from __future__ import annotations

import datetime as dt

from bot.answers import yes_no
from bot.dialog.contact import split_contact
from bot.dialog.context import Context
from bot.dialog.handoff import callback_text
from bot.dialog.office import reach_of
from bot.dialog.staff_place import ask_or_hand_over
from bot.dialog.turn import Turn
from bot.dialog.words import Words
from bot.storage import Consent, Conversation
from bot.storage.handoffs import Handoff
from bot.text import fold, national_phone

OWN_DATA = ("delete", "my_data", "unsubscribe")  # the global commands answered whatever the mode
FAILS_TO_HAND_OVER = 2  # turns in a row the assistant could not answer
_CALLBACK = ("callback", "callback_phone")


class Held:
    """What the engine does with a message while staff hold the conversation."""

    def __init__(self, ctx: Context, words: Words) -> None:
        self.ctx, self.words = ctx, words
        self.texts = ctx.texts.handoff

    def active(self, conv: Conversation, now: dt.datetime, turn: Turn) -> Handoff | None:
        """The handoff holding the chat; one idle too long is closed here (the person told) and None returned."""
        handoff = self.ctx.repo.handoffs.active(conv.key)
        if handoff is None:
            if conv.pending.get("kind") in _CALLBACK:  # closed by staff or by the idle sweep meanwhile
                conv.pending = {}
            return None
        idle = dt.timedelta(minutes=self.ctx.config.handoff_idle_minutes)
        if dt.datetime.fromisoformat(handoff.last_activity) + idle < now:
            self.ctx.repo.handoffs.close(handoff, "idle", None)
            if conv.pending.get("kind") in _CALLBACK:
                conv.pending = {}
            turn.say(self.texts.idle)
            return None
        return handoff

    def take(self, conv: Conversation, handoff: Handoff, text: str, button: str | None, turn: Turn) -> bool:
        """Handle a message in the held chat; False when it is for the assistant (the person's own data)."""
        if self._own_data(conv, text, button):
            return False
        kind = conv.pending.get("kind")
        if kind == "callback" and self._consent(conv, handoff, text, button, turn):
            return True
        if kind == "callback_phone" and self._phone(conv, handoff, text, turn):
            return True
        if handoff.status == "waiting" and self._for_assistant(text, button):
            return False  # nobody from staff has answered yet: the assistant's own commands still work
        if kind in _CALLBACK:
            conv.pending = {}  # something else: for staff, like any message now
        waiting = handoff.status == "waiting"
        if waiting:  # every message is acknowledged until staff answer: silence reads as a broken bot
            turn.say(self._still_waiting(conv) if handoff.told else self.texts.passed_on)
        self.ctx.repo.handoffs.person_wrote(handoff.id, told=waiting)
        return True

    def _still_waiting(self, conv: Conversation) -> str:
        """Passed on again; the office's phone where known, and the way back to the assistant."""
        office = reach_of(self.ctx, conv).office
        phone = [self.ctx.texts.staff_phone.format(phone=office.phone)] if office.phone else []
        return "\n".join([self.texts.still_waiting, *phone])

    def _for_assistant(self, text: str, button: str | None) -> bool:
        """A tapped button or one of the assistant's commands or menu entries ('menu', 'kiểm tra', 'đăng ký')."""
        if button is not None:
            return True
        return bool(text) and (self.words.command_of(text) is not None or self.words.menu_item_of(text) is not None)

    def after(self, conv: Conversation, turn: Turn) -> None:
        """Count a turn the assistant could not answer; the second in a row hands the chat to staff."""
        texts = self.ctx.texts
        failed = turn.failed or any(texts.not_understood in r.text for r in turn.replies)
        conv.fails = conv.fails + 1 if failed else 0
        if conv.fails >= FAILS_TO_HAND_OVER and self.ctx.repo.handoffs.active(conv.key) is None:
            conv.fails = 0
            ask_or_hand_over(self.ctx, conv, turn, "failed")  # no commune known: which one, so its staff see it

    def _own_data(self, conv: Conversation, text: str, button: str | None) -> bool:
        if conv.pending.get("kind") == "delete":  # 'xóa dữ liệu' asked to confirm: the answer is for the assistant
            return True
        if button is not None:
            return button in ("cmd:delete", "cmd:my_data", "menu:my_data", "cmd:unsubscribe")
        return self.words.command_of(text) in OWN_DATA

    def _consent(self, conv: Conversation, handoff: Handoff, text: str, button: str | None, turn: Turn) -> bool:
        """At the call-back question: yes, no, or the number at once (which is a yes to the text shown)."""
        phone = split_contact(text).phone if text else None
        answer = {"yes:": True, "no:": False}.get(button or "")
        if answer is None and text:  # the label of a shown button, typed, is that button
            answer = {fold(self.texts.callback_yes): True, fold(self.texts.callback_no): False}.get(fold(text))
        if answer is None and phone is None:
            answer = yes_no(text) if text else None
        if answer is None and phone is None:
            return False
        given = bool(answer) or phone is not None
        shown = callback_text(self.ctx, conv)
        version = self.texts.callback_version
        consent_id = self.ctx.repo.add_consent(
            Consent(conv.key.channel, conv.key.user, "callback", version, shown, given)
        )
        if not given:
            conv.pending = {}
            turn.say(self.texts.callback_declined)
            return True
        self.ctx.repo.handoffs.callback(handoff.id, None, consent_id)
        if phone is None:
            conv.pending = {"kind": "callback_phone"}
            turn.say(self.texts.callback_phone)
            return True
        return self._phone(conv, handoff, text, turn)

    def _phone(self, conv: Conversation, handoff: Handoff, text: str, turn: Turn) -> bool:
        phone = split_contact(text).phone if text else None
        if phone is None:
            return False
        conv.pending = {}
        self.ctx.repo.handoffs.callback(handoff.id, phone, None)
        self.ctx.repo.handoffs.person_wrote(handoff.id)
        turn.say(self.texts.callback_saved.format(phone=national_phone(phone)))
        return True
