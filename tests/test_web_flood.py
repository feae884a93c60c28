"""A flood of new web chats from one address, against a real `khuyencong serve` over real HTTP."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import Store
from tests.test_channels import run
from tests.test_serve import _spawn, _stop, _until_healthy, free_port, platforms

FLOODER, NEIGHBOUR = "203.0.113.7", "198.51.100.9"  # as the reverse proxy (127.0.0.1, trusted) forwards them
CHATS_PER_MINUTE = 30  # the default WEB_ADDRESS_CHATS_PER_MINUTE


async def say(http: aiohttp.ClientSession, url: str, address: str, user: str, text: str) -> tuple[int, Any]:
    body = {"user": user, "text": text}
    async with http.post(url + "/api/chat", json=body, headers={"X-Forwarded-For": address}) as resp:
        return resp.status, await resp.json()


@run
async def test_a_burst_of_new_chats_from_one_address_is_refused_and_greetings_store_nothing(
    tmp_path: Path, store: Store
) -> None:
    port = free_port()
    async with platforms() as fakes:
        env = fakes.environment(tmp_path, port, KHUYENCONG_WORKER="inline", KHUYENCONG_DB=store.target)
        proc = await _spawn("serve", env)
        url = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as http:
                await _until_healthy(http, url)
                conversations = store.open().count_conversations
                ids = [secrets.token_hex(16) for _ in range(3 * CHATS_PER_MINUTE)]
                burst = await asyncio.gather(
                    *(say(http, url, FLOODER, user, ["", "xin chào", "menu"][i % 3]) for i, user in enumerate(ids))
                )
                statuses = [status for status, _ in burst]
                assert statuses.count(200) == CHATS_PER_MINUTE and statuses.count(429) == 2 * CHATS_PER_MINUTE
                refusal = next(body for status, body in burst if status == 429)
                assert set(refusal) == {"error"} and "đợi một phút" in refusal["error"]
                assert conversations() == 0  # a greeting or the menu stores no conversation

                person = secrets.token_hex(16)  # someone else, behind another address, is served as ever
                status, welcome = await say(http, url, NEIGHBOUR, person, "")
                assert status == 200 and "trợ lý tự động" in welcome["replies"][0]["text"]
                status, answer = await say(http, url, NEIGHBOUR, person, "hộ kinh doanh có được hỗ trợ không")
                texts = " ".join(r["text"] for r in answer["replies"])
                assert status == 200 and "trợ lý tự động" not in texts  # not welcomed twice
                assert conversations() == 1  # what the person asked starts a stored chat
                status, _ = await say(http, url, FLOODER, ids[0], "hkd")  # a chat already counted goes on
                assert status == 200
        finally:
            output = await _stop(proc)
    assert "Traceback" not in output, output
