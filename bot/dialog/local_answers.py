"""A commune's own FAQ entries, written by its staff in the dashboard, answered to that commune's people only."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from bot.faq import Answer, FaqIndex
from bot.knowledge import VN_TIME, Knowledge
from bot.knowledge_types import SubjectLike, TopicLike
from bot.storage import Repository

LOCAL_STATUS = "S"  # an office's own answer, not a legal text
CITATION = "Trả lời của {office}, {day}"


@dataclass(frozen=True)
class _Entry:
    """A stored local entry as the FAQ index reads it (knowledge_types.FaqEntryLike)."""

    id: str
    question: str
    variants: Sequence[str]
    answer: str
    citation: str  # the day it was last written, dd/mm/yyyy; the office is named when it is answered
    status: str = LOCAL_STATUS
    tags: Sequence[str] = ()


@dataclass(frozen=True)
class _Faq:
    entries: Sequence[_Entry]
    subjects: Sequence[SubjectLike] = ()


@dataclass(frozen=True)
class _Scope:
    in_scope_terms: Sequence[str]
    topics: Sequence[TopicLike] = ()  # out-of-scope topics are the national index's job


class LocalAnswers:
    """Per commune, an FAQ index over its own entries, rebuilt when any process changed them (no restart)."""

    def __init__(self, kb: Knowledge, repo: Repository) -> None:
        self.kb, self.repo = kb, repo
        self._indexes: dict[int, tuple[int, FaqIndex | None]] = {}
        self._lock = threading.Lock()

    def ask(self, commune: int | None, text: str, office: Callable[[], str]) -> Answer | None:
        """The commune's own answer to a question when one matches confidently, cited as its office's."""
        if commune is None:
            return None
        index = self._index(commune)
        if index is None:
            return None
        found = index.ask(text)
        if not found.matched or found.faq_id is None:
            return None
        day = index.entries[found.faq_id].citation
        return replace(found, citation=CITATION.format(office=office(), day=day), alternatives=[])

    def _index(self, commune: int) -> FaqIndex | None:
        """The commune's index, from the cache while its version (the newest change, any process) holds."""
        version = self.repo.local_faq_version(commune)  # one indexed read: cheap next to the retrieval itself
        if version == 0:
            return None
        with self._lock:
            cached = self._indexes.get(commune)
            if cached is not None and cached[0] == version:
                return cached[1]
        index = self._build(commune)
        with self._lock:
            self._indexes[commune] = (version, index)
        return index

    def _build(self, commune: int) -> FaqIndex | None:
        rows = self.repo.local_faq([commune])
        if not rows:
            return None
        entries = [
            _Entry(f"local_{r['id']}", r["question"], r["variants"], r["answer"], vn_day(r["updated_at"])) for r in rows
        ]
        kb = self.kb
        scope = _Scope(kb.out_of_scope.in_scope_terms)
        return FaqIndex(_Faq(entries), scope, kb.abbreviations.abbreviations, kb.abbreviations.phrases)


def vn_day(stamp: str) -> str:
    """A stored UTC time as the Vietnam day people read: '03/12/2026'."""
    return dt.datetime.fromisoformat(stamp).astimezone(VN_TIME).strftime("%d/%m/%Y")
