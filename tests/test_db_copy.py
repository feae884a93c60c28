"""`khuyencong db copy`: a running commune moved from SQLite to PostgreSQL (or another SQLite file), checked.

The source is filled through the real code paths (chat turns to a registration with consent, a handoff and a staff
reply, a subscription and an announcement, staff accounts, a lead followed up, a commune profile, a form layout).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import sqlite3
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.announce.limits import Rules
from bot.announce.queue import Announcer, Request
from bot.app import build
from bot.cli import main
from bot.config import Settings
from bot.knowledge import load_knowledge
from bot.messages import ConversationKey, Incoming
from bot.places import Gazetteer
from bot.staff.accounts import AccountBook, hash_password
from bot.staff.store import StaffStore
from bot.storage import Consent, Conversation, copy_sides, copying
from bot.storage.copy_sides import End, PostgresEnd, Row
from bot.storage.copying import copy_database
from bot.storage.factory import open_repository
from bot.storage.form_templates import FormTemplateStore, Target
from bot.storage.profiles import ProfileStore
from bot.storage.sqlite import SqliteRepository
from tests.conftest import KNOWLEDGE, ROOT, _admin, _on
from tests.test_db_ops import registrations_arriving
from tests.test_engine import REGISTRATION
from tests.test_exports import add_lead
from tests.test_serve import free_port

VINH_THUY = 19405
BLOB = b"PK\x03\x04\x00\xff\xfe layout \x00 bytes"
FILLED = (
    "leads", "consents", "lead_audit", "lead_followup", "handoffs", "handoff_audit", "chat_log", "subscriptions",
    "announcements", "announcement_recipients", "staff", "staff_audit", "commune_profiles", "commune_profile_audit",
    "form_templates", "questions", "lead_search", "conversations", "processed",
)  # fmt: skip
KHUYENCONG = str(ROOT / ".venv" / "bin" / "khuyencong")


def fill(path: Path, gazetteer: Gazetteer) -> str:
    """A commune's database as a serving day leaves it; the ref of the registration made in the chat."""
    settings = Settings(_env_file=None, khuyencong_db=path, khuyencong_knowledge=KNOWLEDGE)  # type: ignore[call-arg]
    app = build(settings)
    repo = app.repo
    t0 = dt.datetime.now(dt.UTC)

    def say(user: str, text: str | None = None, button: str | None = None, channel: str = "t") -> str:
        msg = Incoming(
            ConversationKey(channel, user), text=text, button=button, message_id=f"{user}-{os.urandom(4).hex()}"
        )
        return " ".join(r.text for r in app.engine.handle(msg, now=t0))

    ref = [say("u1", text) for text in REGISTRATION][-1].split("Mã đăng ký: ")[1][:9]
    for text in ("kiem tra", "hkd", "lam nuoc mam", "xa vinh thuy quang tri", "gặp cán bộ"):
        say("u2", text)
    handoff = repo.handoffs.active(ConversationKey("t", "u2"))
    assert handoff is not None
    repo.handoffs.staff_said(handoff, "Cán bộ Lan", "Chào bà con, tôi gọi lại ngay.")
    for text, button in (("nhận tin", None), ("xa vinh thuy quang tri", None), ("", "yes:")):
        say("u3", text, button, channel="zalo")
    Announcer(repo, Rules()).queue(Request({VINH_THUY: "xã Vĩnh Thủy, Quảng Trị"}, "Xã mở đăng ký máy móc."))
    book = AccountBook(repo, gazetteer)
    book.create("admin", "lan", "Nguyễn Thị Lan", False, (VINH_THUY,), hash_password("mat-khau-dai-du-12"), True)
    staff = StaffStore(repo)
    staff.add("admin", "mat-khau-quan-tri-9", [], True)
    officer = staff.account("admin")
    assert officer is not None
    assert staff.update(officer, ref, "contacted", "lan", "2026-12-10", "gọi lại chiều thứ Năm")
    for i in range(2, 7):
        add_lead(repo, i)
    bundled = next(x for x in load_knowledge(KNOWLEDGE).localities if x.ward_code == VINH_THUY)
    ProfileStore(repo).save(bundled, "lan", {"Điện thoại": ["", "0233 3 123 456"]})
    FormTemplateStore(repo).save("form_01a", Target("commune", VINH_THUY), BLOB, "mau-01a.docx", "lan")
    repo.record_miss("lai suat vay", "Lãi suất vay bao nhiêu?", ConversationKey("t", "u2"), VINH_THUY)
    repo.claim_events([("zalo", "ev-1", '{"x": 1}', "p1"), ("zalo", "ev-2", '{"x": 2}', "p1")])
    repo.inbox_done([e.id for e in repo.inbox_after(0, 10)])  # the inbox is empty, its counter is at 2
    app.close()
    return ref


@pytest.fixture
def source(tmp_path: Path, gazetteer: Gazetteer) -> tuple[Path, str]:
    path = tmp_path / "commune.db"
    return path, fill(path, gazetteer)


@pytest.fixture
def empty_pg(request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty PostgreSQL database, as `createdb` makes it (no tables yet)."""
    url = request.getfixturevalue("pg_server")
    name = f"khuyencong_copy{os.getpid()}_{os.urandom(3).hex()}"
    _admin(url, f"CREATE DATABASE {name}")
    yield _on(url, name)
    _admin(url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def counts(path: Path) -> dict[str, int]:
    """Every table's rows in a SQLite file, read with sqlite3 alone (the migrations' bookkeeping apart)."""
    conn = sqlite3.connect(path)
    names = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    found = {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
    conn.close()
    return {n: c for n, c in found.items() if not n.startswith(("sqlite_", "_sqlite"))}


def copy(source: Path | str, target: str, *more: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["db", "copy", "--db", str(source), "--to", target, *more])
    return result.exit_code, result.stdout, result.stderr


def exported(db: str, out: Path) -> list[str]:
    result = CliRunner().invoke(main, ["export", "--format", "csv", "--out", str(out), "--db", db])
    assert result.exit_code == 0, result.output
    return out.read_text("utf-8-sig").splitlines()


def test_a_commune_moves_to_postgresql_whole_and_serves_the_same_leads(
    source: tuple[Path, str], empty_pg: str, tmp_path: Path
) -> None:
    path, ref = source
    before = counts(path)
    done = subprocess.run(  # the real command, as an operator types it
        [KHUYENCONG, "db", "copy", "--db", str(path), "--to", empty_pg, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] and set(report["tables"]) == set(before)  # every table of the schema, none skipped
    assert {t: v["target"] for t, v in report["tables"].items()} == before
    assert report["leads"]["source_checksum"] == report["leads"]["target_checksum"] != "0" * 64
    for table in FILLED:
        assert before[table] > 0, table  # the fill reached it: the copy was tested on real rows
    assert exported(empty_pg, tmp_path / "pg.csv") == exported(str(path), tmp_path / "sqlite.csv")

    repo = open_repository(empty_pg)
    try:
        (lead,) = repo.leads_of(ConversationKey("t", "u1"))
        assert (lead.ref, lead.phone, lead.status, lead.lines_wanted) == (
            ref,
            "+84912345678",
            "contacted",
            ["advanced_machinery"],
        )
        assert lead.assessment["eligible"] is True
        assert FormTemplateStore(repo).get("form_01a", Target("commune", VINH_THUY)).body == BLOB  # type: ignore[union-attr]
        assert StaffStore(repo).account("lan") is not None
        # New rows after the copy get fresh ids: above the copied ones, and above the inbox's emptied events.
        last_consent = repo.db.execute("SELECT max(id) FROM consents").fetchone()[0]
        assert repo.add_consent(Consent("t", "u9", "registration", "v1", "…", True)) == last_consent + 1
        repo.claim_events([("zalo", "ev-3", "{}", "p1")])
        assert [e.id for e in repo.inbox_after(0, 10)] == [3]
        stored = add_lead(repo, 99)
        assert StaffStore(repo).lead(StaffStore(repo).account("admin"), stored.ref) is not None  # type: ignore[arg-type]
    finally:
        repo.close()


def test_a_target_that_holds_data_is_refused_and_left_as_it_was(source: tuple[Path, str], empty_pg: str) -> None:
    path, _ = source
    assert copy(path, empty_pg)[0] == 0
    repo = open_repository(empty_pg)
    add_lead(repo, 50)  # the new database went live meanwhile
    leads = repo.db.execute("SELECT count(*) FROM leads").fetchone()[0]
    code, out, err = copy(path, empty_pg)
    assert code == 2 and "đã có dữ liệu" in err and "không ghi đè" in err and out == ""
    assert repo.db.execute("SELECT count(*) FROM leads").fetchone()[0] == leads
    repo.close()


def test_a_copy_into_a_file_that_holds_data_is_refused_too(source: tuple[Path, str], tmp_path: Path) -> None:
    path, _ = source
    other = tmp_path / "other.db"
    repo = SqliteRepository(other)
    add_lead(repo, 1)
    before = repo.db.execute("SELECT * FROM leads").fetchall()
    code, _, err = copy(path, str(other))
    assert code == 2 and "đã có dữ liệu" in err
    assert repo.db.execute("SELECT * FROM leads").fetchall() == before and counts(other)["consents"] == 1
    repo.close()


def test_a_bad_or_unreachable_url_is_refused_without_its_password(
    source: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = source
    monkeypatch.chdir(tmp_path)  # a URL taken for a relative path would leave folders here
    files = sorted(tmp_path.iterdir())
    for url in (
        f"postgresql://khuyencong:Secr3tPassw0rd@127.0.0.1:{free_port()}/khuyencong",  # nothing listens
        "postgresql://khuyencong:Secr3tPassw0rd@127.0.0.1:notaport/khuyencong",
        "postgresql://khuyencong@127.0.0.1/k?password=Secr3tPassw0rd&port=1",
    ):
        code, out, err = copy(path, url)
        assert code == 2 and err.startswith("Lỗi: to: không kết nối được") and "***" in err, err
        assert "Secr3tPassw0rd" not in out + err
    code, _, err = copy(path, "mysql://root:Secr3tPassw0rd@db/k")
    assert code == 2 and "postgresql://" in err and "Secr3tPassw0rd" not in err
    code, _, err = copy(path, str(tmp_path))
    assert code == 2 and "thư mục" in err
    (tmp_path / "notes.txt").write_text("không phải cơ sở dữ liệu", "utf-8")
    code, _, err = copy(path, str(tmp_path / "notes.txt"))
    assert code == 2 and "không mở được" in err
    assert (tmp_path / "notes.txt").read_text("utf-8") == "không phải cơ sở dữ liệu"
    files.append(tmp_path / "notes.txt")
    code, _, err = copy(path, str(path))
    assert code == 2 and "khác cơ sở dữ liệu nguồn" in err
    code, _, err = copy(tmp_path / "none.db", str(tmp_path / "new.db"))
    assert code == 2 and err.startswith("Lỗi: db: không thấy")
    assert CliRunner().invoke(main, ["db", "copy", "--db", str(path)]).stderr.startswith("Lỗi: to: thiếu giá trị")
    assert sorted(tmp_path.iterdir()) == sorted(files)  # no file made on the side


def test_a_database_missing_on_the_server_is_named_not_created(source: tuple[Path, str], pg_server: str) -> None:
    code, _, err = copy(source[0], _on(pg_server, "khuyencong_not_there"))
    assert code == 2 and "createdb" in err


def test_a_source_older_or_newer_than_the_code_is_refused_before_anything_is_written(
    source: tuple[Path, str], tmp_path: Path
) -> None:
    path, _ = source
    conn = sqlite3.connect(path)
    conn.execute("UPDATE _sqlite_migrations SET name = 'm999_from_the_future' WHERE name = 'm022_announce_reminders'")
    conn.commit()
    code, _, err = copy(path, str(tmp_path / "new.db"))
    assert code == 2 and "mới hơn" in err and "cập nhật khuyencong" in err
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm999_from_the_future'")
    conn.commit()
    code, _, err = copy(path, str(tmp_path / "new.db"))
    assert code == 2 and "phiên bản cũ" in err
    conn.close()
    assert not (tmp_path / "new.db").exists()


def test_a_table_the_code_does_not_know_stops_the_copy_loudly(source: tuple[Path, str], tmp_path: Path) -> None:
    """A table added tomorrow is made on both sides by its migration and copied, or the copy fails: never skipped."""
    path, _ = source
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE tomorrow (id INTEGER PRIMARY KEY, what TEXT)")
    conn.execute("INSERT INTO tomorrow (what) VALUES ('kept')")
    conn.commit()
    conn.close()
    code, out, err = copy(path, str(tmp_path / "new.db"))
    assert code == 1 and "tomorrow" in err and "không chép thiếu" in err and out == ""
    assert not (tmp_path / "new.db").exists()


def test_a_row_changed_before_the_check_fails_it_and_nothing_stays(
    source: tuple[Path, str], empty_pg: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = source

    def tamper(end: End) -> None:
        assert isinstance(end, PostgresEnd)
        end.conn.execute("UPDATE leads SET phone = '+84900000000' WHERE ref = (SELECT min(ref) FROM leads)")

    monkeypatch.setattr(copying, "copy_database", functools.partial(copy_database, before_verify=tamper))
    code, out, err = copy(path, empty_pg, "--json")
    report = json.loads(out)
    assert code == 1 and "không khớp" in err and "đã hoàn tác" in err
    assert report["leads"]["source"] == report["leads"]["target"]  # the same count: only the checksum saw it
    assert not report["leads"]["match"] and not report["ok"]
    assert [t for t, v in report["tables"].items() if not v["match"]] == ["leads"]
    repo = open_repository(empty_pg)
    assert repo.db.execute("SELECT count(*) FROM leads").fetchone()[0] == 0  # rolled back
    repo.close()
    monkeypatch.undo()
    assert copy(path, empty_pg)[0] == 0  # and the target is still fit for a copy


def test_sqlite_to_sqlite_while_serve_writes_copies_one_snapshot_in_small_batches(
    source: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = source
    monkeypatch.setattr(copy_sides, "BATCH", 3)  # several batches per table
    written: list[int] = []
    write = copy_sides.SqliteEnd.write

    def counted(end: copy_sides.SqliteEnd, table: str, columns: Sequence[str], batches: Iterable[list[Row]]) -> None:
        write(end, table, columns, (written.append(len(b)) or b for b in batches))

    monkeypatch.setattr(copy_sides.SqliteEnd, "write", counted)
    writer = SqliteRepository(path)
    with registrations_arriving(writer):
        code, out, err = copy(path, str(tmp_path / "backup" / "copy.db"))
    writer.close()
    assert code == 0, err
    assert "khớp" in out and "không khớp" not in out and "Mã kiểm tra các đăng ký: khớp" in out
    copied = counts(tmp_path / "backup" / "copy.db")
    assert copied["leads"] == copied["lead_search"] == copied["lead_audit"] - 1 and copied["leads"] >= 6
    assert copied["leads"] <= counts(path)["leads"]
    assert max(written) == 3 and len(written) > copied["leads"] // 3  # never a whole table at once
    repo = SqliteRepository(tmp_path / "backup" / "copy.db")
    repo.claim_events([("zalo", "ev-3", "{}", "p1")])
    assert [e.id for e in repo.inbox_after(0, 10)] == [3]  # AUTOINCREMENT kept: emptied ids do not come back
    assert repo.save_turn(Conversation(ConversationKey("t", "u1")), "after-copy") is None
    repo.close()


def test_postgresql_back_to_a_sqlite_file_or_to_another_server_gives_the_same_checksums(
    source: tuple[Path, str], empty_pg: str, tmp_path: Path, pg_server: str
) -> None:
    path, _ = source
    first = json.loads(copy(path, empty_pg, "--json")[1])
    second = _on(pg_server, f"khuyencong_second{os.getpid()}")
    _admin(
        pg_server, f"DROP DATABASE IF EXISTS {second.rsplit('/', 1)[1]}", f"CREATE DATABASE {second.rsplit('/', 1)[1]}"
    )
    try:
        for target in (str(tmp_path / "back.db"), second):
            code, out, err = copy(empty_pg, target, "--json")
            assert code == 0, err
            back = json.loads(out)
            assert back["leads"]["target_checksum"] == first["leads"]["source_checksum"]
            assert {t: v["target_checksum"] for t, v in back["tables"].items()} == {
                t: v["source_checksum"] for t, v in first["tables"].items()
            }
    finally:
        _admin(pg_server, f"DROP DATABASE IF EXISTS {second.rsplit('/', 1)[1]} WITH (FORCE)")


def test_a_value_postgresql_cannot_take_stops_the_copy_naming_the_table_not_the_value(
    source: tuple[Path, str], empty_pg: str
) -> None:
    path, _ = source
    conn = sqlite3.connect(path)  # SQLite keeps text in an INTEGER column if it is not a number
    conn.execute("UPDATE leads SET commune_code = 'Xã Vĩnh Thủy bí mật' WHERE rowid = 1")
    conn.commit()
    conn.close()
    code, out, err = copy(path, empty_pg)
    assert code == 1 and "bảng leads" in err and "đã hoàn tác" in err and out == ""
    assert "bí mật" not in err
    repo = open_repository(empty_pg)
    assert sum(repo.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("leads", "consents")) == 0
    repo.close()
