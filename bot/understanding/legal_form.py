"""Legal form: the words of the interview's own buttons (dialogs/eligibility.yaml), abbreviations expanded."""

from __future__ import annotations

from collections.abc import Mapping

from bot.flows import Step
from bot.understanding.model import Fact
from bot.understanding.tokens import Phrases, Reading

# Synonyms too short or too common to mean a legal form inside a longer message: 'hộ' is also 'hỗ' (trợ),
# 'cá nhân' is also the person speaking. They count only as the whole answer or at the legal-form step.
_WEAK = {"ho", "ca nhan", "lien hiep", "lam tu do"}
_NEGATION = ("khong phai", "ko phai", "chu khong phai", "khong con la")
# 'muốn lên doanh nghiệp', 'thành lập công ty': the form the facility wants to become, not the one it has; the
# words are left to the support line of setting up an enterprise.
_BECOMING = ("len", "lap", "chuyen thanh", "tro thanh", "chuyen doi thanh", "mo", "mo them")
# 'ho tro' typed without diacritics is 'hỗ trợ' (support), in almost every message; never 'hộ' (a household).
_NOT_AFTER = {"ho": ("tro",)}


class LegalFormReader:
    """Finds the legal form a message states."""

    def __init__(self, step: Step, abbreviations: Mapping[str, str]) -> None:
        pairs = [(p, c.value) for c in step.choices for p in [c.label, *c.synonyms]]
        self._phrases = Phrases(pairs, abbreviations)
        self._abbr_keys = set(abbreviations)

    def read(self, reading: Reading, at_step: bool) -> list[Fact]:
        """Each legal form named; one named after 'không phải' is kept with a low confidence."""
        facts = []
        matches = self._phrases.longest(reading.words, reading.free)
        for m in matches:
            words = " ".join(reading.words[m.i : m.j])
            alone = m.j - m.i == len(reading.words)
            if m.j < len(reading.words) and reading.words[m.j] in _NOT_AFTER.get(words, ()):
                continue
            opening = (m.i == 0 or reading.words[m.i - 1] in ("la", "thuoc")) and not reading.original(
                m.i, m.j
            ).isascii()
            if words in _WEAK and not (at_step or alone or (opening and reading.typed_as(m.i, m.j, m.phrase))):
                continue
            confidence = 0.95 if m.j - m.i > 1 or alone else 0.8
            if words in _WEAK:
                confidence = 0.6
            before = " ".join(reading.words[max(0, m.i - 3) : m.i])
            if any(f" {before}".endswith(f" {w}") for w in _BECOMING):
                continue
            if before.endswith(_NEGATION):
                confidence = 0.2  # 'không phải hộ kinh doanh': the form it is not
            reading.claim(m.i, m.j)
            start, end = reading.span(m.i, m.j)
            facts.append(Fact("legal_form", m.value, start, end, confidence, m.phrase))
        return _unregistered_household(facts)


def _unregistered_household(facts: list[Fact]) -> list[Fact]:
    """'hộ gia đình thôi, chưa đăng ký gì': a household without registration is unregistered, not a business."""
    if not any(f.value == "unregistered" and f.confidence >= 0.8 for f in facts):
        return facts
    return [f for f in facts if f.value != "household_business"]
