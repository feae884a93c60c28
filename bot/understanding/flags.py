"""Craft village, export, local raw material and the owner flags a person volunteers (women-owned, ethnic owner)."""

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
            "chủ cơ sở là phụ nữ",
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


# 'dùng gạo địa phương', 'mua nguyên liệu trong tỉnh': raw material from the province, a priority of Thông tư
# 46/2012 Art. 6 once over half the value (a share people rarely say; the answer tells them the threshold).
_USING = {"dung", "mua", "lay"}
_LOCAL = (("dia", "phuong"), ("tai", "cho"), ("trong", "tinh"))


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
        local = _local_material(reading)
        return facts + ([local] if local else [])


def _local_material(reading: Reading) -> Fact | None:
    """'dùng gạo địa phương': a word of using, at most three words, then a word of 'local' (all unclaimed)."""
    words = reading.words
    for i, word in enumerate(words):
        if word not in _USING:
            continue
        for j in range(i + 2, min(i + 6, len(words) - 1)):
            if (words[j], words[j + 1]) in _LOCAL and all(reading.free[i : j + 2]):
                reading.claim(i, j)  # 'địa phương', 'trong tỉnh' stay free: 'trong tỉnh Quảng Trị' is a place
                start, end = reading.span(i, j + 2)
                return Fact("local_material", True, start, end, 0.8, " ".join(words[i : j + 2]))
    return None
