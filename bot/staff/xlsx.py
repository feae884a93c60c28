"""The export workbooks, written by rustpy-xlsxwriter (MIT; Rust's rust_xlsxwriter underneath), rows streamed.

Chosen by measurement (docs/benchmarks.md, issue 15 item 7): as fast as the hand-written writer it replaced,
with the same features. This module keeps the export's own rules: text never read as a formula, codes and
phones as text (leading zeros kept), days and times in Vietnamese order, and one print setup for every sheet.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rustpy_xlsxwriter import Format, write_worksheets

_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # characters a cell should not carry
_RISKY = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet may read text starting so as a formula
# Per column kind, the number format; "phone" and "code" are text formatted as text (Excel keeps 0912…, 04567).
_NUMBER_FORMATS = {
    "number": "#,##0",
    "money": "#,##0",
    "date": "dd/mm/yyyy hh:mm",
    "day": "dd/mm/yyyy",
    "phone": "@",
    "code": "@",
}
# Printing: A4 landscape, as wide as one page (as many pages down as it takes), narrow margins, "Trang 1/3",
# the header row repeated at the top of every printed page.
_PAGE = {
    "landscape": True,
    "paper_size": 9,
    "fit_to_pages": (1, 0),
    "repeat_rows": 0,
    "margins": {"left": 0.4, "right": 0.4, "top": 0.6, "bottom": 0.6, "header": 0.3, "footer": 0.3},
    "footer": "&CTrang &P/&N",
}


@dataclass
class Sheet:
    """One worksheet: a name, column widths, a header row, and the rows (any iterable, read once)."""

    name: str
    headers: Sequence[str]
    widths: Sequence[float]
    rows: Iterable[Sequence[Any]]
    # per column: "text" (default), "number", "money", "date" (date and time), "day", "phone", "code"
    kinds: Sequence[str] | None = None


def safe(value: str) -> str:
    """Text that a spreadsheet will never read as a formula: risky first characters get a quote."""
    return "'" + value if value.startswith(_RISKY) else value


def _cell(value: Any) -> Any:
    """A value as the library should write it: empty text as an empty cell, text cleaned and made safe."""
    if value.__class__ is not str:
        return value
    if not value:
        return None
    return safe(_BAD_XML.sub("", value))


def _records(sheet: Sheet, counts: list[int], index: int) -> Iterator[dict[str, Any]]:
    """The rows as dicts keyed by header, counted as they go; an empty sheet still gets its header row."""
    headers = list(sheet.headers)
    for row in sheet.rows:
        counts[index] += 1
        yield dict(zip(headers, map(_cell, row), strict=False))
    if not counts[index]:  # the library takes the header from the first row: one blank row carries it
        yield dict.fromkeys(headers)


def _formats(sheet: Sheet) -> dict[str, Format]:
    kinds = sheet.kinds or ["text"] * len(sheet.headers)
    return {
        h: Format().set_num_format(_NUMBER_FORMATS[k])
        for h, k in zip(sheet.headers, kinds, strict=True)
        if k in _NUMBER_FORMATS
    }


def write_workbook(path: Path, sheets: Sequence[Sheet]) -> list[int]:
    """Write the workbook; returns the data rows of each sheet."""
    counts = [0] * len(sheets)
    header = Format().set_bold().set_background_color("#DCE6F1").set_border("thin").set_text_wrap().set_align("top")
    names = [s.name for s in sheets]
    write_worksheets(
        [(s.name, _records(s, counts, i)) for i, s in enumerate(sheets)],
        str(path),
        freeze_panes={"general": {"row": 1, "col": 0}},
        header_format=dict.fromkeys(names, header),
        column_widths={s.name: [float(w) for w in s.widths] for s in sheets},
        column_formats={s.name: _formats(s) for s in sheets},
        autofilter=dict.fromkeys(names, True),
        page_setup=dict.fromkeys(names, _PAGE),
    )
    return counts
