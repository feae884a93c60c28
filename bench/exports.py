"""The lead export's XLSX writer against libraries, on the same 100,000 leads in one run (time, peak memory).

Writers: ours (bot/staff/xlsx.py), XlsxWriter in constant_memory mode, pyexcelerate, rustpy-xlsxwriter. Each
writes, in its own fresh process, the same two sheets: the lead list (the 19 columns of bot/staff/exports.py,
typed as the export types them) and a small summary sheet. Then each is asked, on a 200-row workbook read back
with openpyxl, for the features the export needs. Candidates come from the `bench` extra:
    .venv/bin/pip install -e '.[dev,bench]' && .venv/bin/python -m bench.exports [--rows 100000]
"""

from __future__ import annotations

import argparse
import datetime as dt
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
            f"091{i:07d}",  # a code kept as text: its leading 0 must survive
            f"Cơ sở nước mắm {i}",
            "Hộ kinh doanh",
            "làm nước mắm",
            "Chế biến nông, lâm, thủy sản và thực phẩm",
            "Xã Vĩnh Thủy",
            19405,
            "Quảng Trị",
            "Đủ điều kiện",
            "Đổi mới máy móc, thiết bị",
            20_000_000,
            "" if i % 3 else "gọi lại buổi chiều",
            "Zalo",
            start + dt.timedelta(minutes=i, hours=2),
            "",
        ]


def writer(name: str) -> Callable[[Callable[[Path, int], None]], Callable[[Path, int], None]]:
    """Register a writer under a name."""

    def register(func: Callable[[Path, int], None]) -> Callable[[Path, int], None]:
        WRITERS[name] = func
        return func

    return register


@writer("ours (bot/staff/xlsx.py)")
def write_ours(path: Path, rows: int) -> None:
    """The project's streaming writer, as the export calls it."""
    from bot.staff.xlsx import Sheet, write_workbook

    write_workbook(
        path,
        [
            Sheet(SHEET, HEADERS, WIDTHS, lead_rows(rows), KINDS),
            Sheet(SUMMARY, ["Nội dung", "Số cơ sở"], [40, 12], SUMMARY_ROWS, ["text", "number"]),
        ],
    )


@writer("XlsxWriter 3.3 (constant_memory)")
def write_xlsxwriter(path: Path, rows: int) -> None:
    """XlsxWriter row by row in constant-memory mode, each cell written by its type (never write())."""
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    header = book.add_format({"bold": True, "bg_color": "#DCE6F1", "border": 1, "text_wrap": True, "valign": "top"})
    styles = {
        "date": book.add_format({"num_format": "dd/mm/yyyy hh:mm"}),
        "phone": book.add_format({"num_format": "@"}),
    }
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
            if kind == "date":
                sheet.write_datetime(n, col, value, styles["date"])
            elif kind in ("number", "money"):
                sheet.write_number(n, col, value, styles[kind])
            else:
                sheet.write_string(n, col, safe(value), styles.get(kind))
    sheet.autofilter(0, 0, n, len(HEADERS) - 1)
    summary = book.add_worksheet(SUMMARY)
    summary.write_row(0, 0, ["Nội dung", "Số cơ sở"], header)
    for i, (label, count) in enumerate(SUMMARY_ROWS, 1):
        summary.write_string(i, 0, label)
        summary.write_number(i, 1, count)
    book.close()


def _print_setup_xlsxwriter(sheet: Any) -> None:
    sheet.freeze_panes(1, 0)
    sheet.set_landscape()
    sheet.set_paper(9)  # A4
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(0)


@writer("pyexcelerate 0.13")
def write_pyexcelerate(path: Path, rows: int) -> None:
    """pyexcelerate: the whole sheet is handed over as a list of rows (it has no streaming input)."""
    from pyexcelerate import Fill, Font, Format, Panes, Style, Workbook
    from pyexcelerate.Color import Color

    book = Workbook()
    data: list[list[Any]] = [HEADERS]
    for row in lead_rows(rows):
        data.append([safe(v) if isinstance(v, str) and k != "date" else v for v, k in zip(row, KINDS, strict=True)])
    sheet = book.new_sheet(SHEET, data=data)
    sheet.set_row_style(1, Style(font=Font(bold=True), fill=Fill(background=Color(220, 230, 241))))
    for col, (width, kind) in enumerate(zip(WIDTHS, KINDS, strict=True), 1):
        fmt = {"date": "dd/mm/yyyy hh:mm", "phone": "@", "money": "#,##0"}.get(kind)
        sheet.set_col_style(col, Style(size=width, format=Format(fmt) if fmt else None))
    sheet.panes = Panes(0, 1)
    sheet.auto_filter = True
    book.new_sheet(SUMMARY, data=[["Nội dung", "Số cơ sở"], *SUMMARY_ROWS])
    book.save(str(path))


@writer("rustpy-xlsxwriter 0.8")
def write_rustpy(path: Path, rows: int) -> None:
    """rustpy-xlsxwriter: rows handed over as a generator of dicts keyed by header."""
    from rustpy_xlsxwriter import Format, write_worksheets

    def records() -> Iterator[dict[str, Any]]:
        for row in lead_rows(rows):
            yield {h: (safe(v) if isinstance(v, str) else v) for h, v in zip(HEADERS, row, strict=True)}

    formats = {"date": "dd/mm/yyyy hh:mm", "phone": "@", "money": "#,##0", "number": "0"}
    column_formats = {
        h: Format().set_num_format(formats[k]) for h, k in zip(HEADERS, KINDS, strict=True) if k in formats
    }
    summary = [{"Nội dung": label, "Số cơ sở": count} for label, count in SUMMARY_ROWS]
    write_worksheets(
        [(SHEET, records()), (SUMMARY, summary)],
        str(path),
        freeze_panes={SHEET: {"row": 1, "col": 0}},
        bold_headers=True,
        column_widths={SHEET: dict(zip(HEADERS, map(float, WIDTHS), strict=True))},
        column_formats={SHEET: column_formats},
        datetime_format="dd/mm/yyyy hh:mm",
        autofilter={SHEET: True},
        page_setup={SHEET: {"landscape": True, "paper_size": 9, "fit_to_pages": (1, 0), "repeat_rows": 0}},
    )


def child(name: str, path: Path, rows: int) -> None:
    """Run one writer in this process; print its time and peak memory as JSON."""
    func = WRITERS[name]
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
    phone, hostile, date = sheet["E2"], sheet["D2"], sheet["B2"]
    setup = sheet.page_setup
    return {
        "codes as text": phone.data_type == "s" and str(phone.value).startswith("0"),
        "no formula": hostile.data_type == "s" and str(hostile.value).startswith("'="),
        "dates": isinstance(date.value, dt.datetime),
        "frozen header": sheet.freeze_panes == "A2",
        "autofilter": bool(sheet.auto_filter.ref),
        "print setup": setup.orientation == "landscape" and sheet.print_title_rows is not None,
        "several sheets": book.sheetnames == [SHEET, SUMMARY],
    }


def run(name: str, path: Path, rows: int) -> dict[str, Any]:
    """One writer in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.exports", "--child", name, "--out", str(path), "--rows", str(rows)],
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
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.out, args.rows)
    tmp = Path(tempfile.mkdtemp())
    print("| writer | time | peak memory (process; before writing) | file | " + " | ".join(features_names()) + " |")
    print("|---|---|---|---|" + "---|" * len(features_names()))
    for i, name in enumerate(WRITERS):
        got = run(name, tmp / f"big{i}.xlsx", args.rows)
        small = tmp / f"small{i}.xlsx"
        run(name, small, 200)
        marks = " | ".join("yes" if ok else "**no**" for ok in features(small).values())
        print(
            f"| {name} | {got['seconds']:.2f} s | {got['peak_mib']:.0f} MiB ({got['base_mib']:.0f}) "
            f"| {got['mib']:.1f} MiB | {marks} |"
        )
    return None


def features_names() -> list[str]:
    """The feature columns, in order."""
    return ["codes as text", "no formula", "dates", "frozen header", "autofilter", "print setup", "several sheets"]


if __name__ == "__main__":
    main()
