"""FAQ retrieval that survives missing diacritics, abbreviations, typos and word order."""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import itertools
import math
import os
import pickle
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz import fuzz, process

from bot.faq_subjects import build_subjects
from bot.files import owner_only, private_dir
from bot.knowledge_types import FaqLike, OutOfScopeLike
from bot.person_names import looks_like_name
from bot.text import PhraseRewriter, Speller, canonical, expand, fold, fold_abbreviations

_PLEASANTRY_EXTRA_WORDS = 3  # 'cảm ơn bạn nhiều nha' is still only thanks

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
_SET_SHARE = 0.7  # of the similarity that ignores extra words; the rest minds length and order
_CANDIDATES = 5
_COMMON_SHARE = 0.1  # see FaqIndex._scores
_RESCORED = 30  # candidates kept from the selective grams before common grams re-score them
_MAX_QUERY = 600  # characters; a longer message is cut, it is not a question any more
_MIN_CONFIDENCE = 0.62  # answer above this
_DOMAIN_CONFIDENCE = 0.5  # …or above this when the question names khuyến công things (in_scope_terms)
_TOPIC_OVERRIDE = 0.8  # an out-of-scope topic word loses only to a very confident FAQ match
NO_MATCH_ANSWER = (
    "Dạ, tôi chưa tìm được câu trả lời chắc chắn cho câu hỏi này. "
    "Bà con có thể hỏi lại cách khác, hoặc nhắn “gặp cán bộ” để cán bộ xã trả lời."
)


@dataclass(frozen=True)
class Entry:
    """What an answer needs of an FAQ entry (plain data, so the built index pickles without pydantic)."""

    id: str
    question: str
    answer: str
    citation: str
    status: str


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
        faq: FaqLike,
        out_of_scope: OutOfScopeLike,
        abbreviations: Mapping[str, str],
        phrases: Mapping[str, str] | None = None,
    ) -> None:
        self.entries = {e.id: Entry(e.id, e.question, e.answer, e.citation, e.status) for e in faq.entries}
        self._abbr = fold_abbreviations(abbreviations)
        self._rewrite = PhraseRewriter(phrases or {})
        self._phrases = {e.id: [self._normal(p) for p in [e.question, *e.variants]] for e in faq.entries}
        self._order = {e.id: i for i, e in enumerate(faq.entries)}
        self._subjects = build_subjects(faq, self._normal)
        asked = {eid: Counter(g for p in ph for g in features(p.split())) for eid, ph in self._phrases.items()}
        for entry in faq.entries:  # phrasings typed with diacritics also match by their accented words
            asked[entry.id].update(g for p in [entry.question, *entry.variants] for g in _accented_grams(p))
        answers = {e.id: Counter(features(self._normal(e.answer).split())) for e in faq.entries}
        self._weights, self.idf = _bm25_weights(asked, _K1, _B)
        answer_weights, _ = _bm25_weights(answers, _K1_ANSWER, _B_ANSWER)
        for gram, postings in answer_weights.items():
            merged = self._weights.setdefault(gram, {})
            for eid, w in postings.items():
                merged[eid] = merged.get(eid, 0.0) + _ANSWER_WEIGHT * w
        # A gram in more than this many entries only re-scores candidates that rarer grams found.
        self._common = max(8, int(_COMMON_SHARE * len(faq.entries)))
        # Every word of every phrasing, stopwords too: else 'cho' or 'vay' would be "corrected" into others.
        self._speller = Speller({t for ph in self._phrases.values() for p in ph for t in p.split()} | STOPWORDS)
        self._default_idf = max(self.idf.values(), default=1.0)
        self._vocab = {eid: {g for p in ph for g in p.split()} for eid, ph in self._phrases.items()}
        self._domain = [f" {self._normal(t)} " for t in out_of_scope.in_scope_terms]
        self._topics = [
            (
                t.id,
                t.answer,
                t.alone,
                (
                    [f" {fold(x)} " for x in t.terms],
                    [f" {_accented_words(x)} " for x in [*t.terms, *t.accent_only_terms]],
                ),
            )
            for t in out_of_scope.topics
        ]

    def _normal(self, text: str) -> str:
        return self._rewrite(expand(fold(text[:_MAX_QUERY]), self._abbr))

    def search(self, question: str, limit: int = 3) -> list[tuple[str, float]]:
        """The best entries for a question with their confidence in [0, 1], best first."""
        typed = self._normal(question).split()
        tokens = self._speller.correct(typed)
        grams = sorted(set(features(tokens)))  # sorted: the same sums in every process, whatever the hash seed
        if fold(question) != question.lower().strip():
            grams += sorted(set(_accented_grams(question[:_MAX_QUERY])))
        query = " ".join(tokens)
        # The entry about exactly the legal form, sector, line or step the question names beats a neighbour.
        named = self._subjects.named(query)
        scores = self._scores(grams, self._subjects.entries_about(named))
        if not scores:
            return []
        fit = {eid: self._subjects.fit(eid, named) for eid in scores}
        scores = {eid: score * fit[eid][0] for eid, score in scores.items()}
        if not any(scores.values()):
            return []
        top = max(scores.values())
        order = self._order
        candidates = heapq.nsmallest(_CANDIDATES, scores, key=lambda e: (-scores[e], order[e]))
        similarity = {eid: self._similarity(query, eid) for eid in candidates}
        rank = {e: scores[e] / top + _FUZZY_WEIGHT * similarity[e] * fit[e][0] for e in candidates}
        ranked = sorted(candidates, key=lambda e: (-rank[e], order[e]))
        # Confidence counts the words as typed: a word the speller had to bend ('cúng' → 'cung') is unknown.
        plain = {g for g in features(typed) if " " not in g}
        total = sum(self.idf.get(g, self._default_idf) for g in plain) or 1.0
        # A disagreeing subject also lowers confidence: better alternatives than the wrong legal form.
        return [(eid, fit[eid][1] * self._confidence(eid, plain, similarity[eid], total)) for eid in ranked[:limit]]

    def _similarity(self, query: str, entry_id: str) -> float:
        """Fuzzy similarity of the question to the entry's closest phrasing, in [0, 1]."""
        phrases = self._phrases[entry_id]
        # Two passes in rapidfuzz's C code: the set score ignores extra words, the sort score minds them.
        by_set = process.extractOne(query, phrases, scorer=fuzz.token_set_ratio)
        by_sort = process.extractOne(query, phrases, scorer=fuzz.token_sort_ratio)
        if by_set is None or by_sort is None:
            return 0.0
        return (_SET_SHARE * by_set[1] + (1 - _SET_SHARE) * by_sort[1]) / 100

    def _scores(self, grams: list[str], about: set[str]) -> dict[str, float]:
        """BM25 sums: selective grams (and the subjects named) find candidates, common grams re-score them."""
        scores: dict[str, float] = {}
        common = []
        for gram in grams:
            postings = self._weights.get(gram)
            if postings is None:
                continue
            if len(postings) > self._common:
                common.append(postings)
                continue
            for entry_id, weight in postings.items():
                scores[entry_id] = scores.get(entry_id, 0.0) + weight
        if len(scores) > _RESCORED:
            keep = heapq.nlargest(_RESCORED, scores.items(), key=lambda kv: (kv[1], -self._order[kv[0]]))
            scores = dict(keep)
        for entry_id in sorted(about - scores.keys()):  # 'htx': every word of it is common, the entry is not
            scores[entry_id] = 0.0
        for postings in common:
            if scores:
                for entry_id in scores:
                    scores[entry_id] += postings.get(entry_id, 0.0)
            else:  # nothing selective matched: the common grams are all there is
                for entry_id, weight in postings.items():
                    scores[entry_id] = scores.get(entry_id, 0.0) + weight
        return scores

    def _confidence(self, entry_id: str, words: set[str], similarity: float, total: float) -> float:
        """How much of the question the entry's phrasings explain, blended with the closest one's similarity."""
        covered = sum(self.idf[g] for g in words if g in self._vocab[entry_id]) / total
        return 0.5 * min(covered, 1.0) + 0.5 * similarity

    def topic(self, question: str) -> tuple[str, str] | None:
        """The out-of-scope topic a question is about, if any: (id, polite answer).

        With diacritics typed, terms match with diacritics ('mưa' is rain, not 'mua', to buy).
        """
        text = question[:_MAX_QUERY]
        accented = fold(text) != text.lower().strip()
        haystack = f" {_accented_words(text)} " if accented else f" {fold(text)} "
        words = len(haystack.split())
        for topic_id, answer, alone, terms in self._topics:
            found = [term for term in (terms[1] if accented else terms[0]) if term in haystack]
            # 'chào' alone is a greeting; 'chào, tôi làm bún có được hỗ trợ không' is a question.
            if found and (not alone or words - len(found[0].split()) <= _PLEASANTRY_EXTRA_WORDS):
                return topic_id, answer
        return None

    def in_domain(self, question: str) -> bool:
        """Whether the question names something of khuyến công ('hỗ trợ', 'cơ sở', 'máy móc'…)."""
        text = f" {self._normal(question)} "
        return any(term in text for term in self._domain)

    def ask(self, question: str) -> Answer:
        """Answer a question, refuse it politely, or say we are not sure and offer alternatives."""
        ranked = self.search(question)
        best_id, best = ranked[0] if ranked else (None, 0.0)
        if looks_like_name(question) and not self.in_domain(question):
            # 'Nguyễn Văn Bình': the words of a name ('nguyên' liệu, tư 'vấn') are no question to answer.
            return Answer(False, None, best, NO_MATCH_ANSWER, None)
        topic = self.topic(question)
        if topic and best < _TOPIC_OVERRIDE:
            return Answer(False, None, best, topic[1], None, out_of_scope=topic[0])
        # Suggest close entries only when they plausibly relate: 'xin chào' should not offer 'Mẫu 02a'.
        floor = _DOMAIN_CONFIDENCE if self.in_domain(question) else _MIN_CONFIDENCE
        alternatives = [Alternative(eid, self.entries[eid].question) for eid, score in ranked if score >= floor - 0.1]
        sure = best >= _MIN_CONFIDENCE or (best >= _DOMAIN_CONFIDENCE and self.in_domain(question))
        if best_id is None or not sure:
            return Answer(False, None, best, NO_MATCH_ANSWER, None, alternatives[:3])
        entry = self.entries[best_id]
        others = [a for a in alternatives if a.faq_id != best_id][:2]
        return Answer(True, best_id, best, entry.answer, entry.citation, others, entry.status)


def _accented_grams(text: str) -> list[str]:
    """Accented words of a text as features ('~máy'), only for words that carry diacritics."""
    return [f"~{w}" for w in _accented_words(text).split() if fold(w) != w]


def _accented_words(text: str) -> str:
    """Lowercase words with their diacritics in one tone placement, punctuation dropped."""
    return " ".join(re.findall(r"\w+", canonical(text).lower()))


def _bm25_weights(
    docs: dict[str, Counter[str]], k1: float, b: float
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Per-feature postings of precomputed BM25 weights, and the idf of each feature."""
    n = len(docs)
    lengths = {d: sum(c.values()) for d, c in docs.items()}
    avg = sum(lengths.values()) / max(n, 1)
    df = Counter(g for c in docs.values() for g in c)
    idf = {g: math.log(1 + (n - k + 0.5) / (k + 0.5)) for g, k in df.items()}
    postings: dict[str, dict[str, float]] = {}
    for doc_id, counts in docs.items():
        norm = k1 * (1 - b + b * lengths[doc_id] / avg)
        for gram, tf in counts.items():
            postings.setdefault(gram, {})[doc_id] = idf[gram] * tf * (k1 + 1) / (tf + norm)
    return postings, idf


_CACHED_FILES = ("faq.yaml", "out_of_scope.yaml", "abbreviations.yaml")
_CODE = tuple(Path(__file__).with_name(n) for n in ("faq.py", "text.py", "faq_subjects.py", "person_names.py"))


def load_index(knowledge: Path, cache_dir: Path | None = None) -> FaqIndex:
    """The FAQ index of a knowledge folder, from a cache keyed by the files' and the code's contents.

    Building the index means importing the pydantic schema and parsing YAML; a cached copy lets one
    `khuyencong ask` start in well under half a second. A cache that cannot be read or written is skipped.
    """
    digest = hashlib.sha256()
    for path in [*(knowledge / name for name in _CACHED_FILES), *_CODE]:
        digest.update(path.read_bytes() if path.exists() else b"-")
    cached = cache_dir / f"faq-{digest.hexdigest()[:20]}.pickle" if cache_dir else None
    if cached is not None:
        with contextlib.suppress(OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            index = pickle.loads(cached.read_bytes())  # our own file, written below
            if isinstance(index, FaqIndex):
                return index
    from bot.knowledge import load_faq_files  # only on a cache miss: the schema is slow to import

    faq, oos, abbr = load_faq_files(knowledge)
    index = FaqIndex(faq, oos, abbr.abbreviations, abbr.phrases)
    if cached is not None:
        with contextlib.suppress(OSError):
            private_dir(cached.parent)
            for old in cached.parent.glob("faq-*.pickle"):
                old.unlink(missing_ok=True)
            tmp = cached.with_suffix(".tmp")
            tmp.write_bytes(pickle.dumps(index, protocol=pickle.HIGHEST_PROTOCOL))
            owner_only(tmp)
            os.replace(tmp, cached)
    return index
