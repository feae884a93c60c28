"""The "Hỏi cán bộ" inbox and the web widget in a real headless Chromium (Playwright): an officer answers a
person in the dashboard and the person's open chat shows it as it comes, and after a reload, once.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.staff.store import StaffStore
from tests.test_channels import run, running
from tests.test_dashboard import PASSWORD
from tests.test_dashboard_browser import sign_in_page
from tests.test_handoff import PHONE, knowledge_with_phone

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="make test installs chromium; run it through make")
ANSWER = "Chị mang sổ hộ kinh doanh lên xã sáng thứ Hai nhé."
SHOWN = f"Cán bộ Nguyễn Thị Lan (xã Vĩnh Thủy): {ANSWER}"


@run
async def test_an_officer_answers_in_the_inbox_and_the_widget_shows_it_live_and_after_a_reload(
    tmp_path: Path,
) -> None:
    from playwright.async_api import async_playwright

    knowledge = knowledge_with_phone(tmp_path)
    async with running(tmp_path, khuyencong_knowledge=knowledge) as env, async_playwright() as pw:
        StaffStore(env.app.repo).add("lan", PASSWORD, [19405], False)
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        person = await (await browser.new_context()).new_page()
        await person.goto(env.url + "/")
        await person.locator(".msg.bot", has_text="Bà con cần gì").wait_for()
        for text in ["kiem tra", "hkd", "lam nuoc mam", "xa vinh thuy quang tri", "gặp cán bộ"]:
            await person.get_by_label("Tin nhắn của bạn").fill(text)
            await person.get_by_role("button", name="Gửi").click()
            await person.wait_for_timeout(300)
        await person.locator(".msg.bot", has_text="chuyển cuộc trò chuyện").wait_for()
        assert PHONE in await person.locator(".msg.bot", has_text="chuyển cuộc trò chuyện").inner_text()

        officer = await (await browser.new_context()).new_page()
        await sign_in_page(officer, env.url)
        await officer.get_by_role("link", name="Hỏi cán bộ").click()
        await officer.get_by_text("Chờ cán bộ").wait_for()
        await officer.get_by_role("link", name="Số 1").click()
        assert await officer.get_by_text("lam nuoc mam").count() == 1  # the conversation so far
        await officer.get_by_label("Câu trả lời").fill(ANSWER)
        await officer.get_by_label("Ký tên").fill("Nguyễn Thị Lan")
        await officer.get_by_role("button", name="Gửi").click()
        await officer.get_by_text("Đã gửi câu trả lời").wait_for()

        staff = person.locator(".msg.staff", has_text=SHOWN)  # drawn as staff's, not the assistant's
        await staff.wait_for(timeout=10_000)  # pushed to the open chat by the long poll
        await person.reload()
        await staff.wait_for()
        await person.wait_for_timeout(1500)  # the poll after the reload has answered: still shown once
        assert await staff.count() == 1

        await officer.get_by_role("button", name="Trả lại cho trợ lý").click()
        await officer.get_by_text("Đã trả lại cho trợ lý").first.wait_for()
        await person.locator(".msg.bot", has_text="Trợ lý tự động tiếp tục").wait_for(timeout=10_000)
        await browser.close()
