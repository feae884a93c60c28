"""A support line: its national share and cap (marked 'tham khảo' where not from a primary text)."""

from __future__ import annotations

from bot.dialog.case.base import Kit
from bot.eligibility import national_line
from bot.flows import CaseTexts
from bot.render import cited, line_text


def national_part(kit: Kit, texts: CaseTexts, code: str) -> str:
    """The national share and cap of one line, its note and its citation."""
    line = kit.kb.line(code)
    body = [texts.national, line_text(national_line(line))]
    if line.cap_note:
        body.append(line.cap_note)
    if line.requires_area_flags:  # 'lên doanh nghiệp': only a difficult area gets it, said with the amount
        body += ["⚠️ " + c for c in line.conditions]
    return cited("\n".join(body), line.citation, line.status)
