"""The folded search key of a lead, kept beside it, so staff find "Hùng" typed as "hung" or a phone typed any way.

The key is one ASCII string per lead: name, facility, product and reference code folded (no diacritics, no case,
no spaces or punctuation) and the phone as the digits people dial (0…), each part cut off from the next by "|"
so that a search never matches across two fields. A search term is folded the same way, and a lead matches when
its key contains the term.
"""

from __future__ import annotations

import json
import sqlite3
import unicodedata

from bot.text import fold

SEPARATOR = "|"
FUNCTION = "kc_search_key"
_COLUMNS = "NEW.name, NEW.phone, NEW.facility_name, NEW.ref, NEW.profile"
# Temporary triggers live on the repository's own connection, beside the function they call: a write from a
# connection without the function (the sqlite3 shell, a backup tool) never fails on a missing function.
TRIGGERS = (
    f"CREATE TEMP TRIGGER IF NOT EXISTS lead_search_insert AFTER INSERT ON main.leads BEGIN "
    f"INSERT OR REPLACE INTO lead_search (ref, key) VALUES (NEW.ref, {FUNCTION}({_COLUMNS})); END",
    f"CREATE TEMP TRIGGER IF NOT EXISTS lead_search_update "
    f"AFTER UPDATE OF name, phone, facility_name, ref, profile ON main.leads BEGIN "
    f"DELETE FROM lead_search WHERE ref = OLD.ref; "
    f"INSERT OR REPLACE INTO lead_search (ref, key) VALUES (NEW.ref, {FUNCTION}({_COLUMNS})); END",
    "CREATE TEMP TRIGGER IF NOT EXISTS lead_search_delete AFTER DELETE ON main.leads BEGIN "
    "DELETE FROM lead_search WHERE ref = OLD.ref; END",
)


def _squeeze(text: object) -> str:
    # NFKC first: full-width letters and digits some phone keyboards type become the plain ones.
    return fold(unicodedata.normalize("NFKC", str(text or ""))).replace(" ", "")


def dial_digits(phone: str) -> str:
    """The digits of a phone as dialled in Vietnam: '+84912345678', '84 912 345 678' → '0912345678'."""
    digits = "".join(c for c in phone if c.isascii() and c.isdigit())
    if digits.startswith("0084"):
        return "0" + digits[4:]
    if digits.startswith("84") and len(digits) >= 11:
        return "0" + digits[2:]
    return digits


def search_key(name: object, phone: object, facility: object, ref: object, profile: object) -> str:
    """The key of one lead, from its stored columns (profile as stored: JSON text)."""
    try:
        product = json.loads(str(profile or "{}")).get("activity", "")
    except (ValueError, AttributeError):  # a profile that is no JSON object has no product to find
        product = ""
    parts = [_squeeze(name), _squeeze(facility), _squeeze(product), _squeeze(ref), dial_digits(str(phone or ""))]
    return SEPARATOR.join(parts)


def search_term(typed: str) -> str:
    """What a typed search becomes before it is looked for in the keys ('' when nothing is left to find)."""
    term = _squeeze(typed[:200])
    return dial_digits(term) if term.isdigit() else term


def install(conn: sqlite3.Connection) -> None:
    """Give a connection the key function and the triggers that keep lead_search in step with leads."""
    conn.create_function(FUNCTION, 5, search_key, deterministic=True)
    for sql in TRIGGERS:
        conn.execute(sql)
