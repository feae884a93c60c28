"""`khuyencong db copy`: a whole database into an empty one, every table, ids kept, checked by counts and checksums.

The source is read from one snapshot (a running `serve` may keep writing); the target is migrated by this code to the
same version first, then filled in one transaction and checked inside it: the row count of every table and an
order-independent checksum of every table's rows (the leads' among them) must equal the source's, or the transaction
is rolled back. The tables are those of the schema as found, not a list: a table the target lacks fails the copy.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from bot.storage.copy_sides import MIGRATIONS_TABLE, End, PostgresEnd, Row, SqliteEnd
from bot.storage.factory import database_url, is_postgres, open_repository

NOT_COPIED = frozenset({MIGRATIONS_TABLE})  # the target's own, written by its migrations: compared, not copied
_SUM = 2**256


class CopyRefused(Exception):
    """The copy cannot start; nothing was written. `field`: the option at fault (db: the source, to: the target)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class CopyFailed(Exception):
    """The copy started and was rolled back: the target holds no data."""


@dataclass(frozen=True)
class TableCheck:
    """One table on both sides: its rows and the checksum of their values."""

    table: str
    source_rows: int
    target_rows: int
    source_sum: str
    target_sum: str

    @property
    def ok(self) -> bool:
        """Whether both sides hold the same rows."""
        return self.source_rows == self.target_rows and self.source_sum == self.target_sum


@dataclass
class Report:
    """What was copied, table by table."""

    source: str
    target: str
    tables: list[TableCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every table matches."""
        return all(t.ok for t in self.tables)

    def of(self, table: str) -> TableCheck:
        """One table's check."""
        return next(t for t in self.tables if t.table == table)

    def as_json(self) -> dict[str, Any]:
        """Counts and checksums per table, the leads' on their own too."""
        tables = {
            t.table: {
                "source": t.source_rows,
                "target": t.target_rows,
                "source_checksum": t.source_sum,
                "target_checksum": t.target_sum,
                "match": t.ok,
            }
            for t in self.tables
        }
        return {"ok": self.ok, "source": self.source, "target": self.target, "leads": tables["leads"], "tables": tables}


def masked(target: str) -> str:
    """A database named for a person to read: a URL's password (in its user part or its query) replaced by ***."""
    text = re.sub(r"(://[^/@:]*:)[^/@]*@", r"\1***@", str(target))
    return re.sub(r"(?i)(password=)[^&\s]*", r"\1***", text)


def code_migrations() -> list[str]:
    """The migrations this code applies, in order."""
    from bot.storage.sqlite import MIGRATIONS

    return [m.name for m in MIGRATIONS._migrations]  # sqlite-utils keeps them in declaration order; no public list


def applied(end: End) -> set[str] | None:
    """The names of the migrations applied (None: no migrations table, not a database of ours)."""
    if MIGRATIONS_TABLE not in end.tables():
        return None
    rows = (r for batch in end.rows(MIGRATIONS_TABLE, ("migration_set", "name")) for r in batch)
    return {str(name) for kind, name in rows if kind == "khuyencong"}


def copy_database(source: str, target: str, before_verify: Callable[[End], None] | None = None) -> Report:
    """Copy `source` into `target` (empty, made or migrated here) and check it; the report says whether it matched.

    `before_verify` runs on the target after the rows are in and before they are checked (tests tamper there).
    Raises CopyRefused (nothing written) or CopyFailed (rolled back).
    """
    _check_form("to", target)
    if _same(source, target):
        raise CopyRefused("to", "đích phải khác cơ sở dữ liệu nguồn")
    src = _opened("db", source, write=False)
    try:
        _check_version("db", applied(src), source_side=True)
        created = _prepare(target)
        try:
            report = _fill(src, Report(masked(source), masked(target)), target, before_verify)
        except (sqlite3.Error, psycopg.Error) as exc:  # a server gone, a disk full: said, never a traceback
            _forget(target, created)
            raise CopyFailed(
                f"lỗi cơ sở dữ liệu khi chép ({type(exc).__name__}); đã hoàn tác, đích không giữ dữ liệu nào"
            ) from None
        except BaseException:
            _forget(target, created)
            raise
        if not report.ok:
            _forget(target, created)
        return report
    finally:
        src.finish(commit=False)


def _check_form(side: str, target: str) -> None:
    """A postgresql:// URL or a file path; anything else refused before anything is made."""
    if is_postgres(target):
        return
    if "://" in str(target):
        raise CopyRefused(side, "cần postgresql://… hoặc đường dẫn tệp SQLite")
    if Path(target).is_dir():
        raise CopyRefused(side, f"{target} là một thư mục, cần đường dẫn tệp")


def _same(source: str, target: str) -> bool:
    if is_postgres(source) != is_postgres(target):
        return False
    if is_postgres(source):
        return database_url(source) == database_url(target)
    return Path(source).resolve() == Path(target).resolve()


def _opened(side: str, target: str, write: bool) -> End:
    """An end of the copy, or CopyRefused saying plainly why not (the password never shown)."""
    if is_postgres(target):
        try:
            return PostgresEnd(database_url(target), write)
        except psycopg.Error as exc:
            raise CopyRefused(side, f"không kết nối được {masked(database_url(target))}: {_why(exc)}") from None
    _check_form(side, target)
    path = Path(target)
    try:
        return SqliteEnd(path, write)
    except sqlite3.Error:
        raise CopyRefused(side, f"không mở được {path} như một cơ sở dữ liệu SQLite") from None


def _why(exc: Exception) -> str:
    """The server's refusal in words, never its raw message (libpq may repeat the URL, password included)."""
    state, text = getattr(exc, "sqlstate", None), str(exc)  # libpq's connection errors often carry no SQLSTATE
    if state == "3D000" or ("database" in text and "does not exist" in text):
        return "cơ sở dữ liệu này chưa có trên máy chủ (tạo trước bằng createdb)"
    if state in ("28P01", "28000") or "authentication failed" in text:
        return "sai tên đăng nhập hoặc mật khẩu"
    if type(exc).__name__ == "ProgrammingError":
        return "địa chỉ không hợp lệ"
    return "máy chủ không trả lời, hoặc địa chỉ, cổng sai"


def _check_version(side: str, names: set[str] | None, source_side: bool) -> None:
    """The database was made by this version of the code (a target may also be older: it is migrated next)."""
    known = code_migrations()
    which = "nguồn" if source_side else "đích"
    if names is None:
        if source_side:
            raise CopyRefused(side, "đây không phải cơ sở dữ liệu của khuyencong")
        return
    if names - set(known):
        raise CopyRefused(
            side, f"cơ sở dữ liệu {which} do phiên bản khuyencong mới hơn tạo ra; hãy cập nhật khuyencong rồi chép lại"
        )
    if source_side and set(known) - names:
        raise CopyRefused(
            side,
            "cơ sở dữ liệu nguồn còn ở phiên bản cũ; hãy chạy khuyencong serve của phiên bản này trên nó một lần "
            "(để cập nhật cấu trúc), dừng lại rồi chép",
        )


def _prepare(target: str) -> bool:
    """Refuse a target that holds data or is newer; migrate it to this version. Whether a SQLite file was made here."""
    created = not is_postgres(target) and not Path(target).exists()
    if not created:
        end = _opened("to", target, write=False)
        try:
            _check_version("to", applied(end), source_side=False)
            _refuse_data(end, list(end.tables()))
        finally:
            end.finish(commit=False)
    try:
        open_repository(database_url(target) if is_postgres(target) else Path(target)).close()
    except Exception:
        _forget(target, created)
        raise CopyRefused("to", f"không tạo được các bảng trong {masked(target)}") from None
    return created


def _refuse_data(end: End, tables: Sequence[str]) -> None:
    for table in sorted(tables):
        if table not in NOT_COPIED and (rows := end.count(table)):
            raise CopyRefused(
                "to",
                f"cơ sở dữ liệu đích đã có dữ liệu (bảng {table}: {rows} dòng); lệnh chỉ chép vào một cơ sở dữ liệu "
                "trống, không ghi đè. Hãy tạo cơ sở dữ liệu mới (createdb) hoặc chọn tệp mới rồi chạy lại",
            )


def _forget(target: str, created: bool) -> None:
    """A SQLite file this copy made goes again when the copy does not succeed (with its -wal and -shm)."""
    if created:
        path = Path(target)
        for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)


def _fill(src: End, report: Report, target: str, before_verify: Callable[[End], None] | None) -> Report:
    """Every table across in one transaction on the target, checked there; committed only when all match."""
    dst = _opened("to", target, write=True)
    commit = False
    try:
        tables = _same_schema(src.tables(), dst.tables())
        dst.hold(list(tables))
        _refuse_data(dst, list(tables))  # nothing arrived since the first look
        for table, columns in tables.items():
            _write(dst, table, columns, src.rows(table, columns))
        dst.keep_high_water({t: n for t, n in src.high_water().items() if t in tables})
        if before_verify is not None:
            before_verify(dst)
        report.tables = [_check(src, dst, table, columns) for table, columns in tables.items()]
        commit = report.ok
        return report
    finally:
        dst.finish(commit)


def _same_schema(source: dict[str, tuple[str, ...]], target: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """The tables to copy (all but NOT_COPIED); a table or column on one side only stops the copy, named."""
    for table in sorted(set(source) | set(target)):
        if table in NOT_COPIED:
            continue
        if table not in target:
            raise CopyFailed(f"bảng {table} có ở nguồn mà không có ở đích: không chép thiếu, đã dừng")
        if table not in source:
            raise CopyFailed(f"bảng {table} có ở đích mà không có ở nguồn: hai bên khác cấu trúc, đã dừng")
        if set(source[table]) != set(target[table]):
            raise CopyFailed(f"bảng {table} có cột khác nhau ở hai bên: hai bên khác cấu trúc, đã dừng")
    return {t: source[t] for t in sorted(source) if t not in NOT_COPIED}


def _write(dst: End, table: str, columns: Sequence[str], batches: Any) -> None:
    """One table across; a row the target refuses stops the copy, naming the table (never the row's values)."""
    try:
        dst.write(table, columns, batches)
    except (sqlite3.Error, psycopg.Error) as exc:
        raise CopyFailed(f"bảng {table}: đích không nhận một dòng ({type(exc).__name__}); đã hoàn tác") from None


def _check(src: End, dst: End, table: str, columns: Sequence[str]) -> TableCheck:
    return TableCheck(
        table, src.count(table), dst.count(table), checksum(src, table, columns), checksum(dst, table, columns)
    )


def checksum(end: End, table: str, columns: Sequence[str]) -> str:
    """Sum of the SHA-256 of every row (its values by column name, typed): the same rows give it in any order."""
    names = sorted(columns)
    at = [columns.index(n) for n in names]
    total = 0
    for batch in end.rows(table, columns):
        for row in batch:
            total += row_hash(names, [row[i] for i in at])
    return f"{total % _SUM:064x}"


def row_hash(names: Sequence[str], values: Row) -> int:
    """One row's hash over its values normalised the same way whichever database gave them."""
    line = json.dumps([[n, _typed(v)] for n, v in zip(names, values, strict=True)], ensure_ascii=False)
    return int.from_bytes(hashlib.sha256(line.encode()).digest())


def _typed(value: Any) -> str:
    """A value with its type: 1, 1.0 and '1' differ (a copy that changed a type is not the same data)."""
    if value is None:
        return "n"
    if isinstance(value, bool | int):
        return f"i{int(value)}"
    if isinstance(value, float):
        return f"f{value!r}"
    if isinstance(value, str):
        return "s" + value
    if isinstance(value, bytes | bytearray | memoryview):
        return "b" + bytes(value).hex()
    raise CopyFailed(f"giá trị kiểu {type(value).__name__} chưa được hỗ trợ khi kiểm tra")
