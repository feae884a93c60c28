"""The two ends of `khuyencong db copy`: a database read from one snapshot, or written in one transaction.

Each end speaks its driver directly (sqlite3, psycopg), not through the repository: the rows go across as stored,
ids included, in batches, and nothing of the repository's own bookkeeping (SQLite's search-key triggers, the
PostgreSQL adapter's RETURNING hooks) runs twice: `lead_search` is a table like the others and is copied with them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

BATCH = 1000  # rows read and written at a time: a 100,000-lead commune is never held in memory at once
MIGRATIONS_TABLE = "_sqlite_migrations"
Row = Sequence[Any]


class End(Protocol):
    """What the copy needs of either end."""

    def tables(self) -> dict[str, tuple[str, ...]]:
        """Every table of the schema (SQLite's own excepted) and its columns, in order."""
        ...

    def rows(self, table: str, columns: Sequence[str]) -> Iterator[list[Row]]:
        """The table's rows, these columns, in batches."""
        ...

    def count(self, table: str) -> int:
        """How many rows the table holds."""
        ...

    def high_water(self) -> dict[str, int]:
        """Per table, the highest id ever handed out (ids never come back after a delete)."""
        ...

    def hold(self, tables: Sequence[str]) -> None:
        """Keep every other writer out of these tables until the end of this transaction."""
        ...

    def write(self, table: str, columns: Sequence[str], batches: Iterable[list[Row]]) -> None:
        """Insert rows as they are, ids included."""
        ...

    def keep_high_water(self, marks: dict[str, int]) -> None:
        """New rows get ids above the copied ones and above every id the source ever gave."""
        ...

    def finish(self, commit: bool) -> None:
        """Commit or roll back, and close."""
        ...


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _select(table: str, columns: Sequence[str]) -> str:
    return f"SELECT {', '.join(map(_q, columns))} FROM {_q(table)}"


class SqliteEnd:
    """A SQLite file: read inside one read transaction (a snapshot, while `serve` writes on), or written in one."""

    def __init__(self, path: Path, write: bool) -> None:
        self.conn = sqlite3.connect(str(path), isolation_level=None, timeout=30)
        try:
            self.conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot starts here
        except sqlite3.Error:
            self.conn.close()  # not a database (or locked for good): said by the caller
            raise

    def tables(self) -> dict[str, tuple[str, ...]]:
        """Every table but SQLite's own (sqlite_sequence: the AUTOINCREMENT counters, see high_water)."""
        names = self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' ESCAPE '!' ORDER BY name"
        ).fetchall()
        return {n: tuple(r[1] for r in self.conn.execute(f"PRAGMA table_info({_q(n)})")) for (n,) in names}

    def rows(self, table: str, columns: Sequence[str]) -> Iterator[list[Row]]:
        """The rows in batches."""
        cur = self.conn.execute(_select(table, columns))
        while batch := cur.fetchmany(BATCH):
            yield batch

    def count(self, table: str) -> int:
        """How many rows."""
        return int(self.conn.execute(f"SELECT count(*) FROM {_q(table)}").fetchone()[0])

    def high_water(self) -> dict[str, int]:
        """SQLite's AUTOINCREMENT counters (they stay above deleted ids)."""
        if not self.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").fetchone():
            return {}
        return {str(n): int(s) for n, s in self.conn.execute("SELECT name, seq FROM sqlite_sequence")}

    def hold(self, tables: Sequence[str]) -> None:
        """Nothing more to do: BEGIN IMMEDIATE already keeps every other writer out of the file."""

    def write(self, table: str, columns: Sequence[str], batches: Iterable[list[Row]]) -> None:
        """INSERT, a batch at a time."""
        sql = f"INSERT INTO {_q(table)} ({', '.join(map(_q, columns))}) VALUES ({', '.join('?' * len(columns))})"
        for batch in batches:
            self.conn.executemany(sql, batch)

    def keep_high_water(self, marks: dict[str, int]) -> None:
        """Raise the AUTOINCREMENT counters to the source's (the inserts already raised them to the copied ids)."""
        for table, mark in marks.items():
            done = self.conn.execute("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", [mark, table])
            if done.rowcount == 0:
                self.conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", [table, mark])

    def finish(self, commit: bool) -> None:
        """COMMIT or ROLLBACK, then close."""
        try:
            self.conn.execute("COMMIT" if commit else "ROLLBACK")
        finally:
            self.conn.close()


class PostgresEnd:
    """A PostgreSQL database: read in one REPEATABLE READ transaction, or written in one transaction."""

    def __init__(self, url: str, write: bool) -> None:
        import psycopg

        self.conn = psycopg.connect(url, connect_timeout=10)
        if not write:
            self.conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ  # one snapshot for every table
            self.conn.read_only = True
        self._cursors = 0

    def tables(self) -> dict[str, tuple[str, ...]]:
        """Every table of the current schema, its columns in order."""
        rows = self.conn.execute(
            "SELECT c.table_name, c.column_name FROM information_schema.columns c "
            "JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
            "WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' "
            "ORDER BY c.table_name, c.ordinal_position"
        ).fetchall()
        found: dict[str, list[str]] = {}
        for table, column in rows:
            found.setdefault(str(table), []).append(str(column))
        return {t: tuple(c) for t, c in found.items()}

    def rows(self, table: str, columns: Sequence[str]) -> Iterator[list[Row]]:
        """The rows in batches, through a server-side cursor (never the whole table in memory)."""
        self._cursors += 1
        with self.conn.cursor(name=f"khuyencong_copy_{self._cursors}") as cur:
            cur.execute(_select(table, columns).encode())
            while batch := cur.fetchmany(BATCH):
                yield [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in batch]

    def count(self, table: str) -> int:
        """How many rows."""
        row = self.conn.execute(f"SELECT count(*) FROM {_q(table)}".encode()).fetchone()
        return int(row[0]) if row else 0

    def _identities(self) -> dict[str, tuple[str, str]]:
        """Each table's generated id column and its sequence (identity columns, as the migrations make them)."""
        rows = self.conn.execute(
            "SELECT table_name, column_name, pg_get_serial_sequence(quote_ident(table_name), column_name) "
            "FROM information_schema.columns WHERE table_schema = current_schema() AND is_identity = 'YES'"
        ).fetchall()
        return {str(t): (str(c), str(s)) for t, c, s in rows if s}

    def high_water(self) -> dict[str, int]:
        """The last id each sequence handed out."""
        marks = {}
        for table, (_, seq) in self._identities().items():
            row = self.conn.execute(f"SELECT last_value, is_called FROM {seq}".encode()).fetchone()
            if row and row[1]:
                marks[table] = int(row[0])
        return marks

    def hold(self, tables: Sequence[str]) -> None:
        """EXCLUSIVE locks: a process started early on the target can read, not write, until the copy is over."""
        self.conn.execute("SET LOCAL lock_timeout = '10s'")  # a transaction left open there: fail, never hang
        self.conn.execute(f"LOCK TABLE {', '.join(map(_q, tables))} IN EXCLUSIVE MODE".encode())

    def write(self, table: str, columns: Sequence[str], batches: Iterable[list[Row]]) -> None:
        """COPY … FROM STDIN, a row at a time from the batches (the fastest way in, still in this transaction)."""
        sql = f"COPY {_q(table)} ({', '.join(map(_q, columns))}) FROM STDIN"
        with self.conn.cursor() as cur, cur.copy(sql.encode()) as copy:
            for batch in batches:
                for row in batch:
                    copy.write_row(row)

    def keep_high_water(self, marks: dict[str, int]) -> None:
        """Each id sequence set past the copied ids and the source's counters: new rows never collide."""
        for table, (column, seq) in self._identities().items():
            row = self.conn.execute(f"SELECT coalesce(max({_q(column)}), 0) FROM {_q(table)}".encode()).fetchone()
            top = max(int(row[0]) if row else 0, marks.get(table, 0))
            self.conn.execute("SELECT setval(%s::regclass, %s, %s)", [seq, max(top, 1), top > 0])

    def finish(self, commit: bool) -> None:
        """COMMIT or ROLLBACK, then close."""
        try:
            if commit:
                self.conn.commit()
            else:
                self.conn.rollback()
        finally:
            self.conn.close()
