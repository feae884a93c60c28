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
from pathlib import Path
from typing import Any

import aiohttp
import pytest

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


@run
async def test_chat_page_in_a_real_browser(tmp_path: Path) -> None:
    async with running(tmp_path) as env:
        proc, page, http = await open_browser(Path(tempfile.mkdtemp()))
        try:
            await page.send(
                "Emulation.setDeviceMetricsOverride", width=375, height=740, deviceScaleFactor=2, mobile=True
            )
            await page.send("Page.enable")
            await page.send("Page.navigate", url=env.url + "/")
            await page.until(f"{bubbles()}.includes('trợ lý tự động')")  # our script ran under the CSP
            assert await page.js("document.documentElement.scrollWidth <= 375")  # fits a phone
            assert await page.js("document.activeElement.id === 'text'")  # ready to type
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
        finally:
            await page.ws.close()
            await http.close()
            proc.terminate()
            proc.wait(timeout=10)
