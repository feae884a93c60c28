"""Staff correct a lead's contact and add a registration taken at the office, over real HTTP; the plan's slots."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import openpyxl

from tests.conftest import Store
from tests.test_channels import Env, run, running
from tests.test_dashboard import csrf_of, seed, sign_in
from tests.test_exports import add_lead

CORRECTED = {
    "contact_name": "Nguyễn Văn Hùng",
    "phone": "0912 000 111",
    "facility_name": "Cơ sở nước mắm Hùng",
    "activity": "nước mắm",
}
WALK_IN = {
    "legal_form": "household_business",
    "activity": "làm nước mắm",
    "place": "xã Vĩnh Thủy, Quảng Trị",
    "needs": "advanced_machinery",
    "contact_name": "Trần Thị Mai",
    "phone": "0987 654 321",
    "facility_name": "Cơ sở nước mắm Mai",
    "note": "Gọi điện sáng thứ hai",
    "consent": "yes",
    "consent_for": "19405",  # the commune whose office the text read out names
}


async def page(env: Env, path: str) -> str:
    async with env.http.get(env.url + path) as resp:
        assert resp.status == 200, (path, resp.status)
        return await resp.text()


async def post(env: Env, path: str, form: dict[str, str], csrf: str) -> tuple[int, str, str]:
    async with env.http.post(env.url + path, data={"csrf": csrf, **form}) as resp:
        return resp.status, str(resp.url), await resp.text()


@run
async def test_an_officer_corrects_a_name_typed_in_lower_case_and_the_history_says_old_and_new(
    tmp_path: Path, store: Store
) -> None:
    async with running(tmp_path, khuyencong_db=Path(store.target)) as env:
        repo = env.app.repo
        ref = add_lead(repo, 7, name="nguyen van hung").ref
        seed(env)
        await sign_in(env)
        form = await page(env, f"/staff/leads/{ref}/edit")
        assert 'value="nguyen van hung"' in form and 'value="0910000007"' in form
        status, _, shown = await post(env, f"/staff/leads/{ref}/edit", CORRECTED, csrf_of(form))
        assert status == 200 and "Đã lưu" in shown
        lead = repo.db.execute("SELECT name, phone, facility_name, profile FROM leads WHERE ref = ?", [ref]).fetchone()
        assert lead[:3] == ("Nguyễn Văn Hùng", "+84912000111", "Cơ sở nước mắm Hùng") and "nước mắm" in lead[3]
        assert "Họ tên: nguyen van hung → Nguyễn Văn Hùng" in shown
        assert "Số điện thoại: 0910000007 → 0912000111" in shown and "Sửa thông tin liên hệ" in shown
        assert "cán bộ lan" in shown and re.search(r"\d\d/\d\d/\d{4} \d\d:\d\d", shown)
        assert "contact corrected" not in shown and "facility_name" not in shown  # no internal code
        history = repo.audit(ref)[-1]
        assert history["actor"] == "staff:lan" and history["changes"]["name"] == ["nguyen van hung", "Nguyễn Văn Hùng"]


@run
async def test_a_correction_the_chat_would_refuse_changes_nothing(tmp_path: Path) -> None:
    async with running(tmp_path) as env:
        refs = seed(env)
        await sign_in(env)
        form = await page(env, f"/staff/leads/{refs['mine']}/edit")
        before = env.app.repo.db.execute("SELECT * FROM leads ORDER BY ref").fetchall()
        audit = env.app.repo.db.execute("SELECT count(*) FROM lead_audit").fetchone()
        for field, bad, said in (
            ("contact_name", '=HYPERLINK("http://x","bấm")', "không dùng ký hiệu"),
            ("contact_name", "<b>Lan</b>", "không dùng ký hiệu"),
            ("contact_name", "L" * 101, "Người liên hệ"),
            ("phone", "12345", "Số điện thoại 10 số"),
            ("phone", "01912345678", "số 11 số cũ"),
            ("contact_name", "", "chưa điền"),
            ("activity", "@SUM(A1)", "Sản phẩm"),
        ):
            status, _, shown = await post(
                env, f"/staff/leads/{refs['mine']}/edit", CORRECTED | {field: bad}, csrf_of(form)
            )
            assert status == 400 and "Chưa lưu" in shown and said in shown, (field, bad)
            assert "<b>Lan</b>" not in shown  # what was typed comes back escaped
            assert "Bà con" not in shown and "một nút" not in shown  # said to the officer, not to the villager
        status, _, _ = await post(env, f"/staff/leads/{refs['mine']}/edit", CORRECTED, "not-the-token")
        assert status == 403
        status, _, _ = await post(env, f"/staff/leads/{refs['other']}/edit", CORRECTED, csrf_of(form))
        assert status == 404  # another commune's lead
        async with env.http.get(f"{env.url}/staff/leads/{refs['other']}/edit") as resp:
            assert resp.status == 404
        assert env.app.repo.db.execute("SELECT * FROM leads ORDER BY ref").fetchall() == before
        assert env.app.repo.db.execute("SELECT count(*) FROM lead_audit").fetchone() == audit


@run
async def test_a_household_without_a_shop_name_is_corrected_and_registered_at_the_office(tmp_path: Path) -> None:
    """The chat lets a person leave the facility's name out; the officer's forms do too."""
    async with running(tmp_path) as env:
        repo = env.app.repo
        seed(env)
        ref = add_lead(repo, 8).ref
        await sign_in(env)
        form = await page(env, f"/staff/leads/{ref}/edit")
        status, _, shown = await post(env, f"/staff/leads/{ref}/edit", CORRECTED | {"facility_name": ""}, csrf_of(form))
        assert status == 200 and "Chưa lưu" not in shown, shown
        assert repo.db.execute("SELECT name, facility_name FROM leads WHERE ref = ?", [ref]).fetchone() == (
            "Nguyễn Văn Hùng",
            "",
        )
        form = await page(env, "/staff/add")
        status, url, shown = await post(env, "/staff/add", WALK_IN | {"facility_name": ""}, csrf_of(form))
        assert status == 200 and re.search(r"/staff/leads/KC-\w{6}$", url), shown
        added = url.rsplit("/", 1)[-1]
        assert repo.db.execute("SELECT facility_name FROM leads WHERE ref = ?", [added]).fetchone() == ("",)


@run
async def test_a_walk_in_registration_is_assessed_flagged_and_keeps_the_verbal_consent(
    tmp_path: Path, store: Store
) -> None:
    async with running(tmp_path, khuyencong_db=Path(store.target)) as env:
        repo = env.app.repo
        seed(env)
        earlier = add_lead(repo, 9, phone="+84987654321").ref  # a chat registered this phone in Vĩnh Thủy
        await sign_in(env)
        form = await page(env, "/staff/add")
        read_out = env.app.engine.texts.consent.split("{office}")[0]  # the chat's own consent text, as it begins
        assert "Người đăng ký đã đồng ý sau khi nghe đọc" in form and read_out in form
        assert 'value="Xã Vĩnh Thủy, Quảng Trị"' in form  # the officer's commune to start with
        status, url, shown = await post(env, "/staff/add", WALK_IN, csrf_of(form))
        assert status == 200 and re.search(r"/staff/leads/KC-\w{6}$", url), url
        ref = url.rsplit("/", 1)[-1]
        assert f"Có thể trùng với {earlier}" in shown  # the chat's duplicate rule
        assert "Tại văn phòng / qua điện thoại" in shown and ">office<" not in shown
        assert "Đủ điều kiện" in shown and "Đồng ý bằng lời sau khi nghe đọc, cán bộ lan ghi nhận lúc" in shown
        lead = repo.db.execute(
            "SELECT channel, name, phone, commune_code, lines_wanted, consent_id, assessment FROM leads WHERE ref = ?",
            [ref],
        ).fetchone()
        assert lead[:5] == ("office", "Trần Thị Mai", "+84987654321", 19405, '["advanced_machinery"]')
        assert json.loads(lead[6])["eligible"] is True  # (json_extract gives 1 on SQLite, 'true' on PostgreSQL)
        consent = repo.db.execute(
            "SELECT purpose, text_version, given, recorded_by, text FROM consents WHERE id = ?", [lead[5]]
        ).fetchone()
        assert consent[:4] == ("registration", env.app.engine.texts.consent_version, 1, "lan")
        assert consent[4].startswith(read_out)
        assert [(h["actor"], h["action"]) for h in repo.audit(ref)] == [("staff:lan", "registered at the office")]
        async with env.http.get(f"{env.url}/staff/export/xlsx") as resp:
            sheet = openpyxl.load_workbook(io.BytesIO(await resp.read())).active
        assert sheet is not None
        header = [c.value for c in sheet[1]]
        row = next(
            dict(zip(header, r, strict=True)) for r in sheet.iter_rows(min_row=2, values_only=True) if r[0] == ref
        )
        assert row["Kênh"] == "Tại văn phòng / qua điện thoại"  # in the Excel list too, no internal code


@run
async def test_a_walk_in_without_consent_or_outside_her_communes_is_refused_and_nothing_is_stored(
    tmp_path: Path,
) -> None:
    async with running(tmp_path) as env:
        seed(env)
        await sign_in(env)
        form = await page(env, "/staff/add")
        counts = [env.app.repo.db.execute(f"SELECT count(*) FROM {t}").fetchone() for t in ("leads", "consents")]
        for change, said in (
            ({"consent": ""}, "Người đăng ký đã đồng ý sau khi nghe đọc"),
            ({"place": "xã Bình Giang, Ninh Bình"}, "không thuộc các xã bạn phụ trách"),
            ({"phone": "abc"}, "Số điện thoại"),
            ({"contact_name": "=1+1"}, "không dùng ký hiệu"),
            ({"legal_form": "household"}, "Loại hình: hãy chọn"),
            ({"place": "Quảng Trị"}, "Địa chỉ"),
            ({"consent_for": "13531"}, "xin đọc lại nội dung"),  # the text read out named another office
        ):
            status, _, shown = await post(env, "/staff/add", WALK_IN | change, csrf_of(form))
            assert status == 400 and "Chưa lưu" in shown and said in shown, (change, shown[-3000:])
            assert 'value="Trần Thị Mai"' in shown or "contact_name" in change  # what was typed is kept
        after = [env.app.repo.db.execute(f"SELECT count(*) FROM {t}").fetchone() for t in ("leads", "consents")]
        assert after == counts


@run
async def test_the_slots_of_her_plan_show_on_the_list_the_statistics_and_the_summary_workbook(
    tmp_path: Path, store: Store
) -> None:
    async with running(tmp_path, khuyencong_db=Path(store.target)) as env:
        refs = seed(env)  # two leads in Vĩnh Thủy want machinery: its plan funds 3 facilities
        for i in (20, 21, 22):
            add_lead(env.app.repo, i)
        add_lead(env.app.repo, 23, status="supported")
        await sign_in(env)
        for path in ("/staff/", "/staff/stats"):
            shown = re.sub(r"\s+", " ", await page(env, path))
            assert "Suất hỗ trợ theo kế hoạch" in shown and "Xã Vĩnh Thủy (Quảng Trị)" in shown
            row = re.search(r"<td>Hỗ trợ ứng dụng máy móc[^<]*</td>(.*?)</tr>", shown)
            assert row is not None
            cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", row.group(1))]
            assert cells == [
                "3 suất, 60 triệu đồng",
                "6 (vượt 3)",
                "1",
                "2 suất",
            ]  # planned, registered, approved, left
            assert "Bình Giang" not in shown  # not her commune
        async with env.http.get(f"{env.url}/staff/export/summary") as resp:
            book = openpyxl.load_workbook(io.BytesIO(await resp.read()))
        sheet = book["Theo nội dung hỗ trợ"]
        header = [c.value for c in sheet[1]]
        rows = [dict(zip(header, r, strict=True)) for r in sheet.iter_rows(min_row=2, values_only=True)]
        machinery = next(r for r in rows if r["Nội dung hỗ trợ"] and "máy móc" in str(r["Nội dung hỗ trợ"]))
        assert machinery["Số cơ sở đăng ký"] == 6 and machinery["Số suất kế hoạch"] == 3
        assert machinery["Kinh phí kế hoạch (đồng)"] == 60_000_000 and machinery["Đã duyệt"] == 1
        assert machinery["Suất chưa duyệt"] == 2
        assert refs


@run
async def test_a_provincial_admin_reads_out_the_text_naming_the_office_of_the_commune_given(tmp_path: Path) -> None:
    async with running(tmp_path) as env:
        seed(env)
        await sign_in(env, "tinh")
        form = await page(env, "/staff/add")
        walk_in = WALK_IN | {"place": "xã Bình Giang, Ninh Bình", "consent_for": ""}
        status, _, again = await post(env, "/staff/add", walk_in, csrf_of(form))
        assert status == 400 and "xin đọc lại nội dung" in again and 'name="consent_for" value="13531"' in again
        status, url, shown = await post(env, "/staff/add", walk_in | {"consent_for": "13531"}, csrf_of(form))
        assert status == 200 and "/staff/leads/KC-" in url and "Tại văn phòng / qua điện thoại" in shown
