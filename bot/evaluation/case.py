"""Evaluation of answers from the person's own case: each question with the facts its answer must hold."""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.answers import place_slot
from bot.dialog.case import CaseAnswers
from bot.evaluation.shared import read_set, share
from bot.places import Gazetteer
from bot.understanding import Understander

_FIELDS = {"text", "slots", "must", "must_not", "none"}


@dataclass(frozen=True)
class Question:
    """One question, the conversation it is asked in, and what its answer must and must not say."""

    text: str
    slots: dict[str, Any]
    must: tuple[str, ...]
    must_not: tuple[str, ...]
    none: bool  # the flat FAQ should answer: no case answer expected


@dataclass
class Result:
    """How many answers held every fact they must and none they must not."""

    total: int = 0
    passed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Share of questions answered right."""
        return share(self.passed, self.total)

    def summary(self) -> str:
        """'case answers: 58/62 (93.5%)'."""
        return f"case answers: {self.passed}/{self.total} ({self.rate:.1%})"


def load_questions(path: Path) -> tuple[dt.date, list[Question]]:
    """The day the set is asked on and its questions; ValueError naming the problem when malformed."""
    data = read_set(path)
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        raise ValueError(f"{path}: expected 'today' and a list 'questions'")
    today = data.get("today")
    if not isinstance(today, dt.date):
        raise ValueError(f"{path}: 'today' must be a date (YYYY-MM-DD)")
    return today, [_question(path, i, q) for i, q in enumerate(data["questions"])]


def _question(path: Path, i: int, q: Any) -> Question:
    where = f"{path}: questions[{i}]"
    if not isinstance(q, dict) or not isinstance(q.get("text"), str) or set(q) - _FIELDS:
        raise ValueError(f"{where}: needs 'text' and only {sorted(_FIELDS)}")
    lists = {k: q.get(k) or [] for k in ("must", "must_not")}
    if any(not isinstance(v, list) or not all(isinstance(s, str) for s in v) for v in lists.values()):
        raise ValueError(f"{where}: 'must' and 'must_not' are lists of strings")
    slots = q.get("slots") or {}
    if not isinstance(slots, dict):
        raise ValueError(f"{where}: 'slots' is a mapping")
    return Question(q["text"], slots, tuple(lists["must"]), tuple(lists["must_not"]), bool(q.get("none")))


def conversation_slots(slots: dict[str, Any], gazetteer: Gazetteer) -> dict[str, Any]:
    """The slots as the dialog keeps them: 'place: xã Vĩnh Thủy, Quảng Trị' becomes the resolved place."""
    out = dict(slots)
    if isinstance(out.get("place"), str):
        commune, _, province = out["place"].partition(",")
        place = gazetteer.resolve(commune.strip(), province.strip() or None).place
        out["place"] = place_slot(place) if place else None
    return out


def evaluate(
    answers: CaseAnswers, understander: Understander, gazetteer: Gazetteer, today: dt.date, questions: list[Question]
) -> Result:
    """Ask every question in its conversation; count answers holding all they must and nothing they must not."""
    result = Result()
    for q in questions:
        result.total += 1
        got = answers.answer(understander.understand(q.text), conversation_slots(q.slots, gazetteer), today)
        problems = _problems(q, got.text if got else None)
        if problems:
            shown = (got.text if got else "—").replace("\n", " / ")
            result.errors.append(f"✗ {q.text}\n    {'; '.join(problems)}\n    → {shown[:400]}")
        else:
            result.passed += 1
    return result


def _problems(q: Question, text: str | None) -> list[str]:
    if q.none:
        return [] if text is None else ["expected the FAQ to answer"]
    if text is None:
        return ["no case answer"]
    said = _norm(text)
    missing = [f"missing {m!r}" for m in q.must if _norm(m) not in said]
    wrong = [f"says {m!r}" for m in q.must_not if _norm(m) in said]
    return missing + wrong


def _norm(text: str) -> str:
    return unicodedata.normalize("NFC", text).lower()
