"""A phone number and a name, read only where the current step asks for them."""

from __future__ import annotations

import re

from bot.answers import _FORMULA, _MARKUP  # the same refusal as the interview's name step
from bot.text import fold, parse_phone
from bot.understanding.model import Fact, FactKind
from bot.understanding.tokens import MAX_CHARS, Reading

_PHONE = re.compile(r"\+?\d[\d\s.\-()]{7,16}\d")
# What people put before their name: 'tên tôi là', 'em tên', 'mình là'.
_NAME_LEADS = re.compile(
    r"^(?:(?:dạ|da|vâng|vang|chào bạn|chào|chao)[\s,]+)?"
    r"(?:(?:t[êe]n\s+)?(?:tôi|toi|em|e|mình|minh|cháu|chau|anh|chị|chi)\s+(?:t[êe]n(?:\s+l[àa])?|l[àa])\s+"
    r"|t[êe]n\s+(?:l[àa]\s+)?|c[ơo]\s+s[ởo]\s+(?:t[êe]n\s+|c[ủu]a\s+)?(?:l[àa]\s+)?)",
    re.IGNORECASE,
)


def read_phone(reading: Reading) -> list[Fact]:
    """The first Vietnamese phone number in the message, in +84 form."""
    for match in _PHONE.finditer(reading.text, 0, MAX_CHARS):
        phone = parse_phone(match.group(0))
        if phone:
            return [Fact("phone", phone, match.start(), match.end(), 0.95, "phone number")]
    return []


def read_name(reading: Reading, kind: FactKind) -> list[Fact]:
    """The whole answer as a name, without 'tên tôi là'; nothing for a formula, markup or no letters."""
    text = reading.text[:MAX_CHARS]
    lead = _NAME_LEADS.match(text.strip())
    offset = len(text) - len(text.lstrip()) + (lead.end() if lead else 0)
    name = text[offset:].strip().rstrip(".!")
    if _FORMULA.match(name) or _MARKUP.search(name) or not 2 <= len(name) <= 100:
        return []
    if not any(ch.isalpha() for ch in name) or fold(name) in {"khong", "ko", "bo qua", "thoi"}:
        return []
    start = text.index(name, offset)
    return [Fact(kind, " ".join(name.split()), start, start + len(name), 0.9 if lead else 0.8, "the answer")]
