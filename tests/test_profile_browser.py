"""The commune profile page in a real headless Chromium: an officer sets her phone, hours and plan, sees the audit."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bot.knowledge import Locality
from tests.test_channels import run, running, web_say
from tests.test_dashboard import seed
from tests.test_dashboard_browser import signed_in
from tests.test_profiles import HOURS, PHONE

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="make test installs chromium; run it through make")


@run
async def test_an_officer_keeps_her_communes_profile_in_a_browser(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    async with running(tmp_path) as env, async_playwright() as pw:
        seed(env)
        browser, page = await signed_in(pw, env.url, accept_downloads=True)
        await page.get_by_role("link", name="Hồ sơ xã").click()
        await page.get_by_role("link", name="Xã Vĩnh Thủy, Quảng Trị").click()
        await page.get_by_label("Số điện thoại").fill("0233 3826 12")  # a digit short
        await page.get_by_role("button", name="Lưu hồ sơ").click()
        await page.get_by_text("Số điện thoại: chưa đúng").wait_for()
        await page.get_by_label("Số điện thoại").fill(PHONE)
        await page.get_by_label("Giờ làm việc").fill(HOURS)
        await page.get_by_label("Hiệu lực đến ngày").fill("30/06/2027")
        await page.get_by_label("Dòng 1: mức mỗi cơ sở").fill("25.000.000")
        await page.get_by_label("Dòng 1: tổng").fill("")
        await page.get_by_label("Dòng 5: nội dung hỗ trợ").select_option(label="Xây dựng, đăng ký nhãn hiệu")
        await page.get_by_label("Dòng 5: mức mỗi cơ sở").fill("15.000.000")
        await page.get_by_label("Dòng 5: số cơ sở").fill("2")
        await page.get_by_role("button", name="Lưu hồ sơ").click()
        await page.get_by_text("Đã lưu").wait_for()
        history = page.locator("section", has_text="Lịch sử thay đổi")
        assert await history.get_by_text(f"Số điện thoại: (trống) → {PHONE}").count() == 1
        assert await history.get_by_text("Hiệu lực đến ngày: 31/12/2026 → 30/06/2027").count() == 1
        assert await history.get_by_text("tổng 75.000.000 đồng").count() == 1  # 25 million × 3, computed
        async with page.expect_download() as download:
            await page.get_by_role("link", name="Xuất YAML").click()
        path = tmp_path / "vinh-thuy.yaml"
        await (await download.value).save_as(path)
        exported = Locality.model_validate(yaml.safe_load(path.read_text("utf-8")))
        assert exported.office.phone == PHONE and len(exported.budget_lines) == 5
        await browser.close()
        replies = await web_say(env, {"text": "so dien thoai xa vinh thuy"})
        assert PHONE in replies[-1]["text"] and HOURS in replies[-1]["text"]
