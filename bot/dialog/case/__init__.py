"""Answers from the person's own case: a commune's plan, a product, a place, a size, a support line.

Pure, no I/O: an Understanding of the question and the conversation's slots in, a cited answer out (or None,
to let the flat FAQ answer). One module per kind of answer; figures and rules come from the knowledge.
"""

from bot.dialog.case.answerer import CaseAnswer, CaseAnswers

__all__ = ["CaseAnswer", "CaseAnswers"]
