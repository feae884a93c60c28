"""Mixed initiative: a check started by the person's own words, 'Tôi hiểu' corrected by a word, contact in one go."""

from __future__ import annotations

from bot.answers import place_slot
from bot.dialog.contact import split_contact
from bot.dialog.context import Context
from bot.dialog.interview import Interview
from bot.dialog.listening import INFERRED, MAKING, TAKEN, Listener
from bot.dialog.pending import Pending
from bot.dialog.questions import Questions
from bot.dialog.steps import is_note, no_name
from bot.dialog.turn import Turn
from bot.dialog.words import looks_like_question
from bot.messages import Button
from bot.places import Place
from bot.storage import Conversation
from bot.text import fold
from bot.understanding import Understanding
from bot.understanding.place import DISTRICT_TYPED

# Words around restated facts that add nothing ('đúng rồi, hộ kinh doanh ạ', 'bên em ở xã Vĩnh Thủy').
_FILLER = {"la", "o", "xa", "phuong", "tinh", "a", "da", "dung", "roi", "vang", "u", "uh", "ok", "phai", "chuan"}
_FILLER |= {"ben", "em", "minh", "toi", "nha", "nhe", "co", "so", "cua", "lam", "thi", "con", "chau", "anh", "chi"}
PLACE_QUESTION = "place_question"  # a question waiting for its commune to be chosen among those of its name


class MixedInitiative:
    """Where the person leads: facts said unasked start or change the check."""

    def __init__(self, ctx: Context, interview: Interview, listener: Listener, pending: Pending, q: Questions) -> None:
        self.ctx, self.interview, self.listener, self.pending, self.questions = ctx, interview, listener, pending, q
        self.texts = ctx.texts
        interview.place_settled = self.place_settled  # bound late: the interview is built before the questions

    def opener(self, conv: Conversation, text: str, turn: Turn) -> bool:
        """'hkd lam nuoc mam o xa vinh thuy quang tri' outside an interview starts the check with those facts.

        A question asked with them is answered first. False (facts kept, nothing said) when the message
        describes too little of the facility to start a check.
        """
        heard, asked = self.listener.hear(text), looks_like_question(text)
        conv.slots.pop(PLACE_QUESTION, None)
        if asked and self._which_place(conv, heard, turn):
            return True
        starts = self.listener.states_case(heard) >= 2 or self._processing_after_farming(conv, heard)
        told = not starts and not asked and self._product_told(conv, heard)
        if not (starts or told):
            self.listener.take(conv, heard, asked=asked)  # a fact said with a question is kept for the check to come
            return False
        if asked:
            self.questions.brief(conv, text, turn)
        conv.pending = {}
        self.interview.enter(conv, "eligibility")  # the facts kept stay, those said now replace them
        self.listener.take(conv, heard, asked=asked, replace=True)
        if told:
            turn.say(self.texts.product_heard.format(product=self.listener.product(str(conv.slots["activity"]))))
        if any(h.intent == "register" for h in heard.intents) or "needs" in conv.slots:
            conv.slots["after"] = "registration"  # they came for support: consent follows the result
        self.interview.advance(conv, turn)
        return True

    def _product_told(self, conv: Conversation, heard: Understanding) -> bool:
        """'em làm gốm' as the first thing said of the facility: the person describes it, so the check starts."""
        found = self.listener.slots(heard).values
        if "activity" not in found or conv.flow or any(slot in conv.slots for slot in TAKEN):
            return False
        # Said with its verb ('làm gốm', 'sấy tiêu'): what the facility does, not a thing named in passing.
        asks = any(hit.intent == "ask_question" for hit in heard.intents)
        return not asks and fold(str(found["activity"])).startswith(MAKING)

    def _processing_after_farming(self, conv: Conversation, heard: Understanding) -> bool:
        """'có, nhà em còn sấy tiêu đóng gói' after a 'Không' for growing pepper: the processing is reassessed.

        The result told a grower that drying or packing is covered; the product now said replaces the farming.
        """
        said = self.listener.slots(heard).values.get("activity")
        kept = conv.slots.get("activity")
        if not said or not kept or said == kept:
            return False
        classify = self.ctx.assessor.classifier.classify
        outside = ("non_industrial", "excluded")
        return classify(str(kept)).kind in outside and classify(str(said)).kind not in (None, *outside)

    def ask_area(self, conv: Conversation, text: str, turn: Turn) -> None:
        """'khai thác cát có được hỗ trợ không': covered only in a difficult area, so that one question, as buttons.

        The check begins there, with the product kept; 'Không' then gives the cited 'not covered' at once.
        """
        product = self.listener.slots(self.listener.hear(text)).values.get("activity")
        step = self.ctx.dialogs.flows["eligibility"].step("difficult_area")
        if conv.flow or step is None or not product or conv.slots.get("activity") != product:
            return
        if not self.interview.applies(step, conv) or step.slot in conv.slots:
            return
        self.interview.enter(conv, "eligibility")
        conv.step, conv.misses = step.id, 0
        self.ctx.ask(step, turn)

    def _which_place(self, conv: Conversation, heard: Understanding, turn: Turn) -> bool:
        """'xã bình giang có hỗ trợ …' names a commune of three provinces: which one, as buttons; the question waits."""
        fact = heard.fact("commune")
        if fact is None or fact.value is not None or not fact.alternatives:
            return False
        gazetteer = self.ctx.assessor.gazetteer
        places = [p for p in (gazetteer.place_by_code(int(c)) for c in fact.alternatives[:8]) if p is not None]
        codes = [p.code for p in places]
        conv.pending = {"kind": "choose_place", "codes": codes}
        conv.slots[PLACE_QUESTION] = {"text": heard.text, "start": fact.start, "end": fact.end, "codes": codes}
        asked = self.texts.which_place
        if fact.why.startswith(DISTRICT_TYPED):  # 'huyện Khoái Châu': districts are gone, which unit now
            asked = self.texts.district_gone.format(district=fact.why.removeprefix(DISTRICT_TYPED))
        turn.say(asked, [Button(p.label, f"place:{p.code}") for p in places])
        return True

    def place_settled(self, conv: Conversation, place: Place, turn: Turn) -> bool:
        """The place of a waiting question chosen: the question is answered for that place; False if none waits."""
        waiting = conv.slots.pop(PLACE_QUESTION, None)
        if not waiting or place.code not in waiting.get("codes", []):
            return False
        conv.slots.setdefault("place", place_slot(place))  # a question about another commune keeps the person's own
        text, start, end = str(waiting["text"]), int(waiting["start"]), int(waiting["end"])
        # The name as it was typed, now with its province: the question reads as if it had been asked so.
        named = f"{place.name}, {place.province.name}"
        self.questions.answer(conv, f"{text[:start]}{named}{text[end:]}", turn)
        return True

    def corrected(self, conv: Conversation, text: str, turn: Turn) -> bool:
        """'không phải, là hợp tác xã' after 'Tôi hiểu: …': the slot is replaced and the line shown again."""
        heard = self.listener.hear(text)
        if self.listener.restated(conv, heard) and only_facts(heard):
            self.pending.decide(conv, True, turn)  # 'hộ kinh doanh' again: what was understood is right
            return True
        if not self.listener.take(conv, heard, replace=True):
            return False
        conv.slots.pop(INFERRED, None)
        if any(hit.intent == "ask_question" for hit in heard.intents):
            self.questions.brief(conv, text, turn)
        if self._missing(conv):  # e.g. now an enterprise: its size is asked, then the result
            conv.pending = {}
            self.interview.advance(conv, turn)
        else:
            self.pending.reask(conv, turn)
        return True

    def corrected_after(self, conv: Conversation, text: str, turn: Turn) -> bool:
        """'không phải, là hợp tác xã' after the result: the answer replaced and the result shown again."""
        heard = self.listener.hear(text)
        correction = heard.intent == "correction" or any(hit.intent == "correction" for hit in heard.intents)
        if "assessment" not in conv.slots or not correction:
            return False
        if not self.listener.take(conv, heard, replace=True):
            return False
        conv.slots.pop(INFERRED, None)
        self.interview.enter(conv, "eligibility")
        self.interview.advance(conv, turn)  # what the change leaves unanswered (an enterprise's size), then the result
        return True

    def _missing(self, conv: Conversation) -> bool:
        flow = self.ctx.dialogs.flows["eligibility"]
        return any(s.slot not in conv.slots and self.interview.applies(s, conv) and not s.optional for s in flow.steps)

    def late_note(self, conv: Conversation, text: str, turn: Turn) -> bool:
        """Text typed at the summary, when the note was not asked, is the note; the summary is shown again."""
        facility = self.ctx.dialogs.flows["registration"].step("facility")
        unnamed = facility is not None and facility.at_summary and facility.slot not in conv.slots
        if unnamed and facility is not None and no_name(text):  # 'không có tên': no name of its own, no note
            conv.slots[facility.slot] = ""
            self.pending.registration.summary(conv, turn)
            return True
        if unnamed and facility is not None and names_facility(text):
            parsed = self.ctx.reader.read(facility, text)
            if parsed.ok:  # 'Cơ sở nước mắm Thu Hà', 'HTX Bình An': the facility's name, not a note
                conv.slots[facility.slot] = parsed.value
                self.pending.registration.summary(conv, turn)
                return True
        note = self.ctx.dialogs.flows["registration"].step("note")
        if note is None or not self.pending.registration.note_spared(conv):
            return False
        parsed = self.ctx.reader.read(note, text)
        if not parsed.ok and parsed.hint == "formula_refused":  # '=cmd|…' is no note: refused, the summary again
            turn.say(self.texts.formula_refused)
            self.pending.registration.summary(conv, turn)
            return True
        if not parsed.ok:
            return False
        conv.slots[note.slot] = parsed.value
        self.pending.registration.summary(conv, turn)
        return True

    def contact(self, conv: Conversation, text: str) -> str:
        """Name, phone and facility in one answer: the phone and facility are kept, the name part returned."""
        contact = split_contact(text)
        if not contact.phone:
            return text
        conv.slots["phone"] = contact.phone
        facility = self.ctx.dialogs.flows["registration"].step("facility")
        if contact.facility and facility is not None:
            parsed = self.ctx.reader.read(facility, contact.facility)
            if parsed.ok:
                conv.slots[facility.slot] = parsed.value
        return contact.name


def only_facts(u: Understanding) -> bool:
    """Whether the message says nothing but its facts ('đúng, hộ kinh doanh'), not a question about them."""
    if looks_like_question(u.text) or any(i.intent == "ask_question" for i in u.intents):
        return False
    text = u.text
    for fact in sorted(u.facts, key=lambda f: f.start, reverse=True):
        text = text[: fact.start] + " " + text[fact.end :]
    return all(w in _FILLER for w in fold(text).replace(",", " ").replace(".", " ").split())


# How a facility's name begins ('Cơ sở nước mắm Thu Hà', 'HTX Bình An', 'Hộ Trang'): typed at the summary, a name.
_FACILITY_WORDS = ("co so ", "htx ", "hop tac xa ", "cong ty ", "ho ", "xuong ", "doanh nghiep ", "ten co so ")


def names_facility(text: str) -> bool:
    """A short answer that begins as a facility's name does, and reads as no note to staff."""
    said = " ".join(fold(text).split())
    short = len(said.split()) <= 8 and not looks_like_question(text)
    return short and said.startswith(_FACILITY_WORDS) and not is_note(text)
