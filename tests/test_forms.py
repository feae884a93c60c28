"""The registration forms (Mẫu 01a, 01b) over the real dashboard: filled per lead, read back with python-docx;
the layouts a province uploads (good and bad files); the Mẫu 02a/02b sheets; the owner told at registration."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import aiohttp
import openpyxl
from docx import Document

from bot.dialog import DialogEngine
from bot.eligibility import Assessor
from bot.faq import FaqIndex
from bot.flows import load_dialogs
from bot.knowledge import Knowledge
from bot.storage.factory import open_repository
from bot.storage.memory import MemoryRepository
from tests.conftest import ROOT
from tests.test_channels import Env, run, running
from tests.test_dashboard import csrf_of, seed, sign_in
from tests.test_engine import REGISTRATION, say
from tests.test_exports import db, export  # noqa: F401 (the fixture)
from tests.test_no_codes import Checker, docx_text
from tools.form_templates import build

BOUNDARY = "----formboundary7MA4YWxkTrZu0gW"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
RICH = {
    "legal_form": "household_business",
    "activity": "làm nước mắm truyền thống",
    "workers": 12,
    "revenue_vnd": 2_500_000_000,
    "craft_village": True,
    "owner_flags": ["women_owned"],
}


def word_file(text: str) -> bytes:
    """A small .docx with one paragraph, as an officer would save it from Word."""
    doc = Document()
    doc.add_paragraph(text)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def rich_lead(env: Env, ref: str) -> None:
    env.app.repo.db.execute("UPDATE leads SET profile = ? WHERE ref = ?", [json.dumps(RICH), ref])


async def download(env: Env, ref: str, form: str) -> aiohttp.ClientResponse:
    async with env.http.get(f"{env.url}/staff/leads/{ref}/forms/{form}", allow_redirects=False) as resp:
        await resp.read()
        return resp


@run
async def test_an_officer_downloads_a_filled_mau_01b_and_01a_of_her_lead(tmp_path: Path) -> None:
    async with running(tmp_path) as env:
        refs = seed(env)
        rich_lead(env, refs["mine"])
        page = await sign_in(env)
        async with env.http.get(f"{env.url}/staff/leads/{refs['mine']}") as resp:
            lead_page = await resp.text()
        assert f"/staff/leads/{refs['mine']}/forms/01b" in lead_page and "Tải Mẫu 01b" in lead_page
        check = Checker(env.app.engine.kb)
        for form in ("01b", "01a"):
            async with env.http.get(f"{env.url}/staff/leads/{refs['mine']}/forms/{form}") as resp:
                assert resp.status == 200 and resp.headers["Content-Type"] == DOCX
                disposition = resp.headers["Content-Disposition"]
                body = await resp.read()
            assert f'filename="mau-{form}-{refs["mine"]}.docx"' in disposition and "Lan" not in disposition
            shown = docx_text(body)
            assert "Nguyễn Thị Lan" in shown and "Xã Vĩnh Thủy" in shown and "Quảng Trị" in shown
            assert "MẪU THAM KHẢO" in shown  # until the province's own layout is loaded
            assert "{{" not in shown and "{%" not in shown
            assert not check(shown), check(shown)
        b, a = docx_text(await _body(env, refs["mine"], "01b")), docx_text(await _body(env, refs["mine"], "01a"))
        assert "làm nước mắm truyền thống" in b and "Hộ kinh doanh" in b and "2.500.000.000 đồng" in b
        assert "12 người" in b and "Phụ nữ làm chủ" in b and "Cơ sở 1" in b
        assert "Ứng dụng máy móc, thiết bị tiên tiến" in a and "20.000.000 đồng" in a and "Kinh phí xã" in a
        assert "……" in b  # the tax number the chat never asks: a dotted line to fill by hand
        logged = env.app.repo.db.execute("SELECT actor, format, count FROM export_log").fetchall()
        assert ("staff:lan", "form_01b", 1) in logged and ("staff:lan", "form_01a", 1) in logged
        # Another commune's lead: not hers, and nothing is logged for it.
        for form in ("01a", "01b"):
            assert (await download(env, refs["other"], form)).status == 404
        assert (await download(env, refs["mine"], "01c")).status == 404
        del page


async def _body(env: Env, ref: str, form: str) -> bytes:
    async with env.http.get(f"{env.url}/staff/leads/{ref}/forms/{form}") as resp:
        assert resp.status == 200
        return await resp.read()


@run
async def test_a_hostile_facility_name_stays_text_in_the_form(tmp_path: Path) -> None:
    async with running(tmp_path) as env:
        refs = seed(env)
        await sign_in(env)
        env.app.repo.db.execute(
            "UPDATE leads SET facility_name = ? WHERE ref = ?", ["</w:t></w:r><w:r><w:t>X & {{ hoten }}", refs["mine"]]
        )
        shown = docx_text(await _body(env, refs["mine"], "01b"))
        assert "</w:t></w:r><w:r><w:t>X & {{ hoten }}" in shown  # escaped once, never rendered twice


async def upload(
    env: Env, body: bytes, form: str = "01b", target: str = "commune:19405", name: str = "m.docx"
) -> tuple[int, str]:
    async with env.http.get(f"{env.url}/staff/forms") as resp:
        csrf = csrf_of(await resp.text())
    # Built by hand, as a browser sends it (bytes, so that nothing is serialised twice).
    fields = {"csrf": csrf, "form": form, "target": target}
    parts = [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items()]
    head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
    head += f"Content-Type: {DOCX}\r\n\r\n"
    data = "".join(parts).encode() + head.encode() + body + f"\r\n--{BOUNDARY}--\r\n".encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    async with env.http.post(f"{env.url}/staff/forms", data=io.BytesIO(data), headers=headers) as resp:
        return resp.status, await resp.text()


def saved_rows(env: Env) -> list[tuple[str, str, int, str]]:
    return env.app.repo.db.execute("SELECT form, level, code, uploaded_by FROM form_templates").fetchall()


@run
async def test_an_officer_replaces_her_communes_layout_and_bad_files_change_nothing(tmp_path: Path) -> None:
    async with running(tmp_path) as env:
        refs = seed(env)
        await sign_in(env)
        own = word_file("MẪU SỐ 01b CỦA TỈNH QUẢNG TRỊ – Tên cơ sở: {{ coso }} – Chủ: {{ hoten | upper }}")
        bad = {
            "không phải tệp Word": (b"chi la chu, khong phai docx", "không phải tệp Word"),
            "ô lạ": (word_file("{{ hoten }} {{ so_cmnd }}"), "“so_cmnd”"),
            "cú pháp": (word_file("{{ hoten }} {% for n in nhucau %}"), "chưa đúng"),
            "lệnh": (word_file("{{ ''.__class__.__mro__ }}"), "không cho dùng"),
            "vòng lặp": (word_file("{% for i in range(99999) %}{{ hoten }}{% endfor %}"), "không cho dùng"),
            "không ô nào": (word_file("Chỉ có chữ"), "chưa có ô điền"),
            "macro": (_with_macro(own), "macro"),
        }
        for what, (body, said) in bad.items():
            status, page = await upload(env, body)
            assert status == 400 and said in page, (what, page[-300:])
            assert saved_rows(env) == [], what
        status, page = await upload(env, b"PK" + b"0" * (3 * 1024 * 1024))
        assert status == 413 and "quá lớn" in page and saved_rows(env) == []
        # Not hers: the province's layout, or another commune's.
        for target in ("province:44", "commune:13531"):
            status, page = await upload(env, own, target=target)
            assert status == 403 and "xã mình phụ trách" in page and saved_rows(env) == []
        async with env.http.get(f"{env.url}/staff/forms/01b/layout", params={"target": "commune:13531"}) as resp:
            assert resp.status == 403  # another commune's layout is not hers to read either
        status, page = await upload(env, own, name="mau-01b-tinh.docx")
        assert status == 200 and "Đã lưu" in page and "mau-01b-tinh.docx" in page
        assert saved_rows(env) == [("01b", "commune", 19405, "lan")]
        shown = docx_text(await _body(env, refs["mine"], "01b"))
        assert "MẪU SỐ 01b CỦA TỈNH QUẢNG TRỊ" in shown and "Cơ sở 1" in shown and "NGUYỄN THỊ LAN" in shown
        assert "MẪU THAM KHẢO" not in shown
        async with env.http.get(f"{env.url}/staff/forms/01b/layout", params={"target": "commune:19405"}) as resp:
            assert docx_text(await resp.read()).startswith("MẪU SỐ 01b CỦA TỈNH")  # to edit again in Word
        async with env.http.get(f"{env.url}/staff/forms") as resp:
            csrf = csrf_of(await resp.text())
        reset = {"csrf": csrf, "form": "01b", "target": "commune:19405"}
        async with env.http.post(f"{env.url}/staff/forms/reset", data=reset) as resp:
            assert resp.status == 200 and "đã về mẫu tham khảo" in await resp.text()
        assert saved_rows(env) == []
        assert "MẪU THAM KHẢO" in docx_text(await _body(env, refs["mine"], "01b"))
        audit = env.app.repo.db.execute("SELECT form, level, code, actor, action FROM form_template_audit").fetchall()
        assert audit == [("01b", "commune", 19405, "lan", "uploaded"), ("01b", "commune", 19405, "lan", "reset")]


@run
async def test_a_provincial_layout_serves_every_commune_of_the_province(tmp_path: Path) -> None:
    async with running(tmp_path) as env:
        refs = seed(env)
        await sign_in(env, "tinh")
        status, _ = await upload(env, word_file("MẪU 01a CỦA TỈNH NINH BÌNH {{ coso }}"), "01a", "province:37")
        assert status == 200
        assert "MẪU 01a CỦA TỈNH NINH BÌNH" in docx_text(await _body(env, refs["other"], "01a"))  # Bình Giang
        assert "MẪU THAM KHẢO" in docx_text(await _body(env, refs["mine"], "01a"))  # Quảng Trị keeps the reference


def _with_macro(body: bytes) -> bytes:
    """The same document saved as a macro-enabled one (a .docm under another name)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(body)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "[Content_Types].xml":
                data = data.replace(b"document.main+xml", b"document.macroEnabled.main+xml")
            dst.writestr(item, data)
        dst.writestr("word/vbaProject.bin", b"\x00" * 100)
    return out.getvalue()


def test_the_bundled_layouts_are_what_the_generator_builds() -> None:
    from bot.staff.docx_forms import reference

    for form in ("01a", "01b"):
        with zipfile.ZipFile(io.BytesIO(reference(form))) as shipped, zipfile.ZipFile(io.BytesIO(build(form))) as made:
            assert shipped.namelist() == made.namelist()
            for name in shipped.namelist():
                assert shipped.read(name) == made.read(name), f"run tools/form_templates.py: {form} {name}"


def test_the_summary_carries_mau_02a_and_02b_with_one_row_per_facility_and_totals(
    db: Path,  # noqa: F811 (the fixture of test_exports)
    tmp_path: Path,
    kb: Knowledge,
) -> None:
    repo = open_repository(db)  # SQLite and PostgreSQL: the summary's facilities are read once, streamed
    refs = [r for (r,) in repo.db.execute("SELECT ref FROM leads ORDER BY ref").fetchall()]
    first, gone = refs[0], refs[1]
    repo.db.execute("UPDATE leads SET profile = ? WHERE ref = ?", [json.dumps(RICH), first])
    repo.db.execute("UPDATE leads SET status = 'withdrawn' WHERE ref = ?", [gone])
    for ref, met in ((first, ["workers"]), (refs[2], [])):  # as the chat keeps them: criteria met, or none
        (stored,) = repo.db.execute("SELECT assessment FROM leads WHERE ref = ?", [ref]).fetchone()
        assessment = json.loads(stored) | {"priority": met}
        repo.db.execute("UPDATE leads SET assessment = ? WHERE ref = ?", [json.dumps(assessment), ref])
    repo.close()
    out = tmp_path / "summary.xlsx"
    assert export(db, "--format", "summary", "--out", str(out))[0] == 0
    book = openpyxl.load_workbook(out)
    assert book.sheetnames[3:] == ["Mẫu 02a - Nhu cầu kinh phí", "Mẫu 02b - Thông tin cơ sở"]
    a = [[c.value for c in row] for row in book["Mẫu 02a - Nhu cầu kinh phí"].iter_rows()]
    b = [[c.value for c in row] for row in book["Mẫu 02b - Thông tin cơ sở"].iter_rows()]
    assert a[0][:3] == ["STT", "Mã đăng ký", "Tên cơ sở"] and "Kinh phí hỗ trợ theo kế hoạch (đồng)" in a[0]
    assert len(a) == len(b) == 1 + 6 + 1  # the header, six facilities still asking (one withdrew), the totals
    assert a[-1][0] == b[-1][0] == "Tổng cộng" and a[-1][2] == "6 cơ sở"
    money = a[0].index("Kinh phí hỗ trợ theo kế hoạch (đồng)")
    assert a[-1][money] == 6 * 20_000_000 == sum(r[money] or 0 for r in a[1:-1])
    rich = next(r for r in b if r[1] == first)
    header = b[0]
    assert rich[header.index("Loại hình")] == "Hộ kinh doanh" and rich[header.index("Số lao động")] == 12
    assert rich[header.index("Sản phẩm chính")] == "làm nước mắm truyền thống"
    assert rich[header.index("Chủ cơ sở")] == "Phụ nữ làm chủ" and rich[header.index("Trong làng nghề")] == "Có"
    assert b[-1][header.index("Doanh thu năm trước (đồng)")] == 2_500_000_000
    assert b[-1][header.index("Tổng nguồn vốn (đồng)")] is None  # nobody said it: blank, not a total of 0
    priority = {r[1]: r[a[0].index("Được ưu tiên")] for r in a[1:-1]}
    assert (priority[first], priority[refs[2]]) == ("Có", "Không")  # assessed with no criterion met: said, not blank
    revenue = book["Mẫu 02b - Thông tin cơ sở"].cell(b.index(rich) + 1, header.index("Doanh thu năm trước (đồng)") + 1)
    assert revenue.value == 2_500_000_000 and revenue.number_format == "#,##0"
    assert gone not in [r[1] for r in a + b]
    check = Checker(kb)
    assert not [f for row in a + b for v in row if isinstance(v, str) for f in check(v)]


def test_the_owner_is_told_the_office_will_have_the_form_ready_to_sign(
    kb: Knowledge, assessor: Assessor, faq: FaqIndex
) -> None:
    engine = DialogEngine(kb, load_dialogs(ROOT / "dialogs"), MemoryRepository(), assessor, faq)
    said = [say(engine, "owner", text, n) for n, text in enumerate(REGISTRATION, 1)]
    assert "Mã đăng ký" in said[-1]
    assert "mẫu đăng ký" in said[-1] and "ký" in said[-1].split("mẫu đăng ký", 1)[1]
