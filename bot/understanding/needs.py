"""Needs: the support lines a message asks for, by the keywords the assessment itself matches."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from rapidfuzz.distance import Levenshtein

from bot.flows import Step
from bot.knowledge import SupportLine
from bot.text import fold
from bot.understanding.model import Fact
from bot.understanding.tokens import Phrases, Reading

# Words that announce a need: 'cần máy', 'muốn xin hỗ trợ bao bì', 'mua thêm máy'.
WANTED = " (wanted)"  # marks a need stated after a word of wanting
_COUNTED = {
    "suat",
    "luot",
    "nguoi",
    "lan",
    "loai",
    "tam",
    "ngay",
    "thang",
    "nam",
    "cai",
    "co",
    "so",
}  # 'mấy suất', not 'máy'
_CUES = {"can", "muon", "xin", "tro", "mua", "thieu", "them", "dau", "nang", "doi", "lam", "di", "tham", "gia"}


class NeedReader:
    """Reads the support lines a message wants (support_lines.yaml keywords and the needs step's words)."""

    def __init__(
        self,
        lines: Iterable[SupportLine],
        step: Step | None,
        abbreviations: Mapping[str, str],
        forms: Iterable[str] = (),
    ) -> None:
        pairs: list[tuple[str, str]] = [(k, ln.code) for ln in lines for k in ln.keywords]
        if step is not None:
            pairs += [(p, c.value) for c in step.choices if c.value != "none" for p in [c.label, *c.synonyms]]
        self._phrases = Phrases(pairs, abbreviations)
        # The legal forms' words ('hợp tác xã'): 'hợp tác' inside one, even typo'd ('hop tac sa'), is no need.
        folded = (" ".join(abbreviations.get(w, w) for w in fold(f).split()) for f in forms)
        self._forms = tuple({tuple(f.split()) for f in folded if len(f.split()) > 1})

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
            if any(_inside(reading.words, m.i, m.j, form) for form in self._forms):
                continue
            confidence = 0.85 if m.j - m.i > 1 else 0.6
            if cued or at_step:
                confidence = min(0.95, confidence + 0.2)
            reading.claim(m.i, m.j)
            start, end = reading.span(m.i, m.j)
            facts.append(Fact("need", m.value, start, end, confidence, m.phrase + (WANTED if cued else "")))
        return facts


def _inside(words: Sequence[str], i: int, j: int, form: tuple[str, ...]) -> bool:
    """Whether words[i:j] lie within the legal form's words as typed, one typo a word allowed ('hop tac sa')."""
    for k in range(len(form) - (j - i) + 1):
        start, end = i - k, i - k + len(form)
        if start < 0 or end > len(words) or tuple(words[i:j]) != form[k : k + j - i]:
            continue
        if all(_typed_as(w, f) for w, f in zip(words[start:end], form, strict=True)):
            return True
    return False


def _typed_as(word: str, meant: str) -> bool:
    """The same word, 's' typed for 'x' (or back), or one slip in a word of three letters or more."""
    if word == meant or (word[1:] == meant[1:] and {word[:1], meant[:1]} == {"s", "x"}):
        return True
    return min(len(word), len(meant)) >= 3 and Levenshtein.distance(word, meant) <= 1
