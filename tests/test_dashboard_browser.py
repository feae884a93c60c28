"""The dashboard in a real headless Chromium (Debian's), driven by Playwright: sign in, filter, follow up, export."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests.test_channels import run, running
from tests.test_dashboard import PASSWORD, seed

CHROMIUM = shutil.which("chromium")


async def signed_in(pw: Any, url: str, who: str = "lan", **context: Any) -> tuple[Any, Any]:
    """A headless Chromium and a page signed in to the dashboard as `who`."""
    browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
    page = await (await browser.new_context(**context)).new_page()
    await sign_in_page(page, url, who)
    return browser, page


async def sign_in_page(page: Any, url: str, who: str = "lan") -> None:
    """Sign a browser page in to the dashboard as `who`."""
    await page.goto(url + "/staff/login")
    await page.get_by_label("Tên đăng nhập").fill(who)
    await page.get_by_label("Mật khẩu").fill(PASSWORD)
    await page.get_by_role("button", name="Đăng nhập").click()
    await page.wait_for_url("**/staff/")


pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="make test installs chromium; run it through make")


@run
async def test_an_officer_works_through_the_dashboard_in_a_browser(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    async with running(tmp_path) as env, async_playwright() as pw:
        refs = seed(env)
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = await (await browser.new_context(accept_downloads=True)).new_page()
        await page.goto(env.url + "/staff/")  # not signed in: sent to the login page
        assert page.url.endswith("/staff/login")
        await page.get_by_label("Tên đăng nhập").fill("lan")
        await page.get_by_label("Mật khẩu").fill(PASSWORD)
        await page.get_by_role("button", name="Đăng nhập").click()
        await page.wait_for_url("**/staff/")
        assert await page.get_by_role("link", name=refs["mine"]).count() == 1
        assert await page.get_by_text(refs["other"]).count() == 0
        await page.get_by_label("Tìm").fill("Nguyễn Thị Lan")
        await page.get_by_role("button", name="Lọc").click()
        await page.wait_for_url("**q=*")
        assert await page.get_by_role("link", name=refs["html"]).count() == 0
        await page.get_by_role("link", name=refs["mine"]).click()
        await page.get_by_label("Trạng thái").select_option("contacted")
        await page.get_by_label("Ghi chú").fill("Đã gọi, hẹn thứ hai nộp hồ sơ")
        await page.get_by_role("button", name="Lưu").click()
        await page.get_by_text("Đã lưu").wait_for()
        assert await page.get_by_text("Trạng thái: Mới → Đã liên hệ").count() == 1
        await page.get_by_role("link", name="← Danh sách").click()
        await page.get_by_text("Lọc thêm").click()  # the filters other than the search fold away
        await page.get_by_label("Trạng thái").select_option("contacted")
        await page.get_by_role("button", name="Lọc").click()
        await page.wait_for_url("**status=contacted*")
        async with page.expect_download() as download:
            await page.get_by_role("link", name="Excel").click()
        path = tmp_path / "from-browser.xlsx"
        await (await download.value).save_as(path)
        rows = list(openpyxl.load_workbook(path).active.iter_rows(min_row=2, values_only=True))  # type: ignore[union-attr]
        assert {r[0] for r in rows} == {refs["mine"]} and rows[0][2] == "Đã liên hệ"
        await browser.close()


@run
async def test_an_officer_finds_a_lead_typed_without_marks_and_sets_three_leads_contacted_at_once(
    tmp_path: Path,
) -> None:
    from playwright.async_api import async_playwright

    from tests.test_exports import add_lead

    async with running(tmp_path) as env, async_playwright() as pw:
        refs = seed(env)
        third = add_lead(env.app.repo, 4, name="Hoàng Văn Hùng").ref
        browser, page = await signed_in(pw, env.url)
        await page.get_by_label("Tìm").fill("nguyen thi lan")  # typed without diacritics
        await page.get_by_role("button", name="Lọc").click()
        await page.wait_for_url("**q=*")
        assert await page.get_by_role("link", name=refs["mine"]).count() == 1
        assert await page.get_by_role("link", name=third).count() == 0
        await page.get_by_role("link", name="Tất cả").click()
        await page.wait_for_url("**/staff/")
        for ref in (refs["mine"], refs["html"], third):
            await page.get_by_label(f"Chọn {ref}").check()
        await page.get_by_label("Chuyển sang").select_option(label="Đã liên hệ")
        await page.get_by_role("button", name="Cập nhật các đăng ký đã chọn").click()
        await page.get_by_text("Đã cập nhật 3 đăng ký.").wait_for()
        rows = page.locator("table.leads tbody tr")
        assert await rows.filter(has_text="Đã liên hệ").count() == 3
        for ref in (refs["mine"], refs["html"], third):
            assert env.app.repo.audit(ref)[-1]["changes"]["status"] == ["new", "contacted"]
        await browser.close()


@run
async def test_an_officer_downloads_a_filled_mau_01b_from_the_lead_page(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    from tests.test_no_codes import docx_text

    async with running(tmp_path) as env, async_playwright() as pw:
        refs = seed(env)
        browser, page = await signed_in(pw, env.url, accept_downloads=True)
        await page.get_by_role("link", name=refs["mine"]).click()
        await page.wait_for_url(f"**/staff/leads/{refs['mine']}")
        async with page.expect_download() as download:
            await page.get_by_role("link", name="Tải Mẫu 01b (thông tin chung)").click()
        got = await download.value
        assert got.suggested_filename == f"mau-01b-{refs['mine']}.docx"
        path = tmp_path / got.suggested_filename
        await got.save_as(path)
        shown = docx_text(path.read_bytes())
        assert "THÔNG TIN CHUNG CỦA ĐƠN VỊ" in shown and "Nguyễn Thị Lan" in shown and "làm nước mắm" in shown
        await browser.close()
