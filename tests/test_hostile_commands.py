"""Hostile input for the commands (design §4.1): `chat --jsonl`, `check -`, `ask`, and the staff commands on Telegram.

The values come from tests/test_hostile.py's generators (Unicode edge cases, lone surrogates, 100 KB texts, markup,
SQL, spreadsheet formulas, absurd numbers, wrong JSON types, unknown fields, broken JSON). Each command keeps its
contract: one output line per input line, or exit 2 with one Vietnamese line; never a traceback; nothing changed.
"""

from __future__ import annotations

import functools
import json
import random
import subprocess
import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot import cli
from tests.conftest import KNOWLEDGE, ROOT, Store
from tests.fakes import wait_for
from tests.test_channels import run, running, tg_post
from tests.test_cli import PROFILE, run_jsonl
from tests.test_hostile import (
    FORMULAS,
    MARKUP,
    ODD_VALUES,
    SEED,
    SQL,
    TELEGRAM_COMMANDS,
    VIETNAMESE_LETTERS,
    big_text,
    collecting_errors,
    drained,
    dumps,
    hostile_payload,
    hostile_text,
    lead_rows,
    lone_surrogates,
    reader,
    real_script,
)
from tests.test_notify import STAFF_CHAT, STAFF_ID, STRANGER, command, in_chat, link

LINES = 1200  # generated `chat --jsonl` lines, in one process
CASES = 300  # generated profiles for `check -` and questions for `ask`


def vietnamese(text: str) -> bool:
    """Written in Vietnamese (with its diacritics), not a bare code or an English message."""
    return any(c in VIETNAMESE_LETTERS for c in text.lower())


def absurd_number(rng: random.Random) -> str:
    """A JSON number no form should take: 5,000 digits, beyond a double, negative, NaN, a fraction of a person."""
    return rng.choice(["9" * 5000, "1e999", "-1e999", "NaN", "Infinity", "-7", "0.5", "1e308", "-0", "10" * 30])


def broken_json(rng: random.Random) -> str:
    """Bodies that are not one JSON object."""
    return rng.choice(
        [
            '{"user": "a", "text": "xin chao"',
            "[" * 50_000,
            "{" * 3 + "}",
            "null",
            "[]",
            '"xin chào"',
            "42",
            "{'user': 'a'}",
            '{"user": "a", "text": "\\x"}',
            '{"user": "a", "text": ' + "9" * 5000 + "}",
            "\ufeff{}",
            rng.choice(SQL),
            rng.choice(MARKUP),
        ]
    )


# --- chat --jsonl ------------------------------------------------------------------------------------


def jsonl_line(rng: random.Random, n: int) -> tuple[str, str | None]:
    """One input line and the user it must be answered for (None: it must get an error line)."""
    user = f"p{rng.randrange(40)}"
    refused = f"refused-{n}"  # never stored: its line is refused
    kinds = {"text": 50, "button": 20, "big": 1, "wrong": 8, "unknown": 4, "broken": 8, "surrogate_id": 3}
    kind = rng.choices(list(kinds), list(kinds.values()))[0]
    if kind == "text":
        return json.dumps({"user": user, "text": hostile_text(rng)}), user
    if kind == "button":
        return json.dumps({"user": user, "button": hostile_payload(rng)}), user
    if kind == "big":
        line = json.dumps({"user": user, "text": big_text(rng)})
        return line, user if len(line) < 100_000 else None  # a longer line is refused whole, as one line
    if kind == "wrong":
        body = rng.choice(
            [
                {"user": rng.choice(ODD_VALUES), "text": "xin chào"},
                {"user": refused, "text": rng.choice(ODD_VALUES)},
                {"user": refused, "button": rng.choice(ODD_VALUES)},
                {"user": refused, "text": "a", "button": "cmd:menu"},
                {"user": refused},
                {"user": "x" * 201, "text": "a"},
                {"user": " ", "text": "a"},
            ]
        )
        return json.dumps(body), None
    if kind == "unknown":
        return json.dumps({"user": refused, "text": "xin chào", rng.choice(["role", "admin", "__proto__"]): 1}), None
    if kind == "surrogate_id":
        return json.dumps({"user": refused + lone_surrogates(rng), "text": "xin chào"}), None
    return broken_json(rng), None


def test_chat_jsonl_answers_every_hostile_line_in_order_and_changes_nothing_it_refuses(store: Store) -> None:
    reference = [json.dumps({"user": "reference", "text": t}) for t in real_script("0912 000 009")]
    first, _ = run_jsonl(store.target, reference)
    assert "KC-" in json.dumps(first[-1], ensure_ascii=False)
    with closing(store.open().db.conn) as conn:
        before = lead_rows(conn)
    rng = random.Random(SEED)
    lines, users = zip(*(jsonl_line(rng, n) for n in range(LINES)), strict=True)
    out, stderr = run_jsonl(store.target, list(lines))
    assert len(out) == LINES, f"{len(out)} answers to {LINES} lines"  # one per line, even a 100 KB one
    with closing(store.open().db.conn) as conn:  # not understood twice in a row: the chat waits for staff, silent
        held = {u for (u,) in conn.execute("SELECT user FROM handoffs WHERE status IN ('waiting', 'open')")}
    for line, user, answer in zip(lines, users, out, strict=True):
        if user is None:
            assert set(answer) == {"error"} and vietnamese(answer["error"]), (line[:200], answer)
        else:
            assert answer.get("user") == user and (answer["replies"] or user in held), (line[:200], answer)
            assert all(set(r) == {"text", "buttons"} and r["text"] for r in answer["replies"]), answer
    assert stderr == ""
    with closing(store.open().db.conn) as conn:
        after = lead_rows(conn)
        refused = conn.execute("SELECT count(*) FROM conversations WHERE user LIKE 'refused-%'").fetchone()[0]
    assert [row for row in after[0] if row[0] in {r[0] for r in before[0]}] == before[0]  # the lead is untouched
    assert refused == 0  # a refused line stores nothing


# --- check - -----------------------------------------------------------------------------------------


def hostile_profile(rng: random.Random) -> bytes:
    """A profile body with one or two fields made hostile, a hostile extra field, or no object at all."""
    if rng.random() < 0.15:
        return broken_json(rng).encode()
    profile: dict[str, Any] = dict(PROFILE)
    raw: dict[str, str] = {}  # values JSON cannot express from Python: absurd numbers, written as is
    for _ in range(rng.choice([1, 1, 2])):
        field = rng.choice([*PROFILE, "workers", "revenue_vnd", "capital_vnd", "local_raw_material_share"])
        field = rng.choice([field, field, hostile_text(rng)[:40] or "x"])  # sometimes a field that does not exist
        maker: Callable[[], Any] = rng.choice(
            [
                lambda: hostile_text(rng),
                lambda: rng.choice(ODD_VALUES),
                lambda: lone_surrogates(rng),
                lambda: rng.choice(FORMULAS + MARKUP + SQL),
                lambda: big_text(rng),
                lambda: [hostile_text(rng), rng.choice(ODD_VALUES)],
            ]
        )
        if field in ("workers", "revenue_vnd", "capital_vnd", "local_raw_material_share") and rng.random() < 0.5:
            raw[field] = absurd_number(rng)
            profile.pop(field, None)
        else:
            profile[field] = maker()
    extra = "".join(f', "{k}": {v}' for k, v in raw.items())
    return dumps(profile, rng)[:-1] + extra.encode() + b"}"


@pytest.fixture
def cached_knowledge(monkeypatch: pytest.MonkeyPatch) -> None:
    """Load the knowledge once for the many runs below (loading is not what they test)."""
    monkeypatch.setattr(cli, "_load", functools.cache(cli._load))


def invoke(args: list[str], stdin: bytes | None = None) -> Any:
    return CliRunner().invoke(cli.main, [*args, "--knowledge", str(KNOWLEDGE)], input=stdin)


def polite_exit(result: Any, what: str | bytes) -> None:
    """Exit 0 with an answer, or exit 2 with one Vietnamese line and nothing else; never a traceback."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (what[:300], result.exc_info)
    if result.exit_code == 0:
        assert result.stdout.strip() and not result.stderr, what[:300]
        return
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and result.stdout == "", (what[:300], result.exit_code, result.output[-500:])
    assert len(lines) == 1 and lines[0].startswith("Lỗi: ") and vietnamese(lines[0]), (what[:300], lines)
    assert len(lines[0]) < 300, lines[0]


@pytest.mark.usefixtures("cached_knowledge")
def test_check_takes_hostile_profiles_politely(tmp_path: Path) -> None:
    rng = random.Random(SEED + 1)
    refused = 0
    for _ in range(CASES):
        body = hostile_profile(rng)
        result = invoke(["check", "-", *rng.choice([[], ["--json"]])], body)
        polite_exit(result, body)
        refused += result.exit_code == 2
    assert CASES // 4 < refused < CASES  # most hostile profiles are refused, some are just odd text
    assert not (tmp_path / "khuyencong.db").exists()  # checking a profile stores nothing


@pytest.mark.parametrize(
    "body",
    [b'{"legal_form": "household_business", "activity": "ch\xff\xfe"}', b"[" * 50_000, b'{"workers": ' + b"9" * 5000],
)
def test_check_refuses_bad_bytes_in_a_real_process(body: bytes) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "check", "-", "--knowledge", str(KNOWLEDGE)],
        cwd=ROOT,
        input=body,
        capture_output=True,
        timeout=60,
        check=False,
    )
    err = proc.stderr.decode()
    assert proc.returncode == 2 and proc.stdout == b"" and len(err.splitlines()) == 1 and err.startswith("Lỗi:"), err


# --- ask ---------------------------------------------------------------------------------------------


def test_ask_answers_hostile_questions_politely(tmp_path: Path) -> None:
    rng = random.Random(SEED + 2)
    questions = [hostile_text(rng) for _ in range(CASES)] + [big_text(rng), lone_surrogates(rng), "", " \x00 "]
    for question in questions:
        as_json = rng.random() < 0.5
        result = invoke(["ask", question, *(["--json"] if as_json else [])])
        polite_exit(result, question)
        if result.exit_code == 0 and as_json:
            answer = json.loads(result.stdout)
            assert set(answer) == {"matched", "faq_id", "score", "answer", "citation", "alternatives"}
            assert isinstance(answer["matched"], bool) and vietnamese(answer["answer"]), (question[:200], answer)
        elif result.exit_code == 0:
            assert vietnamese(result.stdout), (question[:200], result.stdout)
    assert not (tmp_path / "khuyencong.db").exists()  # a question stores nothing


# --- the staff commands on Telegram -------------------------------------------------------------------


def staff_command(rng: random.Random) -> str:
    """A staff command with hostile words after it or a hostile bot name, or one of the odd ones."""
    name = rng.choice(["/leads", "/stats", "/export"])
    return rng.choice(
        [
            rng.choice(TELEGRAM_COMMANDS),
            f"{name} {hostile_text(rng)}",
            f"{name}@{hostile_text(rng)}",
            f"{name} {rng.choice(SQL + FORMULAS + MARKUP)}",
            f"{name} {lone_surrogates(rng)}",
            f"{name} {'x' * 4000}",
        ]
    )


@run
async def test_staff_commands_take_hostile_words_and_leak_nothing(tmp_path: Path) -> None:
    group = -100888
    async with running(tmp_path, telegram_staff_chat_id=STAFF_CHAT, telegram_staff_ids=f"{STAFF_ID}, 888") as env:
        link(env)
        db = reader(env)
        before = lead_rows(db)
        rng = random.Random(SEED + 3)
        senders: list[Callable[[str, int], dict[str, Any]]] = [
            lambda text, n: command(text, STAFF_ID, n),  # the officer, privately: data of their commune
            lambda text, n: command(text, STRANGER, n),
            lambda text, n: command(text, 888, n),  # an allowed id with no account
            lambda text, n: in_chat(text, STAFF_ID, n, group),
            lambda text, n: in_chat(text, STRANGER, n, int(STAFF_CHAT)),
        ]
        with collecting_errors() as errors:
            for n in range(1, 121):
                update = senders[n % len(senders)](staff_command(rng), n)
                assert await tg_post(env, update) == 200
            await drained(db, timeout=60)
            await wait_for(lambda: len({p["chat_id"] for m, p in env.telegram.calls if m == "sendMessage"}) >= 5)
        assert not errors.records, errors.report()
        texts = [(int(p["chat_id"]), p["text"]) for m, p in env.telegram.calls if m == "sendMessage"]
        assert texts and all(vietnamese(t) for _, t in texts), [t for _, t in texts if not vietnamese(t)][:3]
        leaked = [t for chat, t in texts if chat != STAFF_ID and "KC-" in t]
        assert not leaked and "Bình Giang" not in " ".join(t for _, t in texts)  # another commune, for no one
        documents = {int(p["chat_id"]) for m, p in env.telegram.calls if m == "sendDocument"}
        assert documents <= {STAFF_ID}
        assert lead_rows(db) == before  # nothing changed
        db.close()
