"""FAQ evaluation: top-1 accuracy on in-scope phrasings and the refusal rate out of scope."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bot.evaluation.shared import read_set, share
from bot.faq import FaqIndex


@dataclass(frozen=True)
class EvalSet:
    """Questions with the entry that should answer them, and questions that should be refused."""

    in_scope: list[tuple[str, str]]
    out_of_scope: list[str]


@dataclass
class EvalResult:
    """What the evaluation measured."""

    correct: int = 0
    total: int = 0
    refused: int = 0
    total_out: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        """Top-1 accuracy in scope (a refusal counts as wrong)."""
        return share(self.correct, self.total)

    @property
    def refusal_rate(self) -> float:
        """Share of out-of-scope questions refused."""
        return share(self.refused, self.total_out)

    def summary(self) -> str:
        """Two lines of figures."""
        return (
            f"top-1 accuracy: {self.accuracy:.1%} ({self.correct}/{self.total})\n"
            f"out-of-scope refusal rate: {self.refusal_rate:.1%} ({self.refused}/{self.total_out})"
        )


def load_eval_set(path: Path) -> EvalSet:
    """Read an evaluation file: {in_scope: [{q, id}], out_of_scope: [q]}."""
    data = read_set(path)
    return EvalSet([(item["q"], item["id"]) for item in data["in_scope"]], list(data.get("out_of_scope", [])))


def evaluate(index: FaqIndex, data: EvalSet) -> EvalResult:
    """Ask every question and count."""
    result = EvalResult(total=len(data.in_scope), total_out=len(data.out_of_scope))
    for question, expected in data.in_scope:
        answer = index.ask(question)
        if answer.matched and answer.faq_id == expected:
            result.correct += 1
        else:
            got = answer.faq_id or f"(refused, best {answer.alternatives[0].faq_id if answer.alternatives else '-'})"
            result.errors.append(f"IN  {question!r}: expected {expected}, got {got} ({answer.score:.2f})")
    for question in data.out_of_scope:
        answer = index.ask(question)
        if not answer.matched:
            result.refused += 1
        else:
            result.errors.append(f"OUT {question!r}: answered {answer.faq_id} ({answer.score:.2f})")
    return result
