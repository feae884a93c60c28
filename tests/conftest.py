"""Shared fixtures: the bundled knowledge, loaded once."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.eligibility import Assessor
from bot.faq import FaqIndex
from bot.knowledge import Knowledge, load_knowledge
from bot.places import Gazetteer

ROOT = Path(__file__).resolve().parent.parent
KNOWLEDGE = ROOT / "knowledge"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def kb() -> Knowledge:
    """The bundled knowledge base."""
    return load_knowledge(KNOWLEDGE)


@pytest.fixture(scope="session")
def gazetteer(kb: Knowledge) -> Gazetteer:
    """Provinces and communes, with the pre-2025 province names of the knowledge base."""
    return Gazetteer({a.old: a.new for a in kb.province_aliases.aliases})


@pytest.fixture(scope="session")
def assessor(kb: Knowledge, gazetteer: Gazetteer) -> Assessor:
    """The eligibility rules over the bundled knowledge."""
    return Assessor(kb, gazetteer)


@pytest.fixture(scope="session")
def faq(kb: Knowledge) -> FaqIndex:
    """The FAQ index over the bundled knowledge."""
    return FaqIndex(kb.faq, kb.out_of_scope, kb.abbreviations.abbreviations, kb.abbreviations.phrases)


@pytest.fixture(autouse=True)
def _private_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own database path (and so its own cache folder), never the repository's."""
    monkeypatch.setenv("KHUYENCONG_DB", str(tmp_path / "khuyencong.db"))
