"""Intent: what the person wants done, from the menu's and commands' own words, courtesy aside."""

from __future__ import annotations

import re
from collections.abc import Mapping

from bot.answers import _NO, _SKIP, _UNKNOWN, _YES
from bot.flows import MenuFile
from bot.understanding.model import Intent, IntentHit
from bot.understanding.tokens import Phrases, Reading

_ACTIONS: dict[str, Intent] = {
    "eligibility": "check_eligibility",
    "support": "ask_question",
    "documents": "ask_question",
    "register": "register",
    "ask": "ask_question",
    "staff": "talk_to_staff",
    "my_data": "see_my_data",
}
_COMMANDS: dict[str, Intent] = {
    "menu": "menu",
    "back": "back",
    "edit": "correction",
    "restart": "restart",
    "help": "help",
    "staff": "talk_to_staff",
    "delete": "delete_my_data",
    "my_data": "see_my_data",
    "subscribe": "subscribe_news",
    "unsubscribe": "unsubscribe_news",
}
# Words inside a longer message, beyond the menu's synonyms: (intent, confidence, phrases).
_INSIDE: list[tuple[Intent, float, tuple[str, ...]]] = [
    (
        "talk_to_staff",
        0.85,
        (
            "gặp cán bộ",
            "gọi lại",
            "gọi cho",
            "gọi điện",
            "cán bộ gọi",
            "nhờ cán bộ",
            "nói chuyện với cán bộ",
            "gặp người thật",
            "liên hệ cán bộ",
            "tư vấn trực tiếp",
            "người thật",
            "nói chuyện trực tiếp",
            "cán bộ liên hệ",
            "gặp trực tiếp",
            "số cán bộ",
            "cho gặp",
        ),
    ),
    (
        "check_eligibility",
        0.8,
        (
            "kiểm tra điều kiện",
            "có được hỗ trợ không",
            "được hỗ trợ không",
            "đủ điều kiện",
            "xin hỗ trợ",
            "muốn được hỗ trợ",
            "muốn hỗ trợ",
            "có được không",
            "được nhận hỗ trợ không",
            "có được hưởng",
            "được hưởng không",
            "có thuộc diện",
            "thuộc diện",
            "có được vay",
            "kiểm tra giúp",
            "xem giúp",
            "có được nhà nước hỗ trợ",
            "nhận được hỗ trợ",
            "xin vốn",
            "được hỗ trợ",
            "có hỗ trợ không",
            "hỗ trợ tôi",
            "hỗ trợ em",
            "hỗ trợ mình",
            "giúp em với",
        ),
    ),
    ("register", 0.85, ("đăng ký", "muốn đăng ký", "ghi danh", "đăng kí", "đăng ký nhận hỗ trợ", "lập hồ sơ giúp")),
    (
        "delete_my_data",
        0.9,
        ("xóa dữ liệu", "xóa thông tin", "hủy đăng ký", "xóa số điện thoại", "xóa hết", "không muốn lưu"),
    ),
    (
        "see_my_data",
        0.85,
        (
            "dữ liệu của tôi",
            "xem thông tin",
            "thông tin của tôi",
            "thông tin của em",
            "đã đăng ký những gì",
            "xem lại hồ sơ",
            "xem lại thông tin",
        ),
    ),
    ("greeting", 0.6, ("xin chào", "chào", "hello", "hi", "alo", "chào bạn", "chào ad")),
    ("thanks", 0.7, ("cảm ơn", "cám ơn", "thanks", "thank", "tks", "camon", "thank you")),
    (
        "skip",
        0.85,
        (
            "để sau",
            "lúc khác",
            "khi khác",
            "bỏ qua",
            "thôi không cần",
            "không cần",
            "chưa cần",
            "hôm khác",
            "để mai",
            "tính sau",
            "không có gì",
            "không cần đâu",
            "thôi khỏi",
            "khỏi",
        ),
    ),
    ("dont_know", 0.7, ("không biết", "không rõ", "chưa biết", "không nhớ", "chưa rõ", "không chắc", "chịu")),
    (
        "correction",
        0.6,
        (
            "không phải",
            "nhầm",
            "sửa lại",
            "à không",
            "đúng ra là",
            "chứ không phải",
            "viết nhầm",
            "gõ nhầm",
            "đổi lại",
            "ý em là",
            "ý tôi là",
            "ý mình là",
            "nhầm rồi",
            "không phải đâu",
        ),
    ),
]
# A question asks for something: its words and the counters after 'mấy' (not 'máy', a machine).
_WH = (
    "bao nhiêu",
    "gì",
    "nào",
    "thế nào",
    "như thế nào",
    "ở đâu",
    "khi nào",
    "bao giờ",
    "bao lâu",
    "tại sao",
    "vì sao",
    "làm sao",
    "sao vậy",
    "ai",
    "đâu",
    "mấy",
)
_COUNTERS = {
    "suat",
    "nguoi",
    "trieu",
    "loai",
    "ngay",
    "buoc",
    "lan",
    "nam",
    "thang",
    "ty",
    "phan",
    "muc",
    "tien",
    "dot",
    "tam",
    "cai",
    "bo",
    "anh",
    "co",
    "so",
    "hang",
    "luot",
}
# 'chưa đăng ký gì', 'không có gì cả': after a negation, a closing 'gì' means 'nothing', it asks nothing.
_NEGATIONS = {"chua", "khong", "ko", "chang"}
_CLOSING = {"ca", "het", "thoi", "nua", "dau"}
_TAILS = {"khong", "chua", "a", "nhi", "ha", "ko", "hong", "k", "vay", "the"}
_DIGIT = re.compile(r"^\d+$")


class IntentReader:
    """Reads what a message asks for, courtesy words aside."""

    def __init__(self, menu: MenuFile, abbreviations: Mapping[str, str]) -> None:
        whole: list[tuple[str, Intent]] = [
            (s, _ACTIONS[i.action]) for i in menu.items for s in [i.label, *i.synonyms] if not _DIGIT.match(s)
        ]
        whole += [(s, _COMMANDS[c.id]) for c in menu.commands for s in [c.label, *c.synonyms, *c.slash]]
        whole += [(s, "yes") for s in _YES] + [(s, "no") for s in _NO] + [(s, "dont_know") for s in _UNKNOWN]
        whole += [(s, "skip") for s in _SKIP - _NO]
        whole += [(p, intent) for intent, _, phrases in _INSIDE for p in phrases]
        self._whole = Phrases(whole, abbreviations)
        inside = [(p, (intent, conf)) for intent, conf, phrases in _INSIDE for p in phrases]
        inside += [
            (s, ("check_eligibility", 0.8))
            for i in menu.items
            if i.action == "eligibility"
            for s in i.synonyms
            if not _DIGIT.match(s)
        ]
        self._inside = Phrases(inside, abbreviations)
        self._wh = Phrases([(w, True) for w in _WH], abbreviations)
        self._before = Phrases([(w, True) for w in menu.courtesy_before], abbreviations)
        self._after = Phrases([(w, True) for w in menu.courtesy_after], abbreviations)

    def read(self, reading: Reading, has_facts: bool, wanted: tuple[int, int] | None = None) -> list[IntentHit]:
        """Intents, most likely first; `wanted` is the span of a support the person says they want."""
        hits = self._whole_message(reading) or []
        hits += self._phrases(reading, has_facts)
        hits += self._question(reading)
        if wanted is not None:  # 'muốn xin máy sấy': asking for support is asking whether they can have it
            hits.append(IntentHit("check_eligibility", wanted[0], wanted[1], 0.76, "a support wanted"))
        if has_facts:
            hits.append(IntentHit("inform", 0, len(reading.text), 0.75, "facts only"))
        return _ranked(hits)

    def _core(self, reading: Reading) -> tuple[int, int]:
        """Token range without courtesy at either end ('dạ', 'cho em hỏi', 'ạ', 'nhé')."""
        i, j = 0, len(reading.words)
        changed = True
        while changed and i < j:
            changed = False
            for m in self._before.find(reading.words[i:j]):
                if m.i == 0 and m.j < j - i:
                    i, changed = i + m.j, True
                    break
            for m in self._after.find(reading.words[i:j]):
                if m.j == j - i and m.i > 0:
                    j, changed = i + m.i, True
                    break
        return i, j

    def _whole_message(self, reading: Reading) -> list[IntentHit]:
        i, j = self._core(reading)
        for words in (reading.words, reading.words[i:j]):
            intent = self._whole.whole(words)
            if intent is not None:
                return [IntentHit(intent, 0, len(reading.text), 0.95, "the whole message")]
        return []

    def _phrases(self, reading: Reading, has_facts: bool) -> list[IntentHit]:
        hits = []
        for m in self._inside.longest(reading.words, reading.free):
            intent, conf = m.value
            if intent == "register" and m.j < len(reading.words) and not reading.free[m.j]:
                continue  # 'đăng ký thương hiệu' is a support wanted, not a registration
            if intent == "correction" and has_facts:
                conf = 0.9  # 'không phải, là hợp tác xã': the fact that follows replaces the one before
            elif intent in ("yes", "no") or (intent in ("greeting", "thanks") and has_facts):
                conf -= 0.1
            start, end = reading.span(m.i, m.j)
            hits.append(IntentHit(intent, start, end, conf, m.phrase))
        opening = self._leading(reading)
        if opening is not None:
            hits.append(opening)
        return hits

    def _leading(self, reading: Reading) -> IntentHit | None:
        """'dạ đúng rồi, …' / 'không, …': a yes or a no that opens a longer message."""
        for n in (2, 1):
            if len(reading.words) > n:
                said = " ".join(reading.words[:n])
                if said in _YES or said in _NO:
                    start, end = reading.span(0, n)
                    return IntentHit("yes" if said in _YES else "no", start, end, 0.55, said)
        return None

    def _question(self, reading: Reading) -> list[IntentHit]:
        words = reading.words
        if len(words) < 2 and "?" not in reading.text:
            return []
        wh = [
            m
            for m in self._wh.find(words, reading.free)
            if reading.typed_as(m.i, m.j, m.phrase)
            and (m.phrase != "mấy" or (m.j < len(words) and words[m.j] in _COUNTERS))
            and not (m.phrase == "gì" and _nothing(words, m.i))
        ]
        if wh:
            start, end = reading.span(wh[0].i, wh[0].j)
            return [IntentHit("ask_question", start, end, 0.9, wh[0].phrase)]
        _, j = self._core(reading)
        asked = "?" in reading.text
        if asked or (len(words) > 2 and ({words[-1], words[j - 1]} & _TAILS) - {"a"}):
            end = reading.text.rfind("?") + 1 or len(reading.text)
            return [IntentHit("ask_question", 0, end, 0.78, "a yes-no question")]
        return []


def _nothing(words: list[str], i: int) -> bool:
    """Whether 'gì' at token i closes a negation ('chưa đăng ký gì'): a statement, not a question."""
    closing = i + 1 == len(words) or words[i + 1] in _CLOSING
    return closing and bool(_NEGATIONS & set(words[max(0, i - 6) : i]))


def _ranked(hits: list[IntentHit]) -> list[IntentHit]:
    """One hit per intent (its most confident), most confident first; ties keep the order found."""
    best: dict[Intent, IntentHit] = {}
    for hit in hits:
        if hit.intent not in best or hit.confidence > best[hit.intent].confidence:
            best[hit.intent] = hit
    return sorted(best.values(), key=lambda h: -h.confidence)
