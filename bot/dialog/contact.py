"""Contact details given in one message: 'Nguyễn Thị Lan, 0912 345 678, Cơ sở nước mắm Thu Hà'."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.text import parse_phone

_PHONE = re.compile(r"\+?\d[\d\s.\-()]{7,16}\d")
_LABELS = re.compile(r"(?i)\b(?:s[đd]t|số điện thoại|so dien thoai|điện thoại|dien thoai|đt|dt|zalo)\b\s*:?")
_MAX = 300  # characters read: a contact answer is short


@dataclass(frozen=True)
class Contact:
    """The name part, and the phone and facility name when the message gives them too."""

    name: str
    phone: str | None = None
    facility: str | None = None


def split_contact(text: str) -> Contact:
    """Split a contact answer at its phone number; without one, the whole answer is the name."""
    text = text[:_MAX]
    for match in _PHONE.finditer(text):
        phone = parse_phone(match.group(0))
        if phone:
            rest = _LABELS.sub(",", text[: match.start()] + "," + text[match.end() :])
            parts = [p.strip(" .-:") for p in re.split(r"[,;\n]", rest)]
            parts = [p for p in parts if any(ch.isalpha() for ch in p)]
            return Contact(parts[0] if parts else "", phone, parts[1] if len(parts) > 1 else None)
    return Contact(text)
