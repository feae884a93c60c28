"""What a question names (legal form, sector, support line, dossier step…) and how well an entry agrees."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.knowledge_types import FaqLike

# Factors on an entry's ranking score. An entry about exactly what the question names beats a neighbour
# that only shares words with it; one about another subject of the same kind (a household business when a
# cooperative asks) falls behind even an entry that names no subject at all.
_AGREE = 1.3  # per subject named both by the question and by the entry
_DISAGREE = 0.6  # per kind where both name subjects and share none
_ABSENT = 0.75  # per required subject of the entry ('ưu tiên') of a kind the question does not name

Named = dict[str, frozenset[str]]  # kind -> the subjects of that kind a question names


@dataclass(frozen=True)
class Subjects:
    """The subject vocabulary of the FAQ and what each entry is about (plain data: the index pickles)."""

    terms: tuple[tuple[str, str, str], ...]  # (" normalised term ", kind, tag)
    about: dict[str, dict[str, frozenset[str]]]  # entry id -> kind -> its subjects of that kind
    required: dict[str, tuple[tuple[str, str], ...]]  # entry id -> its required (kind, tag)
    members: dict[str, tuple[str, ...]]  # tag -> the entries about it

    def entries_about(self, named: Named) -> set[str]:
        """The entries about a subject the question names: candidates even when their words are common."""
        return {eid for tags in named.values() for tag in tags for eid in self.members.get(tag, ())}

    def named(self, normal_text: str) -> Named:
        """The subjects a normalised question names, by kind."""
        haystack = f" {normal_text} "
        found: dict[str, set[str]] = {}
        for term, kind, tag in self.terms:
            if term in haystack:
                found.setdefault(kind, set()).add(tag)
        return {kind: frozenset(tags) for kind, tags in found.items()}

    def fit(self, entry_id: str, named: Named) -> tuple[float, float]:
        """Factors on an entry's rank and on its confidence (only a disagreement lowers confidence)."""
        rank = confidence = 1.0
        for kind, tags in self.about.get(entry_id, {}).items():
            asked = named.get(kind)
            if asked:
                shared = len(asked & tags)
                rank *= _AGREE**shared if shared else _DISAGREE
                confidence *= 1.0 if shared else _DISAGREE
        for kind, _tag in self.required.get(entry_id, ()):
            if kind not in named:
                rank *= _ABSENT  # 'nguyên liệu tại chỗ' is still a priority question: only outranked
        return rank, confidence


def build_subjects(faq: FaqLike, normal: Callable[[str], str]) -> Subjects:
    """Index the subject vocabulary of faq.yaml and the subjects among each entry's tags."""
    kinds = {s.tag: s.kind for s in faq.subjects}
    required = {s.tag for s in faq.subjects if s.required}
    terms = tuple(
        sorted({(f" {normal(term)} ", s.kind, s.tag) for s in faq.subjects for term in s.terms})
    )  # sorted: the same order in every process
    about: dict[str, dict[str, frozenset[str]]] = {}
    needs: dict[str, tuple[tuple[str, str], ...]] = {}
    members: dict[str, list[str]] = {}
    for entry in faq.entries:
        by_kind: dict[str, set[str]] = {}
        for tag in entry.tags:
            if tag in kinds:
                by_kind.setdefault(kinds[tag], set()).add(tag)
        for tags in by_kind.values():
            for tag in tags:
                members.setdefault(tag, []).append(entry.id)
        if by_kind:
            about[entry.id] = {kind: frozenset(tags) for kind, tags in by_kind.items()}
        own = tuple((kinds[t], t) for t in entry.tags if t in required)
        if own:
            needs[entry.id] = own
    return Subjects(terms, about, needs, {tag: tuple(ids) for tag, ids in members.items()})
