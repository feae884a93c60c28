"""Plain Vietnamese text of an assessment, shared by the console, the CLI and the chat replies."""

from __future__ import annotations

from bot.eligibility import Assessment, LineOut, vnd

_VERDICT = {
    True: "✅ Cơ sở đủ điều kiện hưởng khuyến công.",
    False: "❌ Cơ sở chưa đủ điều kiện hưởng khuyến công.",
    None: "❓ Chưa đủ thông tin để kết luận.",
}
_FUNDING = {"national": "quốc gia", "provincial": "tỉnh", "commune": "xã"}


def cited(answer: str, citation: str | None, status: str | None) -> str:
    """An answer with its source line; a source not yet checked against the law says so once."""
    if not citation:
        return answer
    return f"{answer}\nCăn cứ: {citation}{reference_note(citation, status)}"


def reference_note(citation: str, status: str | None) -> str:
    """' (tham khảo)' after a source not yet checked against the law, unless the citation already says so."""
    return " (tham khảo)" if status in ("S", "R") and "tham khảo" not in citation else ""


def line_text(line: LineOut) -> str:
    """'Ứng dụng máy móc… (quốc gia): tối đa 50 %, tối đa 300 triệu đồng (tham khảo)'."""
    return f"{line.name} (kinh phí {_FUNDING[line.funding]}): {line_figures(line)}"


def line_figures(line: LineOut, unknown: str = "mức cụ thể hỏi cán bộ") -> str:
    """'tối đa 50 %, tối đa 300 triệu đồng (tham khảo)': the figures of one line, without its name."""
    parts = []
    if line.share_max is not None:
        parts.append(f"tối đa {line.share_max:.0%}".replace("%", " %"))
    if line.cap_vnd is not None:
        each = "/cơ sở" if line.funding != "national" else ""
        parts.append(f"tối đa {vnd(line.cap_vnd)}{each}")
    if line.slots:
        parts.append(line.slots)
    figures = ", ".join(parts) or unknown
    note = " (tham khảo)" if line.status != "P" and parts else ""
    return f"{figures}{note}"


def funding_word(line: LineOut) -> str:
    """'kinh phí xã', 'kinh phí quốc gia'."""
    return f"kinh phí {_FUNDING[line.funding]}"


def assessment_text(a: Assessment) -> str:
    """The whole assessment as short sections."""
    out = [_VERDICT[a.eligible]]
    if a.locality and a.locality.province:
        out.append("Nơi: " + ", ".join(x for x in (a.locality.commune, a.locality.province) if x))
    out += _section("Lý do", [f"{r.text} (Căn cứ: {r.citation})" for r in a.reasons])
    out += _section("Được ưu tiên", [r.text for r in a.priority_reasons])
    out += _section("Nội dung có thể xin hỗ trợ", [line_text(ln) for ln in a.support_lines])
    out += _section("Giấy tờ cần chuẩn bị", [d.name for d in a.documents])
    out += _section("Cần hỏi thêm", a.questions)
    out += _section("Bước tiếp theo", a.next_steps)
    return "\n".join(out)


def _section(title: str, items: list[str]) -> list[str]:
    return [f"\n{title}:", *(f"  • {item}" for item in items)] if items else []


MAX_REPLY = 600  # characters: a phone screen; longer text is split on line boundaries


def split_text(text: str, limit: int = MAX_REPLY) -> list[str]:
    """Split a long reply into parts of at most `limit` characters, at line breaks, else at spaces."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:  # one very long line: cut at the last space that fits
            cut = line.rfind(" ", 0, limit)
            cut = cut if cut > 0 else limit
            parts += [current] if current else []
            current = ""
            parts.append(line[:cut])
            line = line[cut:].lstrip()
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current:
        parts.append(current)
    return [p for p in parts if p.strip()]
