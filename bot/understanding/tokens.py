"""Folded tokens that remember where they stand in the original text, and phrase lookup over them."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from bot.text import canonical, fold

MAX_CHARS = 1000  # a message is read in its first thousand characters: facts come early, hostile text is long
_WORD = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+")
T = TypeVar("T")


@dataclass(frozen=True)
class Token:
    """A folded word (one word of an expanded abbreviation) with its span in the original text."""

    text: str
    start: int
    end: int
    comma_before: bool = False  # a ',' or ';' separates it from the previous word


def normal_text(text: str) -> str:
    """The text spans refer to: NFC, so that combining marks stay inside their words."""
    return unicodedata.normalize("NFC", text)


def tokenize(text: str, abbreviations: Mapping[str, str]) -> list[Token]:
    """Folded tokens of the text ('hkd' gives 'ho', 'kinh', 'doanh' all spanning 'hkd')."""
    out: list[Token] = []
    last = 0
    for match in _WORD.finditer(text, 0, MAX_CHARS):
        comma = any(c in ",;" for c in text[last : match.start()])
        last = match.end()
        for piece in fold(match.group(0)).split():
            for word in abbreviations.get(piece, piece).split():
                out.append(Token(word, match.start(), match.end(), comma))
                comma = False
    return out


@dataclass(frozen=True)
class Match(Generic[T]):
    """A phrase found at tokens [i, j)."""

    i: int
    j: int
    value: T
    phrase: str


class Phrases(Generic[T]):
    """Whole-word phrases (folded) with a value each; finds them in token lists."""

    def __init__(self, pairs: Iterable[tuple[str, T]], abbreviations: Mapping[str, str] | None = None) -> None:
        self._by_first: dict[str, list[tuple[tuple[str, ...], T, str]]] = {}
        for phrase, value in pairs:
            words = tuple(" ".join((abbreviations or {}).get(w, w) for w in fold(phrase).split()).split())
            if words:
                self._by_first.setdefault(words[0], []).append((words, value, phrase))
        for entries in self._by_first.values():
            entries.sort(key=lambda e: -len(e[0]))

    def find(self, words: Sequence[str], free: Sequence[bool] | None = None) -> Iterator[Match[T]]:
        """Every occurrence, longest first at each position, over free tokens only."""
        for i, word in enumerate(words):
            for phrase, value, raw in self._by_first.get(word, ()):
                j = i + len(phrase)
                if tuple(words[i:j]) == phrase and (free is None or all(free[i:j])):
                    yield Match(i, j, value, raw)

    def longest(self, words: Sequence[str], free: Sequence[bool] | None = None) -> list[Match[T]]:
        """Non-overlapping occurrences, the longest winning, in text order."""
        chosen: list[Match[T]] = []
        taken = [False] * len(words)
        for m in sorted(self.find(words, free), key=lambda m: (m.i - m.j, m.i)):
            if not any(taken[m.i : m.j]):
                chosen.append(m)
                taken[m.i : m.j] = [True] * (m.j - m.i)
        return sorted(chosen, key=lambda m: m.i)

    def whole(self, words: Sequence[str]) -> T | None:
        """The value when the words are exactly one phrase."""
        for phrase, value, _ in self._by_first.get(words[0], ()) if words else ():
            if tuple(words) == phrase:
                return value
        return None


class Reading:
    """The tokens of one message and which of them a fact has already claimed."""

    def __init__(self, text: str, tokens: list[Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.words = [t.text for t in tokens]
        self.free = [True] * len(tokens)

    def claim(self, i: int, j: int) -> None:
        """Tokens [i, j) belong to a fact: other kinds of facts do not read them again."""
        self.free[i:j] = [False] * (j - i)

    def span(self, i: int, j: int) -> tuple[int, int]:
        """Character span of tokens [i, j)."""
        return self.tokens[i].start, self.tokens[j - 1].end

    def typed_as(self, i: int, j: int, phrase: str) -> bool:
        """False when the words were typed with other diacritics than the phrase ('mấy' is not 'máy')."""
        typed = canonical(self.original(i, j)).lower()
        if typed.isascii():
            return True  # typed without diacritics: any reading may be meant
        return _same_marks(typed, canonical(phrase).lower())

    def original(self, i: int, j: int) -> str:
        """The original text of tokens [i, j)."""
        start, end = self.span(i, j)
        return self.text[start:end]


def _same_marks(typed: str, phrase: str) -> bool:
    """Typed words and phrase words agree where the typed word carries marks (abbreviations aside)."""
    words, wanted = re.findall(r"[^\W_]+", typed), re.findall(r"[^\W_]+", phrase)
    if len(words) != len(wanted):
        return True
    return all(w.isascii() or w == p for w, p in zip(words, wanted, strict=True))
