"""The console channel: a person at a terminal (buttons as numbered choices), or JSON lines (design §4.4)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import TextIO

from bot.dialog import DialogEngine
from bot.messages import Button, ConversationKey, Incoming, Reply, incoming_from_json

_QUIT = {"thoat", "thoát", "exit", "quit", "/quit"}
_MAX_LINE = 100_000  # a longer line is cut here; the engine then refuses it politely
TOO_LONG = "Dòng quá dài (tối đa 100.000 ký tự), bà con gửi ngắn hơn nhé."
FAILED = "Hệ thống chưa xử lý được dòng này, bà con gửi lại sau nhé."
log = logging.getLogger("khuyencong.console")


def print_replies(replies: list[Reply], stdout: TextIO) -> list[Button]:
    """Print replies for a person; return the buttons offered last, numbered from 1."""
    buttons: list[Button] = []
    for reply in replies:
        print(reply.text, file=stdout)
        if reply.buttons:
            buttons = list(reply.buttons)
            for i, button in enumerate(buttons, 1):
                print(f"  {i}. {button.label}", file=stdout)
        print(file=stdout)
    return buttons


def run_human(engine: DialogEngine, stdin: TextIO, stdout: TextIO, user: str = "local") -> None:
    """A read-reply loop for a person: type text, or the number of a choice; 'thoát' to leave."""
    key = ConversationKey("console", user)
    buttons = print_replies(engine.handle(Incoming(key, text="")), stdout)
    while True:
        print("> ", end="", file=stdout, flush=True)
        line = stdin.readline(_MAX_LINE)
        if not line or line.strip().lower() in _QUIT:
            print("Chào bà con, hẹn gặp lại!", file=stdout)
            return
        text = line.strip()
        if text.isdigit() and 1 <= int(text) <= len(buttons):
            msg = Incoming(key, button=buttons[int(text) - 1].payload)
        else:
            msg = Incoming(key, text=text)
        buttons = print_replies(engine.handle(msg), stdout) or buttons


def run_jsonl(engine: DialogEngine, stdin: TextIO, stdout: TextIO) -> None:
    """One JSON object per input line, one per output line, in order; a malformed line gets an error line."""
    for line in _lines(stdin):
        if line is not None and not line.strip():
            continue
        reply = jsonl_reply(engine, line) if line is not None else {"error": TOO_LONG}
        stdout.write(json.dumps(reply, ensure_ascii=False) + "\n")
        stdout.flush()


def _lines(stdin: TextIO) -> Iterator[str | None]:
    """Each input line; None for a line over _MAX_LINE characters, read to its end so it stays one line."""
    while line := stdin.readline(_MAX_LINE):
        if len(line) < _MAX_LINE or line.endswith("\n"):
            yield line
            continue
        while (rest := stdin.readline(_MAX_LINE)) and not rest.endswith("\n"):
            pass
        yield None


def jsonl_reply(engine: DialogEngine, line: str) -> dict[str, object]:
    """The output object for one input line."""
    msg = parse_line(line)
    if isinstance(msg, str):
        return {"error": msg}
    try:
        replies = engine.handle(msg)
    except Exception as exc:  # one failed line (a locked database…) must not end everyone else's run
        log.error("chat --jsonl: a line failed: %s", type(exc).__name__)
        return {"error": FAILED}
    return {"user": msg.key.user, "replies": [r.as_json() for r in replies]}


def parse_line(line: str) -> Incoming | str:
    """An Incoming from one JSON line, or a polite Vietnamese error."""
    return incoming_from_json(line, "jsonl")
