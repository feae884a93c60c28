"""Two `khuyencong serve` processes on one PostgreSQL database, as behind a load balancer: one person's web turns
reaching both at the same moment run one after the other, each once, and lose nothing of each other."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import aiohttp

from bot.messages import ConversationKey
from tests.conftest import Store
from tests.test_channels import INTERVIEW, run
from tests.test_serve import _spawn, _stop, _until_healthy, free_port, platforms

PEOPLE = 12  # each sends one pair at once; one pair interleaved is enough to lose a name or a phone
BEFORE = [*INTERVIEW, "dang ky", "dong y"]  # the bot then asks for the name and the phone
LIMITS = {  # every client here is 127.0.0.1; the limits are tested on their own
    "WEB_RATE_PER_MINUTE": "1000",
    "WEB_ADDRESS_RATE_PER_MINUTE": "100000",
    "WEB_ADDRESS_CHATS_PER_MINUTE": "100000",
    "KHUYENCONG_WORKER": "external",  # web turns need no worker
}


async def say(http: aiohttp.ClientSession, url: str, user: str, text: str) -> list[str]:
    """One web message; the texts of its replies."""
    async with http.post(url + "/api/chat", json={"user": user, "text": text}) as resp:
        assert resp.status == 200, await resp.text()
        return [r["text"] for r in (await resp.json())["replies"]]


async def person(http: aiohttp.ClientSession, urls: list[str], n: int) -> tuple[str, str, str]:
    """Interview and consent, each message to the other server; then the name to one, the phone to the other
    at the same moment; then the confirmation. (user, name, phone as typed)."""
    user, name, phone = secrets.token_hex(16), f"Nguyen Thi Lan {n:02d}", f"0912 300 {n:03d}"
    for i, text in enumerate(BEFORE):
        await say(http, urls[i % 2], user, text)
    await asyncio.gather(say(http, urls[0], user, name), say(http, urls[1], user, phone))
    await say(http, urls[n % 2], user, "xac nhan")
    return user, name, phone


@run
async def test_one_persons_web_turns_on_two_servers_at_once_run_one_after_the_other(
    tmp_path: Path, pg_store: Store
) -> None:
    env = {"KHUYENCONG_DB": pg_store.target, **LIMITS}
    async with platforms() as fakes:
        ports = [free_port(), free_port()]
        servers = [await _spawn("serve", fakes.environment(tmp_path, port, **env)) for port in ports]
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        try:
            async with aiohttp.ClientSession() as http:
                await asyncio.gather(*(_until_healthy(http, url) for url in urls))
                people = await asyncio.gather(*(person(http, urls, n) for n in range(PEOPLE)))
        finally:
            outputs = [await _stop(proc) for proc in servers]
    assert all(proc.returncode == 0 for proc in servers) and "Traceback" not in "".join(outputs), outputs
    repo = pg_store.open()
    for user, name, phone in people:
        key = ConversationKey("web", user)
        said = [r[0] for r in repo.db.execute(
            "SELECT text FROM chat_log WHERE channel = ? AND user = ? AND role = 'person' ORDER BY id", ["web", user]
        ).fetchall()]  # fmt: skip
        assert said[: len(BEFORE)] == BEFORE, said  # each turn once, in the order sent
        assert sorted(said[len(BEFORE) :]) == sorted([name, phone, "xac nhan"]) and said[-1] == "xac nhan", said
        leads = repo.leads_of(key)  # the name and the phone, sent together, both kept: the registration is whole
        assert [(lead.name, lead.phone) for lead in leads] == [(name, "+84" + phone.replace(" ", "")[1:])], said
