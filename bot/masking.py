"""Personal data typed into free text (phones, e-mail, ID card and account numbers) masked before it is stored."""

from __future__ import annotations

import re

# A run of digits people type as one number: groups joined by one space, dot or dash ('0912 345 678',
# '0912.345.678', '+84-912-345-678', '(+84) 912 345 678'); letters may touch it ('sdt0912345678').
_NUMBER = re.compile(r"(?:\(\+?84\)\s?|\+)?(?<!\d)\d(?:[ .\-]?\d)+(?!\d)")
_EMAIL = re.compile(r"[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)+", re.ASCII)
# An amount written with thousands separators ('300.000.000', '1,500,000') is money, not a person.
_GROUPED_AMOUNT = re.compile(r"[1-9]\d{0,2}(?:([.,])\d{3})(?:\1\d{3})*")
_MONEY_AFTER = re.compile(r"\s?(?:đ|d|dong|đồng|vnd|vnđ|trieu|triệu|ty|tỷ|tỉ|ti|k|nghin|nghìn|ngan|ngàn)\b", re.I)
_LONG = 9  # digits: a mobile (10), a landline (11), an old ID card (9), a CCCD (12), a bank account (9–19)
_NATIONAL, _INTERNATIONAL = re.compile(r"0[1-9]"), re.compile(r"\(?\+?84")
EMAIL_MASK = "xxx@xxx"


def mask_personal(text: str) -> str:
    """The text with phones ('09xx xxx xxx'), e-mail addresses and long ID or account numbers masked."""
    text = _EMAIL.sub(EMAIL_MASK, text)
    return _NUMBER.sub(lambda m: _masked(m, text), text)


def _masked(match: re.Match[str], text: str) -> str:
    found = match.group(0)
    digits = sum(ch.isdigit() for ch in found)
    if digits < _LONG or _is_amount(found, text[match.end() :]):
        return found
    return _x_after(found, 2 if _is_phone(found, digits) else 0)


def _is_phone(found: str, digits: int) -> bool:
    """A Vietnamese phone number: its first two digits ('09', '+84') are kept, they tell only the network."""
    if _INTERNATIONAL.match(found):
        return digits in (11, 12)
    return _NATIONAL.match(found) is not None and digits in (10, 11)


def _is_amount(found: str, after: str) -> bool:
    """'300.000.000', '1,500,000' or '500000000 đồng': an amount of money, left as typed."""
    if _GROUPED_AMOUNT.fullmatch(found):
        return True
    return not found.startswith(("0", "+", "(")) and _MONEY_AFTER.match(after) is not None


def _x_after(found: str, keep: int) -> str:
    """Every digit after the first `keep` ones turned into 'x', the separators as typed."""
    out, seen = [], 0
    for ch in found:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen <= keep else "x")
        else:
            out.append(ch)
    return "".join(out)
