"""The dialog: `DialogEngine.handle(Incoming) -> list[Reply]`, built from small parts, each holding one concern.

- engine: the turn (dedupe, welcome, idle restart, storing the turn with its outbox and lead);
- turn: what a turn produces, and newcomers welcomed without being stored;
- context: what every part is given (knowledge, flows, texts, storage) and the shared buttons;
- words: commands, menu entries and questions as people type them;
- router: where a message goes (button, command, menu entry, pending yes/no, step answer, question);
- listening: the facts of a whole message (bot/understanding) kept in the interview's slots, and the
  'Tôi hiểu: …' line shown once before the result;
- mixed: where the person leads: a check started by their own words, a correction by a word, contact in one go;
- contact: name, phone and facility split out of one answer;
- interview: the interview policy, which step to ask next, and misses (every re-ask counts);
- pending: the yes/no question waiting (a guess, consent, the summary, erasure) and asking again;
- questions: answers from the person's case (case/), the FAQ and the knowledge, then back to the step;
- case/: answers from the person's own case (a commune's plan, a product, a place, a size, a support line),
  tried before the FAQ; pure, one module per kind of answer;
- result: the profile, the cited assessment, what a lead keeps of it;
- registration: consent, the summary and the lead;
- corrections: back, edit, restart;
- person: the person's own data and its erasure;
- handoff: the office serving the person, and handing over to its staff.

Composition, not mixins: each part is a small class (or function) given the Context and the few parts it
calls, so its dependencies are visible in its constructor and mypy checks every call between parts. The
parts form layers (context → interview → registration → corrections, person → pending → questions →
router → engine); the one call upwards, an interview that completes its flow handing over to registration,
is a callback the engine binds. Mixins would have put every method back on one class, with each part
relying on attributes and methods the others define.
"""

from bot.dialog.context import EngineConfig
from bot.dialog.engine import MAX_TEXT, DialogEngine
from bot.dialog.interview import MAX_MISSES

__all__ = ["MAX_MISSES", "MAX_TEXT", "DialogEngine", "EngineConfig"]
