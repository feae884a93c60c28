"""Reading a person's answer to one step: a value, a guess to confirm, or why it could not be read."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz

from bot.flows import Choice, Step
from bot.places import Gazetteer, Place
from bot.sectors import SectorClassifier
from bot.text import ascii_int, expand, find_phone, fold, national_at_start, parse_count, parse_money, parse_phone

_YES = {
    "co",
    "dung",
    "u",
    "uh",
    "um",
    "vang",
    "da co",
    "ok",
    "oke",
    "phai",
    "yes",
    "y",
    "dong y",
    "roi",
    "co a",
    "dung roi",
    "chinh xac",
    "duoc",
    "xac nhan",
    "chac chan",
    "dong y a",
    "vang a",
    "da dung",
    "xac nhan dang ky",
}
_NO = {"khong", "ko", "k", "sai", "no", "n", "chua", "khong phai", "khong dong y", "khong a", "sai roi", "hong"}
_UNKNOWN = {"khong biet", "khong ro", "chua ro", "chua biet", "ko biet", "k biet", "ko ro"}
_SKIP = {"bo qua", "khong", "ko", "k", "khong co", "thoi", "khong can", "skip", "chua", "khong a", "ko a", "thoi a"}
_SKIP |= {"khong co gi", "ko co gi", "k co gi", "khong co gi a", "khong co gi them", "khong them gi", "khong nhan gi"}
_SKIP |= {"thoi khong can", "khong can dau", "khong can a", "de sau", "bo qua nhe", "bo qua a", "het roi", "vay thoi"}
_SKIP |= {"khong co gi dau", "khong co gi ca", "khong nhe", "ko nhe", "thoi khoi", "khoi", "no", "none"}
# 'Not now': a no at consent, a skip at an optional step; at the summary only a 'later' leaves it unsaved
# ('thôi', 'thôi không cần' there is nothing to add: a registration is not dropped on a word that may mean that).
_POSTPONE = {"de sau", "de sau a", "de sau nhe", "thoi de sau", "luc khac", "de luc khac", "luc khac nhe", "khi khac"}
_POSTPONE |= {"de khi khac", "hom khac", "de hom khac"}
_LATER = _POSTPONE | {"thoi", "thoi a", "thoi nhe", "thoi khong can", "thoi khong can a", "thoi khong can dau"}
_LATER |= {"thoi khoi", "khong can nua", "thoi khong dang ky", "chua can", "vay thoi"}
_SKIP |= _LATER
_NOT_A_NAME = _SKIP - {"khoi", "no", "n"}  # 'Khôi' may be a name; a skip word alone at a name step is not
_DONE = {"xac nhan", "xac nhan dang ky", "xac nhan a", "ok", "oke", "xong", "xong roi"}  # at the note: nothing to add
_FORMULA = re.compile(r"^\s*[=+\-@]")
_BULLET = re.compile(r"^[-–—•*]+\s+")  # a dash or bullet and a space before the words
_MARKUP = re.compile(r"[<>{}\[\]\\|^~`$]|https?:|www\.")  # a name or a facility holds none of these
_OLD_MOBILE = re.compile(r"^0?1\d{9}$")
_MAX_COUNT = 1_000_000
_MAX_VND = 10**16


@dataclass(frozen=True)
class Parsed:
    """The outcome of reading an answer."""

    ok: bool = False
    value: Any = None
    guess: Any = None  # a value to confirm before accepting it
    shown: str = ""  # how the guess is shown to the person
    hint: str | None = None  # a texts.yaml key for a more precise hint than the step's own
    options: list[tuple[str, str]] = field(default_factory=list)  # (label, payload) to choose among


def accepted(value: Any) -> Parsed:
    """A value read with certainty."""
    return Parsed(ok=True, value=value)


class AnswerReader:
    """The parsers named by dialogs/*.yaml steps."""

    def __init__(
        self,
        gazetteer: Gazetteer,
        classifier: SectorClassifier,
        abbreviations: Mapping[str, str],
        names_support: Callable[[str], bool],
    ) -> None:
        self.gazetteer = gazetteer
        self.classifier = classifier
        self._abbr = abbreviations
        self._names_support = names_support  # typed needs are kept only when they describe some support

    def normal(self, text: str) -> str:
        """Folded text with abbreviations expanded, as answers are compared."""
        return expand(fold(text), self._abbr)

    def read(self, step: Step, text: str) -> Parsed:
        """Read a typed answer to a step with the step's parser."""
        reader = getattr(self, f"_{step.parser}")
        result: Parsed = reader(step, text)
        return result

    # --- the parsers -------------------------------------------------------------------

    def _choice(self, step: Step, text: str) -> Parsed:
        return self.match_choice(step.choices, text)

    def match_choice(self, choices: list[Choice], text: str) -> Parsed:
        """A choice by its number, its label or one of its synonyms (whole words), or a close guess."""
        said = self.normal(text)
        number = ascii_int(said, 3)
        if number is not None and 1 <= number <= len(choices):
            return accepted(choices[number - 1].value)
        hits = []
        # 'ho tro' typed without diacritics is 'hỗ trợ' (support), never the synonym 'hộ' (a household).
        padded = f" {said} ".replace(" ho tro ", " ; ")
        for choice in choices:
            for phrase in [choice.label, *choice.synonyms]:
                norm = self.normal(phrase)
                if norm and (said == norm or f" {norm} " in padded):
                    hits.append((len(norm), choice))
        if hits:
            best = max(hits, key=lambda h: h[0])[1]
            return accepted(best.value)
        scored = [(max(_typo_score(said, self.normal(p)) for p in [c.label, *c.synonyms]), c) for c in choices]
        score, best = max(scored, key=lambda s: s[0])
        if score >= 75:
            return Parsed(guess=best.value, shown=best.label)
        return Parsed()

    def _activity(self, step: Step, text: str) -> Parsed:
        found = self.classifier.classify(text)
        if found.kind is None or found.matched is None:
            return Parsed()
        if found.corrected:  # read through a typo: ask before relying on it
            return Parsed(guess=text, shown=found.matched)
        return accepted(text.strip())

    def _count(self, step: Step, text: str) -> Parsed:
        value = parse_count(text)
        if value is None or not 0 <= value <= _MAX_COUNT:
            return Parsed()
        return accepted(value)

    def _money(self, step: Step, text: str) -> Parsed:
        said = self.normal(text)
        for choice in step.choices:
            if said in (self.normal(choice.label), choice.value):
                return accepted(int(choice.value))
        value = parse_money(text)
        if value is None or not 0 <= value <= _MAX_VND:
            return Parsed()
        if 0 < value < 10_000:  # '2' or '2,5' with no unit: almost surely tỷ
            from bot.eligibility import vnd

            return Parsed(guess=value * 10**9, shown=vnd(value * 10**9))
        return accepted(value)

    def _place(self, step: Step, text: str) -> Parsed:
        result = self.gazetteer.resolve_text(text)
        if result.status == "ambiguous":
            options = [(p.label, f"place:{p.code}") for p in result.candidates[:8]]
            if result.district is not None:  # districts are gone: the units that may be meant, to choose from
                return Parsed(hint="district", options=options, value={"district": result.district.label})
            return Parsed(hint="which_place", options=options)
        if result.place is not None:
            value = place_slot(result.place)
            typed = fold(text)
            if fold(result.place.name).split(" ", 1)[-1] in typed:
                return accepted(value)
            return Parsed(guess=value, shown=result.place.label)  # found through a typo
        if result.province is not None:
            return Parsed(hint="province_only", value={"province": result.province.name})
        return self._not_in_province(text)

    def _not_in_province(self, text: str) -> Parsed:
        """'xa vinh thuy ha tinh': a province said last and a commune it does not have; where that name exists."""
        split = self.gazetteer.trailing_province(text)
        if split is None:
            return Parsed()
        name, province = split
        elsewhere = [p for p in self.gazetteer.communes(name, fuzzy=False) if p.province != province][:6]
        value = {"commune": name[:60], "province": province.name}
        return Parsed(hint="not_in_province", value=value, options=[(p.label, f"place:{p.code}") for p in elsewhere])

    def _yes_no(self, step: Step, text: str) -> Parsed:
        answer = yes_no(text)
        if answer is None and self.normal(text) in _UNKNOWN:
            return accepted(None)
        return accepted(answer) if answer is not None else Parsed()

    def _phone(self, step: Step, text: str) -> Parsed:
        if _said(self.normal(text), _NOT_A_NAME):
            return Parsed(hint="contact_needed")  # 'không', 'bỏ qua': a required step asked again, politely
        phone = parse_phone(text) or find_phone(text)
        if phone:
            return accepted(phone)
        if _OLD_MOBILE.match(re.sub(r"[\s.\-()]", "", text)):
            return Parsed(hint="old_phone")
        return Parsed()

    def _name(self, step: Step, text: str) -> Parsed:
        name = " ".join(text.split())
        if _FORMULA.match(name) or _MARKUP.search(name):
            return Parsed(hint="formula_refused")
        if _said(self.normal(name), _NOT_A_NAME) or _said(fold(name), _NOT_A_NAME):  # 'không', 'bỏ qua'
            return accepted("") if step.optional else Parsed(hint="contact_needed")
        if _said(fold(name), _DONE):  # 'xác nhận' typed at a name: the summary's button, no name given
            return accepted("") if step.optional or step.at_summary else Parsed()
        if not 2 <= len(name) <= 100 or not any(ch.isalpha() for ch in name):
            return Parsed()
        return accepted(name)

    def _text(self, step: Step, text: str) -> Parsed:
        note = " ".join(text.split())
        if step.optional and (_skipped(fold(note)) or _skipped(self.normal(note))):
            return accepted("")
        if step.optional and _said(fold(note), _DONE):  # 'xác nhận' at the note: nothing to add, on to the summary
            return accepted("")
        # '-- gọi sau 5h', '+84 935 …': a decorative dash or a number, not a formula; kept so that no stored
        # note starts like one (the exports quote such cells too).
        note = national_at_start(_BULLET.sub("", note))
        if _FORMULA.match(note):
            return Parsed(hint="formula_refused")
        return accepted(note[:500])

    def _needs(self, step: Step, text: str) -> Parsed:
        found = self.match_choice(step.choices, text)
        value = found.value if found.ok else None
        if value == "none" or (step.optional and (_skipped(fold(text)) or _skipped(self.normal(text)))):
            return accepted([])
        if value:
            return accepted([value])
        words = " ".join(text.split())
        if not _FORMULA.match(words) and self._names_support(words):
            return accepted([words[:200]])  # 'mua máy sấy mới': the assessment matches it against line keywords
        return Parsed()


def _said(said: str, words: set[str]) -> bool:
    """Whether the folded answer, without its trailing punctuation, is one of the words."""
    return said.strip(" .!,~") in words


def _skipped(said: str) -> bool:
    """'bỏ qua', 'không có gì ạ.', 'thôi không cần': an optional step left empty."""
    return _said(said, _SKIP)


def skipped(text: str) -> bool:
    """'không', 'không có gì', 'bỏ qua' typed as a whole answer: nothing to give."""
    return _skipped(fold(text))


def later(text: str) -> bool:
    """'thôi (không cần)', 'để sau', 'lúc khác': not now."""
    return _said(fold(text), _LATER)


def postponed(text: str) -> bool:
    """'để sau', 'lúc khác': not now, said of something already under way."""
    return _said(fold(text), _POSTPONE)


def yes_no(text: str) -> bool | None:
    """True for 'có', 'đúng', 'ừ'…, False for 'không', 'ko', 'sai'…, None otherwise."""
    said = fold(text)
    if said in _YES:
        return True
    if said in _NO:
        return False
    return None


def place_slot(place: Place) -> dict[str, Any]:
    """How a resolved place is kept in the conversation."""
    return {
        "code": place.code,
        "commune": place.name,
        "province": place.province.name,
        "type": place.type,
        "centrally_run": place.province.centrally_run,
    }


def _typo_score(said: str, phrase: str) -> float:
    """How close a typed answer is to a phrase, counting only slips within words.

    A typo keeps the first letter: "đồng ý" is not a slip for "công ty", nor "xác nhận" for "cá nhân".
    """
    if not said or not phrase or said[0] != phrase[0]:
        return 0.0
    return float(fuzz.ratio(said, phrase))
