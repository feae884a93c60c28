"""The eligibility result as a person reads it on a phone: the verdict, the reasons, the lines for them.

Citations are gathered under what they back, as numbered sources, so that no line carries a long
reference and every reason and figure is still traceable to its text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.eligibility import Assessment, LineOut
from bot.flows import ResultTexts, Texts
from bot.knowledge import Office
from bot.render import MAX_REPLY, funding_word, line_figures, line_text, reference_note

SHOWN_LINES = 3  # the lines shown with the result; the rest behind "Xem tất cả nội dung hỗ trợ"


_PART = re.compile(r"^(.+), (\w+) (\d+)$")  # '…, mục V, dòng 2': one row of a document said before


@dataclass
class Sources:
    """Numbered citations, each said once, listed after what they back.

    Rows of one document ('…, mục V, dòng 1', '…, dòng 2') share one number: '[1] …, mục V, dòng 1, 2'.
    """

    cited: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (document, row word, rows)

    def mark(self, citation: str, status: str | None = None) -> str:
        """' [n]' for this citation (the same number for the same source); empty without a citation."""
        if not citation:
            return ""
        reference = citation + reference_note(citation, status)
        part = _PART.match(reference)
        document, word, row = part.groups() if part else (reference, "", "")
        for n, (doc, w, rows) in enumerate(self.cited, 1):
            if (doc, w) == (document, word):
                rows += [row] if row not in rows else []
                return f" [{n}]"
        self.cited.append((document, word, [row] if row else []))
        return f" [{len(self.cited)}]"

    def lines(self, heading: str) -> list[str]:
        """'Căn cứ:' and one numbered source a line; nothing when nothing was cited."""
        listed = [f"{doc}, {word} {', '.join(rows)}" if rows else doc for doc, word, rows in self.cited]
        return [heading, *(f"[{i}] {c}" for i, c in enumerate(listed, 1))] if listed else []


def verdict(a: Assessment, texts: ResultTexts) -> str:
    """One short bubble: Có, Không or Chưa rõ, and the one-line reason."""
    if a.eligible is True:
        checks = list(dict.fromkeys(texts.checks[r.code] for r in a.reasons if r.code in texts.checks))
        return texts.eligible.format(checks=_joined(checks, texts.and_word) or texts.checks_default)
    if a.eligible is False:
        block = a.reasons[0] if a.reasons else None  # the blocks come first (eligibility._Verdict)
        why = texts.because.get(block.code, block.text) if block else texts.checks_default
        return texts.not_eligible.format(why=why)
    return texts.unknown.format(why=a.questions[0] if a.questions else texts.checks_default)


def _joined(items: list[str], and_word: str) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {and_word} {items[-1]}" if items else ""


def reasons(a: Assessment, texts: ResultTexts) -> str:
    """The reasons, one a line, with their citations gathered after them; then what is still to ask."""
    sources = Sources()
    out = [texts.why, *(f"• {r.text}{sources.mark(r.citation)}" for r in a.reasons)]
    if a.questions[1:]:  # the first question is in the verdict already
        out += [texts.questions, *(f"• {q}" for q in a.questions[1:])]
    return "\n".join(out + sources.lines(texts.sources))


def top_lines(lines: list[LineOut], needs: Iterable[str], limit: int = SHOWN_LINES) -> list[LineOut]:
    """The few most relevant lines: the person's need first, then the locality's own amounts, then its plan."""
    wanted = set(needs)
    # The assessment lists the locality's own lines, then the national ones its plan names: kept in that order.
    ranked = sorted(lines, key=lambda ln: (ln.code not in wanted, ln.funding == "national"))
    out: list[LineOut] = []
    for line in ranked:  # one line per content: the commune's own amount over the national cap
        if line.code not in {o.code for o in out} and len(out) < limit:
            out.append(line)
    return out


def lines_for_person(
    a: Assessment, texts: Texts, needs: Iterable[str], steps: list[str], office: Office, gap: Iterable[str] = ()
) -> str:
    """The lines that matter most for this person, their sources, and the next step, in one bubble.

    `gap`: lines saying the office's number is not known and whom to call instead; they belong to the next step.
    """
    tail = [*next_steps(steps, office, texts), *gap]
    if a.eligible is False:
        return "\n".join(tail)
    if not a.support_lines:
        return "\n".join([texts.result_no_lines, *tail])
    for limit in range(SHOWN_LINES, 0, -1):  # as many of the top lines as one bubble holds
        sources = Sources()
        shown = top_lines(a.support_lines, needs, limit)
        local = any(ln.funding != "national" for ln in shown)
        body = [f"• {line_text(ln)}{sources.mark(ln.citation, ln.status)}" for ln in shown]
        text = "\n".join(
            [
                texts.result.lines_local if local else texts.result.lines,
                *body,
                *sources.lines(texts.result.sources),
                *tail,
            ]
        )
        if len(text) <= MAX_REPLY:
            break
    return text


def next_steps(steps: list[str], office: Office, texts: Texts) -> list[str]:
    """'Bước tiếp theo:' with the steps given and the office's phone when they do not name it."""
    lines = [f"• {s}" for s in steps]
    if office.phone and not any(office.phone in s for s in steps):
        lines.append(f"• Điện thoại {office.name}: {office.phone}")
    return [texts.result_next, *lines] if lines else []


def everything(a: Assessment, texts: Texts) -> str:
    """Behind "Xem tất cả nội dung hỗ trợ": every content once (the commune's and the national figures in one
    bullet), those without a figure together, their sources, and where local amounts come from.

    The next steps are not repeated (the result said them); the documents have their own button.
    """
    sources = Sources()
    groups = by_content(a.support_lines)
    rest = [same[0] for same in groups if not any(line_figures(ln, "") for ln in same)]
    # The contents without a figure first, named together: one long line first packs a phone's bubbles better.
    named = ", ".join(f"{ln.name}{sources.mark(ln.citation, ln.status)}" for ln in rest)
    body = [texts.result.all_rest.format(lines=named)] if rest else []
    body += [merged_line(same, sources) for same in groups if any(line_figures(ln, "") for ln in same)]
    head = [texts.result.all_lines, *body] if body else [texts.result_no_lines]
    return "\n".join([*head, texts.result_reference, *sources.lines(texts.result.sources)])


def documents_text(a: Assessment, texts: Texts) -> str:
    """'Giấy tờ cần chuẩn bị:' and one document a line (behind their own button of the full view)."""
    return "\n".join([texts.result_documents, *(f"• {d.name}" for d in a.documents)])


def by_content(lines: list[LineOut]) -> list[list[LineOut]]:
    """The lines grouped by content, in order: the commune's own amount and the national cap of one content."""
    groups: dict[str, list[LineOut]] = {}
    for line in lines:
        groups.setdefault(line.code, []).append(line)
    return list(groups.values())


def merged_line(same: list[LineOut], sources: Sources) -> str:
    """One bullet per content: '• Máy móc…: kinh phí xã tối đa 20 triệu đồng/cơ sở [1]; kinh phí quốc gia …[2]'."""
    if len(same) == 1:
        return f"• {line_text(same[0])}{sources.mark(same[0].citation, same[0].status)}"
    name = min((ln.name for ln in same), key=len)  # the shorter of the plan's and the national wording
    figures = [f"{funding_word(ln)} {line_figures(ln)}{sources.mark(ln.citation, ln.status)}" for ln in same]
    return f"• {name}: {'; '.join(figures)}"
