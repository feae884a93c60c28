"""Answers to what the person asks: the FAQ (with its citation), overviews, and small talk mid-interview."""

from __future__ import annotations

from typing import Any

from bot.dialog.case import CaseAnswer, CaseAnswers
from bot.dialog.case.facts import case_of, speaks_of_home
from bot.dialog.context import Context
from bot.dialog.handoff import office_of
from bot.dialog.labels import button_label
from bot.dialog.local_answers import LocalAnswers
from bot.dialog.office import asks_how_to_reach, contact_text, reach
from bot.dialog.pending import Pending
from bot.dialog.staff_place import ask_for_office
from bot.dialog.turn import Turn
from bot.faq import Answer
from bot.flows import Step
from bot.masking import mask_personal
from bot.messages import Button
from bot.person_names import looks_like_name
from bot.places import Place
from bot.render import cited
from bot.storage import Conversation
from bot.text import find_phone, fold
from bot.understanding import Understanding, slots_of


class Questions:
    """Questions answered from the FAQ and the knowledge, then back to where the person was."""

    def __init__(self, ctx: Context, pending: Pending) -> None:
        self.ctx, self.texts, self.faq, self.pending = ctx, ctx.texts, ctx.faq, pending
        self.cases = CaseAnswers(ctx.kb, ctx.assessor, ctx.texts.case)
        self.local = LocalAnswers(ctx.kb, ctx.repo)

    def ask(self, conv: Conversation, text: str) -> Answer:
        """The FAQ's answer; the person's own commune's entry first when it matches at least as well."""
        national = self.faq.ask(text)
        local = self.local.ask(commune_of(self.ctx, conv), text, lambda: office_of(self.ctx, conv).name)
        return local if local is not None and local.score >= national.score else national

    def case(self, conv: Conversation, text: str, step: Step | None = None) -> CaseAnswer | None:
        """The answer from the person's own case (commune plan, product, place, size, line), before the FAQ.

        A question that also answers the pending step ('hộ kinh doanh có được không?' at the legal form) is left
        to the interview and the FAQ, unless it names an activity outside industry: that is never answered 'Có'.
        """
        u = self.ctx.understander.understand(text, step)
        answers_step = step is not None and step.slot in slots_of(u, self.ctx.assessor.gazetteer).values
        if asks_how_to_reach(text) and not answers_step and find_phone(text) is None:  # not 'sđt xã tôi: 09…'
            return self._reach(conv, u)
        if answers_step and not self.cases.names_outside(u):
            return None
        return self.cases.answer(u, self._home_slots(conv, text))

    def _home_slots(self, conv: Conversation, text: str) -> dict[str, Any]:
        """The conversation's slots; 'xã mình' before a place is given means the deploying unit's commune."""
        if (conv.slots.get("place") or {}).get("code") or not speaks_of_home(text):
            return conv.slots
        home = commune_of(self.ctx, conv)
        return conv.slots if home is None else {**conv.slots, "place": {"code": home}}

    def _reach(self, conv: Conversation, u: Understanding) -> CaseAnswer:
        """The office of the commune the question names (else the person's): phone, address, hours."""
        case = case_of(u, conv.slots, self.ctx.assessor.gazetteer)
        place: dict[str, Any] = conv.slots.get("place") or {}
        named = case.place or self._likeliest(conv, case.candidates)
        if named is None and case.candidates:  # a commune of that name in several provinces, none more likely
            options = "; ".join(f"{p.name} ({p.province.name})" for p in case.candidates[:8])
            return CaseAnswer(self.texts.which_office.format(options=options), check=False)
        if named is not None:
            place = {"code": named.code, "commune": named.name, "province": named.province.name}
        elif case.province is not None:
            place = {"province": case.province.name}
        found = reach(self.ctx, place)
        if found.generic and not place:  # no commune known and no office of the deployment: which commune
            return CaseAnswer(ask_for_office(self.ctx, conv), check=False)
        return CaseAnswer(contact_text(self.ctx, found), check=False)

    def _likeliest(self, conv: Conversation, candidates: tuple[Place, ...]) -> Place | None:
        """Among communes of one name, the one in the person's province, else the only one whose office we know.

        The commune named wins over the conversation's own: a Vĩnh Thủy person asking for Bình Giang's phone.
        """
        province = (conv.slots.get("place") or {}).get("province")
        near = [p for p in candidates if p.province.name == province]
        known = [p for p in candidates if reach(self.ctx, {"code": p.code}).own]
        for group in (near, known):
            if len(group) == 1:
                return group[0]
        return None

    def small_talk(self, conv: Conversation, text: str, turn: Turn) -> bool:
        """'cảm ơn', 'xin chào' mid-interview: a friendly word, then the pending question, nothing stored."""
        topic = self.faq.topic(text)
        if topic is None or topic[0] not in ("chao_hoi", "cam_on"):
            return False
        turn.say(topic[1])
        self.pending.reask(conv, turn)
        return True

    def case_answer(self, conv: Conversation, text: str) -> str | None:
        """The text of the case answer at the step under way, if the structured knowledge has one."""
        found = self.case(conv, text, self.ctx.current(conv))
        return found.text if found is not None else None

    def brief(self, conv: Conversation, text: str, turn: Turn) -> bool:
        """Answer a question in passing (the person's case first, then the FAQ); False when nothing fits."""
        own = self.case_answer(conv, text)
        if own is not None:
            turn.say(own)
            return True
        answer = self.ask(conv, text)
        if not (answer.matched or answer.out_of_scope):
            return False
        turn.say(cited(answer.answer, answer.citation, answer.status))
        return True

    def digress(self, conv: Conversation, step: Step, text: str, turn: Turn) -> bool:
        """A question asked mid-interview: answer it, then ask the pending question again (a re-ask counts)."""
        if not self.brief(conv, text, turn):
            return False
        self.pending.reask(conv, turn)
        return True

    def unclear(self, conv: Conversation, text: str, turn: Turn) -> None:
        """Neither yes nor no to a pending question: an answer if it was a question, then the question again."""
        consent = conv.pending.get("kind") == "consent"
        if consent and looks_like_name(text):
            turn.say(self.texts.consent_hint)  # 'Nguyễn Văn Bình' typed before consenting: no FAQ entry fits it
        elif not self.brief(conv, text, turn):  # a question, with or without its '?': answered first
            turn.say(self.texts.consent_hint if consent else self.texts.not_understood)
        self.pending.reask(conv, turn)

    def answer(self, conv: Conversation, text: str, turn: Turn) -> None:
        """A question outside any interview: the case answer, the FAQ answer, its neighbours, or a miss for staff."""
        own = self.case(conv, text)
        if own is not None:
            turn.say(own.text, self._check_or_menu())
            return
        answer = self.ask(conv, text)
        if answer.matched:
            turn.say(
                cited(answer.answer, answer.citation, answer.status), _neighbours(answer) + self.ctx.menu_buttons()[:2]
            )
        elif answer.out_of_scope:
            turn.say(answer.answer, self.ctx.menu_buttons())
        else:
            # Staff of the person's commune see what we could not answer; kept with the asker, for erasure,
            # without the phone or ID number typed in it.
            masked = mask_personal(text.strip())
            self.ctx.repo.record_miss(fold(masked), masked, conv.key, commune_of(self.ctx, conv))
            turn.failed = True
            if answer.alternatives:
                turn.say(answer.answer, _neighbours(answer))
            else:
                self.ctx.menu(turn, self.texts.not_understood)

    def entry(self, conv: Conversation, faq_id: str, turn: Turn) -> None:
        """An FAQ entry chosen by its button, then back to the step under way."""
        entry = self.faq.entries.get(faq_id)
        if entry is None:
            self.ctx.menu(turn, self.texts.not_understood)
            return
        turn.say(cited(entry.answer, entry.citation, entry.status))
        self.pending.reask(conv, turn)

    def support_overview(self, conv: Conversation, turn: Turn) -> None:
        """The support lines anyone may ask for."""
        names = [f"• {line.name}" for line in self.ctx.kb.support_lines.lines if not line.on_request]
        turn.say(self.texts.support_overview + "\n" + "\n".join(names), self._check_or_menu())

    def documents_overview(self, conv: Conversation, turn: Turn) -> None:
        """The documents of the person's case once assessed, else the usual ones."""
        kb = self.ctx.kb
        codes = (conv.slots.get("assessment") or {}).get("documents") or kb.documents.defaults
        names = [f"• {kb.document(code).name}" for code in codes]
        turn.say(self.texts.documents_overview + "\n" + "\n".join(names), self._check_or_menu())

    def _check_or_menu(self) -> list[Button]:
        return [Button(self.ctx.dialogs.menu.items[0].label, "menu:eligibility"), Button("Menu", "cmd:menu")]


def commune_of(ctx: Context, conv: Conversation) -> int | None:
    """The person's commune: the place they gave, else the deploying unit's own commune (if it is one)."""
    code = (conv.slots.get("place") or {}).get("code")
    if code:
        return int(code)
    default = next((loc for loc in ctx.kb.localities if loc.id == ctx.config.default_locality), None)
    return default.ward_code if default is not None else None


def _neighbours(answer: Answer) -> list[Button]:
    """A button for each nearby FAQ entry."""
    return [Button(button_label(a.question), f"faq:{a.faq_id}") for a in answer.alternatives]
