"""In a real headless Chromium: an officer adds her commune's answer to a question, and the chat uses it."""

from __future__ import annotations

from pathlib import Path

from tests.test_channels import run, running
from tests.test_dashboard import ask_from, seed
from tests.test_dashboard_browser import CHROMIUM, pytestmark, signed_in  # noqa: F401  (skipped where chromium is absent)
from tests.test_local_faq import LOCAL_ANSWER
from tests.test_questions_answered import ASKED, chat


@run
async def test_an_officer_adds_a_local_answer_in_a_browser(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    async with running(tmp_path) as env, async_playwright() as pw:
        seed(env)
        await ask_from(env, "a" * 32, "xa vinh thuy quang tri", ASKED)
        browser, page = await signed_in(pw, env.url)
        await page.get_by_role("link", name="Câu hỏi chưa trả lời").click()
        row = page.get_by_role("row").filter(has_text="lop tap huan dong goi bao bi")
        assert await row.get_by_text("09xx xxx xxx").count() == 1  # the phone typed is masked
        await row.get_by_text("Thêm câu trả lời của xã").click()
        await row.get_by_label("Cách hỏi khác").fill("lop bao bi hoc cho nao")
        await row.get_by_label("Câu trả lời").fill(LOCAL_ANSWER)
        await row.get_by_role("button", name="Lưu vào hỏi đáp của xã").click()
        await page.get_by_text("Đã lưu vào hỏi đáp của xã").wait_for()
        await page.get_by_role("link", name="Kiến thức").click()
        assert await page.get_by_role("cell", name=LOCAL_ANSWER).count() == 1
        await browser.close()
        assert LOCAL_ANSWER in await chat(env, "a" * 32, "lop bao bi hoc cho nao")
