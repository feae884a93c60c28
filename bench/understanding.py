"""Speed of understanding one message: p50/p99 of Understander.understand over the evaluation messages."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT / "tests" / "data" / "understanding_eval.yaml"


def main() -> list[str]:
    """One table row: the messages of the evaluation set, each read many times, caches warm."""
    from bench.run import percentiles, timed
    from bot.evaluation.understanding import load_cases
    from bot.flows import load_dialogs
    from bot.knowledge import load_knowledge
    from bot.understanding import Understander

    understander = Understander(load_knowledge(ROOT / "knowledge"), load_dialogs(ROOT / "dialogs"))
    cases = load_cases(EVAL)
    for case in cases:  # warm the gazetteer, the speller and the fold cache as a running server would be
        understander.understand(case.text, case.step)
    samples = [t for c in cases for t in timed(lambda c=c: understander.understand(c.text, c.step), 50)]
    p50, p95, p99 = percentiles(samples)
    return [
        f"| Understanding one message ({len(cases)} messages × 50) | {p50 * 1e3:.3f} ms | {p95 * 1e3:.3f} ms | "
        f"{p99 * 1e3:.3f} ms | p99 < 1 ms |"
    ]
