"""The officer's day (issue 13, done when), walked in a real headless Chromium by an officer of xã Bình Giang:
find a lead typed without diacritics, correct its name, add a walk-in, set three leads to "đã liên hệ" at once,
see her plan's slots, print a lead, follow one up, and download the Excel list with her follow-up in it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import openpyxl
import pytest

from bot.knowledge import vn_today
from bot.storage.profiles import ProfileStore
from tests.test_channels import Env, run, running
from tests.test_dashboard import PASSWORD
from tests.test_dashboard_browser import signed_in
from tests.test_exports import add_lead
from tests.test_lead_fix_add_browser import fill_walk_in
from tests.test_lead_print_browser import pdf_pages
from tests.test_no_codes import docx_text

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="make test installs chromium; run it through make")
BINH_GIANG = (13531, "Xã Bình Giang", "Ninh Bình")
MACHINES = "Hỗ trợ máy móc, thiết bị hiện đại"


def her_commune(env: Env) -> dict[str, str]:
    """Xã Bình Giang's leads, an officer of it (and one of Vĩnh Thủy's leads she must not see), and her plan."""
    from bot.knowledge import BudgetLine
    from bot.staff.store import StaffStore

    repo = env.app.repo
    refs = {
        "hung": add_lead(repo, 1, name="Nguyễn Văn Hùng", commune=BINH_GIANG).ref,
        "lan": add_lead(repo, 2, name="Trần Thị Lan", commune=BINH_GIANG).ref,
        "hoa": add_lead(repo, 3, name="Lê Thị Hoa", commune=BINH_GIANG).ref,
        "elsewhere": add_lead(repo, 4, name="Nguyễn Văn Hùng").ref,  # xã Vĩnh Thủy
    }
    StaffStore(repo).add("hoa.binhgiang", PASSWORD, [BINH_GIANG[0]], False)
    # Her commune's plan of the year, as she saved it on "Hồ sơ xã": two facilities for machinery.
    bundled = next(x for x in env.app.engine.kb.localities if x.ward_code == BINH_GIANG[0])
    line = BudgetLine(
        code="advanced_machinery",
        name=MACHINES,
        funding="commune",
        amount_per_facility_vnd=30_000_000,
        slots=2,
        total_vnd=60_000_000,
        citation="Kế hoạch khuyến công năm 2026 xã Bình Giang",
        status="P",
    )
    ProfileStore(repo).save(bundled.model_copy(update={"budget_lines": [line]}), "hoa.binhgiang", {})
    return refs


@run
async def test_an_officer_of_binh_giang_walks_through_her_day(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    async with running(tmp_path) as env, async_playwright() as pw:
        refs = her_commune(env)
        browser, page = await signed_in(pw, env.url, "hoa.binhgiang", accept_downloads=True)

        # Find a lead typed without diacritics.
        await page.get_by_label("Tìm").fill("nguyen van hung")
        await page.get_by_role("button", name="Lọc").click()
        await page.wait_for_url("**q=*")
        assert await page.get_by_role("link", name=refs["hung"]).count() == 1
        for other in ("lan", "hoa", "elsewhere"):  # not him, and not another commune's Nguyễn Văn Hùng
            assert await page.get_by_role("link", name=refs[other]).count() == 0

        # Correct its name: he phoned, he is Hưng, not Hùng.
        await page.get_by_role("link", name=refs["hung"]).click()
        await page.get_by_role("link", name="Sửa họ tên, số điện thoại, tên cơ sở, sản phẩm").click()
        await page.get_by_label("Họ tên người liên hệ").fill("Nguyễn Văn Hưng")
        await page.get_by_role("button", name="Lưu thay đổi").click()
        await page.get_by_text("Đã lưu").wait_for()
        assert await page.get_by_text("Họ tên: Nguyễn Văn Hùng → Nguyễn Văn Hưng").count() == 1

        # Add a walk-in registration: a woman who came to the office.
        await fill_walk_in(page, "dệt chiếu cói", "Phạm Thị Thu", "0987 654 321", "Cơ sở chiếu cói Thu")
        await page.get_by_label("Người đăng ký đã đồng ý sau khi nghe đọc").check()
        await page.get_by_role("button", name="Lưu đăng ký").click()
        await page.wait_for_url(re.compile(r".*/staff/leads/KC-\w{6}$"))
        walk_in = page.url.rsplit("/", 1)[1]
        assert await page.get_by_text("Tại văn phòng / qua điện thoại", exact=True).count() == 1
        assert await page.get_by_text("Xã Bình Giang, Ninh Bình").count() >= 1

        # Select three leads and set them to "đã liên hệ" at once.
        await page.get_by_role("link", name="← Danh sách").click()
        await page.wait_for_url("**/staff/")
        three = (refs["hung"], refs["lan"], walk_in)
        for ref in three:
            await page.get_by_label(f"Chọn {ref}").check()
        await page.get_by_label("Chuyển sang").select_option(label="Đã liên hệ")
        await page.get_by_role("button", name="Cập nhật các đăng ký đã chọn").click()
        await page.get_by_text("Đã cập nhật 3 đăng ký.").wait_for()
        for ref in three:
            assert env.app.repo.audit(ref)[-1]["changes"]["status"] == ["new", "contacted"]
        assert env.app.repo.audit(refs["hoa"])[-1]["action"] == "created"  # the one she did not tick

        # See her plan's slots: 2 planned, 4 registered (3 + the walk-in), 2 over.
        box = page.get_by_role("region", name="Suất hỗ trợ theo kế hoạch")
        row = box.get_by_role("row").filter(has_text=MACHINES)
        cells = [" ".join(c.split()) for c in await row.get_by_role("cell").all_inner_texts()]
        assert cells[1:] == ["2 suất, 60 triệu đồng", "4 (vượt 2)", "0", "2 suất"], cells  # none approved yet
        heads = await box.get_by_role("columnheader").all_inner_texts()  # "2 suất" left to approve, not free places
        assert heads == ["Nội dung hỗ trợ", "Kế hoạch", "Đăng ký", "Đã duyệt", "Suất chưa duyệt"], heads

        # Follow one lead up: who is in charge, when to call back, a note.
        await page.get_by_role("link", name=refs["hung"]).click()
        await page.get_by_label("Người phụ trách").fill("Chị Hoa")
        await page.get_by_label("Ngày hẹn liên hệ").fill("2026-12-24")
        await page.get_by_label("Ghi chú", exact=True).fill("Hẹn mang giấy đăng ký hộ kinh doanh")
        await page.get_by_role("button", name="Lưu", exact=True).click()
        await page.get_by_text("Đã lưu").wait_for()

        # Print the lead: one A4 page, nothing to click on it.
        await page.get_by_role("link", name="In phiếu").click()
        await page.wait_for_url(f"**/staff/leads/{refs['hung']}/print")
        assert await page.locator("nav, button, form, a").count() == 0
        sheet = await page.locator("body").inner_text()
        assert "Nguyễn Văn Hưng" in sheet and "Chị Hoa" in sheet and "24/12/2026" in sheet
        await page.emulate_media(media="print")
        assert pdf_pages(await page.pdf(format="A4")) == 1
        await page.emulate_media(media="screen")
        await page.goto(f"{env.url}/staff/leads/{refs['hung']}")  # back to the lead

        # Download a filled Mẫu 01b for the owner to sign: his name (as she corrected it) and his commune.
        async with page.expect_download() as download:
            await page.get_by_role("link", name="Tải Mẫu 01b (thông tin chung)").click()
        form = await download.value
        assert form.suggested_filename == f"mau-01b-{refs['hung']}.docx"
        await form.save_as(tmp_path / form.suggested_filename)
        shown = docx_text((tmp_path / form.suggested_filename).read_bytes())
        assert "THÔNG TIN CHUNG CỦA ĐƠN VỊ" in shown and "Nguyễn Văn Hưng" in shown and "Bình Giang" in shown

        # Download the Excel list: her follow-up is in it, and the file is named after her commune and the day.
        await page.goto(env.url + "/staff/")
        async with page.expect_download() as download:
            await page.get_by_role("link", name="Excel").click()
        got = await download.value
        assert got.suggested_filename == f"dang-ky-khuyen-cong_xa-binh-giang_{vn_today():%d-%m-%Y}.xlsx"
        path = tmp_path / got.suggested_filename
        await got.save_as(path)
        sheet_rows = openpyxl.load_workbook(path).active
        assert sheet_rows is not None
        header = [c.value for c in sheet_rows[1]]
        rows = {r[0]: dict(zip(header, r, strict=True)) for r in sheet_rows.iter_rows(min_row=2, values_only=True)}
        assert set(rows) == {refs["hung"], refs["lan"], refs["hoa"], walk_in}  # her commune only
        hung = rows[refs["hung"]]
        assert hung["Họ tên"] == "Nguyễn Văn Hưng" and hung["Trạng thái"] == "Đã liên hệ"
        assert hung["Người phụ trách"] == "Chị Hoa" and hung["Ngày hẹn gọi lại"].strftime("%d/%m/%Y") == "24/12/2026"
        assert hung["Ghi chú của cán bộ"] == "Hẹn mang giấy đăng ký hộ kinh doanh"
        assert hung["Xã/phường"] == "Xã Bình Giang" and hung["Mã xã"] == "13531"
        await browser.close()
