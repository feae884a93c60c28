"""Product or activity, and its sector, through the sector lexicon (bot/sectors.py)."""

from __future__ import annotations

from bot.sectors import SectorClassifier
from bot.understanding.model import Fact
from bot.understanding.tokens import Reading

# Verbs people put before what they make; the product span starts there ('làm chiếu cói').
_LEADS = {"lam", "san", "xuat", "che", "bien", "dan", "det", "nau", "ep", "say", "rang", "ban"}
# Words of wanting: what follows them is what the person asks for ('xin hỗ trợ máy dệt'), not what they make.
_WANTING = {"tro", "xin", "mua", "can", "muon", "thieu"}


class ProductReader:
    """Reads the activity a message names and classifies it."""

    def __init__(self, classifier: SectorClassifier) -> None:
        self._classifier = classifier

    def read(self, reading: Reading, at_step: bool) -> list[Fact]:
        """The deciding lexicon term as the product, its sector code (or why it is not covered) as the sector."""
        # Words already read as a legal form or a place are hidden: 'Xã Mỹ Đức' is not a product.
        words = [w if free else "\x00" for w, free in zip(reading.words, reading.free, strict=True)]
        found = self._classifier.locate(words)
        if found is not None and _wanted(words, found[1]):
            # 'làm chiếu cói …, muốn xin hỗ trợ máy dệt': the loom is the need; look for what is made first.
            hidden = words[: found[1]] + ["\x00"] * (found[2] - found[1]) + words[found[2] :]
            found = self._classifier.locate(hidden) or found
        if found is None:
            return []
        cls, i, j = found
        if cls.kind is None or cls.code is None:
            return []
        while i > 0 and reading.free[i - 1] and words[i - 1] in _LEADS and i - 1 >= found[1] - 2:
            i -= 1
        confidence = 0.9 if j - found[1] > 1 else 0.8
        if cls.corrected:  # read through a typo: 'alo' is close to 'balo' but was a greeting
            confidence = 0.7 if at_step else (0.55 if j - found[1] > 1 else 0.45)
        reading.claim(i, j)
        start, end = reading.span(i, j)
        product = Fact("product", reading.text[start:end], start, end, confidence, cls.matched or "")
        # A sector code, an exclusion code ('excluded_brick_kiln'), or 'non_industrial' with its group beside it.
        outside = cls.kind == "non_industrial"
        code = "non_industrial" if outside else cls.code
        group = (cls.code,) if outside else ()
        sector = Fact("sector", code, start, end, confidence, f"{cls.kind}: {cls.matched}", group)
        return [product, sector]


def _wanted(words: list[str], start: int) -> bool:
    """Whether a term starting at `start` follows a word of wanting (within two words) and no making verb."""
    before = words[max(0, start - 2) : start]
    return bool(_WANTING & set(before)) and not (_LEADS - {"ban"}) & set(before)
