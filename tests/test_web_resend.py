"""A web chat message whose answer was lost on the way back is sent again: answered once, never twice."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.messages import ConversationKey
from tests.test_channels import Env, run, running
from tests.test_web_page import bubbles, phone_chat

USER = "r" * 32
KEY = ConversationKey("web", USER)
OPENER = "htx em lam chieu coi o xa binh giang ninh binh muon xin ho tro may det"


async def post(env: Env, text: str, message_id: str | None = None, user: str = USER) -> tuple[int, dict[str, Any]]:
    headers = {"X-Message-Id": message_id} if message_id is not None else {}
    async with env.http.post(f"{env.url}/api/chat", json={"user": user, "text": text}, headers=headers) as resp:
        return resp.status, await resp.json()


def texts(body: dict[str, Any]) -> list[str]:
    return [r["text"] for r in body["replies"]]


@run
async def test_the_same_message_sent_twice_gets_the_same_answer_and_one_turn(tmp_path: Path) -> None:
    async with running(tmp_path) as env:
        await post(env, OPENER, "opener-0001")
        _, first = await post(env, "Đúng", "confirm-0001")
        assert any("Hợp tác xã" in t or "hợp tác xã" in t for t in texts(first)), texts(first)
        state = env.app.engine.repo.load(KEY)
        _, again = await post(env, "Đúng", "confirm-0001")  # the answer was lost; the page sends it again
        assert again == first  # the same replies and buttons, not a second turn
        assert env.app.engine.repo.load(KEY) == state  # and the conversation did not move on


@run
async def test_a_message_id_belongs_to_its_sender_only(tmp_path: Path) -> None:
    async with running(tmp_path) as env:
        await post(env, OPENER, "shared-0001")
        _, theirs = await post(env, "gặp cán bộ", "shared-0001", user="s" * 32)  # someone reuses the id
        assert theirs["replies"] and "cán bộ" in " ".join(texts(theirs))


@run
async def test_a_bad_message_id_is_refused_politely_and_changes_nothing(tmp_path: Path) -> None:
    async with running(tmp_path) as env:
        for bad in ("short", "x" * 65, "a b c d e f g", "<script>alert(1)</script>", "=HYPERLINK(1)"):
            status, body = await post(env, OPENER, bad)
            assert status == 400 and "X-Message-Id" in body["error"], (bad, body)
        assert env.app.engine.repo.load(KEY) is None


# A fetch that reaches the server (the turn is stored) and then fails as a dropped connection would: the
# page shows "Mất kết nối", keeps the message and sends it again when the connection returns.
LOSE_NEXT_ANSWER = """
window.__lost = null;
window.__real = window.fetch;
window.fetch = function (url, options) {
  if (String(url).indexOf('/api/chat') === 0 && window.__lost === null && options && options.method === 'POST') {
    return window.__real(url, options).then(function (r) { return r.json(); }).then(function (data) {
      window.__lost = data;
      throw new TypeError('Failed to fetch');
    });
  }
  return window.__real(url, options);
};
true
"""


@run
async def test_the_page_shows_a_lost_answer_once_after_sending_again(tmp_path: Path) -> None:
    async with phone_chat(tmp_path) as page:
        await page.type_and_send(OPENER)
        await page.until(f"{bubbles()}.includes('Tôi hiểu')")
        before = await page.js(f"{bubbles()}.split('\\n').length")
        await page.js(LOSE_NEXT_ANSWER)
        await page.type_and_send("Đúng")
        await page.until("document.getElementById('status').innerText.includes('Mất kết nối')")
        await page.js("window.dispatchEvent(new Event('online'))")  # the connection is back
        await page.until("JSON.parse(localStorage.getItem('khuyencong-chat')).outbox.length === 0")
        lost = [r["text"] for r in await page.js("window.__lost.replies")]
        shown = (await page.js(bubbles())).split("\n")[before:]
        assert "\n".join(shown) == "\n".join(lost), json.dumps({"shown": shown, "lost": lost}, ensure_ascii=False)
