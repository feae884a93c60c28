"""Needs: the support lines a message asks for, by the keywords the assessment itself matches."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bot.flows import Step
from bot.knowledge import SupportLine
from bot.understanding.model import Fact
from bot.understanding.tokens import Phrases, Reading

# Words that announce a need: 'cần máy', 'muốn xin hỗ trợ bao bì', 'mua thêm máy'.
WANTED = " (wanted)"  # marks a need stated after a word of wanting
_COUNTED = {"suat", "nguoi", "lan", "loai", "tam", "ngay", "thang", "nam", "cai", "co", "so"}  # 'mấy suất', not 'máy'
_CUES = {"can", "muon", "xin", "tro", "mua", "thieu", "them", "dau", "nang", "doi", "lam", "di", "tham", "gia"}


class NeedReader:
    """Reads the support lines a message wants (support_lines.yaml keywords and the needs step's words)."""

    def __init__(self, lines: Iterable[SupportLine], step: Step | None, abbreviations: Mapping[str, str]) -> None:
        pairs: list[tuple[str, str]] = [(k, ln.code) for ln in lines for k in ln.keywords]
        if step is not None:
            pairs += [(p, c.value) for c in step.choices if c.value != "none" for p in [c.label, *c.synonyms]]
        self._phrases = Phrases(pairs, abbreviations)

    def read(self, reading: Reading, at_step: bool, first: bool = False) -> list[Fact]:
        """Each line named; a one-word keyword ('máy') counts fully only after a word of wanting.

        `first`: only phrases of several words after a word of wanting, read before the product so that
        'muốn hỗ trợ xử lý nước thải' is a need, not the activity.
        """
        facts = []
        for m in self._phrases.longest(reading.words, reading.free):
            cued = bool(_CUES & set(reading.words[max(0, m.i - 3) : m.i]))
            if (first and not (cued and m.j - m.i > 1)) or not reading.typed_as(m.i, m.j, m.phrase):
                continue
            if m.phrase == "máy" and m.j < len(reading.words) and reading.words[m.j] in _COUNTED:
                continue
            confidence = 0.85 if m.j - m.i > 1 else 0.6
            if cued or at_step:
                confidence = min(0.95, confidence + 0.2)
            reading.claim(m.i, m.j)
            start, end = reading.span(m.i, m.j)
            facts.append(Fact("need", m.value, start, end, confidence, m.phrase + (WANTED if cued else "")))
        return facts
