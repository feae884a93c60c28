"""Where a message goes: a button, a global command, a menu entry, a pending yes/no, a step's answer, a question."""

from __future__ import annotations

from collections.abc import Callable

from bot.answers import Parsed, accepted, later, skipped, yes_no
from bot.dialog import staff_place
from bot.dialog.context import Context
from bot.dialog.corrections import Corrections
from bot.dialog.interview import MAX_MISSES, Interview
from bot.dialog.listening import FREE_TEXT
from bot.dialog.mixed import MixedInitiative
from bot.dialog.office import asks_how_to_reach
from bot.dialog.pending import Pending
from bot.dialog.person import PersonData
from bot.dialog.questions import Questions
from bot.dialog.registration import Registration
from bot.dialog.result import RESULT, show_everything
from bot.dialog.steps import NaturalReplies
from bot.dialog.turn import Turn
from bot.dialog.words import Words, looks_like_question
from bot.flows import Step
from bot.messages import Button
from bot.storage import Conversation
from bot.text import fold, national_phone
from bot.understanding import Understanding

STAFF_STEMS = ("can bo", "goi", "nguoi that", "truc tiep", "gap")  # folded words every staff request contains
MAX_STAFF_WORDS = 10  # longer messages asking for staff are questions for the FAQ first ('gọi điện cho ai để …')


class Router:
    """Sends each message to the part of the dialog it is for; the parts call back only through it."""

    def __init__(self, ctx: Context, words: Words, interview: Interview, registration: Registration) -> None:
        self.ctx, self.texts, self.words = ctx, ctx.texts, words
        self.interview, self.registration = interview, registration
        self.person = PersonData(ctx)
        self.corrections = Corrections(ctx, interview, registration)
        self.pending = Pending(ctx, interview, registration, self.person, self.corrections)
        self.questions = Questions(ctx, self.pending)
        self.listener = registration.listener
        self.mixed = MixedInitiative(ctx, interview, self.listener, self.pending, self.questions)
        self.natural = NaturalReplies(ctx, interview, registration.postpone)

    def dispatch(self, conv: Conversation, text: str, button: str | None, turn: Turn) -> None:
        """One message, after the welcome and any restart."""
        if button:
            self._button(conv, button, turn)
            return
        if not text:  # a sticker, a photo, or the console reopened: carry on where the person was
            said = len(turn.replies)
            self.pending.reask(conv, turn)
            if len(turn.replies) == said:
                self.ctx.menu(turn)
            return
        command = self.words.command_of(text) or self._asks_for_staff(conv, text)
        if command:
            self._command(conv, command, turn)
        elif conv.pending:
            self._pending_text(conv, text, turn)
        elif conv.flow and conv.step:
            self._answer(conv, text, turn)
        else:
            self._free_text(conv, text, turn)

    def _asks_for_staff(self, conv: Conversation, text: str) -> str | None:
        """'cho gặp cán bộ với', 'gọi cho tôi': a short message whose intent is a person, where no name is asked."""
        step = self.ctx.current(conv)
        if conv.pending or len(text.split()) > MAX_STAFF_WORDS:  # a note at the summary is for staff already
            return None
        if step is not None and step.parser in ("text", *FREE_TEXT):
            return None
        if not any(stem in fold(text) for stem in STAFF_STEMS):  # the usual message: no reading at all
            return None
        said = self.ctx.understander.understand(text)
        return "staff" if said.intent == "talk_to_staff" else None

    def _button(self, conv: Conversation, payload: str, turn: Turn) -> None:
        kind, _, value = payload.partition(":")
        handlers: dict[str, Callable[[Conversation, str, Turn], object]] = {
            "cmd": self._command,
            "menu": self._menu_action,
            "ans": self._answer_button,
            "place": self.interview.place_chosen,
            "edit": self.corrections.edit_step,
            "faq": self.questions.entry,
            "sector": self.interview.sector_chosen,
            RESULT: lambda c, v, t: show_everything(self.ctx, c, v, t),
            "later": lambda c, v, t: self.registration.postpone(c, t),
        }
        if kind == "place" and conv.pending.get("kind") == staff_place.KIND:
            staff_place.chosen(self.ctx, conv, value, turn)
        elif kind in handlers:
            handlers[kind](conv, value, turn)
        elif conv.pending and kind in ("yes", "no"):
            label = self.texts.yes_label if kind == "yes" else self.texts.no_label
            self._pending_text(conv, label, turn, decided=kind == "yes")
        elif kind in ("yes", "no") and (step := self.ctx.current(conv)) is not None:
            # 'Đồng ý' of the consent tapped again at the name: the question asked now, not the menu
            self.interview.reask(conv, step, turn, self.texts.stale_button)
        else:
            self.ctx.menu(turn, self.texts.not_understood)

    def _answer_button(self, conv: Conversation, value: str, turn: Turn) -> None:
        """A step's button; 'Bỏ qua' of the note, tapped at the summary where the note is typed, adds nothing."""
        if value == "skip" and conv.pending.get("kind") == "summary":
            self.registration.nothing_to_add(conv, turn)
        else:
            self.interview.button_answer(conv, value, turn)

    # --- commands and the menu ---------------------------------------------------------------

    def _command(self, conv: Conversation, command: str, turn: Turn) -> None:
        actions: dict[str, Callable[[Conversation, Turn], object]] = {
            "menu": self._to_menu,
            "back": self.corrections.back,
            "edit": self.corrections.edit,
            "restart": self.corrections.restart,
            "help": self._help,
            "staff": self._staff,
            "delete": self.person.ask_delete,
            "my_data": self.person.show,
            "subscribe": self.pending.news.subscribe,
            "unsubscribe": self.pending.news.unsubscribe,
        }
        if command in actions:
            actions[command](conv, turn)
        else:
            self.ctx.menu(turn)

    def _help(self, conv: Conversation, turn: Turn) -> None:
        step = self.ctx.current(conv)
        turn.say(self.texts.help, () if step else self.ctx.menu_buttons())
        self.pending.reask(conv, turn)

    def _staff(self, conv: Conversation, turn: Turn) -> None:
        # the chat then waits for staff (no question of the assistant's follows); asked first: which commune
        staff_place.ask_or_hand_over(self.ctx, conv, turn)

    def _to_menu(self, conv: Conversation, turn: Turn) -> None:
        self.interview.reset(conv)
        self.ctx.menu(turn)

    def _menu_action(self, conv: Conversation, action: str, turn: Turn) -> None:
        understood = conv.pending.get("kind") == "understood"
        midway = conv.flow == "eligibility" and (conv.step is not None or understood)
        if action == "register" and understood:  # 'đăng ký' at 'Tôi hiểu: …': agreed, the result, then consent
            conv.slots["after"] = "registration"
            self.pending.decide(conv, True, turn)
        elif action == "eligibility" and midway:
            self.pending.reask(conv, turn)  # already checking: carry on where we were
        elif action == "eligibility":
            conv.pending = {}
            self.interview.begin(conv, "eligibility", turn, keep=False)
        elif action == "register" and midway:
            conv.slots["after"] = "registration"  # keep the answers given; register once the result is out
            turn.say(self.texts.need_interview_first)
            self.pending.reask(conv, turn)
        elif action == "register":
            conv.pending = {}
            self.registration.register(conv, turn)
        elif action in ("support", "documents"):
            q = self.questions
            (q.support_overview if action == "support" else q.documents_overview)(conv, turn)
            self.pending.reask(conv, turn)
        elif action == "ask":
            conv.pending = {"kind": "ask"}
            turn.say(self.texts.ask_prompt)
        elif action == "staff":
            self._staff(conv, turn)
        elif action == "my_data":
            self.person.show(conv, turn)
            self.pending.reask(conv, turn)
        else:
            self.ctx.menu(turn, self.texts.not_understood)

    # --- typed text ----------------------------------------------------------------------------

    def _free_text(self, conv: Conversation, text: str, turn: Turn) -> None:
        action = self.words.menu_item_of(text)
        if action:
            self._menu_action(conv, action, turn)
            return
        if self.mixed.corrected_after(conv, text, turn):
            return
        # 'không cần', 'thôi', or a bare 'đúng' / 'ừ' with nothing asked: no FAQ entry ('dùng'), the menu
        if skipped(text) or later(text) or yes_no(text) is not None:
            self.ctx.menu(turn, self.texts.steps.fine)
            return
        if not self.mixed.opener(conv, text, turn):
            self.questions.answer(conv, text, turn)
            self.mixed.ask_area(conv, text, turn)

    def _answer(self, conv: Conversation, text: str, turn: Turn) -> None:
        step = self.ctx.current(conv)
        if step is None:
            self._free_text(conv, text, turn)
            return
        if self.natural.take(conv, step, text, turn):  # 'không biết nữa', 'không nhớ số', 'không có tên'
            return
        if step.parser == "text":  # a note is what is typed, questions too; only a global command changes course
            self._take(conv, step, self.ctx.reader.read(step, text), text, turn)
            return
        if self.questions.small_talk(conv, text, turn):  # a lone 'cảm ơn' is no name: answered, the step re-asked
            return
        if step.parser in FREE_TEXT:  # a name is what is typed, a question too (the summary shows it to correct)
            text = self.mixed.contact(conv, text) if step.id == "name" else text
            if step.id == "name" and not text.strip() and conv.slots.get("phone"):  # the phone alone: the name now
                phone = national_phone(str(conv.slots["phone"]))
                turn.say(self.texts.steps.name_only.format(phone=phone), self.ctx.step_buttons(step))
                return
            self._take(conv, step, self.ctx.reader.read(step, text), text, turn)
            return
        if self._menu_word(conv, text, turn):
            return
        # 'sđt của xã Vĩnh Thủy' mid-interview: the office's contacts, then the question again; the commune named
        # is the office asked about, not the facility's place.
        if asks_how_to_reach(text) and not looks_like_question(text) and self.questions.brief(conv, text, turn):
            self.pending.reask(conv, turn)
            return
        heard = self.listener.hear(text, step) if conv.flow == "eligibility" else None
        # 'không phải, là hợp tác xã' reads like a question ('không … là'), but it corrects and states an answer
        corrects = heard is not None and heard.intent == "correction" and bool(heard.facts)
        asked = looks_like_question(text) and not corrects
        changed = self.listener.take(conv, heard, skip=step.slot, asked=asked) if heard is not None else []
        # A real question is answered first, even where its words could pass for an answer; facts said with
        # it are kept, and the interview goes on from what is still missing.
        if asked and self.questions.brief(conv, text, turn):
            self._next(conv, step, changed, turn)
            return
        parsed = self.ctx.reader.read(step, self._within_province(conv, step, text, heard))
        own = self.listener.slots(heard).values.get(step.slot) if heard is not None else None
        useful = parsed.ok or parsed.guess is not None or bool(parsed.options) or parsed.hint is not None
        # The legal form is read from the whole message too: 'hộ gia đình thôi, chưa đăng ký gì' is unregistered.
        whole = step.parser == "activity" or step.id == "legal_form"
        if own is not None and (not useful or (parsed.ok and whole)):
            # Read from the whole message where the step's parser saw nothing; a product is its own words,
            # not the place said with it ('làm chiếu cói ở xã Vĩnh Thủy').
            parsed, useful = accepted(own), True
        if parsed.ok and step.parser == "place" and heard is not None:
            self._renamed(conv, parsed.value, heard, turn)
        if useful or not changed:
            self._take(conv, step, parsed, text, turn)
        else:
            self.interview.advance(conv, turn)

    @staticmethod
    def _within_province(conv: Conversation, step: Step, text: str, heard: Understanding | None) -> str:
        """A place typed after its province was said ('… ở Hà Nội', then 'phường Hàng Trống') is read within it.

        A near name in another province (Thăng Trường, Đà Nẵng) must not win over the province the person gave.
        """
        hint = conv.slots.get("province_hint")
        typed = heard is not None and any(f.kind == "province" and f.why == "province name" for f in heard.facts)
        if step.parser != "place" or not hint or typed:
            return text
        return f"{text}, {hint}"

    def _renamed(self, conv: Conversation, place: dict[str, object], heard: Understanding, turn: Turn) -> None:
        """A place typed with its pre-2025 unit word or province: the change said in one line, to correct it."""
        found = self.listener.slots(heard).values
        same = (found.get("place") or {}).get("code") == place.get("code")
        conv.slots["place_was"] = found.get("place_was") or {} if same else {}
        conv.slots["place"] = place  # read by the note; the step's answer keeps it
        note = self.listener.renamed(conv)
        if note:
            turn.say(self.texts.place_renamed.format(note=note))

    def _next(self, conv: Conversation, step: Step, changed: list[str], turn: Turn) -> None:
        """After a question answered mid-interview: on from what is missing, or the same step (a re-ask)."""
        if changed:
            self.interview.advance(conv, turn)
        else:
            self.pending.reask(conv, turn)

    def _menu_word(self, conv: Conversation, text: str, turn: Turn) -> bool:
        """A menu entry typed mid-interview ('đăng ký', 'giấy tờ') is that entry, not an answer."""
        action = None if self.ctx.reader.normal(text).isdigit() else self.words.menu_item_of(text)
        if action is None:
            return False
        self._menu_action(conv, action, turn)
        return True

    def _take(self, conv: Conversation, step: Step, parsed: Parsed, text: str, turn: Turn) -> None:
        if parsed.ok:
            self.interview.fill(conv, step, parsed.value, turn)
            return
        other = parsed.guess is not None or bool(parsed.options) or parsed.hint in ("province_only", "not_in_province")
        if other:  # a guess, a choice of places, a province alone: each is the step asked again, and counts
            conv.misses += 1
        if other and conv.misses > MAX_MISSES:
            self.interview.give_up(conv, step, turn)
        elif parsed.guess is not None:
            conv.pending = {"kind": "guess", "value": parsed.guess}
            turn.say(self.texts.confirm_guess.format(value=parsed.shown), self.ctx.yes_no_buttons())
        elif parsed.options:
            conv.pending = {"kind": "choose_place", "codes": [int(p.split(":")[1]) for _, p in parsed.options]}
            asked = self.texts.which_place
            if parsed.hint == "district":  # 'huyện Lạng Giang': districts were abolished on 1/7/2025
                asked = self.texts.district_gone.format(district=parsed.value["district"])
            elif parsed.hint == "not_in_province":  # 'xa vinh thuy ha tinh': the same name in another province
                asked = self.texts.not_in_province_elsewhere.format(**parsed.value)
            turn.say(asked, [Button(label, payload) for label, payload in parsed.options])
        elif parsed.hint == "not_in_province":
            conv.slots["province_hint"] = parsed.value["province"]
            turn.say(self.texts.not_in_province.format(**parsed.value))
        elif parsed.hint == "province_only":
            conv.slots["province_hint"] = parsed.value["province"]
            turn.say(self.texts.province_only.format(province=parsed.value["province"]))
        elif not (parsed.hint is None and looks_like_question(text) and self.questions.digress(conv, step, text, turn)):
            self.interview.miss(conv, step, parsed.hint, turn, text)

    # --- pending decisions ----------------------------------------------------------------------

    def _pending_text(self, conv: Conversation, text: str, turn: Turn, decided: bool | None = None) -> None:
        kind = conv.pending.get("kind")
        answer = decided if decided is not None else self.pending.typed(conv, text)
        if answer is None and kind == "consent" and self.words.menu_item_of(text) == "register":
            answer = True  # 'đăng ký' typed at the registration's consent: what it is asked for
        if kind == "ask":
            conv.pending = {}
            self._free_text(conv, text, turn)
        elif kind == "choose_place":
            self._place_among(conv, text, turn)
        elif kind == "news_place":
            self.pending.news.place_given(conv, text, turn)
        elif kind == staff_place.KIND:
            staff_place.answered(self.ctx, conv, text, turn, decided)
        elif kind == "summary" and decided is None and self.pending.at_summary(conv, text, turn):
            return
        elif answer is None:
            self._unclear_pending(conv, text, turn)
        else:
            self.pending.decide(conv, answer, turn)

    def _place_among(self, conv: Conversation, text: str, turn: Turn) -> None:
        """After 'which Bình Giang?': a province name picks among the candidates; anything else is a new answer."""
        codes = list(conv.pending.get("codes") or [])
        conv.pending = {}
        chosen = self.ctx.assessor.gazetteer.among(codes, text)
        if chosen is not None:
            self.interview.place_chosen(conv, str(chosen.code), turn)
            return
        if codes and "place" not in conv.slots:  # 'doanh thu 5 tỷ' meanwhile: the choice is offered again after it
            conv.slots["place_choices"] = codes
        self._answer(conv, text, turn)
        if "place" in conv.slots:
            conv.slots.pop("place_choices", None)

    def _unclear_pending(self, conv: Conversation, text: str, turn: Turn) -> None:
        """Neither yes nor no: a new answer to the step, a correction, a question, or we ask again."""
        kind = conv.pending.get("kind")
        if kind == "guess" and self.ctx.current(conv) is not None:
            conv.pending = {}
            self._answer(conv, text, turn)
        elif not self._unclear_taken(conv, kind, text, turn):
            self.questions.unclear(conv, text, turn)

    def _unsure(self, conv: Conversation, text: str, turn: Turn) -> bool:
        """At 'Tôi hiểu': a question is answered, anything else explained; the line asked again (counted)."""
        asked = looks_like_question(text) or asks_how_to_reach(text)  # 'số điện thoại xã Vĩnh Thủy'
        if not (asked and self.questions.brief(conv, text, turn)):
            turn.say(self.texts.steps.understood_hint)
        self.pending.reask(conv, turn)
        return True

    def _unclear_taken(self, conv: Conversation, kind: object, text: str, turn: Turn) -> bool:
        """At 'Tôi hiểu': a menu word or a correction; at the summary: the note, when it was not asked."""
        if kind == "understood":
            return (
                self._menu_word(conv, text, turn)
                or self.mixed.corrected(conv, text, turn)
                or self._unsure(conv, text, turn)
            )
        return kind == "summary" and self.mixed.late_note(conv, text, turn)
