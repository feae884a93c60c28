"""Build the bundled reference layouts of Mẫu 01a and Mẫu 01b (Word templates with Jinja placeholders).

Run `python tools/form_templates.py` after changing a layout; the .docx files it writes under
bot/staff/form_templates/ are committed, and tests/test_forms.py checks they are what this script builds.
The placeholders are those of bot/staff/form_fields.py. A province replaces a layout in the dashboard.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from docx import Document
from docx.document import Document as DocumentType
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Cm, Pt, RGBColor

OUT = Path(__file__).resolve().parent.parent / "bot" / "staff" / "form_templates"
REFERENCE = (
    "MẪU THAM KHẢO của trợ lý khuyến công, chưa phải mẫu chính thức của tỉnh. "
    "Cán bộ tải mẫu của tỉnh/xã lên ở trang “Mẫu đăng ký” để thay."
)
SIGN_DATE = "……………, ngày …… tháng …… năm ……"


def _page(title: str, number: str) -> DocumentType:
    """A4, Times New Roman 13, the reference mark in the header and on top, the form's number and motto."""
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name, style.font.size = "Times New Roman", Pt(13)  # type: ignore[attr-defined]
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.left_margin = section.right_margin = Cm(2)
    section.top_margin = section.bottom_margin = Cm(1.8)
    header = section.header.paragraphs[0]
    _run(header, REFERENCE, italic=True, red=True, size=10)
    mark = doc.add_paragraph()
    _run(mark, "MẪU THAM KHẢO", bold=True, red=True)
    mark.alignment = WD_ALIGN_PARAGRAPH.LEFT
    right = doc.add_paragraph()
    _run(right, f"Mẫu số {number}", bold=True)
    right.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    for text, bold in (("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", True), ("Độc lập – Tự do – Hạnh phúc", True)):
        _centre(doc, text, bold=bold)
    _centre(doc, "")
    _centre(doc, title, bold=True, size=14)
    footer = section.footer.paragraphs[0]
    _run(footer, "Mã đăng ký {{ madangky }} · đăng ký ngày {{ ngaydangky }} · in ngày {{ ngayin }}", size=9)
    return doc


def _run(paragraph: object, text: str, **how: object) -> None:
    run = paragraph.add_run(text)  # type: ignore[attr-defined]
    run.bold, run.italic = bool(how.get("bold")), bool(how.get("italic"))
    if how.get("size"):
        run.font.size = Pt(float(how["size"]))  # type: ignore[arg-type]
    if how.get("red"):
        run.font.color.rgb = RGBColor(0xC0, 0x00, 0x00)


def _centre(doc: DocumentType, text: str, **how: object) -> None:
    paragraph = doc.add_paragraph()
    _run(paragraph, text, **how)
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER


def _line(doc: DocumentType, label: str, value: str) -> None:
    paragraph = doc.add_paragraph()
    _run(paragraph, label, bold=True)
    _run(paragraph, value)


def _signature(doc: DocumentType) -> None:
    doc.add_paragraph()
    for text, bold in ((SIGN_DATE, False), ("ĐẠI DIỆN CƠ SỞ", True), ("(Ký, ghi rõ họ tên)", False)):
        paragraph = doc.add_paragraph()
        _run(paragraph, text, bold=bold, italic=text.startswith("("))
        paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    for _ in range(3):
        doc.add_paragraph()
    name = doc.add_paragraph()
    _run(name, "{{ hoten }}", bold=True)
    name.alignment = WD_ALIGN_PARAGRAPH.RIGHT


def form_01b() -> DocumentType:
    """Mẫu 01b: the facility's general information, one labelled line each."""
    doc = _page("THÔNG TIN CHUNG CỦA ĐƠN VỊ", "01b")
    _centre(doc, "(Kèm theo hồ sơ đăng ký nhu cầu hỗ trợ khuyến công năm {{ nam }})", italic=True)
    _line(doc, "Kính gửi: ", "{{ coquan }}")
    rows = [
        ("1. Tên cơ sở", "{{ coso }}"),
        ("2. Loại hình", "{{ loaihinh }}"),
        ("3. Mã số thuế / số đăng ký kinh doanh", "{{ masothue }}"),
        ("4. Người đại diện, liên hệ", "{{ hoten }}"),
        ("5. Điện thoại", "{{ dienthoai }}"),
        ("6. Địa chỉ sản xuất", "{{ diachi }}, {{ xa }}, {{ tinh }}"),
        ("7. Trong làng nghề được công nhận", "{{ langnghe }}"),
        ("8. Sản phẩm chính", "{{ sanpham }}"),
        ("9. Ngành nghề", "{{ nganh }}"),
        ("10. Số lao động", "{{ laodong }}"),
        ("11. Doanh thu năm trước", "{{ doanhthu }}"),
        ("12. Tổng nguồn vốn", "{{ nguonvon }}"),
        ("13. Quy mô", "{{ quymo }}"),
        ("14. Nguyên liệu trong tỉnh", "{{ nguyenlieu }}"),
        ("15. Hợp đồng xuất khẩu", "{{ xuatkhau }}"),
        ("16. Chủ cơ sở là phụ nữ / người dân tộc thiểu số", "{{ chucoso }}"),
        ("17. Sản phẩm công nghiệp nông thôn tiêu biểu", "{{ tieubieu }}"),
        ("18. Nội dung đề nghị hỗ trợ", "{{ hotro }}"),
        ("19. Đã nhận hỗ trợ của Nhà nước cho cùng nội dung", "{{ dahotro }}"),
    ]
    table = doc.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for label, value in rows:
        cells = table.add_row().cells
        cells[0].text, cells[1].text = label, value
        cells[0].width, cells[1].width = Cm(7), Cm(10)
    doc.add_paragraph()
    doc.add_paragraph("Cơ sở cam kết các thông tin trên là đúng sự thật.")
    _signature(doc)
    return doc


def form_01a() -> DocumentType:
    """Mẫu 01a: the support wanted and its cost, one table row per content (a docxtpl row loop)."""
    doc = _page("ĐĂNG KÝ KẾ HOẠCH NHU CẦU KINH PHÍ KHUYẾN CÔNG NĂM {{ nam }}", "01a")
    _line(doc, "Kính gửi: ", "{{ coquan }}")
    _line(doc, "Tên cơ sở: ", "{{ coso }} ({{ loaihinh }})")
    _line(doc, "Người liên hệ: ", "{{ hoten }}, điện thoại {{ dienthoai }}")
    _line(doc, "Địa chỉ sản xuất: ", "{{ diachi }}, {{ xa }}, {{ tinh }}")
    _line(doc, "Sản phẩm chính: ", "{{ sanpham }}")
    doc.add_paragraph("Cơ sở đăng ký nhu cầu hỗ trợ khuyến công như sau:")
    headers = [
        "STT",
        "Nội dung đề nghị hỗ trợ",
        "Nguồn kinh phí",
        "Mức hỗ trợ theo kế hoạch",
        "Tổng kinh phí thực hiện (đồng)",
        "Vốn đối ứng của cơ sở (đồng)",
    ]
    table = doc.add_table(rows=1, cols=len(headers))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, headers, strict=True):
        cell.text = ""
        _run(cell.paragraphs[0], text, bold=True, size=11)
    table.add_row().cells[0].text = "{%tr for n in nhucau %}"
    row = table.add_row().cells
    for cell, name in zip(row, ["stt", "noidung", "nguon", "muchotro", "kinhphi", "doiung"], strict=True):
        cell.text = "{{ n.%s }}" % name  # noqa: UP031 (braces of Jinja inside)
    table.add_row().cells[0].text = "{%tr endfor %}"
    total = table.add_row().cells
    total[1].text, total[3].text = "Tổng cộng", "{{ tongmuchotro }}"
    doc.add_paragraph()
    _line(doc, "Mô tả thêm của cơ sở: ", "{{ ghichu }}")
    doc.add_paragraph(
        "Cơ sở cam kết: các thông tin trên là đúng sự thật; chưa nhận hỗ trợ từ nguồn kinh phí nhà nước khác "
        "cho cùng nội dung; bố trí đủ vốn đối ứng theo quy định."
    )
    _signature(doc)
    return doc


BUILDERS = {"01a": form_01a, "01b": form_01b}


def build(form: str) -> bytes:
    """One layout as .docx bytes."""
    out = io.BytesIO()
    BUILDERS[form]().save(out)
    return out.getvalue()


def main() -> int:
    """Write every layout under bot/staff/form_templates/."""
    OUT.mkdir(exist_ok=True)
    for form in BUILDERS:
        (OUT / f"mau-{form}.docx").write_bytes(build(form))
    return 0


if __name__ == "__main__":
    sys.exit(main())
