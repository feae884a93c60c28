"""House rules of the layout: the core imports no channel, no aiohttp, no telegram."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bot.config import Settings
from tests.conftest import ROOT

CORE = [
    "text",
    "knowledge",
    "knowledge_errors",
    "knowledge_types",
    "checks",
    "places",
    "sectors",
    "eligibility",
    "faq",
    "render",
    "evaluation/__init__",
    "evaluation/shared",
    "evaluation/faq",
    "evaluation/understanding",
    "evaluation/case",
    "messages",
    "flows",
    "answers",
    "dialog/__init__",
    "dialog/engine",
    "dialog/turn",
    "dialog/context",
    "dialog/words",
    "dialog/router",
    "dialog/interview",
    "dialog/pending",
    "dialog/questions",
    "dialog/result",
    "dialog/registration",
    "dialog/corrections",
    "dialog/person",
    "dialog/handoff",
    "storage/__init__",
    "storage/sqlite",
    "storage/memory",
    "understanding/__init__",
    "understanding/model",
    "understanding/tokens",
    "understanding/intent",
    "understanding/legal_form",
    "understanding/product",
    "understanding/place",
    "understanding/sizes",
    "understanding/flags",
    "understanding/needs",
    "understanding/contact",
    "understanding/understander",
    "understanding/slots",
]
FORBIDDEN = ("bot.channels", "aiohttp", "telegram", "bot.staff", "bot.app", "bot.cli")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", CORE)
def test_core_module_imports_no_channel(module: str) -> None:
    bad = {n for n in _imports(ROOT / "bot" / f"{module}.py") if n.startswith(FORBIDDEN)}
    assert not bad, f"bot/{module}.py imports {bad}"


def test_env_example_lists_every_setting() -> None:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    listed = {line.split("=", 1)[0].strip() for line in text.splitlines() if "=" in line and not line.startswith("#")}
    assert {name.upper() for name in Settings.model_fields} == listed


def test_secrets_and_databases_are_ignored() -> None:
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert {".env", "*.db", "/data/"} <= set(ignored)
