"""The dialog engine: one message in, the replies out; state lives in the repository, never here."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.answers import AnswerReader, Parsed, yes_no
from bot.eligibility import Assessment, Assessor, Profile
from bot.faq import FaqIndex
from bot.flows import Dialogs, Flow, Step
from bot.knowledge import Knowledge, Locality, Office
from bot.messages import Button, ConversationKey, Incoming, Reply
from bot.render import assessment_messages, cited, split_text
from bot.storage import Consent, Conversation, Lead, Outbox, Repository
from bot.text import ascii_int, fold, national_phone

MAX_TEXT = 4000  # characters; a longer message is refused politely and changes nothing
MAX_MISSES = 3
WELCOMED_KEPT, WELCOMED_FOR = 10_000, 3600.0  # newcomers welcomed but not stored: how many, for how many seconds


@dataclass(frozen=True)
class EngineConfig:
    """Deployment choices the engine needs (from Settings)."""

    idle_hours: float = 336.0
    retention_months: int = 24
    default_locality: str | None = None  # the deploying commune's locality id, for contacts before a place is known


@dataclass
class _Turn:
    """What one turn produces: replies, and a lead to store with the conversation."""

    replies: list[Reply] = field(default_factory=list)
    lead: Lead | None = None
    registered_office: str = ""

    def say(self, text: str, buttons: list[Button] | tuple[Button, ...] = (), erased: bool = False) -> None:
        self.replies.append(Reply(text, tuple(buttons), erased))


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
        self.reader = AnswerReader(
            assessor.gazetteer, assessor.classifier, assessor.abbreviations, assessor.names_support
        )
        menu = dialogs.menu
        self._commands = {fold(s): c.id for c in menu.commands for s in [*c.synonyms, c.label, *c.slash]} | {
            c.lstrip("/"): cmd.id for cmd in menu.commands for c in cmd.slash
        }
        self._menu_items = {self.reader.normal(s): i.action for i in menu.items for s in [i.label, *i.synonyms]}
        # Longest first, so 'cho tôi hỏi' goes before 'cho tôi'.
        self._before = sorted({fold(w) + " " for w in menu.courtesy_before}, key=len, reverse=True)
        self._after = sorted({" " + fold(w) for w in menu.courtesy_after}, key=len, reverse=True)
        # Not conversation state: only spares a newcomer whose greeting was not stored a second welcome.
        self._welcomed: OrderedDict[ConversationKey, dt.datetime] = OrderedDict()

    # --- the entry point -----------------------------------------------------------------

    def handle(self, msg: Incoming, now: dt.datetime | None = None) -> list[Reply]:
        """Handle one message; the conversation and any lead are stored before the replies go out."""
        if msg.message_id and self.repo.seen(msg.key, msg.message_id):
            return []  # a redelivery: it was handled once already
        now = now or dt.datetime.now(dt.UTC)
        known = self.repo.load(msg.key)
        conv = known or Conversation(msg.key)
        turn = _Turn()
        text = (msg.text or "").strip()
        if len(text) > MAX_TEXT:
            turn.say(self.texts.too_long)
            if known is not None or msg.reply_to is not None:
                outbox = self._outbox(msg, lambda _: turn.replies)
                self.repo.save_turn(conv, msg.message_id, outbox=outbox)  # the id is marked processed; state same
            return turn.replies
        conv.greeted = conv.greeted or self._recently_welcomed(msg.key, now)
        first = not conv.greeted
        self._start(conv, now, turn)
        opening = first and not msg.button and self._is_opening(text)
        if opening:
            self._menu(turn)  # 'xin chào' or /start: the welcome is the answer
        else:
            self._dispatch(conv, text, msg.button, turn)
        conv.updated_at = now.isoformat(timespec="seconds")
        # A newcomer who only greeted or asked for the menu leaves nothing to keep: a flood of new ids stores
        # nothing. Anything else is kept, so what the person said counts and the welcome is not said again.
        # A webhook turn is always kept: its replies wait in the outbox, stored with it (platform ids are signed).
        keep = known is not None or not opening or _holds_something(conv) or msg.reply_to is not None
        outbox = self._outbox(msg, lambda stored: self._final(stored, turn))
        stored = self.repo.save_turn(conv, msg.message_id, turn.lead, outbox) if keep else None
        self._remember_welcome(msg.key, now, welcomed=not keep)
        if stored is not None and self.on_lead is not None:
            self.on_lead(stored)
        return outbox.replies if outbox is not None else self._final(stored, turn)

    @staticmethod
    def _outbox(msg: Incoming, compose: Callable[[Lead | None], list[Reply]]) -> Outbox | None:
        """A webhook channel's replies are stored with the turn and delivered after it (at least once)."""
        return Outbox(msg.reply_to, compose) if msg.reply_to is not None else None

    def _final(self, stored: Lead | None, turn: _Turn) -> list[Reply]:
        """The turn's replies as sent: the reference code once the lead is stored; long replies split."""
        if stored is not None:  # the reference code exists only once stored
            self._confirm_registration(stored, turn)
        out = []
        for reply in turn.replies:  # long replies are split; the buttons go with the last part
            parts = split_text(reply.text)
            last = len(parts) - 1
            out += [Reply(part, reply.buttons if i == last else (), reply.erased) for i, part in enumerate(parts)]
        return out

    def _recently_welcomed(self, key: ConversationKey, now: dt.datetime) -> bool:
        at = self._welcomed.get(key)
        return at is not None and (now - at).total_seconds() <= WELCOMED_FOR

    def _remember_welcome(self, key: ConversationKey, now: dt.datetime, welcomed: bool) -> None:
        """Keep (bounded) who was welcomed without a stored conversation; forget them once stored."""
        self._welcomed.pop(key, None)
        if welcomed:
            self._welcomed[key] = now
            while len(self._welcomed) > WELCOMED_KEPT:  # a flood of new ids pushes out the oldest
                self._welcomed.popitem(last=False)

    def _is_opening(self, text: str) -> bool:
        topic = self.faq.topic(text) if text else None
        return not text or self._command_of(text) in ("menu", "help") or (topic is not None and topic[0] == "chao_hoi")

    def _start(self, conv: Conversation, now: dt.datetime, turn: _Turn) -> None:
        """Greet a newcomer; start over politely after a long silence or a changed flow."""
        if not conv.greeted:
            conv.greeted = True
            turn.say(self.texts.welcome)
            return
        if conv.updated_at and (conv.flow or conv.pending):
            last = dt.datetime.fromisoformat(conv.updated_at)
            if (now - last).total_seconds() > self.config.idle_hours * 3600:
                self._reset(conv)
                turn.say(self.texts.idle_restart)
                return
        flow = self.dialogs.flows.get(conv.flow or "")
        changed = flow is None or flow.version != conv.flow_version or (conv.step and flow.step(conv.step) is None)
        if conv.flow and changed:
            self._reset(conv)
            turn.say(self.texts.flow_changed)

    # --- dispatch ----------------------------------------------------------------------

    def _dispatch(self, conv: Conversation, text: str, button: str | None, turn: _Turn) -> None:
        if button:
            self._button(conv, button, turn)
            return
        if not text:  # a sticker, a photo, or the console reopened: carry on where the person was
            said = len(turn.replies)
            self._reask(conv, turn)
            if len(turn.replies) == said:
                self._menu(turn)
            return
        command = self._command_of(text)
        if command:
            self._command(conv, command, turn)
        elif conv.pending:
            self._pending_text(conv, text, turn)
        elif conv.flow and conv.step:
            self._answer(conv, text, turn)
        else:
            self._free_text(conv, text, turn)

    def _command_of(self, text: str) -> str | None:
        if text.startswith("/"):
            return self._commands.get(text[1:].split()[0].split("@")[0].lower() if text[1:].split() else "")
        said = fold(text)
        return self._commands.get(said) or self._commands.get(self._bare_request(said))

    def _bare_request(self, said: str) -> str:
        """A folded request without the courtesy around it ('cho tôi hỏi', 'tôi muốn', 'ạ', 'với')."""
        trimmed = True
        while trimmed:
            trimmed = False
            for word in self._before:
                if said.startswith(word):
                    said, trimmed = said[len(word) :], True
            for word in self._after:
                if said.endswith(word):
                    said, trimmed = said[: -len(word)], True
        return said

    def _button(self, conv: Conversation, payload: str, turn: _Turn) -> None:
        kind, _, value = payload.partition(":")
        handlers: dict[str, Callable[[], object]] = {
            "cmd": lambda: self._command(conv, value, turn),
            "menu": lambda: self._menu_action(conv, value, turn),
            "ans": lambda: self._button_answer(conv, value, turn),
            "place": lambda: self._place_chosen(conv, value, turn),
            "edit": lambda: self._edit_step(conv, value, turn),
            "faq": lambda: self._faq_entry(conv, value, turn),
            "sector": lambda: self._sector_chosen(conv, value, turn),
        }
        if kind in handlers:
            handlers[kind]()
        elif conv.pending and kind in ("yes", "no"):
            self._pending_text(
                conv, self.texts.yes_label if kind == "yes" else self.texts.no_label, turn, decided=kind == "yes"
            )
        else:
            self._menu(turn, self.texts.not_understood)

    # --- commands and the menu ---------------------------------------------------------------

    def _command(self, conv: Conversation, command: str, turn: _Turn) -> None:
        actions: dict[str, Callable[[], object]] = {
            "menu": lambda: self._to_menu(conv, turn),
            "back": lambda: self._back(conv, turn),
            "edit": lambda: self._edit(conv, turn),
            "restart": lambda: self._restart(conv, turn),
            "help": lambda: self._help(conv, turn),
            "staff": lambda: self._staff(conv, turn),
            "delete": lambda: self._ask_delete(conv, turn),
            "my_data": lambda: self._my_data(conv, turn),
        }
        actions.get(command, lambda: self._menu(turn))()

    def _help(self, conv: Conversation, turn: _Turn) -> None:
        step = self._current(conv)
        turn.say(self.texts.help, () if step else self._menu_buttons())
        self._reask(conv, turn)

    def _reask(self, conv: Conversation, turn: _Turn) -> None:
        """Ask again what the person was in the middle of: a step, or a pending yes/no."""
        step = self._current(conv)
        if conv.pending.get("kind") == "summary":
            self._summary(conv, turn)
        elif conv.pending.get("kind") in ("consent", "delete", "guess"):
            turn.say(self._pending_question(conv), self._pending_buttons(conv))
        elif step is not None:
            self._ask(step, turn, self.texts.faq_then_back)

    def _to_menu(self, conv: Conversation, turn: _Turn) -> None:
        self._reset(conv)
        self._menu(turn)

    def _menu(self, turn: _Turn, text: str | None = None) -> None:
        turn.say(text or self.texts.menu_prompt, self._menu_buttons())

    def _menu_buttons(self) -> list[Button]:
        return [Button(item.label, f"menu:{item.action}") for item in self.dialogs.menu.items]

    def _menu_action(self, conv: Conversation, action: str, turn: _Turn) -> None:
        midway = conv.flow == "eligibility" and conv.step is not None
        if action == "eligibility" and midway:
            self._reask(conv, turn)  # already checking: carry on where we were
        elif action == "eligibility":
            conv.pending = {}
            self._begin(conv, "eligibility", turn, keep=False)
        elif action == "register" and midway:
            conv.slots["after"] = "registration"  # keep the answers given; register once the result is out
            turn.say(self.texts.need_interview_first)
            self._reask(conv, turn)
        elif action == "register":
            conv.pending = {}
            self._register(conv, turn)
        elif action in ("support", "documents"):
            (self._support_overview if action == "support" else self._documents_overview)(conv, turn)
            self._reask(conv, turn)
        elif action == "ask":
            conv.pending = {"kind": "ask"}
            turn.say(self.texts.ask_prompt)
        elif action == "staff":
            self._staff(conv, turn)
        elif action == "my_data":
            self._my_data(conv, turn)
            self._reask(conv, turn)
        else:
            self._menu(turn, self.texts.not_understood)

    def _menu_item_of(self, text: str) -> str | None:
        # Courtesy goes before abbreviations are expanded: 'ạ' folds to 'a', which would read as 'anh'.
        said = fold(text)
        return self._menu_items.get(self.reader.normal(said)) or self._menu_items.get(
            self.reader.normal(self._bare_request(said))
        )

    # --- flows ------------------------------------------------------------------------------

    def _begin(self, conv: Conversation, flow_id: str, turn: _Turn, keep: bool = True) -> None:
        """Start a flow at its first step that applies; keep=False forgets earlier answers of that flow."""
        flow = self.dialogs.flows[flow_id]
        if not keep:
            for step in flow.steps:
                conv.slots.pop(step.slot, None)
            conv.slots.pop("assessment", None)
        conv.flow, conv.flow_version, conv.history, conv.misses, conv.pending = flow_id, flow.version, [], 0, {}
        conv.step = None
        self._advance(conv, turn)

    def _advance(self, conv: Conversation, turn: _Turn) -> None:
        """Ask the next unanswered step that applies, or finish the flow."""
        flow = self.dialogs.flows[conv.flow or ""]
        for step in flow.steps:
            if step.slot not in conv.slots and self._applies(step, conv):
                conv.step, conv.misses = step.id, 0
                self._ask(step, turn)
                return
        conv.step = None
        self._finish(conv, flow, turn)

    def _applies(self, step: Step, conv: Conversation) -> bool:
        place = conv.slots.get("place") or {}
        conditions = {
            None: True,
            "enterprise": conv.slots.get("legal_form") == "enterprise",
            "city_ward": place.get("type") == "phuong" and bool(place.get("centrally_run")),
            "consent_given": bool(conv.slots.get("consent_id")),
        }
        return conditions[step.when]

    def _ask(self, step: Step, turn: _Turn, prefix: str = "") -> None:
        turn.say((prefix + "\n" if prefix else "") + step.prompt, self._step_buttons(step))

    def _step_buttons(self, step: Step) -> list[Button]:
        buttons = [Button(c.label, f"ans:{c.value}") for c in step.choices]
        if step.parser == "yes_no":
            buttons = [Button("Có", "ans:yes"), Button("Không", "ans:no"), Button(self.texts.dont_know, "ans:unknown")]
        if step.optional and step.parser == "text":
            buttons.append(Button(self.texts.skip, "ans:skip"))
        return buttons

    def _current(self, conv: Conversation) -> Step | None:
        flow = self.dialogs.flows.get(conv.flow or "")
        return flow.step(conv.step) if flow else None

    def _answer(self, conv: Conversation, text: str, turn: _Turn) -> None:
        step = self._current(conv)
        if step is None:
            self._free_text(conv, text, turn)
            return
        if self._small_talk(conv, text, turn) or self._menu_word(conv, text, turn):
            return
        # A real question is answered first, even where its words could pass for an answer.
        if self._looks_like_question(text) and self._digress(conv, step, text, turn):
            return
        self._take(conv, step, self.reader.read(step, text), text, turn)

    def _small_talk(self, conv: Conversation, text: str, turn: _Turn) -> bool:
        """'cảm ơn', 'xin chào' mid-interview: a friendly word, then the pending question, nothing stored."""
        topic = self.faq.topic(text)
        if topic is None or topic[0] not in ("chao_hoi", "cam_on"):
            return False
        turn.say(topic[1])
        self._reask(conv, turn)
        return True

    def _menu_word(self, conv: Conversation, text: str, turn: _Turn) -> bool:
        """A menu entry typed mid-interview ('đăng ký', 'giấy tờ') is that entry, not an answer."""
        action = None if self.reader.normal(text).isdigit() else self._menu_item_of(text)
        if action is None:
            return False
        self._menu_action(conv, action, turn)
        return True

    def _take(self, conv: Conversation, step: Step, parsed: Parsed, text: str, turn: _Turn) -> None:
        if parsed.ok:
            self._fill(conv, step, parsed.value, turn)
        elif parsed.guess is not None:
            conv.pending = {"kind": "guess", "value": parsed.guess}
            turn.say(self.texts.confirm_guess.format(value=parsed.shown), self._yes_no_buttons())
        elif parsed.options:
            conv.pending = {"kind": "choose_place", "codes": [int(p.split(":")[1]) for _, p in parsed.options]}
            turn.say(self.texts.which_place, [Button(label, payload) for label, payload in parsed.options])
        elif parsed.hint == "province_only":
            conv.slots["province_hint"] = parsed.value["province"]
            turn.say(self.texts.province_only.format(province=parsed.value["province"]))
        elif not (self._looks_like_question(text) and self._digress(conv, step, text, turn)):
            self._miss(conv, step, parsed.hint, turn)

    def _fill(self, conv: Conversation, step: Step, value: Any, turn: _Turn) -> None:
        conv.slots[step.slot] = value
        conv.pending, conv.misses = {}, 0
        if step.id not in conv.history:
            conv.history.append(step.id)
        returning = conv.slots.pop("return_to", None)
        if returning:
            self._advance_or_return(conv, returning, turn)
        else:
            self._advance(conv, turn)

    def _advance_or_return(self, conv: Conversation, target: str, turn: _Turn) -> None:
        """After an edit: ask what the change made necessary, then show the result or summary again."""
        flow = self.dialogs.flows[conv.flow or ""]
        missing = [s for s in flow.steps if s.slot not in conv.slots and self._applies(s, conv)]
        if missing:
            conv.slots["return_to"] = target
            conv.step = missing[0].id
            self._ask(missing[0], turn)
        else:
            conv.step = None
            self._finish(conv, flow, turn)

    def _miss(self, conv: Conversation, step: Step, hint: str | None, turn: _Turn) -> None:
        conv.misses += 1
        text = getattr(self.texts, hint) if hint else step.hint
        if conv.misses >= MAX_MISSES:
            buttons = [*self._step_buttons(step), Button(self.dialogs.command("staff").label, "cmd:staff")]
            if step.parser == "activity":
                buttons = self._sector_buttons() + buttons
            turn.say(self.texts.offer_staff + "\n" + step.prompt, buttons)
        elif step.parser == "activity" and conv.misses == 2:
            turn.say(self.texts.activity_unknown_sector, self._sector_buttons())
        else:
            turn.say(text + "\n" + step.prompt, self._step_buttons(step))

    def _sector_buttons(self) -> list[Button]:
        return [Button(s.name, f"sector:{s.code}") for s in self.kb.sectors.sectors]

    def _sector_chosen(self, conv: Conversation, code: str, turn: _Turn) -> None:
        step = self._current(conv)
        if step is None or step.parser != "activity" or code not in {s.code for s in self.kb.sectors.sectors}:
            self._menu(turn, self.texts.not_understood)
            return
        conv.slots["sector"] = code
        self._fill(conv, step, self.kb.sector(code).name, turn)

    def _button_answer(self, conv: Conversation, value: str, turn: _Turn) -> None:
        step = self._current(conv)
        if step is None:
            self._menu(turn, self.texts.not_understood)
            return
        if step.parser == "yes_no":
            self._fill(conv, step, {"yes": True, "no": False}.get(value), turn)
        elif step.parser == "money" and ascii_int(value) is not None:
            self._fill(conv, step, ascii_int(value), turn)
        elif step.parser == "needs":
            self._fill(conv, step, [] if value == "none" else [value], turn)
        elif value == "skip" and step.optional:
            self._fill(conv, step, "", turn)
        elif any(c.value == value for c in step.choices):
            self._fill(conv, step, value, turn)
        else:
            self._ask(step, turn, self.texts.not_understood)

    def _place_chosen(self, conv: Conversation, code: str, turn: _Turn) -> None:
        from bot.answers import place_slot

        step = self._current(conv)
        number = ascii_int(code, 9)
        place = self.assessor.gazetteer.place_by_code(number) if number is not None else None
        if step is None or step.parser != "place" or place is None:
            self._menu(turn, self.texts.not_understood)
            return
        self._fill(conv, step, place_slot(place), turn)

    # --- pending decisions ----------------------------------------------------------------------

    def _pending_text(self, conv: Conversation, text: str, turn: _Turn, decided: bool | None = None) -> None:
        kind = conv.pending.get("kind")
        answer = decided if decided is not None else yes_no(text)
        if kind == "ask":
            conv.pending = {}
            self._free_text(conv, text, turn)
        elif kind == "choose_place":
            self._place_among(conv, text, turn)
        elif answer is None:
            self._unclear_pending(conv, text, turn)
        elif kind == "guess":
            self._guess_decided(conv, answer, turn)
        elif kind == "consent":
            self._consent_decided(conv, answer, turn)
        elif kind == "summary":
            self._summary_decided(conv, answer, turn)
        elif kind == "delete":
            self._delete_decided(conv, answer, turn)
        else:
            conv.pending = {}
            self._menu(turn)

    def _place_among(self, conv: Conversation, text: str, turn: _Turn) -> None:
        """After 'which Bình Giang?': a province name picks among the candidates; anything else is a new answer."""
        codes = conv.pending.get("codes") or []
        conv.pending = {}
        province = self.assessor.gazetteer.province(text)
        places = [p for p in (self.assessor.gazetteer.place_by_code(c) for c in codes) if p is not None]
        chosen = [p for p in places if province is not None and p.province == province]
        if len(chosen) == 1:
            self._place_chosen(conv, str(chosen[0].code), turn)
        else:
            self._answer(conv, text, turn)

    def _unclear_pending(self, conv: Conversation, text: str, turn: _Turn) -> None:
        """Neither yes nor no: a new answer to the step, a question, or we ask again."""
        kind = conv.pending.get("kind")
        step = self._current(conv)
        if kind == "guess" and step is not None:
            conv.pending = {}
            self._answer(conv, text, turn)
            return
        matched = self.faq.ask(text)
        if matched.matched or matched.out_of_scope:
            turn.say(cited(matched.answer, matched.citation, matched.status))
        else:
            turn.say(self.texts.not_understood)
        self._reask(conv, turn)

    def _pending_question(self, conv: Conversation) -> str:
        kind = conv.pending.get("kind")
        return {
            "consent": self._consent_text(conv),
            "summary": self.texts.summary,
            "delete": self.texts.delete_confirm,
        }.get(kind or "", self.texts.confirm_guess.format(value=conv.pending.get("shown", "")))

    def _pending_buttons(self, conv: Conversation) -> list[Button]:
        kind = conv.pending.get("kind")
        if kind == "consent":
            return [Button("Đồng ý", "yes:"), Button("Không đồng ý", "no:")]
        if kind == "summary":
            return [Button(self.texts.summary_confirm, "yes:"), Button(self.texts.summary_edit, "no:")]
        return self._yes_no_buttons()

    def _yes_no_buttons(self) -> list[Button]:
        return [Button(self.texts.yes_label, "yes:"), Button(self.texts.no_label, "no:")]

    def _guess_decided(self, conv: Conversation, yes: bool, turn: _Turn) -> None:
        step = self._current(conv)
        guess = conv.pending.get("value")
        conv.pending = {}
        if step is None:
            self._menu(turn)
        elif yes:
            self._fill(conv, step, guess, turn)
        else:
            self._ask(step, turn, step.hint)

    # --- digressions and free text ------------------------------------------------------------------

    @staticmethod
    def _looks_like_question(text: str) -> bool:
        """A question mark, or three words or more with a question word ('hkd có được không', 'bao nhiêu')."""
        said = f" {fold(text)} "
        if text.rstrip().endswith("?"):
            return True
        if len(said.split()) < 3:
            return False
        markers = (
            " khong ",
            " ko ",
            " k ",
            " gi ",
            " j ",
            " bao nhieu ",
            " the nao ",
            " sao ",
            " o dau ",
            " khi nao ",
            " nhu nao ",
            " ntn ",
            " bn ",
            " co duoc ",
            " duoc khong ",
            " la ai ",
        )
        return any(m in said for m in markers)

    def _digress(self, conv: Conversation, step: Step, text: str, turn: _Turn) -> bool:
        """A question asked mid-interview: answer it, then ask the pending question again."""
        answer = self.faq.ask(text)
        if not (answer.matched or answer.out_of_scope):
            return False
        turn.say(cited(answer.answer, answer.citation, answer.status))
        self._ask(step, turn, self.texts.faq_then_back)
        return True

    def _free_text(self, conv: Conversation, text: str, turn: _Turn) -> None:
        action = self._menu_item_of(text)
        if action:
            self._menu_action(conv, action, turn)
            return
        answer = self.faq.ask(text)
        if answer.matched:
            buttons = [Button(a.question[:60], f"faq:{a.faq_id}") for a in answer.alternatives]
            turn.say(cited(answer.answer, answer.citation, answer.status), buttons + self._menu_buttons()[:2])
        elif answer.out_of_scope:
            turn.say(answer.answer, self._menu_buttons())
        else:
            # Staff of the person's commune see what we could not answer; kept with the asker, for erasure.
            commune = (conv.slots.get("place") or {}).get("code")
            self.repo.record_miss(fold(text), text.strip(), conv.key, commune)
            if answer.alternatives:
                buttons = [Button(a.question[:60], f"faq:{a.faq_id}") for a in answer.alternatives]
                turn.say(answer.answer, buttons)
            else:
                self._menu(turn, self.texts.not_understood)

    def _faq_entry(self, conv: Conversation, faq_id: str, turn: _Turn) -> None:
        entry = self.faq.entries.get(faq_id)
        if entry is None:
            self._menu(turn, self.texts.not_understood)
            return
        turn.say(cited(entry.answer, entry.citation, entry.status))
        step = self._current(conv)
        if step is not None:
            self._ask(step, turn, self.texts.faq_then_back)

    # --- back, edit, restart ---------------------------------------------------------------------

    def _back(self, conv: Conversation, turn: _Turn) -> None:
        conv.pending = {}
        flow = self.dialogs.flows.get(conv.flow or "")
        if flow is None:
            self._menu(turn)
            return
        current = self._current(conv)
        if current is not None and current.id in conv.history:
            conv.history.remove(current.id)
        if not conv.history:
            turn.say(self.texts.back_nothing)
            if current is not None:
                self._ask(current, turn)
            else:
                self._menu(turn)
            return
        previous = flow.step(conv.history.pop())
        if previous is None:
            self._menu(turn)
            return
        conv.slots.pop(previous.slot, None)
        conv.step = previous.id
        self._ask(previous, turn)

    def _edit(self, conv: Conversation, turn: _Turn) -> None:
        conv.pending = {}
        flow_id = conv.flow or ("registration" if conv.slots.get("consent_id") else "eligibility")
        flow = self.dialogs.flows[flow_id]
        answered = [s for s in flow.steps if s.slot in conv.slots]
        if not answered:
            turn.say(self.texts.edit_nothing, self._menu_buttons())
            return
        turn.say(self.texts.edit_prompt, [Button(s.label, f"edit:{flow_id}.{s.id}") for s in answered])

    def _edit_step(self, conv: Conversation, target: str, turn: _Turn) -> None:
        flow_id, _, step_id = target.partition(".")
        flow = self.dialogs.flows.get(flow_id)
        step = flow.step(step_id) if flow else None
        if flow is None or step is None:
            self._menu(turn, self.texts.not_understood)
            return
        if flow_id == "registration" and not conv.slots.get("consent_id"):
            self._register(conv, turn)  # contact details are asked only once consent is given
            return
        conv.flow, conv.flow_version, conv.step, conv.pending = flow_id, flow.version, step.id, {}
        conv.slots.pop(step.slot, None)
        if step.slot == "legal_form":  # the size questions depend on it
            conv.slots.pop("workers", None)
            conv.slots.pop("revenue_vnd", None)
        if step.slot == "place":
            conv.slots.pop("craft_village", None)
        conv.slots["return_to"] = "summary" if flow_id == "registration" else "result"
        self._ask(step, turn)

    def _restart(self, conv: Conversation, turn: _Turn) -> None:
        flow_id = conv.flow
        turn.say(self.texts.restarted)
        if flow_id in self.dialogs.flows:
            self._begin(conv, flow_id or "", turn, keep=False)
        else:
            self._reset(conv)
            self._menu(turn)

    def _reset(self, conv: Conversation) -> None:
        conv.flow = conv.step = None
        conv.history, conv.misses, conv.pending = [], 0, {}
        conv.slots.pop("return_to", None)

    # --- finishing flows: result and registration ---------------------------------------------------

    def _finish(self, conv: Conversation, flow: Flow, turn: _Turn) -> None:
        conv.slots.pop("return_to", None)
        if flow.id == "eligibility":
            self._result(conv, turn)
        elif not conv.slots.get("consent_id"):  # e.g. 'làm lại' while the consent question waits
            self._register(conv, turn)
        else:
            self._summary(conv, turn)

    def profile(self, conv: Conversation) -> Profile:
        """The eligibility profile built from the answers so far."""
        slots = conv.slots
        place = slots.get("place") or {}
        return Profile(
            legal_form=slots.get("legal_form", "household_business"),
            activity=str(slots.get("activity") or "-")[:500],
            sector=slots.get("sector"),
            workers=slots.get("workers"),
            revenue_vnd=slots.get("revenue_vnd"),
            province=place.get("province") or slots.get("province_hint"),
            commune=place.get("commune"),
            craft_village=slots.get("craft_village"),
            needs=[n for n in slots.get("needs") or [] if n][:20],
        )

    def _result(self, conv: Conversation, turn: _Turn) -> None:
        assessment = self.assessor.assess(self.profile(conv))
        conv.slots["assessment"] = _summary_of(assessment)
        conv.flow = conv.step = None
        office = self._office(conv)
        messages = assessment_messages(assessment, self.texts, office)
        buttons = [Button(self.dialogs.command("edit").label, "cmd:edit"), Button("Menu", "cmd:menu")]
        if assessment.eligible is not False:
            buttons.insert(0, Button(self.texts.result_buttons_register, "menu:register"))
        for i, text in enumerate(messages):
            turn.say(text, buttons if i == len(messages) - 1 else ())
        if conv.slots.pop("after", None) == "registration" and assessment.eligible is not False:
            self._ask_consent(conv, turn)

    def _register(self, conv: Conversation, turn: _Turn) -> None:
        if "assessment" not in conv.slots:
            turn.say(self.texts.need_interview_first)
            conv.slots["after"] = "registration"
            self._begin(conv, "eligibility", turn, keep=False)
            return
        self._ask_consent(conv, turn)

    def _ask_consent(self, conv: Conversation, turn: _Turn) -> None:
        conv.flow, conv.step = "registration", None
        conv.flow_version = self.dialogs.flows["registration"].version
        conv.pending = {"kind": "consent"}
        turn.say(self._consent_text(conv), self._pending_buttons(conv))

    def _consent_text(self, conv: Conversation) -> str:
        retention = self.texts.retention.format(months=self.config.retention_months)
        return self.texts.consent.format(office=self._office(conv).name, retention=retention)

    def _consent_decided(self, conv: Conversation, yes: bool, turn: _Turn) -> None:
        conv.pending = {}
        consent = Consent(
            conv.key.channel, conv.key.user, "registration", self.texts.consent_version, self._consent_text(conv), yes
        )
        consent_id = self.repo.add_consent(consent)
        if not yes:
            conv.slots.pop("consent_id", None)  # an earlier consent does not outlive a refusal
            conv.flow = conv.step = None
            turn.say(
                self.texts.consent_refused,
                [Button(self.dialogs.command("edit").label, "cmd:edit"), Button("Menu", "cmd:menu")],
            )
            return
        conv.slots["consent_id"] = consent_id
        needs = [n for n in conv.slots.get("needs") or [] if n]
        if needs and "lines_wanted" not in conv.slots:  # already said during the interview
            conv.slots["lines_wanted"] = needs
        self._begin(conv, "registration", turn)

    def _summary(self, conv: Conversation, turn: _Turn) -> None:
        lines, said = [self.texts.summary], set()
        for flow_id in ("eligibility", "registration"):
            for step in self.dialogs.flows[flow_id].steps:
                if step.slot in conv.slots and self._applies(step, conv):
                    shown = self._shown(step, conv.slots[step.slot])
                    if (step.parser, shown) not in said:  # the needs carried into the registration: once
                        lines.append(f"• {step.label}: {shown}")
                    said.add((step.parser, shown))
        conv.pending = {"kind": "summary"}
        turn.say("\n".join(lines), self._pending_buttons(conv))

    def _shown(self, step: Step, value: Any) -> str:
        if step.parser == "place":
            return ", ".join(str(x) for x in (value.get("commune"), value.get("province")) if x) or "-"
        if step.parser == "phone":
            return national_phone(str(value))
        if step.parser == "yes_no":
            return {True: "Có", False: "Không"}.get(value, self.texts.dont_know)
        if step.parser == "money" and isinstance(value, int):
            from bot.eligibility import vnd

            return vnd(value)
        labels = {c.value: c.label for c in step.choices}
        if isinstance(value, list):
            return ", ".join(labels.get(str(v), str(v)) for v in value) or "-"
        return labels.get(str(value), str(value)) if value not in ("", None) else "-"

    def _summary_decided(self, conv: Conversation, confirm: bool, turn: _Turn) -> None:
        conv.pending = {}
        if not confirm:
            self._edit(conv, turn)
            return
        if not self.repo.consent_given(conv.key, int(conv.slots.get("consent_id") or 0)):
            conv.slots.pop("consent_id", None)  # none, or one erased since (e.g. by the retention purge)
            self._register(conv, turn)
            return
        turn.lead = self._lead(conv)
        turn.registered_office = self._office(conv).name
        conv.flow = conv.step = None

    def _lead(self, conv: Conversation) -> Lead:
        slots = conv.slots
        place = slots.get("place") or {}
        wanted = [w for w in slots.get("lines_wanted") or [] if w] or [n for n in slots.get("needs") or [] if n]
        return Lead(
            ref="",
            channel=conv.key.channel,
            user=conv.key.user,
            name=slots.get("contact_name", ""),
            phone=slots.get("phone", ""),
            facility_name=slots.get("facility_name", ""),
            commune_code=place.get("code"),
            commune=place.get("commune"),
            province=place.get("province") or slots.get("province_hint"),
            profile=self.profile(conv).model_dump(),
            assessment=slots.get("assessment") or {},
            lines_wanted=wanted,
            note=slots.get("note", ""),
            consent_id=int(slots.get("consent_id") or 0),
        )

    def _confirm_registration(self, lead: Lead, turn: _Turn) -> None:
        phone = national_phone(lead.phone)
        text = self.texts.registered.format(ref=lead.ref, office=turn.registered_office, phone=phone)
        if lead.merged:
            text = self.texts.registered_update.format(ref=lead.ref) + "\n" + text
        turn.say(text, [*self._menu_buttons()[:2], Button(self.dialogs.command("my_data").label, "cmd:my_data")])

    # --- overviews, staff, the person's data -----------------------------------------------------------

    def _support_overview(self, conv: Conversation, turn: _Turn) -> None:
        names = [f"• {line.name}" for line in self.kb.support_lines.lines if not line.on_request]
        turn.say(
            self.texts.support_overview + "\n" + "\n".join(names),
            [Button(self.dialogs.menu.items[0].label, "menu:eligibility"), Button("Menu", "cmd:menu")],
        )

    def _documents_overview(self, conv: Conversation, turn: _Turn) -> None:
        codes = (conv.slots.get("assessment") or {}).get("documents") or self.kb.documents.defaults
        names = [f"• {self.kb.document(code).name}" for code in codes]
        turn.say(
            self.texts.documents_overview + "\n" + "\n".join(names),
            [Button(self.dialogs.menu.items[0].label, "menu:eligibility"), Button("Menu", "cmd:menu")],
        )

    def _office(self, conv: Conversation) -> Office:
        """The office of the person's commune (or province) plan, else the deployment's, else a generic one."""
        place = conv.slots.get("place") or {}
        plans: list[Locality] = [
            loc
            for loc in self.kb.localities
            if not loc.historical
            and (
                (place.get("code") and loc.ward_code == place.get("code"))
                or (loc.level == "province" and loc.province == place.get("province"))
            )
        ]
        plans.sort(key=lambda loc: loc.level != "commune")
        default = next((loc for loc in self.kb.localities if loc.id == self.config.default_locality), None)
        chosen = plans[0] if plans else default
        return chosen.office if chosen else Office(name=self.texts.default_office)

    def _staff(self, conv: Conversation, turn: _Turn) -> None:
        place = conv.slots.get("place") or {}
        self.repo.add_handoff(conv.key, conv.step or "", place.get("code"))
        office = self._office(conv)
        text = self.texts.staff.format(office=office.name)
        if office.phone:
            text += " " + self.texts.staff_phone.format(phone=office.phone)
        turn.say(text, self._menu_buttons()[:2])
        self._reask(conv, turn)

    def _my_data(self, conv: Conversation, turn: _Turn) -> None:
        leads = self.repo.leads_of(conv.key)
        if not leads:
            turn.say(self.texts.my_data_none, self._menu_buttons())
            return
        lines = [self.texts.my_data]
        for lead in leads:
            place = ", ".join(x for x in (lead.commune, lead.province) if x)
            lines.append(
                f"• Mã {lead.ref}: {lead.name}, {national_phone(lead.phone)}, {lead.facility_name}, {place}; "
                f"đăng ký ngày {lead.created_at[:10]}"
            )
        turn.say(
            "\n".join(lines), [Button(self.dialogs.command("delete").label, "cmd:delete"), Button("Menu", "cmd:menu")]
        )

    def _ask_delete(self, conv: Conversation, turn: _Turn) -> None:
        conv.pending = {"kind": "delete"}
        turn.say(self.texts.delete_confirm, self._yes_no_buttons())

    def _delete_decided(self, conv: Conversation, yes: bool, turn: _Turn) -> None:
        conv.pending = {}
        if not yes:
            turn.say(self.texts.delete_cancelled, self._menu_buttons())
            return
        count = self.repo.delete_person(conv.key)
        conv.slots, conv.flow, conv.step, conv.history = {}, None, None, []
        turn.say(self.texts.deleted.format(count=count), self._menu_buttons(), erased=True)


def _holds_something(conv: Conversation) -> bool:
    """Whether a conversation holds more than a greeting: answers, a flow under way, a pending question."""
    return bool(conv.flow or conv.step or conv.slots or conv.history or conv.pending)


def _summary_of(a: Assessment) -> dict[str, Any]:
    """What a lead keeps of the assessment: the decision, its cited reasons, the lines and documents."""
    return {
        "eligible": a.eligible,
        "subject": a.subject,
        "sector": a.sector.code if a.sector else None,
        "size": a.size,
        "reasons": [{"code": r.code, "citation": r.citation} for r in a.reasons],
        "priority": [r.code for r in a.priority_reasons],
        "lines": [
            {
                "code": ln.code,
                "funding": ln.funding,
                "share_max": ln.share_max,
                "cap_vnd": ln.cap_vnd,
                "status": ln.status,
            }
            for ln in a.support_lines
        ],
        "documents": [d.code for d in a.documents],
    }
