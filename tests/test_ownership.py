"""A lead belongs to the chat that made it: a stranger who knows a phone and commune learns and changes nothing.

Over real HTTP against a real `khuyencong serve`: two web chats register the same phone in the same commune.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import aiohttp

from bot.messages import ConversationKey
from bot.staff.store import StaffStore
from bot.storage.sqlite import SqliteRepository
from tests import test_channels as ch
from tests.test_dashboard import PASSWORD, sign_in
from tests.test_serve import ProcessEnv, _spawn, _stop, _until_healthy, free_port, platforms

OWNER, STRANGER = "0" * 31 + "a", "0" * 31 + "b"
PHONE = "0912 345 678"


async def chat(env: ProcessEnv, user: str, texts: list[str]) -> list[str]:
    """What one web chat is told in answer to `texts`, every reply's text and button labels."""
    said = []
    for text in texts:
        for reply in await ch.web_say(env, {"user": user, "text": text}):
            said.append(" ".join([reply["text"], *(b["label"] for b in reply.get("buttons", []))]))
    return said


def registration(name: str, facility: str) -> list[str]:
    """An interview in Vĩnh Thủy, then a registration of PHONE under this name and facility."""
    register = ["dong y", name, PHONE, facility, "bo qua", "xac nhan"]
    return ["", *ch.INTERVIEW, "dang ky", *register]


def ref_in(replies: list[str]) -> str:
    found = re.search(r"Mã đăng ký: (KC-\w{6})", replies[-1])
    assert found is not None, replies[-1]
    return found.group(1)


def lead_rows(db: Path) -> dict[str, dict[str, Any]]:
    """Every stored lead by reference, with its audit, read as staff tools would (another connection)."""
    repo = SqliteRepository(db)
    try:
        cur = repo.db.conn.execute("SELECT * FROM leads")
        names = [c[0] for c in cur.description]
        rows = {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}
        for ref, row in rows.items():
            row["audit"] = [(a["actor"], a["action"]) for a in repo.audit(ref)]
        return rows
    finally:
        repo.close()


async def staff_views(env: ProcessEnv, db: Path, ref: str) -> tuple[str, str, str]:
    """The lead list, one lead's page and the CSV export, as the commune's officer sees them."""
    repo = SqliteRepository(db)
    StaffStore(repo).add("lan", PASSWORD, [19405], False)
    repo.close()
    listing = await sign_in(env, "lan")
    async with env.http.get(f"{env.url}/staff/leads/{ref}") as resp:
        page = await resp.text()
    async with env.http.get(f"{env.url}/staff/export/csv") as resp:
        export = (await resp.read()).decode("utf-8-sig")
    return listing, page, export


@ch.run
async def test_a_second_chat_with_the_same_phone_and_commune_takes_nothing_over(tmp_path: Path) -> None:
    """Was: merged into the owner's lead, its code told, its fields and chat overwritten, then erasable."""
    port, db = free_port(), tmp_path / "k.db"
    async with platforms() as fakes:
        server = await _spawn("serve", fakes.environment(tmp_path, port, WEB_RATE_PER_MINUTE="1000"))
        url = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                await _until_healthy(http, url)
                env = ProcessEnv(url, http, fakes.telegram, fakes.zalo, app=None)  # type: ignore[arg-type]
                first = ref_in(await chat(env, OWNER, registration("Nguyen Thi Lan", "Co so nuoc mam Lan")))
                before = lead_rows(db)[first]
                told = await chat(env, STRANGER, registration("Tran Van Binh", "Co so Binh"))
                second = ref_in(told)
                listing, page, export = await staff_views(env, db, second)
                told += await chat(env, STRANGER, ["dữ liệu của tôi", "xóa dữ liệu", "có"])
                owner_sees = await chat(env, OWNER, ["dữ liệu của tôi"])
        finally:
            output = await _stop(server)
    assert server.returncode == 0, output
    # The stranger is told of their own registration only: no other code, no "updated", no hint.
    assert second != first and all(first not in text for text in told)
    assert not any("đã đăng ký ở xã" in text or "cập nhật" in text for text in told), told
    assert "Đã xóa toàn bộ thông tin của bà con (1 đăng ký)" in told[-1]
    # The owner's lead: the same fields, the same chat, an audit with nothing but its creation; still theirs.
    after = lead_rows(db)
    assert after[first] == before and (before["channel"], before["user"]) == ("web", OWNER)
    assert before["audit"] == [("bot", "created")] and before["duplicate_of"] is None
    assert first in owner_sees[0] and "Nguyen Thi Lan" in owner_sees[0]
    assert second not in after  # the stranger erased their own lead, and only that
    # Staff saw the second registration flagged, in words, on the list, the lead page and the export.
    flag = f"Có thể trùng với {first}"
    assert flag in listing and flag in page and "duplicate_of" not in listing + page
    rows = {row[0]: row for row in csv.reader(io.StringIO(export))}
    assert rows[second][-1] == flag and rows[first][-1] == ""
    stranger = SqliteRepository(db)
    assert stranger.leads_of(ConversationKey("web", STRANGER)) == []
    stranger.close()
