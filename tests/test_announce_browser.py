"""An officer announces in a real headless Chromium: compose, preview the counts, send, read the statistics; the page
fits a phone (375 px) without sideways scrolling."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.test_announce_pages import ALWAYS_DAY, TEXT, audience, delivered, vn_day
from tests.test_channels import run, running
from tests.test_dashboard import seed
from tests.test_dashboard_browser import CHROMIUM, signed_in

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="make test installs chromium; run it through make")
# What in the page's main part passes a phone's right edge, outside a box that scrolls sideways with its table
# (the header is the whole dashboard's, checked by tests/test_phone_width_browser.py).
WIDE = """() => [...document.querySelectorAll('main *')]
  .filter((el) => el.getBoundingClientRect().right > 375.5 && !el.closest('.scroll'))
  .map((el) => el.tagName + ' ' + (el.textContent || '').trim().slice(0, 30))"""


@run
async def test_an_officer_composes_previews_sends_and_reads_the_statistics_on_a_phone(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    async with running(tmp_path, **ALWAYS_DAY) as env, async_playwright() as pw:
        seed(env)
        audience(env.app.repo)
        browser, page = await signed_in(pw, env.url, "lan", viewport={"width": 375, "height": 800})
        await page.get_by_role("link", name="Thông báo").click()
        await page.wait_for_url("**/staff/announcements")
        await page.get_by_label("Nội dung").fill(TEXT)
        await page.get_by_label("Hạn chót").fill(vn_day(10))
        await page.get_by_text("Theo trạng thái đăng ký").click()  # the status filter opens
        await page.get_by_label("Mới", exact=True).check()
        await page.get_by_role("button", name="Xem trước").click()
        preview = page.locator("#preview")
        await preview.wait_for()
        shown = await preview.inner_text()
        assert "Tin khuyến công của xã Vĩnh Thủy" in shown and f"Hạn: {vn_day(10)}" in shown
        assert "Sẽ gửi: 0 người" in shown  # only registered people with status 'Mới': the one Zalo cannot reach
        assert "Lê Thị Gọi" in shown and "0912345678" in shown
        assert await page.evaluate(WIDE) == []
        await page.get_by_label("Mới", exact=True).uncheck()
        await page.get_by_role("button", name="Xem trước").click()
        await page.locator("#preview").wait_for()
        assert "Sẽ gửi: 3 người" in await page.locator("#preview").inner_text()
        await page.get_by_role("button", name="Gửi thông báo").click()
        await page.wait_for_url(re.compile(r".*sent=1.*"))
        assert "Đã xếp hàng thông báo số 1" in await page.locator("main").inner_text()
        await delivered(env.app.repo)
        await page.reload()
        counts = await page.locator("#a1 dl").inner_text()
        assert re.search(r"Đã gửi tới\s+3", counts) and re.search(r"Xếp hàng\s+5", counts)
        assert await page.evaluate(WIDE) == []
        await page.get_by_role("link", name="Thống kê").click()
        cells = await page.get_by_role("row", name=re.compile("Số 1")).locator("td").all_inner_texts()
        assert [c.split()[0] for c in cells[1:]] == ["5", "3", "0", "0", "2", "0"]  # as the database says
        assert await page.evaluate(WIDE) == []
        await browser.close()
