"""A lead printed from the dashboard in a real headless Chromium: one A4 page, nothing to click on it."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from bot.dialog.result import summary_of
from bot.eligibility import Profile
from bot.staff.store import EVERYONE, StaffStore
from tests.test_channels import run, running
from tests.test_dashboard import seed
from tests.test_dashboard_browser import signed_in
from tests.test_exports import add_lead

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="make test installs chromium; run it through make")
LONG = " ".join(["Cơ sở làm nước mắm truyền thống, muốn mua thêm máy đóng chai và bồn ủ inox;"] * 27)[:2000]


def pdf_pages(pdf: bytes) -> int:
    """How many pages a PDF has: its page objects (Chromium writes them uncompressed)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


def test_the_page_counter_counts_pages_not_the_page_tree() -> None:
    assert pdf_pages(b"<< /Type /Pages /Count 2 >> << /Type /Page >> << /Type/Page /Parent 1 0 R >>") == 2


@run
async def test_a_lead_with_long_notes_prints_on_one_a4_page_without_navigation(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    async with running(tmp_path) as env, async_playwright() as pw:
        seed(env)
        ref = add_lead(env.app.repo, 8, name="Nguyễn Văn Hùng", note=LONG).ref
        profile = Profile(  # a rich case: many cited reasons and support lines, as a real chat leaves them
            legal_form="enterprise",
            activity="chế biến nước mắm",
            workers=45,
            revenue_vnd=50_000_000_000,
            commune="xã Vĩnh Thủy, Quảng Trị",
            craft_village=True,
            owner_flags=["women_owned"],
        )
        assessment = summary_of(env.app.engine.assessor.assess(profile))
        assert len(assessment["reasons"]) >= 2 and len(assessment["lines"]) >= 8, assessment
        env.app.repo.db.execute("UPDATE leads SET assessment = ? WHERE ref = ?", [json.dumps(assessment), ref])
        store = StaffStore(env.app.repo)
        for n in range(12):  # a long history: every change of the note is audited
            store.update(EVERYONE, ref, "contacted", "Chị Mai", "2026-12-24", f"{LONG[:1990]} lần {n}")
        browser, page = await signed_in(pw, env.url)
        await page.goto(f"{env.url}/staff/leads/{ref}")
        await page.get_by_role("link", name="In phiếu").click()
        await page.wait_for_url(f"**/staff/leads/{ref}/print")
        for thing in ("nav", "button", "form", "input", "select", "textarea", "a"):
            assert await page.locator(thing).count() == 0, f"a {thing} on the print layout"
        text = await page.locator("body").inner_text()
        for seen in (ref, "Nguyễn Văn Hùng", "Chị Mai", "24/12/2026", "Đã liên hệ", "Nghị định", "Đồng ý lúc"):
            assert seen in text, seen
        assert "còn 8 thay đổi trước đó" in text  # 13 audit rows, the 5 newest printed
        await page.emulate_media(media="print")
        await page.set_viewport_size({"width": 688, "height": 1000})  # A4's width within its margins, at 96 dpi
        await page.screenshot(path=tmp_path / "lead.png", full_page=True)
        pdf = await page.pdf(format="A4", print_background=False, prefer_css_page_size=True)
        (tmp_path / "lead.pdf").write_bytes(pdf)
        assert pdf.startswith(b"%PDF") and pdf_pages(pdf) == 1, f"{pdf_pages(pdf)} pages, see {tmp_path}/lead.pdf"
        await browser.close()
