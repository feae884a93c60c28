"""The lead export's XLSX writer against libraries, on the same 100,000 leads in one run (time, peak memory).

Writers: the export's writer (bot/staff/xlsx.py, rustpy-xlsxwriter since issue 15), the hand-written writer it
replaced (read from git, `--old REV`), XlsxWriter in constant-memory and in-memory mode, pyexcelerate and openpyxl
in write-only mode. Each writes, in its own fresh process, the same two sheets: the lead list (the 22 columns of
bot/staff/exports.py, typed as the export types them) and a small summary sheet. Then each is asked, on a
200-row workbook read back with openpyxl, for the features the export needs. Candidates come from the `bench` extra:
    .venv/bin/pip install -e '.[dev,bench]' && .venv/bin/python -m bench.exports [--rows 100000] [--old REV]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bot.staff.exports import COLUMNS
from bot.staff.xlsx import safe

HEADERS = [c.header for c in COLUMNS]
KINDS = [c.kind for c in COLUMNS]
WIDTHS = [c.width for c in COLUMNS]
SHEET, SUMMARY = "Danh sách đăng ký", "Tổng hợp"
SUMMARY_ROWS = [["Đổi mới máy móc, thiết bị", 812], ["Tham quan, khảo sát", 95], ["Hội chợ, triển lãm", 41]]
_NAMES = ["Nguyễn Thị Hoa", "Trần Văn Nam", "Lê Thị Mai", "Phạm Văn Đức", "Hoàng Thị Lan"]
OLD = {"rev": "ea10226"}  # the last commit with the hand-written writer (`--old` changes it)
WRITERS: dict[str, Callable[[Path, int], None]] = {}


def lead_rows(count: int) -> Iterator[list[Any]]:
    """`count` rows as the export's row reader yields them (a few hostile cells among them), made on the fly."""
    start = dt.datetime(2026, 1, 5, 15, 0)
    for i in range(count):
        yield [
            f"KC-{i:06d}",
            start + dt.timedelta(minutes=i),
            "Mới",
            f"{_NAMES[i % 5]} {i}" if i % 997 else '=HYPERLINK("http://x","bấm")',
            f"091{i:07d}",  # a phone kept as text: its leading 0 must survive
            f"Cơ sở nước mắm {i}",
            "Hộ kinh doanh",
            "làm nước mắm",
            "Chế biến nông, lâm, thủy sản và thực phẩm",
            "Xã Vĩnh Thủy",
            "04567",  # a commune code kept as text
            "Quảng Trị",
            "Đủ điều kiện",
            "Đổi mới máy móc, thiết bị",
            20_000_000,
            "" if i % 3 else "gọi lại buổi chiều",
            "Zalo",
            start + dt.timedelta(minutes=i, hours=2),
            "" if i % 4 else "Chị Mai",
            None if i % 4 else dt.date(2026, 12, 24),
            "" if i % 4 else "Hẹn mang sổ hộ kinh doanh",
            "" if i % 50 else "Có thể trùng với KC-000001",
        ]


def writer(name: str) -> Callable[[Callable[[Path, int], None]], Callable[[Path, int], None]]:
    """Register a writer under a name."""

    def register(func: Callable[[Path, int], None]) -> Callable[[Path, int], None]:
        WRITERS[name] = func
        return func

    return register


def _sheets(module: Any, rows: int) -> list[Any]:
    return [
        module.Sheet(SHEET, HEADERS, WIDTHS, lead_rows(rows), KINDS),
        module.Sheet(SUMMARY, ["Nội dung", "Số cơ sở"], [40, 12], SUMMARY_ROWS, ["text", "number"]),
    ]


@writer("export's writer (bot/staff/xlsx.py on rustpy-xlsxwriter 0.8)")
def write_export(path: Path, rows: int) -> None:
    """The export's writer, as the export calls it."""
    from bot.staff import xlsx

    xlsx.write_workbook(path, _sheets(xlsx, rows))


@writer("hand-written writer (before)")
def write_old(path: Path, rows: int) -> None:
    """The hand-written streaming writer, as it was at `--old` (read from git, imported from a temporary file)."""
    source = subprocess.run(["git", "show", f"{OLD['rev']}:bot/staff/xlsx.py"], capture_output=True, check=True).stdout
    file = Path(tempfile.mkdtemp()) / "old_xlsx.py"
    file.write_bytes(source)
    spec = importlib.util.spec_from_file_location("old_xlsx", file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_xlsx"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    module.write_workbook(path, _sheets(module, rows))


def _xlsxwriter(path: Path, rows: int, constant_memory: bool) -> None:
    """XlsxWriter row by row, each cell written by its type (never write())."""
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"constant_memory": constant_memory})
    header = book.add_format({"bold": True, "bg_color": "#DCE6F1", "border": 1, "text_wrap": True, "valign": "top"})
    styles = {
        "date": book.add_format({"num_format": "dd/mm/yyyy hh:mm"}),
        "day": book.add_format({"num_format": "dd/mm/yyyy"}),
        "phone": book.add_format({"num_format": "@"}),
    }
    styles["code"] = styles["phone"]
    styles["money"] = styles["number"] = book.add_format({"num_format": "#,##0"})
    sheet = book.add_worksheet(SHEET)
    _print_setup_xlsxwriter(sheet)
    for col, width in enumerate(WIDTHS):
        sheet.set_column(col, col, width)
    sheet.write_row(0, 0, HEADERS, header)
    n = 0
    for n, row in enumerate(lead_rows(rows), 1):
        for col, (value, kind) in enumerate(zip(row, KINDS, strict=True)):
            if value is None or value == "":
                continue
            if kind in ("date", "day"):
                sheet.write_datetime(n, col, value, styles[kind])
            elif kind in ("number", "money"):
                sheet.write_number(n, col, value, styles[kind])
            else:
                sheet.write_string(n, col, safe(value), styles.get(kind))
    sheet.autofilter(0, 0, n, len(HEADERS) - 1)
    summary = book.add_worksheet(SUMMARY)
    _print_setup_xlsxwriter(summary)
    summary.write_row(0, 0, ["Nội dung", "Số cơ sở"], header)
    for i, (label, count) in enumerate(SUMMARY_ROWS, 1):
        summary.write_string(i, 0, label)
        summary.write_number(i, 1, count)
    book.close()


@writer("XlsxWriter 3.3 (constant_memory)")
def write_xlsxwriter(path: Path, rows: int) -> None:
    """XlsxWriter, each row flushed as it is written."""
    _xlsxwriter(path, rows, constant_memory=True)


@writer("XlsxWriter 3.3 (in memory)")
def write_xlsxwriter_memory(path: Path, rows: int) -> None:
    """XlsxWriter holding the sheet in memory (its default)."""
    _xlsxwriter(path, rows, constant_memory=False)


def _print_setup_xlsxwriter(sheet: Any) -> None:
    sheet.freeze_panes(1, 0)
    sheet.set_landscape()
    sheet.set_paper(9)  # A4
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(0)
    sheet.set_footer("&CTrang &P/&N")


@writer("pyexcelerate 0.13")
def write_pyexcelerate(path: Path, rows: int) -> None:
    """pyexcelerate: the whole sheet is handed over as a list of rows (it has no streaming input)."""
    from pyexcelerate import Fill, Font, Format, Panes, Style, Workbook
    from pyexcelerate.Color import Color

    book = Workbook()
    data: list[list[Any]] = [HEADERS]
    for row in lead_rows(rows):
        data.append([safe(v) if isinstance(v, str) else v for v in row])
    sheet = book.new_sheet(SHEET, data=data)
    sheet.set_row_style(1, Style(font=Font(bold=True), fill=Fill(background=Color(220, 230, 241))))
    formats = {"date": "dd/mm/yyyy hh:mm", "day": "dd/mm/yyyy", "phone": "@", "code": "@", "money": "#,##0"}
    for col, (width, kind) in enumerate(zip(WIDTHS, KINDS, strict=True), 1):
        fmt = formats.get(kind)
        sheet.set_col_style(col, Style(size=width, format=Format(fmt) if fmt else None))
    sheet.panes = Panes(0, 1)
    sheet.auto_filter = True
    book.new_sheet(SUMMARY, data=[["Nội dung", "Số cơ sở"], *SUMMARY_ROWS])
    book.save(str(path))


@writer("openpyxl 3.1 (write_only)")
def write_openpyxl(path: Path, rows: int) -> None:
    """openpyxl in write-only mode: rows appended as they come, typed cells where a format is needed."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Border, Font, PatternFill, Side

    book = Workbook(write_only=True)
    sheet = book.create_sheet(SHEET)
    formats = {"date": "dd/mm/yyyy hh:mm", "day": "dd/mm/yyyy", "phone": "@", "code": "@", "money": "#,##0"}
    _print_setup_openpyxl(sheet)
    for col, width in enumerate(WIDTHS, 1):
        sheet.column_dimensions[_letter(col)].width = width
    sheet.auto_filter.ref = f"A1:{_letter(len(HEADERS))}{rows + 1}"
    thin = Side(style="thin")
    bold, fill, box = Font(bold=True), PatternFill("solid", fgColor="DCE6F1"), Border(thin, thin, thin, thin)
    header = []
    for text in HEADERS:
        cell = WriteOnlyCell(sheet, text)
        cell.font, cell.fill, cell.border = bold, fill, box
        header.append(cell)
    sheet.append(header)
    for row in lead_rows(rows):
        cells: list[Any] = []
        for value, kind in zip(row, KINDS, strict=True):
            if value is None or value == "":
                cells.append(None)
            elif kind in formats:
                cell = WriteOnlyCell(sheet, safe(value) if isinstance(value, str) else value)
                cell.number_format = formats[kind]
                cells.append(cell)
            else:
                cells.append(safe(value) if isinstance(value, str) else value)
        sheet.append(cells)
    summary = book.create_sheet(SUMMARY)
    _print_setup_openpyxl(summary)
    for line in [["Nội dung", "Số cơ sở"], *SUMMARY_ROWS]:
        summary.append(line)
    book.save(str(path))


def _print_setup_openpyxl(sheet: Any) -> None:
    sheet.freeze_panes = "A2"
    sheet.page_setup.orientation, sheet.page_setup.paperSize = "landscape", 9
    sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = "1:1"
    sheet.oddFooter.center.text = "Trang &P/&N"


def _letter(col: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(col))


def child(name: str, path: Path, rows: int) -> None:
    """Run one writer in this process; print its time and peak memory as JSON."""
    func = WRITERS[name]
    func(path, 10)  # warm up: imports (and the old writer's source from git) are not what is measured
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    func(path, rows)
    took = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": took, "peak_mib": peak / 1024, "base_mib": base / 1024}))


def features(path: Path) -> dict[str, bool]:
    """What a 200-row workbook carries, read back with openpyxl."""
    from openpyxl import load_workbook

    book = load_workbook(path)
    sheet = book[SHEET]
    phone, code, hostile, date = sheet["E2"], sheet["K2"], sheet["D2"], sheet["B2"]
    setup = sheet.page_setup
    return {
        "codes as text": all(c.data_type == "s" and str(c.value).startswith("0") for c in (phone, code)),
        "no formula": hostile.data_type == "s" and str(hostile.value).startswith("'="),
        "dates": isinstance(date.value, dt.datetime),
        "frozen header": sheet.freeze_panes == "A2",
        "autofilter": bool(sheet.auto_filter.ref),
        "print setup": setup.orientation == "landscape" and sheet.print_title_rows is not None,
        "page numbers": sheet.oddFooter.center.text == "Trang &P/&N",
        "several sheets": book.sheetnames == [SHEET, SUMMARY],
    }


def run(name: str, path: Path, rows: int, old: str) -> dict[str, Any]:
    """One writer in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.exports", "--child", name, "--out", str(path), "--rows", str(rows), "--old", old],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    result["mib"] = path.stat().st_size / 2**20
    return result


def main() -> None:
    """Print the comparison table (markdown)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--child")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--old", default=OLD["rev"], help="the git revision holding the hand-written writer")
    args = parser.parse_args()
    OLD["rev"] = args.old
    if args.child:
        return child(args.child, args.out, args.rows)
    tmp = Path(tempfile.mkdtemp())
    print("| writer | time | peak memory (process; before writing) | file | " + " | ".join(features_names()) + " |")
    print("|---|---|---|---|" + "---|" * len(features_names()))
    for i, name in enumerate(WRITERS):
        got = run(name, tmp / f"big{i}.xlsx", args.rows, args.old)
        small = tmp / f"small{i}.xlsx"
        run(name, small, 200, args.old)
        marks = " | ".join("yes" if ok else "**no**" for ok in features(small).values())
        print(
            f"| {name} | {got['seconds']:.2f} s | {got['peak_mib']:.0f} MiB ({got['base_mib']:.0f}) "
            f"| {got['mib']:.1f} MiB | {marks} |"
        )
    return None


def features_names() -> list[str]:
    """The feature columns, in order."""
    return [
        "codes as text",
        "no formula",
        "dates",
        "frozen header",
        "autofilter",
        "print setup",
        "page numbers",
        "several sheets",
    ]


if __name__ == "__main__":
    main()
