"""FAQ retrieval that survives missing diacritics, abbreviations, typos and word order."""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from bot.knowledge import FaqEntry, FaqFile, OutOfScopeFile
from bot.text import PhraseRewriter, Speller, canonical, expand, fold, fold_abbreviations

# Politeness words and pronouns that say nothing about the topic ('cho em hỏi … ạ'); folded.
# Question words (là gì, khi nào, bao nhiêu…) stay: they tell close entries apart.
STOPWORDS = frozenset(
    [
        "a",
        "oi",
        "nhe",
        "nha",
        "ak",
        "ah",
        "xin",
        "em",
        "anh",
        "chi",
        "toi",
        "minh",
        "cho",
        "voi",
        "vay",
        "the",
        "roi",
        "ha",
        "nhi",
        "u",
        "uh",
        "ad",
        "ban",
        "z",
        "ta",
    ]
)
_K1, _B = 1.6, 0.75  # BM25 over an entry's question and phrasings
_K1_ANSWER, _B_ANSWER = 1.2, 0.5  # BM25 over its answer, a weaker field
_ANSWER_WEIGHT = 0.5
_FUZZY_WEIGHT = 0.5  # re-ranking by the closest phrasing, for typos and word order
_CANDIDATES = 8
_MAX_QUERY = 600  # characters; a longer message is cut, it is not a question any more
_MIN_CONFIDENCE = 0.5
_TOPIC_OVERRIDE = 0.8  # an out-of-scope topic word loses only to a very confident FAQ match
NO_MATCH_ANSWER = (
    "Dạ, tôi chưa tìm được câu trả lời chắc chắn cho câu hỏi này. "
    "Bà con có thể hỏi lại cách khác, hoặc nhắn “gặp cán bộ” để cán bộ xã trả lời."
)


@dataclass(frozen=True)
class Alternative:
    """A close entry offered when the match is not certain."""

    faq_id: str
    question: str


@dataclass(frozen=True)
class Answer:
    """The outcome of one question (design §4.5)."""

    matched: bool
    faq_id: str | None
    score: float
    answer: str
    citation: str | None
    alternatives: list[Alternative] = field(default_factory=list)
    status: str | None = None
    out_of_scope: str | None = None  # the topic id when the question is outside khuyến công

    def as_json(self) -> dict[str, object]:
        """The JSON shape of design §4.5."""
        return {
            "matched": self.matched,
            "faq_id": self.faq_id,
            "score": round(self.score, 3),
            "answer": self.answer,
            "citation": self.citation,
            "alternatives": [{"faq_id": a.faq_id, "question": a.question} for a in self.alternatives],
        }


def features(tokens: list[str]) -> list[str]:
    """Unigrams (without stopwords) and adjacent bigrams, the units of retrieval."""
    grams = [t for t in tokens if t not in STOPWORDS]
    grams += [f"{a} {b}" for a, b in itertools.pairwise(tokens) if not {a, b} <= STOPWORDS]
    return grams


class FaqIndex:
    """BM25 over each entry's phrasings (plus its answer, weaker), re-ranked by fuzzy similarity."""

    def __init__(
        self,
        faq: FaqFile,
        out_of_scope: OutOfScopeFile,
        abbreviations: Mapping[str, str],
        phrases: Mapping[str, str] | None = None,
    ) -> None:
        self.entries = {e.id: e for e in faq.entries}
        self._abbr = fold_abbreviations(abbreviations)
        self._rewrite = PhraseRewriter(phrases or {})
        self._phrases = {e.id: [self._normal(p) for p in [e.question, *e.variants]] for e in faq.entries}
        asked = {eid: Counter(g for p in ph for g in features(p.split())) for eid, ph in self._phrases.items()}
        answers = {e.id: Counter(features(self._normal(e.answer).split())) for e in faq.entries}
        self._weights, self.idf = _bm25_weights(asked, _K1, _B)
        answer_weights, _ = _bm25_weights(answers, _K1_ANSWER, _B_ANSWER)
        for gram, postings in answer_weights.items():
            self._weights.setdefault(gram, []).extend((eid, _ANSWER_WEIGHT * w) for eid, w in postings)
        self._speller = Speller({g for g in self.idf if " " not in g})
        self._default_idf = max(self.idf.values(), default=1.0)
        self._vocab = {eid: {g for p in ph for g in p.split()} for eid, ph in self._phrases.items()}
        self._topics = [
            (
                t.id,
                t.answer,
                ([f" {fold(x)} " for x in t.terms], [f" {_accented_words(x)} " for x in t.terms + t.accent_only_terms]),
            )
            for t in out_of_scope.topics
        ]

    def _normal(self, text: str) -> str:
        return self._rewrite(expand(fold(text[:_MAX_QUERY]), self._abbr))

    def search(self, question: str, limit: int = 3) -> list[tuple[str, float]]:
        """The best entries for a question with their confidence in [0, 1], best first."""
        tokens = self._speller.correct(self._normal(question).split())
        grams = set(features(tokens))
        scores: dict[str, float] = {}
        for gram in grams:
            for entry_id, weight in self._weights.get(gram, ()):
                scores[entry_id] = scores.get(entry_id, 0.0) + weight
        if not scores:
            return []
        top = max(scores.values())
        query = " ".join(tokens)
        similarity = {
            eid: max(fuzz.token_set_ratio(query, p) for p in self._phrases[eid]) / 100
            for eid in sorted(scores, key=scores.__getitem__, reverse=True)[:_CANDIDATES]
        }
        ranked = sorted(similarity, key=lambda e: scores[e] / top + _FUZZY_WEIGHT * similarity[e], reverse=True)
        total = sum(self.idf.get(g, self._default_idf) for g in grams if " " not in g) or 1.0
        return [(eid, self._confidence(eid, grams, similarity[eid], total)) for eid in ranked[:limit]]

    def _confidence(self, entry_id: str, grams: set[str], similarity: float, total: float) -> float:
        """How much of the question the entry's phrasings explain, blended with the closest one's similarity."""
        covered = sum(self.idf[g] for g in grams if " " not in g and g in self._vocab[entry_id]) / total
        return 0.55 * min(covered, 1.0) + 0.45 * similarity

    def topic(self, question: str) -> tuple[str, str] | None:
        """The out-of-scope topic a question is about, if any: (id, polite answer).

        With diacritics typed, terms match with diacritics ('mưa' is rain, not 'mua', to buy).
        """
        text = question[:_MAX_QUERY]
        accented = fold(text) != text.lower().strip()
        haystack = f" {_accented_words(text)} " if accented else f" {fold(text)} "
        for topic_id, answer, terms in self._topics:
            if any(term in haystack for term in (terms[1] if accented else terms[0])):
                return topic_id, answer
        return None

    def ask(self, question: str) -> Answer:
        """Answer a question, refuse it politely, or say we are not sure and offer alternatives."""
        ranked = self.search(question)
        best_id, best = ranked[0] if ranked else (None, 0.0)
        topic = self.topic(question)
        if topic and best < _TOPIC_OVERRIDE:
            return Answer(False, None, best, topic[1], None, out_of_scope=topic[0])
        alternatives = [Alternative(eid, self.entries[eid].question) for eid, score in ranked if score >= 0.3]
        if best_id is None or best < _MIN_CONFIDENCE:
            return Answer(False, None, best, NO_MATCH_ANSWER, None, alternatives[:3])
        entry: FaqEntry = self.entries[best_id]
        others = [a for a in alternatives if a.faq_id != best_id][:2]
        return Answer(True, best_id, best, entry.answer, entry.citation, others, entry.status)


def _accented_words(text: str) -> str:
    """Lowercase words with their diacritics in one tone placement, punctuation dropped."""
    return " ".join(re.findall(r"\w+", canonical(text).lower()))


def _bm25_weights(
    docs: dict[str, Counter[str]], k1: float, b: float
) -> tuple[dict[str, list[tuple[str, float]]], dict[str, float]]:
    """Per-feature postings of precomputed BM25 weights, and the idf of each feature."""
    n = len(docs)
    lengths = {d: sum(c.values()) for d, c in docs.items()}
    avg = sum(lengths.values()) / max(n, 1)
    df = Counter(g for c in docs.values() for g in c)
    idf = {g: math.log(1 + (n - k + 0.5) / (k + 0.5)) for g, k in df.items()}
    postings: dict[str, list[tuple[str, float]]] = {}
    for doc_id, counts in docs.items():
        norm = k1 * (1 - b + b * lengths[doc_id] / avg)
        for gram, tf in counts.items():
            postings.setdefault(gram, []).append((doc_id, idf[gram] * tf * (k1 + 1) / (tf + norm)))
    return postings, idf
