"""Staff accounts in a real headless Chromium at 375 px: an admin adds an officer, the officer signs in and sees her
commune; the admin resets her password and the officer's open page is signed out at its next click."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.test_channels import run, running
from tests.test_dashboard import seed
from tests.test_dashboard_browser import CHROMIUM, signed_in

PHONE = {"viewport": {"width": 375, "height": 800}}
NEW_PASSWORD = "mat-khau-moi-cua-hoa-2026"
WIDER = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > width + 0.5);
  return {scroll: document.documentElement.scrollWidth, width, wide: wide.map(e => e.outerHTML.slice(0, 80))};
}"""

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="make test installs chromium; run it through make")


async def fits(page: Any) -> None:
    """No element of the page reaches past a phone's width (no sideways scrolling)."""
    found = await page.evaluate(WIDER)
    assert found["scroll"] <= 375 and not found["wide"], (page.url, found)


@run
async def test_an_admin_adds_an_officer_who_sees_her_commune_until_a_reset_signs_her_out(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    async with running(tmp_path) as env, async_playwright() as pw:
        seed(env)
        browser, admin = await signed_in(pw, env.url, "tinh", **PHONE)
        await admin.get_by_role("link", name="Tài khoản cán bộ").click()
        await admin.wait_for_url("**/staff/accounts")
        await admin.get_by_label("Tên đăng nhập").fill("hoa.vt")
        await admin.get_by_label("Họ tên").fill("Trần Thị Hoa")
        await admin.get_by_label("Xã phụ trách").fill("vinh thuy")  # typed without diacritics
        await admin.get_by_role("button", name="Thêm cán bộ").click()
        await admin.get_by_text("Đã tạo tài khoản hoa.vt").wait_for()
        password = await admin.locator("#one-time").inner_text()
        await fits(admin)

        officer = await (await browser.new_context(**PHONE)).new_page()
        await officer.goto(env.url + "/staff/login")
        await officer.get_by_label("Tên đăng nhập").fill("hoa.vt")
        await officer.get_by_label("Mật khẩu").fill(password)
        await officer.get_by_role("button", name="Đăng nhập").click()
        await officer.wait_for_url("**/staff/account")
        await officer.get_by_text("Bạn đang dùng mật khẩu tạm").wait_for()
        await officer.get_by_label("Mật khẩu hiện tại").fill(password)
        await officer.get_by_label("Mật khẩu mới", exact=False).first.fill(NEW_PASSWORD)
        await officer.get_by_label("Nhập lại mật khẩu mới").fill(NEW_PASSWORD)
        await officer.get_by_role("button", name="Đổi mật khẩu").click()
        await officer.get_by_text("Đã đổi mật khẩu").wait_for()
        assert await officer.locator("#my-communes").inner_text() == "Xã Vĩnh Thủy, Quảng Trị"
        await fits(officer)
        await officer.get_by_role("link", name="Đăng ký", exact=True).click()
        await officer.wait_for_url("**/staff/")

        await admin.get_by_role("link", name="Trần Thị Hoa").first.click()
        await admin.wait_for_url("**/staff/accounts/*")
        await fits(admin)
        await admin.get_by_label("Chắc chắn đặt lại").check()  # the browser will not send the form without it
        await admin.get_by_role("button", name="Đặt lại mật khẩu").click()
        await admin.get_by_text("Mật khẩu tạm:").wait_for()
        assert await admin.locator("#one-time").inner_text() != password

        await officer.get_by_role("link", name="Thống kê").click()  # her next request after the reset
        await officer.wait_for_url("**/staff/login")
        await browser.close()
