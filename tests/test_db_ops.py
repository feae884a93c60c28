"""`khuyencong db backup` (online, while another connection writes) and the retention purge."""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from click.testing import CliRunner

from bot.app import build
from bot.cli import main
from bot.config import Settings
from bot.messages import ConversationKey, Reply
from bot.staff.store import EVERYONE, StaffStore
from bot.storage import Conversation
from bot.storage.sqlite import SqliteRepository
from tests.conftest import KNOWLEDGE, ROOT, Store
from tests.test_exports import add_lead


@contextmanager
def registrations_arriving(writer: SqliteRepository) -> Iterator[None]:
    """Registrations keep arriving through `writer` meanwhile, as on a serving day."""
    stop = threading.Event()

    def keep_writing() -> None:
        i = 1000
        while not stop.is_set():
            add_lead(writer, i)
            i += 1

    thread = threading.Thread(target=keep_writing)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def test_backup_while_another_process_keeps_writing(tmp_path: Path) -> None:
    db, copy = tmp_path / "k.db", tmp_path / "backups" / "k-copy.db"
    writer = SqliteRepository(db)
    for i in range(50):
        add_lead(writer, i)
    with registrations_arriving(writer):
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", "db", "backup", str(copy), "--db", str(db)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr
    conn = sqlite3.connect(copy)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    copied = conn.execute("SELECT count(*) FROM leads").fetchone()[0]
    assert copied >= 50 and f"({copied} đăng ký)" in done.stdout
    assert not list(copy.parent.glob("*.partial"))
    total = writer.db.execute("SELECT count(*) FROM leads").fetchone()[0]
    assert total >= copied  # the copy is a snapshot; the live file went on
    writer.close()


def test_backup_refuses_its_own_file_and_a_missing_database(tmp_path: Path) -> None:
    SqliteRepository(tmp_path / "k.db").close()
    same = CliRunner().invoke(main, ["db", "backup", str(tmp_path / "k.db"), "--db", str(tmp_path / "k.db")])
    missing = CliRunner().invoke(main, ["db", "backup", str(tmp_path / "b.db"), "--db", str(tmp_path / "none.db")])
    assert same.exit_code == 2 and "khác tệp đang dùng" in same.output
    assert missing.exit_code == 2 and "không thấy" in missing.output


def test_purge_erases_what_the_consent_text_says_is_kept_no_longer(store: Store) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        khuyencong_db=Path(store.target),
        khuyencong_knowledge=KNOWLEDGE,
        khuyencong_retention_months=24,
    )
    app = build(settings)
    repo = app.repo
    old, fresh = add_lead(repo, 1), add_lead(repo, 2)
    long_ago = "2023-01-01T00:00:00+00:00"
    repo.db.execute("UPDATE leads SET updated_at = ? WHERE ref = ?", [long_ago, old.ref])
    repo.db.execute("UPDATE consents SET at = ?", [long_ago])  # both consents are old; one still covers a lead
    repo.save_turn(Conversation(ConversationKey("test", "idle"), updated_at=long_ago), "m-old")
    repo.db.execute("UPDATE processed SET at = ?", [long_ago])
    StaffStore(repo).update(EVERYONE, old.ref, "contacted", "Lan", "", "gọi số 0912 345 678 của chị Lan")
    repo.db.execute("UPDATE leads SET updated_at = ? WHERE ref = ?", [long_ago, old.ref])
    for asker in ("old", "fresh"):  # free text people typed, which may hold names and phones
        repo.record_miss("so cua toi", f"số của tôi 0912 345 678 ({asker})", ConversationKey("test", asker), 19405)
    repo.db.execute("UPDATE questions SET at = ? WHERE user = 'old'", [long_ago])
    repo.outbox_add(ConversationKey("zalo", "old"), "old", [Reply("Chị Lan, số 0912 345 678")])  # never taken
    repo.db.execute("UPDATE outbox SET at = ?", [long_ago])
    done = app.purge(dt.datetime(2026, 11, 22, tzinfo=dt.UTC))
    assert done == {"leads": 1, "consents": 1, "handoffs": 0, "questions": 1, "chats": 1, "event_ids": 1, "replies": 1}
    assert repo.db.execute("SELECT count(*) FROM lead_followup").fetchone()[0] == 0  # the staff note went too
    assert [m["question"] for m in repo.misses()] == ["số của tôi 09xx xxx xxx (fresh)"]  # stored masked
    refs = [r[0] for r in repo.db.execute("SELECT ref FROM leads")]
    assert refs == [fresh.ref]
    assert repo.db.execute("SELECT count(*) FROM consents").fetchone()[0] == 1  # the fresh lead's proof stays
    audit = repo.audit(old.ref)
    assert audit[-1]["action"].startswith("erased") and all(a["changes"] == {} for a in audit)
    assert app.purge(dt.datetime(2026, 11, 22, tzinfo=dt.UTC))["leads"] == 0  # running again changes nothing
    app.close()


def test_the_server_purges_on_its_own(store: Store) -> None:
    import asyncio

    from bot.app import OrderedHandler
    from bot.server import DailyPurge

    settings = Settings(_env_file=None, khuyencong_db=Path(store.target), khuyencong_knowledge=KNOWLEDGE)  # type: ignore[call-arg]
    app = build(settings)
    old = add_lead(app.repo, 1)
    app.repo.db.execute("UPDATE leads SET updated_at = '2020-01-01T00:00:00+00:00' WHERE ref = ?", [old.ref])
    handler = OrderedHandler(app.engine)

    async def serve_a_moment() -> None:
        purge = DailyPurge(app, handler, first=0)
        await purge.start(None)  # type: ignore[arg-type]
        for _ in range(100):
            await asyncio.sleep(0.02)
            if not await handler.call(lambda: app.repo.db.execute("SELECT count(*) FROM leads").fetchone()[0]):
                break
        await purge.stop(None)  # type: ignore[arg-type]

    asyncio.run(serve_a_moment())
    handler.close()
    assert app.repo.db.execute("SELECT count(*) FROM leads").fetchone()[0] == 0
    app.close()


def test_an_existing_database_keeps_its_leads_and_questions_through_the_ownership_migration(tmp_path: Path) -> None:
    from sqlite_utils import Database

    from bot.storage.sqlite import MIGRATIONS

    old = Database(tmp_path / "k.db")
    MIGRATIONS.apply(old, stop_before="m007_lead_ownership")  # a database of the previous release
    at = "2026-11-01T00:00:00+00:00"
    old["faq_misses"].insert({"key": "xe tai", "example": "xe tải?", "count": 3, "last_at": at})
    old["leads"].insert({"ref": "KC-AAAAAA", "channel": "web", "user": "u1", "name": "Lan", "phone": "+84912345678"})
    old.conn.close()
    repo = SqliteRepository(tmp_path / "k.db")
    (kept,) = repo.leads_of(ConversationKey("web", "u1"))
    assert (kept.ref, kept.name, kept.phone, kept.duplicate_of) == ("KC-AAAAAA", "Lan", "+84912345678", None)
    assert [m["question"] for m in repo.misses()] == ["xe tải?"] and repo.misses([19405]) == []
