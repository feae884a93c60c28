"""The entry point: one message (and the step it answers) in, an Understanding out."""

from __future__ import annotations

from bot.flows import Dialogs, Step
from bot.knowledge import Knowledge
from bot.places import Gazetteer
from bot.sectors import SectorClassifier
from bot.text import fold_abbreviations
from bot.understanding.contact import read_name, read_phone
from bot.understanding.flags import FlagReader
from bot.understanding.intent import IntentReader
from bot.understanding.legal_form import LegalFormReader
from bot.understanding.model import Fact, Understanding
from bot.understanding.needs import WANTED, NeedReader
from bot.understanding.place import PlaceReader
from bot.understanding.product import ProductReader
from bot.understanding.sizes import SizeReader
from bot.understanding.slots import MIN_CONFIDENCE
from bot.understanding.tokens import Reading, normal_text, tokenize


class Understander:
    """Reads messages with the project's knowledge: lexicon, gazetteer, support lines, menu words."""

    def __init__(
        self,
        kb: Knowledge,
        dialogs: Dialogs,
        gazetteer: Gazetteer | None = None,
        classifier: SectorClassifier | None = None,
    ) -> None:
        self._abbr = fold_abbreviations(kb.abbreviations.abbreviations)
        gazetteer = gazetteer or Gazetteer({a.old: a.new for a in kb.province_aliases.aliases}, kb.units)
        steps = {s.id: s for flow in dialogs.flows.values() for s in flow.steps}
        self._steps = steps
        self._legal = LegalFormReader(steps["legal_form"], self._abbr)
        classifier = classifier or SectorClassifier(kb.sectors, self._abbr)
        self._places = PlaceReader(gazetteer, lambda text: _is_product(classifier, text))
        self._product = ProductReader(classifier)
        self._sizes = SizeReader()
        self._flags = FlagReader(self._abbr)
        forms = [p for c in steps["legal_form"].choices for p in [c.label, *c.synonyms]]
        self._needs = NeedReader(kb.support_lines.lines, steps.get("needs"), self._abbr, forms)
        self._intents = IntentReader(dialogs.menu, self._abbr)

    def understand(self, text: str, step: Step | str | None = None) -> Understanding:
        """What the message says; `step` is the interview step it answers (its id or the Step), if any."""
        text = normal_text(text)
        reading = Reading(text, tokenize(text, self._abbr))
        step_id = step.id if isinstance(step, Step) else step
        parser = self._steps[step_id].parser if step_id in self._steps else None
        facts = self._facts(reading, step_id, parser)
        wanted = next((f for f in facts if f.kind == "need" and f.why.endswith(WANTED)), None)
        span = (wanted.start, wanted.end) if wanted and parser != "needs" else None
        intents = self._intents.read(reading, any(f.confidence >= MIN_CONFIDENCE for f in facts), span)
        ordered = tuple(sorted(facts, key=lambda f: (f.start, f.kind)))
        return Understanding(text, tuple(intents), ordered)

    def _facts(self, reading: Reading, step: str | None, parser: str | None) -> list[Fact]:
        # Free-text steps take the words as they are: a name or a note is not searched for products.
        if parser == "phone":
            return read_phone(reading)
        if parser == "name":
            return read_name(reading, "facility" if step == "facility" else "name")
        # The order matters: each reader claims its words, so 'hợp tác xã' is not read as 'xã …', and a
        # place named 'Chè' or 'Mây' is not a product nor a need.
        facts = self._legal.read(reading, step == "legal_form")
        facts += self._flags.read(reading)
        _hide_denied(reading)
        facts += self._places.read(reading, parser == "place")
        facts += self._sizes.read(reading, step)
        facts += self._needs.read(reading, parser == "needs", first=True)
        facts += self._product.read(reading, parser == "activity")
        facts += self._needs.read(reading, parser == "needs")
        return facts


def _is_product(classifier: SectorClassifier, text: str) -> bool:
    """Whether the words are a term of the lexicon as typed (not after a typo fix)."""
    found = classifier.classify(text)
    return found.kind is not None and not found.corrected


_DENIALS = (("chu", "khong", "phai"), ("khong", "phai", "la"), ("khong", "phai"))


def _hide_denied(reading: Reading) -> None:
    """Words after 'chứ không phải' name what the facility is not: no fact is read from them."""
    words = reading.words
    for i in range(len(words)):
        for denial in _DENIALS:
            j = i + len(denial)
            together = not any(t.comma_before for t in reading.tokens[i + 1 : j + 1])
            if tuple(words[i:j]) == denial and j < len(words) and together:
                end = j
                while end < len(words) and not (end > j and reading.tokens[end].comma_before):
                    end += 1
                reading.claim(j, end)
                return
