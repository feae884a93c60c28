"""Console chat for a person, and the JSON-lines protocol (design §4.4), over FAQ answers."""

from __future__ import annotations

import json
from typing import TextIO

from bot.faq import FaqIndex

GREETING = (
    "Xin chào! Tôi là trợ lý tự động về chính sách khuyến công, không phải cán bộ.\n"
    "Bà con cứ hỏi, có dấu hay không dấu đều được (ví dụ: “hkd có được hỗ trợ máy móc không”).\n"
    "Gõ “thoát” để kết thúc."
)
_QUIT = {"thoat", "exit", "quit", "q", "/quit"}
_MAX_LINE = 100_000


def reply_text(index: FaqIndex, text: str) -> str:
    """The reply to one message: an FAQ answer, a refusal, or a request to ask again."""
    from bot.cli import render_answer  # the same rendering as `khuyencong ask`

    if not text.strip():
        return "Bà con cứ nhập câu hỏi nhé."
    return render_answer(index.ask(text))


def run_human(index: FaqIndex, stdin: TextIO, stdout: TextIO) -> None:
    """A read-answer loop for a person at a terminal."""
    from bot.text import fold

    print(GREETING, file=stdout)
    while True:
        print("\n> ", end="", file=stdout, flush=True)
        line = stdin.readline(_MAX_LINE)
        if not line or fold(line) in _QUIT:
            print("Chào bà con, hẹn gặp lại!", file=stdout)
            return
        print(reply_text(index, line), file=stdout)


def run_jsonl(index: FaqIndex, stdin: TextIO, stdout: TextIO) -> None:
    """One JSON object per input line, one per output line; a malformed line gets an error line."""
    for line in iter(lambda: stdin.readline(_MAX_LINE), ""):
        out = _jsonl_reply(index, line)
        stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        stdout.flush()


def _jsonl_reply(index: FaqIndex, line: str) -> dict[str, object]:
    try:
        msg = json.loads(line)
    except json.JSONDecodeError:
        return {"error": "Dòng không phải JSON hợp lệ."}
    if not isinstance(msg, dict) or not isinstance(msg.get("user"), str) or not msg["user"]:
        return {"error": "Thiếu trường 'user'."}
    unknown = set(msg) - {"user", "text", "button"}
    if unknown:
        return {"error": f"Trường không được hỗ trợ: {sorted(unknown)[0]}"}
    text = msg.get("text") if isinstance(msg.get("text"), str) else msg.get("button")
    if not isinstance(text, str):
        return {"error": "Cần trường 'text' hoặc 'button' kiểu chuỗi."}
    return {"user": msg["user"], "replies": [{"text": reply_text(index, text), "buttons": []}]}
