"""The chat page in a real headless Chromium, driven over the DevTools protocol, against our real server."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import KNOWLEDGE
from tests.test_channels import run, running

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="make test installs chromium; run it through make")
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--mute-audio",
]


class Browser:
    """A minimal DevTools client: evaluate JavaScript in the page, navigate, reload, emulate a phone."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws, self.ids = ws, itertools.count(1)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self.ids)
        await self.ws.send_json({"id": call_id, "method": method, "params": params})
        async for msg in self.ws:
            data = json.loads(msg.data)
            if data.get("id") == call_id:
                if "error" in data:
                    raise AssertionError(data["error"])
                return dict(data.get("result", {}))
        raise AssertionError("the browser closed")

    async def js(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result["result"].get("value")

    async def until(self, expression: str, timeout: float = 15) -> None:
        for _ in range(int(timeout / 0.05)):
            if await self.js(expression):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"never true: {expression}\n{await self.js('document.body.innerText')}")

    async def type_and_send(self, text: str) -> None:
        await self.js(
            f"document.getElementById('text').value = {json.dumps(text)};"
            "document.getElementById('form').requestSubmit();"
        )


async def open_browser(profile: Path) -> tuple[subprocess.Popen[bytes], Browser, aiohttp.ClientSession]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            CHROMIUM or "chromium",
            *FLAGS,
            f"--remote-debugging-port={port}",
            f"--user-data-dir={profile}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    http = aiohttp.ClientSession()
    for _ in range(200):
        try:
            async with http.get(f"http://127.0.0.1:{port}/json/list") as resp:
                pages = [t for t in await resp.json() if t["type"] == "page"]
                if pages:
                    ws = await http.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0)
                    return proc, Browser(ws), http
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("chromium did not start")


def bubbles(cls: str = "bot") -> str:
    return f"Array.from(document.querySelectorAll('.msg.{cls}')).map(e => e.textContent).join('\\n')"


@asynccontextmanager
async def browsing(url: str) -> AsyncIterator[Browser]:
    """A phone-sized page of a fresh headless Chromium at `url`; the browser is closed afterwards."""
    proc, page, http = await open_browser(Path(tempfile.mkdtemp()))
    try:
        await page.send("Emulation.setDeviceMetricsOverride", width=375, height=740, deviceScaleFactor=2, mobile=True)
        await page.send("Emulation.setTouchEmulationEnabled", enabled=True, maxTouchPoints=5)  # a phone's screen
        await page.send("Page.enable")
        await page.send("Page.navigate", url=url)
        yield page
    finally:
        await page.ws.close()
        await http.close()
        proc.terminate()
        proc.wait(timeout=10)


@run
async def test_chat_page_in_a_real_browser(tmp_path: Path) -> None:
    async with running(tmp_path) as env, browsing(env.url + "/") as page:
        await page.until(f"{bubbles()}.includes('trợ lý tự động')")  # our script ran under the CSP
        assert await page.js("document.documentElement.scrollWidth <= 375")  # fits a phone
        # No keyboard opened over the menu on load: on a touch screen the field is not focused (it used to be).
        assert await page.js("document.activeElement.id !== 'text'")
        assert await page.js("document.querySelector('label[for=text]') !== null")
        await page.js("document.querySelector('.choices button:not([disabled])').click()")  # a tap
        await page.until(f"{bubbles()}.includes('thuộc loại nào')")
        await page.type_and_send("ho kinh doanh")
        await page.until(f"{bubbles()}.includes('sản phẩm gì')")
        await page.type_and_send('<img src=x onerror="document.title=1">')
        await page.until(f"{bubbles('me')}.includes('<img src=x')")
        await page.until(f"{bubbles()}.includes('gõ tên sản phẩm')")  # its answer is in before the reload
        assert await page.js("document.querySelectorAll('#log img').length === 0")  # shown as text, not HTML
        shown = await page.js(f"{bubbles()}.length")
        await page.send("Page.reload")
        await page.until(f"{bubbles()}.length === {shown}")  # the transcript survives a reload
        await page.type_and_send("lam nuoc mam")
        await page.until(f"{bubbles()}.includes('xã (phường) nào')")  # and so does the conversation
        shot = await page.send("Page.captureScreenshot", format="png")
        (tmp_path / "chat.png").write_bytes(base64.b64decode(shot["data"]))


STORED = "JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
SAID = "bánh tráng phơi sương"  # what the first person typed: no trace of it may stay


async def first_person_chats(page: Browser) -> str:
    """A person greets, asks about their product and answers a question; their id in the browser."""
    await page.until(f"{bubbles()}.includes('trợ lý tự động')")
    await page.type_and_send("kiem tra dieu kien")
    await page.until(f"{bubbles()}.includes('thuộc loại nào')")
    await page.type_and_send("ho kinh doanh")
    await page.until(f"{bubbles()}.includes('sản phẩm gì')")
    await page.type_and_send(SAID)
    await page.until(f"{bubbles()}.includes('xã (phường) nào')")
    stored = await page.js(STORED)
    assert SAID in stored
    return str(await page.js("JSON.parse(localStorage.getItem('khuyencong-chat')).user"))


async def nothing_of(page: Browser, old_id: str) -> None:
    """Neither the storage nor the screen holds the first person's chat, now or after a reload."""
    for reloaded in (False, True):
        stored = await page.js(STORED)
        assert SAID not in stored and old_id not in stored, (reloaded, stored)
        assert SAID not in await page.js("document.body.innerText"), reloaded
        if not reloaded:
            await page.send("Page.reload")
            await page.until(f"{bubbles()}.includes('trợ lý tự động')")  # a new chat, welcomed
    assert await page.js("document.querySelectorAll('.msg.me').length") == 0
    new_id = await page.js("JSON.parse(localStorage.getItem('khuyencong-chat')).user")
    assert isinstance(new_id, str) and len(new_id) == 32 and new_id != old_id


@run
async def test_erasing_my_data_leaves_nothing_in_the_browser(tmp_path: Path) -> None:
    async with running(tmp_path) as env, browsing(env.url + "/") as page:
        old_id = await first_person_chats(page)
        await page.type_and_send("xóa dữ liệu")
        await page.until(f"{bubbles()}.includes('không hoàn tác được')")
        await page.js(
            "Array.from(document.querySelectorAll('.choices button:not([disabled])'))"
            ".find(b => b.textContent.trim() === 'Đúng').click()"
        )
        await page.until(f"{bubbles()}.includes('Đã xóa toàn bộ')")  # the confirmation is shown
        assert SAID not in await page.js(f"{bubbles('me')} + {bubbles()}")  # and nothing before it
        await nothing_of(page, old_id)


@run
async def test_a_new_conversation_on_a_shared_device_forgets_the_last_one(tmp_path: Path) -> None:
    async with running(tmp_path) as env, browsing(env.url + "/") as page:
        old_id = await first_person_chats(page)
        label = await page.js("document.getElementById('new-chat').textContent")
        assert label == "Bắt đầu cuộc trò chuyện mới"
        await page.js("document.getElementById('new-chat').click()")
        await page.until(f"{bubbles('me')}.length === 0 && {bubbles()}.includes('trợ lý tự động')")
        await nothing_of(page, old_id)
        await page.type_and_send("lam nuoc mam")  # the next person starts from the beginning
        await page.until(f"{bubbles()}.length > 1")
        assert "xã (phường) nào" not in await page.js(bubbles())


PHONE = "0233 3 123 456"
ANSWER_TOP = """(() => {
  const bots = Array.from(document.querySelectorAll('.msg.bot'));
  const first = bots.find(e => e.textContent.startsWith(%s));
  // || 0: DevTools returns no value for -0 (an answer 0.4 px above the top), which read as 'not found'
  return first ? Math.round(first.getBoundingClientRect().top) || 0 : null;
})()"""


async def answer_top(page: Browser, start: str) -> int:
    """Where the answer beginning with `start` sits on screen; waits out a redraw of the transcript."""
    for _ in range(300):
        top = await page.js(ANSWER_TOP % json.dumps(start))
        if top is not None:
            return int(top)
        await asyncio.sleep(0.05)
    raise AssertionError(f"no answer starting with {start!r}\n{await page.js('document.body.innerText')}")


OFFLINE = {"latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}


def knowledge_with_a_phone(tmp: Path) -> Path:
    """The bundled knowledge, with a phone for the office of xã Vĩnh Thủy (the deployment's own commune here)."""
    root = tmp / "knowledge"
    shutil.copytree(KNOWLEDGE, root)
    plan = root / "localities" / "quang-tri" / "vinh-thuy.yaml"
    text = plan.read_text("utf-8")
    plan.write_text(
        text.replace(
            'name: "Trung tâm Dịch vụ tổng hợp xã Vĩnh Thủy"\n',
            f'name: "Trung tâm Dịch vụ tổng hợp xã Vĩnh Thủy"\n  phone: "{PHONE}"\n',
            1,
        ),
        "utf-8",
    )
    return root


async def tap(page: Browser, label: str) -> None:
    await page.js(
        "Array.from(document.querySelectorAll('.choices button:not([disabled])'))"
        f".find(b => b.textContent.trim() === {json.dumps(label)}).click()"
    )


@asynccontextmanager
async def phone_chat(tmp: Path) -> AsyncIterator[Browser]:
    """The page on a phone against a server deployed for xã Vĩnh Thủy (whose office has a phone), welcomed."""
    extra = {"khuyencong_knowledge": knowledge_with_a_phone(tmp), "khuyencong_locality": "quang-tri/vinh-thuy"}
    async with running(tmp, **extra) as env, browsing(env.url + "/") as page:
        await page.until(f"{bubbles()}.includes('trợ lý tự động')")
        yield page


async def answer(page: Browser, turns: tuple[tuple[str, str], ...]) -> None:
    for said, then in turns:
        await page.type_and_send(said)
        await page.until(f"{bubbles()}.includes({json.dumps(then)})")


TO_THE_PLACE = (("kiem tra", "thuộc loại nào"), ("hkd", "sản phẩm gì"), ("lam nuoc mam", "xã (phường)"))


@run
async def test_the_header_names_the_office_and_its_phone_and_no_keyboard_opens(tmp_path: Path) -> None:
    async with phone_chat(tmp_path) as page:
        # Before the person's commune is known: the deployment's own office, with a phone to tap.
        await page.until("document.getElementById('office').innerText.includes('xã Vĩnh Thủy')")
        assert PHONE in await page.js("document.getElementById('office').innerText")
        assert await page.js("document.getElementById('office-phone').href") == "tel:02333123456"
        assert await page.js("document.activeElement.id !== 'text'")  # no keyboard over the menu
        await answer(page, (*TO_THE_PLACE, ("xa binh giang ninh binh", "cần hỗ trợ gì")))
        # The commune is known now: the header names its own office.
        await page.until("document.getElementById('office').innerText.includes('Phòng Kinh tế xã Bình Giang')")
        assert await page.js("document.documentElement.scrollWidth <= 375")


@run
async def test_an_answer_is_read_from_its_start_announced_once_and_old_buttons_are_inactive(tmp_path: Path) -> None:
    async with phone_chat(tmp_path) as page:
        # Only the announcer is live: the transcript is redrawn, and must not be read out again each turn.
        assert await page.js("Array.from(document.querySelectorAll('[aria-live]')).map(e => e.id)") == ["announce"]
        await answer(page, TO_THE_PLACE)
        # While the answer is on its way, the person sees that it is coming, and cannot tap twice.
        await page.send("Network.enable")
        await page.send("Network.emulateNetworkConditions", offline=False, **{**OFFLINE, "latency": 1500})
        await page.type_and_send("xa binh giang ninh binh")
        await page.until("!document.getElementById('typing').hidden")
        assert await page.js("document.getElementById('typing').innerText") == "đang trả lời…"
        assert await page.js("document.querySelectorAll('.choices button:not([disabled])').length") == 0
        await page.until(f"{bubbles()}.includes('cần hỗ trợ gì')")
        assert await page.js("document.getElementById('typing').hidden")
        await page.send("Network.emulateNetworkConditions", offline=False, **OFFLINE)
        await tap(page, "Chưa rõ")
        await page.until(f"{bubbles()}.includes('Vì sao')")
        # The newest answer is read from its start (the verdict at the top of the screen), not from its end.
        top = await answer_top(page, "✅ Có")
        assert 0 <= top <= 60, top
        await page.until("document.getElementById('announce').textContent.includes('✅ Có')")
        announced = await page.js("document.getElementById('announce').textContent")
        assert "Vì sao" in announced and "cần hỗ trợ gì" not in announced and "trợ lý tự động" not in announced
        # The buttons of past steps look inactive, and a tap on one does nothing.
        past = "document.querySelector('.choices.past button')"
        assert await page.js(f"{past}.disabled && getComputedStyle({past}).opacity < 1")
        shown = await page.js(f"{bubbles()}.length")
        await page.js(f"{past}.click()")
        await asyncio.sleep(0.5)
        assert await page.js(f"{bubbles()}.length") == shown
        await tap(page, "Xem tất cả nội dung hỗ trợ")  # a long answer, several screens: still read from its start
        top = await answer_top(page, "Tất cả nội dung")
        assert 0 <= top <= 60, top


@run
async def test_a_message_typed_offline_is_kept_and_sent_when_the_connection_returns(tmp_path: Path) -> None:
    async with phone_chat(tmp_path) as page:
        await page.send("Network.enable")
        await page.send("Network.emulateNetworkConditions", offline=True, **OFFLINE)
        await page.type_and_send("gặp cán bộ")
        await page.until("document.getElementById('status').innerText.includes('Mất kết nối')")
        assert "gặp cán bộ" in await page.js("localStorage.getItem('khuyencong-chat')")  # a reload keeps it
        assert "gặp cán bộ" in await page.js(bubbles("me"))
        await page.send("Network.emulateNetworkConditions", offline=False, **OFFLINE)
        await page.until(f"{bubbles()}.includes('chuyển cuộc trò chuyện cho cán bộ')", timeout=20)
        assert await page.js("JSON.parse(localStorage.getItem('khuyencong-chat')).outbox.length") == 0
        assert await page.js("document.getElementById('status').hidden")


@run
async def test_the_chat_answer_names_the_office_in_an_extra_field_only(tmp_path: Path) -> None:
    extra = {"khuyencong_knowledge": knowledge_with_a_phone(tmp_path), "khuyencong_locality": "quang-tri/vinh-thuy"}
    async with running(tmp_path, **extra) as env:
        async with env.http.post(f"{env.url}/api/chat", json={"user": "a" * 32, "text": ""}) as resp:
            body = await resp.json()
        assert set(body) == {"replies", "office"}  # design §4.7: the replies as in §4.4, plus the office
        assert all(set(r) == {"text", "buttons"} for r in body["replies"])
        assert body["office"] == {"name": "Trung tâm Dịch vụ tổng hợp xã Vĩnh Thủy", "phone": PHONE}
