"""Transcript tests: scripted conversations (tests/transcripts/*.yaml) played against the real engine.

Each turn either says text or taps a button payload; `expect` lists phrases that must appear in the
replies (compared without diacritics or case), `absent` phrases that must not, `buttons` payloads that
must be offered, `no_buttons` payloads that must not. `lead` checks the stored registration after the last
turn; `no_lead` that none exists.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.dialog import DialogEngine
from bot.eligibility import Assessor
from bot.faq import FaqIndex
from bot.flows import Dialogs, load_dialogs
from bot.knowledge import Knowledge
from bot.messages import ConversationKey, Incoming
from bot.storage.memory import MemoryRepository
from bot.text import fold
from tests.conftest import ROOT

HERE = Path(__file__).resolve().parent / "transcripts"
SCRIPTS = [(path.stem, s) for path in sorted(HERE.glob("*.yaml")) for s in yaml.safe_load(path.read_text("utf-8"))]
START = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def dialogs() -> Dialogs:
    """The bundled dialogs."""
    return load_dialogs(ROOT / "dialogs")


def make_engine(kb: Knowledge, dialogs: Dialogs, assessor: Assessor, faq: FaqIndex) -> DialogEngine:
    """A fresh engine on an in-memory database."""
    return DialogEngine(kb, dialogs, MemoryRepository(), assessor, faq)


def play(engine: DialogEngine, turns: list[dict[str, Any]], user: str = "u1") -> list[str]:
    """Play the turns; return a list of problems (empty when the transcript holds)."""
    key = ConversationKey("test", user)
    problems = []
    for n, turn in enumerate(turns, 1):
        msg = Incoming(key, text=turn.get("say"), button=turn.get("tap"))
        replies = engine.handle(msg, now=START + dt.timedelta(minutes=n))
        said = fold(" ".join(r.text for r in replies))
        offered = {b.payload for r in replies for b in r.buttons}
        where = f"turn {n} ({turn.get('say') or turn.get('tap')!r})"
        problems += [f"{where}: missing {p!r} in {said[:300]!r}" for p in turn.get("expect", []) if fold(p) not in said]
        problems += [f"{where}: unexpected {p!r}" for p in turn.get("absent", []) if fold(p) in said]
        problems += [
            f"{where}: no button {b!r} in {sorted(offered)}" for b in turn.get("buttons", []) if b not in offered
        ]
        problems += [f"{where}: unexpected button {b!r}" for b in turn.get("no_buttons", []) if b in offered]
        if not replies and not turn.get("silent"):
            problems.append(f"{where}: no reply")
        if replies and turn.get("silent"):  # staff hold the chat: the assistant must say nothing
            problems.append(f"{where}: the assistant spoke while staff hold the chat: {said[:200]!r}")
        if any(len(r.text) > 600 for r in replies):
            problems.append(f"{where}: a reply longer than 600 characters")
    return problems


def lead_problems(engine: DialogEngine, script: dict[str, Any], user: str = "u1") -> list[str]:
    leads = engine.repo.leads_of(ConversationKey("test", user))
    if script.get("no_lead"):
        return [f"a lead was stored: {leads}"] if leads else []
    if "lead" not in script:
        return []
    if len(leads) != 1:
        return [f"expected one lead, found {len(leads)}"]
    lead = leads[0]
    problems = [
        f"lead.{k} is {getattr(lead, k)!r}, expected {v!r}"
        for k, v in script["lead"].items()
        if k != "ref" and getattr(lead, k) != v
    ]
    if not lead.ref.startswith("KC-") or lead.consent_id <= 0 or not lead.assessment.get("reasons"):
        problems.append(f"lead lacks ref, consent or cited assessment: {lead}")
    return problems


@pytest.mark.parametrize("script", [s for _, s in SCRIPTS], ids=[f"{f}:{s['name']}" for f, s in SCRIPTS])
def test_transcript(kb: Knowledge, dialogs: Dialogs, assessor: Assessor, faq: FaqIndex, script: dict[str, Any]) -> None:
    engine = make_engine(kb, dialogs, assessor, faq)
    problems = play(engine, script["turns"]) + lead_problems(engine, script)
    assert not problems, "\n".join(problems)


def test_every_flow_and_command_has_a_transcript(dialogs: Dialogs) -> None:
    text = " ".join(p.read_text("utf-8") for p in HERE.glob("*.yaml"))
    for item in dialogs.menu.items:
        assert f"menu:{item.action}" in text, item.action
    for command in dialogs.menu.commands:
        assert command.synonyms[0] in text or f"cmd:{command.id}" in text, command.id
