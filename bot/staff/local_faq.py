"""A commune's own FAQ entries as staff write them: validated by the knowledge schema, every change audited."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from bot.knowledge import LocalFaqEntry
from bot.masking import mask_personal
from bot.staff.store import Staff
from bot.storage.sqlite import SqliteRepository, now

MAX_VARIANTS = 20
_FIELDS = {"question": "Câu hỏi", "variants": "Cách hỏi khác", "answer": "Câu trả lời", "author": "Người trả lời"}
_PROBLEMS = {
    "markup": "{field} không được chứa mã HTML (dấu < >, &...;). Bà/anh/chị viết chữ thường là đủ.",
    "formula": "{field} không được bắt đầu bằng dấu =, +, - hoặc @ (dễ bị hiểu là công thức).",
    "empty": "{field} không được để trống.",
}


@dataclass(frozen=True)
class Draft:
    """What the form sent, before validation."""

    question: str
    variants: str  # one phrasing a line
    answer: str


class Refused(ValueError):
    """An entry the schema refuses; the message is Vietnamese, for the officer."""


def entry_of(draft: Draft, commune: int, author: str) -> LocalFaqEntry:
    """The validated entry; Refused with a polite reason otherwise.

    The question and its phrasings come from what people typed: phones and ID numbers in them are masked.
    The answer is the officer's own and stays as written.
    """
    variants = [mask_personal(v.strip()) for v in draft.variants.splitlines() if v.strip()]
    if len(variants) > MAX_VARIANTS:
        raise Refused(f"Tối đa {MAX_VARIANTS} cách hỏi khác.")
    try:
        return LocalFaqEntry(
            commune_code=commune,
            question=mask_personal(" ".join(draft.question.split())),
            variants=variants,
            answer=draft.answer.strip(),
            author=author,
        )
    except ValidationError as exc:
        raise Refused(_reason(exc)) from None


def _reason(exc: ValidationError) -> str:
    """The first problem of a refused entry, in Vietnamese."""
    error = exc.errors()[0]
    field = str(error["loc"][0]) if error["loc"] else ""
    message = str(error.get("msg", ""))
    for code, text in _PROBLEMS.items():
        if message.endswith(f": {code}"):
            return text.format(field=_FIELDS.get(message.split(":")[0].split()[-1], "Nội dung"))
    if error["type"] == "string_too_long":
        return f"{_FIELDS.get(field, 'Nội dung')} quá dài (tối đa {error['ctx']['max_length']} ký tự)."
    if error["type"] == "string_too_short":
        return _PROBLEMS["empty"].format(field=_FIELDS.get(field, "Nội dung"))
    return "Nội dung chưa hợp lệ, xin kiểm tra lại."


class LocalFaqStore:
    """Local entries over the repository's connection (one thread at a time, like the repository)."""

    def __init__(self, repo: SqliteRepository) -> None:
        self.repo = repo

    def entries(self, staff: Staff) -> list[dict[str, Any]]:
        """The entries this account may see: her communes', or all for an admin."""
        return self.repo.local_faq(staff.scope)

    def entry(self, staff: Staff, entry_id: int) -> dict[str, Any] | None:
        """One entry, if this account may see it."""
        found = [e for e in self.entries(staff) if e["id"] == entry_id]
        return found[0] if found else None

    def add(self, staff: Staff, entry: LocalFaqEntry, question_key: str | None = None) -> int:
        """Store a new entry (and mark the question it answers answered); the audit row is its version."""
        stamp = now()
        values = _values(entry)
        with self.repo._tx() as cur:
            cur.execute(
                "INSERT INTO local_faq (commune_code, question, variants, answer, author, created_at, updated_at) "
                "VALUES (?,?,?,?,?,?,?)",
                [entry.commune_code, *values.values(), entry.author, stamp, stamp],
            )
            entry_id = int(cur.lastrowid or 0)
            self._audit(cur, entry_id, entry.commune_code, staff, "created", {k: [None, v] for k, v in values.items()})
            if question_key:
                cur.execute(
                    "UPDATE questions SET answered_at = ?, answered_by = ? "
                    "WHERE key = ? AND commune_code = ? AND answered_at IS NULL",
                    [stamp, staff.name, question_key, entry.commune_code],
                )
        return entry_id

    def update(self, staff: Staff, entry_id: int, entry: LocalFaqEntry) -> bool:
        """Change an entry of this account's communes; the old and new values go to the audit."""
        old = self.entry(staff, entry_id)
        if old is None:
            return False
        values = _values(entry)
        changes = {k: [_stored(old, k), v] for k, v in values.items() if _stored(old, k) != v}
        if not changes:
            return True
        with self.repo._tx() as cur:
            cur.execute(
                "UPDATE local_faq SET question = ?, variants = ?, answer = ?, author = ?, updated_at = ? WHERE id = ?",
                [*values.values(), entry.author, now(), entry_id],
            )
            self._audit(cur, entry_id, old["commune_code"], staff, "updated", changes)
        return True

    def remove(self, staff: Staff, entry_id: int) -> bool:
        """Delete an entry of this account's communes; the audit keeps what it said."""
        old = self.entry(staff, entry_id)
        if old is None:
            return False
        with self.repo._tx() as cur:
            cur.execute("DELETE FROM local_faq WHERE id = ?", [entry_id])
            gone = {k: [_stored(old, k), None] for k in ("question", "variants", "answer")}
            self._audit(cur, entry_id, old["commune_code"], staff, "removed", gone)
        return True

    def history(self, entry_id: int) -> list[dict[str, Any]]:
        """The changes of one entry, oldest first."""
        rows = self.repo.db.execute(
            "SELECT at, actor, action, changes FROM local_faq_audit WHERE entry_id = ? ORDER BY id", [entry_id]
        ).fetchall()
        return [{"at": a, "actor": b, "action": c, "changes": json.loads(d)} for a, b, c, d in rows]

    @staticmethod
    def _audit(cur: Any, entry_id: int, commune: int, staff: Staff, action: str, changes: dict[str, Any]) -> None:
        cur.execute(
            "INSERT INTO local_faq_audit (entry_id, commune_code, at, actor, action, changes) VALUES (?,?,?,?,?,?)",
            [entry_id, commune, now(), f"staff:{staff.name}", action, json.dumps(changes, ensure_ascii=False)],
        )


def _values(entry: LocalFaqEntry) -> dict[str, str]:
    """The stored columns of an entry's text (variants as JSON)."""
    return {
        "question": entry.question,
        "variants": json.dumps(entry.variants, ensure_ascii=False),
        "answer": entry.answer,
    }


def _stored(row: dict[str, Any], name: str) -> str:
    return json.dumps(row[name], ensure_ascii=False) if name == "variants" else str(row[name])
