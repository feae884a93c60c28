"""In a real headless Chromium: an officer corrects a name typed in lower case, adds a walk-in, sees her slots."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.test_channels import run, running
from tests.test_dashboard import seed
from tests.test_dashboard_browser import signed_in
from tests.test_exports import add_lead

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="make test installs chromium; run it through make")


async def fill_walk_in(page: Any, product: str, name: str, phone: str, facility: str) -> None:
    """Open "Thêm đăng ký" and answer as a household business wanting machinery (the consent is left to tick)."""
    await page.get_by_role("link", name="Thêm đăng ký").click()
    await page.get_by_label("Loại hình").select_option("household_business")
    await page.get_by_label("Sản phẩm", exact=True).fill(product)
    await page.get_by_label("Máy móc, thiết bị").check()
    await page.get_by_label("Họ tên người liên hệ").fill(name)
    await page.get_by_label("Số điện thoại").fill(phone)
    await page.get_by_label("Tên cơ sở").fill(facility)


@run
async def test_an_officer_corrects_a_name_adds_a_walk_in_and_sees_the_slots(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    async with running(tmp_path) as env, async_playwright() as pw:
        seed(env)
        typed = add_lead(env.app.repo, 7, name="nguyen van hung").ref
        browser, page = await signed_in(pw, env.url)

        await page.get_by_role("link", name=typed).click()
        await page.get_by_role("link", name="Sửa họ tên, số điện thoại, tên cơ sở, sản phẩm").click()
        await page.get_by_label("Họ tên người liên hệ").fill("Nguyễn Văn Hùng")
        await page.get_by_role("button", name="Lưu thay đổi").click()
        await page.get_by_text("Đã lưu").wait_for()
        assert await page.get_by_role("heading", name=typed).count() == 1
        assert await page.get_by_text("Họ tên: nguyen van hung → Nguyễn Văn Hùng").count() == 1

        await fill_walk_in(page, "làm nước mắm", "Trần Thị Mai", "0987 654 321", "Cơ sở nước mắm Mai")
        await page.get_by_role("button", name="Lưu đăng ký").click()  # the consent is not ticked yet
        assert "/staff/add" in page.url  # the browser itself holds back a form without the required tick
        await page.get_by_label("Người đăng ký đã đồng ý sau khi nghe đọc").check()
        await page.get_by_role("button", name="Lưu đăng ký").click()
        await page.wait_for_url(re.compile(r".*/staff/leads/KC-\w{6}$"))
        assert await page.get_by_text("Tại văn phòng / qua điện thoại", exact=True).count() == 1
        assert await page.get_by_text("Đồng ý bằng lời sau khi nghe đọc, cán bộ lan").count() == 1

        await page.get_by_role("link", name="← Danh sách").click()
        box = page.get_by_role("region", name="Suất hỗ trợ theo kế hoạch")
        await box.wait_for()
        row = box.get_by_role("row").filter(has_text="Hỗ trợ ứng dụng máy móc")
        cells = [" ".join(c.split()) for c in await row.get_by_role("cell").all_inner_texts()]
        assert cells[1:] == ["3 suất, 60 triệu đồng", "4 (vượt 1)", "0", "3 suất"], cells  # 3 seeded + the walk-in
        await browser.close()
