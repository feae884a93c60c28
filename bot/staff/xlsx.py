"""The export workbooks, written by rustpy-xlsxwriter (MIT; Rust's rust_xlsxwriter underneath), rows streamed.

Chosen by measurement (docs/benchmarks.md, issue 15 item 7): as fast as the hand-written writer it replaced,
with the same features. This module keeps the export's own rules: text never read as a formula, codes and
phones as text (leading zeros kept), days and times in Vietnamese order, and one print setup for every sheet.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
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
    """A value as the library should write it: text cleaned of control characters and made safe."""
    return safe(_BAD_XML.sub("", value)) if value.__class__ is str else value


# In a row's text cells, each after a newline: a risky first character. Two plain searches (this and _BAD_XML)
# are several times faster than one with an alternation.
_RISKY_START = re.compile("\n[=+\\-@\t\r]")
_TEXT_KINDS = ("text", "phone", "code")


def _records(sheet: Sheet, counts: list[int], index: int) -> Iterator[dict[str, Any]]:
    """The rows as dicts keyed by header, counted as they go; an empty sheet still gets its header row.

    The library writes text as text (never a formula) and leaves empty text out; what is left to do here is
    safe() and dropping control characters. One search over a row's text cells finds the rare row that needs
    it: a call per cell would cost a second on 100,000 leads.
    """
    headers = list(sheet.headers)
    kinds = list(sheet.kinds or ["text"] * len(headers))
    texts = _getter([i for i, k in enumerate(kinds) if k in _TEXT_KINDS])
    others = _getter([i for i, k in enumerate(kinds) if k not in _TEXT_KINDS])
    for row in sheet.rows:
        counts[index] += 1
        try:
            joined = "\n" + "\n".join(texts(row))
            clean = not (_RISKY_START.search(joined) or _BAD_XML.search(joined))
        except TypeError:  # a text cell that is not text (None, a number): cell by cell
            clean = False
        if clean and str not in map(type, others(row)):
            yield dict(zip(headers, row, strict=False))
        else:
            yield dict(zip(headers, map(_cell, row), strict=False))
    if not counts[index]:  # the library takes the header from the first row: one blank row carries it
        yield dict.fromkeys(headers)


def _getter(indices: list[int]) -> Callable[[Sequence[Any]], Sequence[Any]]:
    """A function giving a row's values at these indices, as a tuple (operator.itemgetter, whatever the count)."""
    if len(indices) > 1:
        return itemgetter(*indices)
    return lambda row: tuple(row[i] for i in indices)


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
