"""Classify a free-text activity into a sector, a non-industrial group or an exclusion."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

from bot.knowledge import SectorsFile
from bot.text import Speller, expand, fold

Kind = Literal["sector", "non_industrial", "excluded"]

# Terms whose folded words are an everyday phrase: 'trồng nấm' = 'trong năm' (in the year), 'trồng tiêu' =
# 'trong tiêu thụ'. They count only where a verb can stand: first, or after who does it ('hkd', 'nhà em',
# 'chuyên'), and not before a word that makes the everyday phrase ('trong năm nay', 'trong tiêu thụ').
_HOMOGRAPHS = {("trong", "nam"), ("trong", "tieu")}
_DOERS = {
    "doanh", "xa", "tac", "em", "e", "toi", "minh", "nha", "ben", "chuyen", "nghe", "la", "lam", "dang", "di",
    "chi", "anh", "co", "so", "va", "dinh", "chung", "ta", "ho", "nguoi", "moi", "them", "thu",
}  # fmt: skip
_EVERYDAY_NEXT = {
    "nay", "qua", "toi", "truoc", "sau", "ngoai", "hoc", "tai", "ke", "thu", "dung", "chuan", "chi", "bieu", "hao",
    "diem", "de", "do", "roi", "nua", "dau", "cuoi", "giua",
}  # fmt: skip


@dataclass(frozen=True)
class Term:
    """A lexicon term with what it means."""

    tokens: tuple[str, ...]
    text: str
    kind: Kind
    code: str  # sector code, non-industrial group, or exclusion code
    sector: str | None = None  # the sector an exclusion belongs to


@dataclass(frozen=True)
class Classification:
    """What the activity text is: its kind, code and the term that matched (None: nothing matched)."""

    kind: Kind | None
    code: str | None = None
    matched: str | None = None
    sector: str | None = None
    corrected: bool = False  # read only after fixing a typo


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    term: Term

    def inside(self, other: _Hit) -> bool:
        return other is not self and other.start <= self.start and self.end <= other.end


class SectorClassifier:
    """Longest-match lookup of lexicon terms in folded text."""

    def __init__(self, sectors: SectorsFile, abbreviations: Mapping[str, str]) -> None:
        self._abbreviations = abbreviations
        terms = [Term(tuple(fold(t).split()), t, "sector", s.code) for s in sectors.sectors for t in s.terms]
        terms += [
            Term(tuple(fold(t).split()), t, "non_industrial", g.group) for g in sectors.non_industrial for t in g.terms
        ]
        terms += [
            Term(tuple(fold(t).split()), t, "excluded", e.code, e.sector) for e in sectors.exclusions for t in e.terms
        ]
        self._needs_making = {g.group for g in sectors.non_industrial if g.products_need_making}
        self._making = {tuple(fold(w).split()) for w in sectors.production_words} - {()}
        self._starts = self._making | {tuple(fold(w).split()) for w in sectors.production_starts} - {()}
        self._places = {fold(w) for w in sectors.place_words} - {""}
        self._by_first: dict[str, list[Term]] = {}
        for term in terms:
            if term.tokens:
                self._by_first.setdefault(term.tokens[0], []).append(term)
        self._speller = Speller({tok for term in terms for tok in term.tokens})

    def classify(self, activity: str) -> Classification:
        """Classify an activity; typos are corrected against the lexicon when nothing matches."""
        tokens = expand(fold(activity), self._abbreviations).split()
        found = self._classify(tokens)
        if found.kind is None:
            corrected = self._speller.correct(tokens)
            if corrected != tokens:
                found = replace(self._classify(corrected, fixed=True), corrected=True)
        return found

    def _classify(self, tokens: list[str], fixed: bool = False) -> Classification:
        best = self._best(tokens, fixed)
        return self._result(best) if best else Classification(None)

    def locate(self, tokens: list[str]) -> tuple[Classification, int, int] | None:
        """The classification of folded tokens and the token range [start, end) of the term that decided it."""
        best = self._best(tokens)
        if best is None:
            corrected = self._speller.correct(tokens)
            best = self._best(corrected, fixed=True) if corrected != tokens else None
            if best is None:
                return None
            return replace(self._result(best), corrected=True), best.start, best.end
        return self._result(best), best.start, best.end

    def _best(self, tokens: list[str], fixed: bool = False) -> _Hit | None:
        """The deciding hit; `fixed` tokens went through the speller, where a homograph is never read."""
        hits = self._hits(tokens, fixed)
        excluded = [h for h in hits if h.term.kind == "excluded"]
        if excluded:
            return max(excluded, key=_length)
        # A term inside a longer one does not count: 'bán chè' is trade although 'chè' is a product.
        outer = [h for h in hits if not any(h.inside(o) for o in hits)]
        industrial = [h for h in outer if h.term.kind == "sector"]
        if any(h.term.kind == "non_industrial" and h.term.code in self._needs_making for h in outer):
            # A shop or a homestay names products it sells or shows: 'homestay bán kèm mật ong'.
            industrial = [h for h in industrial if self._made(h, tokens, outer)]
        if industrial:  # any processing at all makes it industrial: 'nuôi heo và làm giò chả'
            return max(industrial, key=_length)
        others = [h for h in outer if h.term.kind != "sector"]  # a product sold or shown, not made, drops out
        return max(others, key=_length) if others else None

    def _made(self, hit: _Hit, tokens: list[str], hits: list[_Hit]) -> bool:
        """Whether the text says the product is made: a production word starts the term or stands just before it."""
        if hit.start and tokens[hit.start - 1] in self._places:  # 'nhà nghỉ gần lò gốm'
            return False
        # The words before the product, back to three, not reaching into another activity ('làm homestay').
        start = max([hit.start - 3, 0] + [h.end for h in hits if h.term.kind != "sector" and h.end <= hit.start])
        # A word that starts the term counts ('làm gốm'); one inside it does not ('quán nước ép').
        if any(hit.term.tokens[: len(word)] == word for word in self._starts):
            return True
        return any(tuple(tokens[i : i + len(word)]) == word for word in self._making for i in range(start, hit.start))

    def _hits(self, tokens: list[str], fixed: bool = False) -> list[_Hit]:
        hits = []
        for i, tok in enumerate(tokens):
            for term in self._by_first.get(tok, ()):
                n = len(term.tokens)
                if tuple(tokens[i : i + n]) == term.tokens and _as_meant(term, tokens, i, n, fixed):
                    hits.append(_Hit(i, i + n, term))
        return hits

    @staticmethod
    def _result(hit: _Hit) -> Classification:
        term = hit.term
        return Classification(
            term.kind, term.code, term.text, term.sector or (term.code if term.kind == "sector" else None)
        )


def _length(hit: _Hit) -> tuple[int, int]:
    # Equal lengths: the later term wins, the object follows its verb ('chế biến | quặng titan').
    return (hit.end - hit.start, hit.start)


def _as_meant(term: Term, tokens: list[str], i: int, n: int, fixed: bool) -> bool:
    """A homograph term ('trồng nấm') is read only where it cannot be the everyday phrase ('trong năm nay')."""
    if term.tokens[:2] not in _HOMOGRAPHS:
        return True
    if fixed:  # 'trong năm nay' spell-fixed to 'trong nam ngay': the words around it are no longer the person's
        return False
    after = tokens[i + n] if i + n < len(tokens) else ""
    # A word hidden by the reader ('\x00': a legal form, a place) is a boundary, as the start is: 'hkd | trong nam'.
    return (i == 0 or tokens[i - 1] in _DOERS or tokens[i - 1] == "\x00") and after not in _EVERYDAY_NEXT
