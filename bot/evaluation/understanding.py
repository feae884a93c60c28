"""Evaluation of understanding on single messages: precision and recall per fact kind, intent accuracy."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.evaluation.shared import read_set, share
from bot.places import Gazetteer
from bot.text import fold
from bot.understanding import MIN_CONFIDENCE, Understander, Understanding

KINDS = (
    "legal_form", "product", "sector", "commune", "province", "workers", "revenue", "capital",
    "craft_village", "export", "owner_flag", "need", "phone", "name",
)  # fmt: skip
_UNIT_WORDS = ("xa ", "phuong ", "dac khu ", "thanh pho ", "tinh ")


@dataclass(frozen=True)
class Case:
    """One message with the step it answers, its intent and the facts it states."""

    text: str
    step: str | None
    intent: str | None
    facts: dict[str, list[Any]]


@dataclass
class Counts:
    """True positives, false positives and false negatives of one fact kind."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def line(self, kind: str) -> str:
        """'commune     P 95.0%  R 90.0%  (tp 19, fp 1, fn 2)'."""
        p, r = self.precision, self.recall
        return f"{kind:<14} P {p:6.1%}  R {r:6.1%}  (tp {self.tp}, fp {self.fp}, fn {self.fn})"

    @property
    def precision(self) -> float:
        """Share of the facts read that were right."""
        return share(self.tp, self.tp + self.fp, empty=1.0)

    @property
    def recall(self) -> float:
        """Share of the facts stated that were read."""
        return share(self.tp, self.tp + self.fn, empty=1.0)


@dataclass
class Result:
    """The figures of one run."""

    kinds: dict[str, Counts] = field(default_factory=lambda: {k: Counts() for k in KINDS})
    intents_right: int = 0
    total: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def intent_accuracy(self) -> float:
        """Share of messages whose most likely intent is the expected one."""
        return share(self.intents_right, self.total)

    def summary(self) -> str:
        """Intent accuracy, then precision and recall of each fact kind."""
        lines = [
            f"messages: {self.total}",
            f"intent accuracy: {self.intent_accuracy:.1%} ({self.intents_right}/{self.total})",
        ]
        return "\n".join(lines + [self.kinds[k].line(k) for k in KINDS])


def load_cases(path: Path) -> list[Case]:
    """Read an evaluation file; ValueError names the first bad entry."""
    data = read_set(path)
    items = data.get("messages") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise ValueError(f"{path}: expected a list under 'messages'")
    return [_case(path, n, item) for n, item in enumerate(items, 1)]


def _case(path: Path, n: int, item: Any) -> Case:
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        raise ValueError(f"{path}: message {n} needs a 'text'")
    facts = item.get("facts") or {}
    unknown = set(item) - {"text", "step", "intent", "facts"} or (
        set(facts) - set(KINDS) if isinstance(facts, dict) else {"facts"}
    )
    if unknown:
        raise ValueError(f"{path}: message {n} has unknown field {sorted(unknown)[0]!r}")
    for key in ("step", "intent"):
        if not isinstance(item.get(key), str | None):
            raise ValueError(f"{path}: message {n}: '{key}' must be text")
    listed = {k: v if isinstance(v, list) else [v] for k, v in facts.items()}
    return Case(item["text"], item.get("step"), item.get("intent"), listed)


def evaluate(understander: Understander, gazetteer: Gazetteer, cases: Iterable[Case]) -> Result:
    """Read every message and count."""
    result = Result()
    for case in cases:
        got = understander.understand(case.text, case.step)
        result.total += 1
        if got.intent == case.intent:
            result.intents_right += 1
        else:
            result.errors.append(f"INTENT {case.text!r}: expected {case.intent}, got {got.intent}")
        for kind in KINDS:
            _score(result, kind, case, _predicted(got, kind, gazetteer))
    return result


def _predicted(got: Understanding, kind: str, gazetteer: Gazetteer) -> list[Any]:
    values = [f.value for f in got.facts if f.kind == kind and f.confidence >= MIN_CONFIDENCE]
    if kind == "commune":
        places = [gazetteer.place_by_code(v) if isinstance(v, int) else None for v in values]
        return [(p.code, p.name) if p else None for p in places]
    return list(dict.fromkeys(values))


def _same(kind: str, expected: Any, got: Any) -> bool:
    if kind == "commune":
        if got is None:
            return False
        return expected == got[0] if isinstance(expected, int) else _bare(str(expected)) == _bare(got[1])
    if kind == "province":
        return _bare(str(expected)) == _bare(str(got))
    if kind == "product":
        e, g = fold(str(expected)), fold(str(got))
        return bool(e and g) and (e in g or g in e)
    if kind == "name":
        return fold(str(expected)) == fold(str(got))
    return bool(expected == got)


def _score(result: Result, kind: str, case: Case, predicted: list[Any]) -> None:
    expected = list(case.facts.get(kind, []))
    counts = result.kinds[kind]
    unmatched = list(predicted)
    for value in expected:
        hit = next((g for g in unmatched if _same(kind, value, g)), None)
        if hit is None and not (hit is None and any(_same(kind, value, g) for g in predicted)):
            counts.fn += 1
            result.errors.append(f"MISS   {case.text!r}: {kind} {value!r} not read (got {predicted})")
        elif hit is not None:
            counts.tp += 1
            unmatched.remove(hit)
    for wrong in unmatched:
        counts.fp += 1
        result.errors.append(f"WRONG  {case.text!r}: {kind} {wrong!r} (expected {expected})")


def _bare(name: str) -> str:
    folded = fold(name)
    for word in _UNIT_WORDS:
        folded = folded.removeprefix(word)
    return folded
