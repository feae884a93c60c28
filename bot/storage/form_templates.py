"""The provinces' and communes' own Word layouts of the registration forms, and their audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.storage.sqlite import SqliteRepository, now

Level = Literal["province", "commune"]


@dataclass(frozen=True)
class Target:
    """Whose layout: a province (its code) or a commune (its ward code)."""

    level: Level
    code: int

    @property
    def key(self) -> str:
        """'commune:19405', as a form field carries it."""
        return f"{self.level}:{self.code}"


@dataclass(frozen=True)
class SavedTemplate:
    """An uploaded layout: the file, its name as uploaded, who uploaded it and when (UTC ISO)."""

    form: str
    target: Target
    body: bytes
    file_name: str
    at: str
    by: str


@dataclass(frozen=True)
class TemplateChange:
    """One audit row: an upload or a reset to the reference layout."""

    form: str
    target: Target
    at: str
    actor: str
    action: Literal["uploaded", "reset"]
    detail: str


class FormTemplateStore:
    """Saved layouts over the repository's connection (one thread at a time, like the repository)."""

    def __init__(self, repo: SqliteRepository) -> None:
        self.repo = repo
        self.db = repo.db

    def get(self, form: str, target: Target) -> SavedTemplate | None:
        """The layout saved for exactly that province or commune, if any."""
        row = self.db.execute(
            "SELECT body, file_name, uploaded_at, uploaded_by FROM form_templates "
            "WHERE form = ? AND level = ? AND code = ?",
            [form, target.level, target.code],
        ).fetchone()
        return SavedTemplate(form, target, bytes(row[0]), str(row[1]), str(row[2]), str(row[3])) if row else None

    def for_lead(self, form: str, commune: int | None, province: int | None) -> SavedTemplate | None:
        """The layout a lead's form is filled in: its commune's, else its province's; None: the reference one."""
        for target in (Target("commune", commune or -1), Target("province", province or -1)):
            found = self.get(form, target)
            if found is not None:
                return found
        return None

    def saved(self, targets: list[Target] | None) -> list[SavedTemplate]:
        """Every saved layout (of these targets; None: all), without its file (`get` reads that)."""
        rows = self.db.execute(
            "SELECT form, level, code, file_name, uploaded_at, uploaded_by FROM form_templates "
            "ORDER BY level DESC, code, form"
        ).fetchall()
        found = [SavedTemplate(r[0], Target(r[1], int(r[2])), b"", r[3], r[4], r[5]) for r in rows]
        return [t for t in found if targets is None or t.target in targets]

    def save(self, form: str, target: Target, body: bytes, file_name: str, actor: str) -> None:
        """Store a checked layout in place of the previous one, with its audit row, in one transaction."""
        at = now()
        with self.repo._tx() as cur:
            cur.execute(
                "INSERT OR REPLACE INTO form_templates VALUES (?,?,?,?,?,?,?)",
                [form, target.level, target.code, body, file_name, at, actor],
            )
            cur.execute(
                "INSERT INTO form_template_audit (form, level, code, at, actor, action, detail) VALUES (?,?,?,?,?,?,?)",
                [form, target.level, target.code, at, actor, "uploaded", file_name],
            )

    def reset(self, form: str, target: Target, actor: str) -> bool:
        """Back to the reference layout; whether there was a saved one (then audited)."""
        with self.repo._tx() as cur:
            where = [form, target.level, target.code]
            cur.execute("DELETE FROM form_templates WHERE form = ? AND level = ? AND code = ?", where)
            if not cur.rowcount:
                return False
            cur.execute(
                "INSERT INTO form_template_audit (form, level, code, at, actor, action, detail) VALUES (?,?,?,?,?,?,?)",
                [form, target.level, target.code, now(), actor, "reset", ""],
            )
            return True

    def history(self, targets: list[Target] | None, limit: int = 50) -> list[TemplateChange]:
        """The uploads and resets of these targets (None: all), newest first."""
        rows = self.db.execute(
            "SELECT form, level, code, at, actor, action, detail FROM form_template_audit ORDER BY id DESC LIMIT ?",
            [limit * 20],
        ).fetchall()
        found = [TemplateChange(r[0], Target(r[1], int(r[2])), r[3], r[4], r[5], r[6]) for r in rows]
        return [c for c in found if targets is None or c.target in targets][:limit]
