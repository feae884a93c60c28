"""Craft village, export and the owner flags a person volunteers (women-owned, ethnic minority owner)."""

from __future__ import annotations

from bot.understanding.model import Fact, FactKind
from bot.understanding.tokens import Phrases, Reading

# (phrase, kind, value). Words of the profile fields of design §4.2, as owners write them.
_PHRASES: list[tuple[str, tuple[FactKind, object]]] = [
    *[
        (p, ("craft_village", True))
        for p in ("làng nghề", "làng nghề truyền thống", "trong làng nghề", "làng nghề được công nhận")
    ],
    *[
        (p, ("craft_village", False))
        for p in (
            "không phải làng nghề",
            "ngoài làng nghề",
            "không thuộc làng nghề",
            "không nằm trong làng nghề",
            "chưa được công nhận làng nghề",
        )
    ],
    *[
        (p, ("export", True))
        for p in (
            "xuất khẩu",
            "xuất đi nước ngoài",
            "bán ra nước ngoài",
            "xuất sang",
            "xuất khẩu sang",
            "hàng xuất khẩu",
            "xuất ngoại",
        )
    ],
    *[(p, ("export", False)) for p in ("không xuất khẩu", "chưa xuất khẩu", "chỉ bán trong nước", "bán trong nước")],
    *[
        (p, ("owner_flag", "women_owned"))
        for p in (
            "chủ là nữ",
            "phụ nữ làm chủ",
            "nữ làm chủ",
            "do phụ nữ làm chủ",
            "chủ cơ sở là nữ",
            "nữ chủ cơ sở",
            "chị em phụ nữ",
            "hội phụ nữ",
            "toàn phụ nữ",
            "chủ là phụ nữ",
            "tôi là nữ",
            "em là nữ",
            "mình là nữ",
        )
    ],
    *[
        (p, ("owner_flag", "ethnic_minority_owned"))
        for p in (
            "người dân tộc",
            "dân tộc thiểu số",
            "đồng bào dân tộc",
            "người đồng bào",
            "dân tộc tày",
            "dân tộc thái",
            "dân tộc mường",
            "dân tộc mông",
            "dân tộc h'mông",
            "người mông",
            "người h'mông",
            "người dao",
            "người tày",
            "người nùng",
            "người ê đê",
            "người khmer",
            "người chăm",
            "người gia rai",
            "người ba na",
            "người xơ đăng",
            "người cơ tu",
            "người mường",
            "người thái",
        )
    ],
]


class FlagReader:
    """Reads the yes/no facts of a profile that people state in passing."""

    def __init__(self, abbreviations: dict[str, str]) -> None:
        self._phrases = Phrases(_PHRASES, abbreviations)

    def read(self, reading: Reading) -> list[Fact]:
        """Each flag named; the longest phrase wins, so 'không phải làng nghề' is False."""
        facts = []
        for m in self._phrases.longest(reading.words, reading.free):
            kind, value = m.value
            reading.claim(m.i, m.j)
            start, end = reading.span(m.i, m.j)
            confidence = 0.9 if m.j - m.i > 1 else 0.7
            facts.append(Fact(kind, value, start, end, confidence, m.phrase))
        return facts
