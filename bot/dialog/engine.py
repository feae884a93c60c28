"""The turn: one message in, the replies out; state lives in the repository, never here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from bot.dialog.context import Context, EngineConfig
from bot.dialog.held import Held
from bot.dialog.interview import Interview
from bot.dialog.registration import Registration
from bot.dialog.result import profile_of
from bot.dialog.router import Router
from bot.dialog.turn import Turn, Welcomed, holds_something
from bot.dialog.words import Words
from bot.eligibility import Assessor, Profile
from bot.faq import FaqIndex
from bot.flows import Dialogs, Flow
from bot.knowledge import Knowledge
from bot.messages import Incoming, Reply
from bot.render import split_text
from bot.storage import Conversation, Lead, Outbox, Repository

MAX_TEXT = 4000  # characters; a longer message is refused politely and changes nothing


class DialogEngine:
    """Interview flows, FAQ digressions, consent, registration and the person's own data."""

    def __init__(
        self,
        kb: Knowledge,
        dialogs: Dialogs,
        repo: Repository,
        assessor: Assessor,
        faq: FaqIndex,
        config: EngineConfig | None = None,
    ) -> None:
        self.kb, self.dialogs, self.repo, self.assessor, self.faq = kb, dialogs, repo, assessor, faq
        self.texts = dialogs.texts
        self.config = config or EngineConfig()
        self.on_lead: Callable[[Lead], None] | None = None  # told of each stored registration (staff notices)
        self.on_handoff: Callable[[dict[str, object]], None] | None = None  # told of a request for staff (its place)
        self.before_turn: Callable[[], None] | None = None  # e.g. re-merge commune profiles another process saved
        self.ctx = Context(kb, dialogs, repo, assessor, faq, self.config)
        self.reader = self.ctx.reader
        self.words = Words(dialogs, self.reader, faq)
        self.interview = Interview(self.ctx, self._finish)
        self.registration = Registration(self.ctx, self.interview)
        self.router = Router(self.ctx, self.words, self.interview, self.registration)
        self.welcomed = Welcomed()
        self.held = Held(self.ctx, self.words)

    def handle(self, msg: Incoming, now: dt.datetime | None = None) -> list[Reply]:
        """Handle one message; the conversation and any lead are stored before the replies go out."""
        if msg.message_id and self.repo.seen(msg.key, msg.message_id):
            return self.repo.replayed(msg.key, msg.message_id)  # a resend: handled once, its answer again
        now = now or dt.datetime.now(dt.UTC)
        if self.before_turn is not None:
            self.before_turn()
        known = self.repo.load(msg.key)
        conv = known or Conversation(msg.key)
        text = (msg.text or "").strip()
        if len(text) > MAX_TEXT:
            return self._too_long(msg, conv, stored=known is not None)
        turn = Turn()
        handoff = self.held.active(conv, now, turn) if known is not None else None
        opening = False
        if handoff is not None and self.held.take(conv, handoff, text, msg.button, turn):
            pass  # staff hold the chat: stored and forwarded, the assistant silent
        else:
            conv.greeted = conv.greeted or self.welcomed.recently(msg.key, now)
            first = not conv.greeted
            self._start(conv, now, turn)
            opening = first and not msg.button and self.words.is_opening(text)
            if opening:
                self.ctx.menu(turn)  # 'xin chào' or /start: the welcome is the answer
            else:
                self.router.dispatch(conv, text, msg.button, turn)
            self.held.after(conv, turn)
        if not any(r.erased for r in turn.replies):  # the erasing turn leaves nothing of what was said
            conv.said = [("person", "", text or self._label(msg.button)), *(("bot", "", r.text) for r in turn.replies)]
        conv.updated_at = now.isoformat(timespec="seconds")
        # A newcomer who only greeted or asked for the menu leaves nothing to keep: a flood of new ids stores
        # nothing. Anything else is kept, so what the person said counts and the welcome is not said again.
        # A webhook turn is always kept: its replies wait in the outbox, stored with it (platform ids are signed).
        keep = known is not None or not opening or holds_something(conv) or msg.reply_to is not None
        outbox = self._outbox(msg, lambda stored: self._final(stored, turn)) if keep else None
        stored = self.repo.save_turn(conv, msg.message_id, turn.lead, outbox) if keep else None
        self.welcomed.remember(msg.key, now, welcomed=not keep)
        if stored is not None and self.on_lead is not None:
            self.on_lead(stored)
        if turn.handed_over is not None and self.on_handoff is not None:
            self.on_handoff(turn.handed_over)
        return outbox.replies if outbox is not None else self._final(stored, turn)

    def _label(self, payload: str | None) -> str:
        """A button as staff read it in the transcript: its label where the menu knows it."""
        if not payload:
            return ""
        known = [*self.ctx.menu_buttons(), *self.ctx.yes_no_buttons(), *self.ctx.edit_or_menu()]
        known += [self.ctx.command_button(c.id) for c in self.dialogs.menu.commands]
        label = next((b.label for b in known if b.payload == payload), None)
        return f"[{label or self.texts.handoff.button}]"

    def _too_long(self, msg: Incoming, conv: Conversation, stored: bool) -> list[Reply]:
        """A polite refusal that changes nothing; the message id is still marked processed where we store."""
        turn = Turn()
        turn.say(self.texts.too_long)
        if stored or msg.reply_to is not None:
            outbox = self._outbox(msg, lambda _: turn.replies)
            self.repo.save_turn(conv, msg.message_id, outbox=outbox)  # the id is marked processed; state same
        return turn.replies

    def profile(self, conv: Conversation) -> Profile:
        """The eligibility profile built from the answers so far."""
        return profile_of(conv)

    @staticmethod
    def _outbox(msg: Incoming, compose: Callable[[Lead | None], list[Reply]]) -> Outbox | None:
        """A webhook channel's replies are stored with the turn and delivered after it (at least once).

        A message answered at once that carries an id (the web page's) keeps its replies with that id.
        """
        return Outbox(msg.reply_to, compose) if msg.reply_to is not None or msg.message_id else None

    def _final(self, stored: Lead | None, turn: Turn) -> list[Reply]:
        """The turn's replies as sent: the reference code once the lead is stored; long replies split."""
        if stored is not None:  # the reference code exists only once stored
            self.registration.confirm(stored, turn)
        out = []
        for reply in turn.replies:  # long replies are split; the buttons go with the last part
            parts = split_text(reply.text)
            last = len(parts) - 1
            out += [Reply(part, reply.buttons if i == last else (), reply.erased) for i, part in enumerate(parts)]
        return out

    def _start(self, conv: Conversation, now: dt.datetime, turn: Turn) -> None:
        """Greet a newcomer; start over politely after a long silence or a changed flow."""
        if not conv.greeted:
            conv.greeted = True
            turn.say(self.texts.welcome)
            return
        if conv.updated_at and (conv.flow or conv.pending):
            last = dt.datetime.fromisoformat(conv.updated_at)
            if (now - last).total_seconds() > self.config.idle_hours * 3600:
                self.interview.reset(conv)
                turn.say(self.texts.idle_restart)
                return
        flow = self.dialogs.flows.get(conv.flow or "")
        changed = flow is None or flow.version != conv.flow_version or (conv.step and flow.step(conv.step) is None)
        if conv.flow and changed:
            self.interview.reset(conv)
            turn.say(self.texts.flow_changed)

    def _finish(self, conv: Conversation, flow: Flow, turn: Turn) -> None:
        """A complete flow goes to registration (bound late: the interview is built before it)."""
        self.registration.finish(conv, flow, turn)
