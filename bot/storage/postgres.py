"""The Repository on PostgreSQL: the SQLite repository's own queries and migrations, through the dialect layer.

psycopg 3 with a connection pool. The repository's code talks to `db` and `db.conn` as to sqlite-utils and
sqlite3; here those are thin adapters: each statement is rewritten once (bot/storage/dialect.py) and runs on a
pooled connection, in autocommit, or inside the transaction this thread opened with `BEGIN IMMEDIATE` (the
repository's `_tx`). A turn is one PostgreSQL transaction, as it is one SQLite transaction.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import TYPE_CHECKING, Any, cast

import psycopg
from psycopg_pool import ConnectionPool

from bot.messages import ConversationKey
from bot.storage import search_keys
from bot.storage.dialect import Table, to_postgres
from bot.storage.factory import database_url
from bot.storage.sqlite import MIGRATIONS, Batch, SqliteRepository, person_of

if TYPE_CHECKING:
    from sqlite_utils import Database

MIGRATION_LOCK = 7_326_001  # advisory lock: two processes starting on a fresh database migrate one after the other
_TYPES = {str: "TEXT", int: "BIGINT", float: "DOUBLE PRECISION", bool: "BIGINT"}
_BEGIN = frozenset({"BEGIN", "BEGIN IMMEDIATE"})
_WORDS = ("INSERT", "UPDATE", "DELETE")
_LEAD_KEYS = " RETURNING name, phone, facility_name, ref, profile"  # search_key's arguments, in its order
_LEAD_REFS = " RETURNING ref"
_cursors = itertools.count(1)  # names of server-side cursors, unique in this process


class PgCursor:
    """The part of sqlite3.Cursor the repository uses: execute, fetch*, description, rowcount, lastrowid."""

    def __init__(self, conn: PgConnection) -> None:
        self._conn = conn
        self._rows: list[tuple[Any, ...]] = []
        self._at = 0
        self.description: Sequence[Any] | None = None
        self.rowcount = -1
        self.lastrowid: int | None = None

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> PgCursor:
        """Run one statement (BEGIN IMMEDIATE, COMMIT and ROLLBACK steer this thread's transaction)."""
        word = " ".join(sql.split()).upper() if len(sql) < 32 else ""  # only short ones can steer the transaction
        if word in _BEGIN:
            self._conn.begin()
        elif word in ("COMMIT", "ROLLBACK"):
            self._conn.end(word == "COMMIT")
        else:
            self._conn.run(self, sql, list(params) if not isinstance(params, Mapping) else params)
        return self

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> PgCursor:
        """Run a statement for each set of parameters; rowcount is their sum."""
        total = 0
        for params in seq:
            self.execute(sql, params)
            total += max(self.rowcount, 0)
        self.rowcount = total
        return self

    def _result(self, cur: psycopg.Cursor[Any], lastrowid: int | None = None, hidden: bool = False) -> None:
        """Keep a statement's outcome; `hidden`: its rows were added by the dialect layer, not asked for."""
        shown = cur.description is not None and lastrowid is None and not hidden
        self.description = cur.description if shown else None
        self._rows = cur.fetchall() if shown else []
        self._at = 0
        self.rowcount = cur.rowcount
        self.lastrowid = lastrowid

    def fetchone(self) -> tuple[Any, ...] | None:
        """The next row, if any."""
        if self._at >= len(self._rows):
            return None
        self._at += 1
        return self._rows[self._at - 1]

    def fetchmany(self, size: int = 1) -> list[tuple[Any, ...]]:
        """Up to `size` further rows."""
        rows = self._rows[self._at : self._at + size]
        self._at += len(rows)
        return rows

    def fetchall(self) -> list[tuple[Any, ...]]:
        """The rows not read yet."""
        rows = self._rows[self._at :]
        self._at = len(self._rows)
        return rows

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.fetchall())

    def close(self) -> None:
        """Nothing to release: the rows were read when the statement ran."""


class PgConnection:
    """The part of sqlite3.Connection the repository uses, over a pool; one transaction per thread at most."""

    def __init__(self, url: str, pool_size: int, timeout: float) -> None:
        self.url = url
        self.pool = ConnectionPool(
            url, min_size=1, max_size=pool_size, timeout=timeout, kwargs={"autocommit": True}, open=True
        )
        self._local = threading.local()
        self._catalog: dict[str, Table] | None = None

    # --- transactions ------------------------------------------------------------------

    def begin(self) -> None:
        """Take a connection for this thread's transaction."""
        if getattr(self._local, "tx", None) is not None:
            raise psycopg.ProgrammingError("a transaction is already open on this thread")
        conn = self.pool.getconn()
        try:
            conn.execute("BEGIN")
        except BaseException:
            self.pool.putconn(conn)
            raise
        self._local.tx = conn

    def end(self, commit: bool) -> None:
        """Commit or roll back this thread's transaction and give its connection back."""
        conn: psycopg.Connection[Any] | None = getattr(self._local, "tx", None)
        if conn is None:
            return
        self._local.tx = None
        try:
            conn.execute("COMMIT" if commit else "ROLLBACK")
        finally:
            self.pool.putconn(conn)
            if getattr(self._local, "ddl", False):
                self._local.ddl, self._catalog = False, None

    def commit(self) -> None:
        """Nothing to do, as for sqlite3 in autocommit: outside BEGIN IMMEDIATE each statement commits alone."""

    @property
    def in_transaction(self) -> bool:
        """Whether this thread has a transaction open."""
        return getattr(self._local, "tx", None) is not None

    # --- statements ----------------------------------------------------------------------

    def cursor(self) -> PgCursor:
        """A cursor: each execute runs in this thread's transaction, or alone."""
        return PgCursor(self)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> PgCursor:
        """Run one statement, like sqlite3.Connection.execute."""
        return self.cursor().execute(sql, params)

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> PgCursor:
        """Run a statement for each set of parameters."""
        return self.cursor().executemany(sql, seq)

    def run(self, into: PgCursor, sql: str, params: Sequence[Any] | Mapping[str, Any]) -> None:
        """Rewrite and run a statement, its result read into `into` (the rows are read at once)."""
        text = to_postgres(sql, self.catalog)
        hook = self._returning(sql, text)
        params = without_nul(params)
        conn = self._local.__dict__.get("tx")
        if conn is not None:
            self._run_on(conn, into, sql, text + hook, params, hook)
            return
        with self.pool.connection() as conn:
            if hook == _LEAD_KEYS:  # the statement and its search keys change together
                with conn.transaction():
                    self._run_on(conn, into, sql, text + hook, params, hook)
            else:
                self._run_on(conn, into, sql, text + hook, params, hook)

    def batches(self, sql: str, params: Sequence[Any], batch: int) -> Iterator[Batch]:
        """A SELECT's rows through a server-side cursor, `batch` at a time: 100,000 leads never sit in memory.

        The cursor lives in a transaction on a connection of its own (this thread's, if it has one open), given
        back when the rows are read or the reader stops early.
        """
        text = to_postgres(sql, self.catalog).encode()
        name = f"kc_batches_{next(_cursors)}"
        tx = self._local.__dict__.get("tx")
        with (
            self.pool.connection() if tx is None else nullcontext(tx) as conn,
            conn.transaction() if tx is None else nullcontext(),
            conn.cursor(name=name) as cur,
        ):
            cur.execute(text, params)
            while rows := cur.fetchmany(batch):
                yield cast("Sequence[Any]", cur.description), rows

    def _returning(self, sql: str, text: str) -> str:
        """What a write must give back: a new row's id (lastrowid), or the leads it changed (their search keys)."""
        table = _written_table(sql)
        if table is None or " RETURNING " in text.upper():
            return ""
        if table == "leads" and "lead_search" in self.catalog():
            return _LEAD_REFS if sql.lstrip()[:6].upper() == "DELETE" else _LEAD_KEYS
        return " RETURNING id" if sql.lstrip()[:6].upper() == "INSERT" and self._has_id(table) else ""

    def _run_on(
        self,
        conn: psycopg.Connection[Any],
        into: PgCursor,
        sql: str,
        text: str,
        params: Sequence[Any] | Mapping[str, Any],
        hook: str,
    ) -> None:
        with conn.cursor() as cur:
            cur.execute(text.encode(), params)
            if hook == " RETURNING id":
                row = cur.fetchone()
                into._result(cur, int(row[0]) if row else None)
            elif hook:
                rows = cur.fetchall()
                into._result(cur, None, hidden=True)
                _sync_search_keys(cur, hook, rows)
            else:
                into._result(cur)
        if _is_ddl(sql):
            self._catalog = None
            self._local.ddl = self.in_transaction  # others see the new schema only once it is committed

    # --- the schema, for INSERT OR REPLACE and ids ------------------------------------

    def catalog(self) -> Mapping[str, Table]:
        """Each table's columns and primary key (read again after any DDL)."""
        tx = self._local.__dict__.get("tx")
        if tx is not None and getattr(self._local, "ddl", False):  # this transaction changed it: read it there
            return _read_catalog(tx)
        if self._catalog is None:
            with self.pool.connection() as conn:
                self._catalog = _read_catalog(conn)
        return self._catalog

    def _has_id(self, table: str) -> bool:
        found = self.catalog().get(table)
        return found is not None and found.key == ("id",)

    def close(self) -> None:
        """Close every pooled connection."""
        self.pool.close()


def without_nul(params: Sequence[Any] | Mapping[str, Any]) -> Sequence[Any] | Mapping[str, Any]:
    """The parameters as PostgreSQL takes them: it refuses NUL in text, which SQLite stores; each becomes U+FFFD.

    What people type is cleaned at the door (bot/text.py::storable); this is for everything else a platform
    sends (a signed event's ids). Not dropped: 'a\\x00' and 'a' stay two values, as they are on SQLite.
    """
    values = params.values() if isinstance(params, Mapping) else params
    if not any(isinstance(v, str) and "\x00" in v for v in values):
        return params
    if isinstance(params, Mapping):
        return {k: _no_nul(v) for k, v in params.items()}
    return [_no_nul(v) for v in params]


def _no_nul(value: Any) -> Any:
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


def _written_table(sql: str) -> str | None:
    words = sql.split(None, 6)
    if not words or words[0].upper() not in _WORDS:
        return None
    for i, word in enumerate(words[:-1]):
        if word.upper() in ("INTO", "FROM") or (i == 0 and word.upper() == "UPDATE"):
            return words[i + 1].split("(")[0].strip('"')
    return None


def _is_ddl(sql: str) -> bool:
    return sql.lstrip()[:6].upper() in ("CREATE", "ALTER ", "DROP T", "DROP I")


def _sync_search_keys(cur: psycopg.Cursor[Any], hook: str, rows: list[tuple[Any, ...]]) -> None:
    """What SQLite's temporary triggers do on leads: lead_search follows every insert, update and delete."""
    if hook == _LEAD_REFS:
        cur.executemany(b"DELETE FROM lead_search WHERE ref = %s", [[r[0]] for r in rows])
        return
    cur.executemany(
        b"INSERT INTO lead_search (ref, key) VALUES (%s, %s) ON CONFLICT (ref) DO UPDATE SET key = EXCLUDED.key",
        [[r[3], search_keys.search_key(*r)] for r in rows],
    )


def _read_catalog(conn: psycopg.Connection[Any]) -> dict[str, Table]:
    columns = conn.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
    ).fetchall()
    keys = conn.execute(
        "SELECT k.table_name, k.column_name FROM information_schema.table_constraints c "
        "JOIN information_schema.key_column_usage k ON k.constraint_name = c.constraint_name "
        "AND k.table_schema = c.table_schema AND k.table_name = c.table_name "
        "WHERE c.constraint_type = 'PRIMARY KEY' AND c.table_schema = current_schema() "
        "ORDER BY k.table_name, k.ordinal_position"
    ).fetchall()
    found: dict[str, tuple[list[str], list[str]]] = {}
    for table, column in columns:
        found.setdefault(table, ([], []))[0].append(column)
    for table, column in keys:
        found.setdefault(table, ([], []))[1].append(column)
    return {t: Table(tuple(c), tuple(k)) for t, (c, k) in found.items()}


class PgTable:
    """The part of sqlite-utils' Table the migrations use: create, add_column, create_index, drop."""

    def __init__(self, db: PgDatabase, name: str) -> None:
        self.db, self.name = db, name

    def create(self, columns: Mapping[str, type], pk: str | Sequence[str] = "id") -> None:
        """CREATE TABLE, columns in the given order; a single integer id is generated, as SQLite's rowid is."""
        keys = (pk,) if isinstance(pk, str) else tuple(pk)
        parts = []
        for name, kind in columns.items():
            if keys == (name,) and kind is int:
                parts.append(f"{_q(name)} BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
            else:
                parts.append(f"{_q(name)} {_TYPES[kind]}")
        if len(keys) > 1 or columns.get(keys[0]) is not int:
            parts.append(f"PRIMARY KEY ({', '.join(_q(k) for k in keys)})")
        self.db.conn.execute(f"CREATE TABLE {self.name} ({', '.join(parts)})")

    def add_column(self, name: str, kind: type) -> None:
        """ALTER TABLE … ADD COLUMN."""
        self.db.conn.execute(f"ALTER TABLE {self.name} ADD COLUMN {_q(name)} {_TYPES[kind]}")

    def create_index(self, columns: Sequence[str], unique: bool = False) -> None:
        """An index named as sqlite-utils names it."""
        name = f"idx_{self.name}_{'_'.join(columns)}"
        kind = "UNIQUE INDEX" if unique else "INDEX"
        self.db.conn.execute(f"CREATE {kind} {name} ON {self.name} ({', '.join(_q(c) for c in columns)})")

    def drop(self) -> None:
        """DROP TABLE."""
        self.db.conn.execute(f"DROP TABLE {self.name}")


def _q(name: str) -> str:
    return f'"{name}"'


class PgDatabase:
    """The part of sqlite-utils' Database the repository and its migrations use."""

    def __init__(self, conn: PgConnection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> PgCursor:
        """Run one statement."""
        return self.conn.execute(sql, params)

    def table(self, name: str) -> PgTable:
        """A table, for the migrations' schema calls."""
        return PgTable(self, name)


def migrate(db: PgDatabase) -> list[str]:
    """Apply the migrations not yet applied, in one transaction, one process at a time; their names."""
    conn = db.conn
    conn.begin()
    try:
        conn.execute("SELECT pg_advisory_xact_lock(?)", [MIGRATION_LOCK])
        conn.execute(
            "CREATE TABLE IF NOT EXISTS _sqlite_migrations (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
            "migration_set TEXT, name TEXT, applied_at TEXT, UNIQUE (migration_set, name))"
        )
        rows = conn.execute("SELECT name FROM _sqlite_migrations WHERE migration_set = ?", ["khuyencong"])
        done = {r[0] for r in rows}
        applied = []
        for migration in MIGRATIONS._migrations:  # sqlite-utils keeps them in declaration order; no public list
            if migration.name in done:
                continue
            migration.fn(cast("Database", db))
            conn.execute(
                "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES (?, ?, now()::text)",
                ["khuyencong", migration.name],
            )
            applied.append(migration.name)
    except BaseException:
        conn.end(commit=False)
        raise
    conn.end(commit=True)
    return applied


class PostgresRepository(SqliteRepository):
    """The repository on a PostgreSQL database: the same methods, queries and migrations as on SQLite."""

    def __init__(self, url: str, busy_timeout: float = 10.0, pool_size: int = 10) -> None:
        self.busy_timeout = busy_timeout
        self.path = None
        self.url = database_url(url)
        self.pool_size = pool_size
        self.pg = PgConnection(self.url, pool_size, busy_timeout)
        database = PgDatabase(self.pg)
        self.db = cast("Database", database)  # the repository's SQL runs unchanged through the dialect layer
        migrate(database)

    @property
    def target(self) -> str:
        """The URL this repository opened (what --db and KHUYENCONG_DB take)."""
        return self.url

    def table_names(self) -> list[str]:
        """The database's tables, by name (the migrations' own bookkeeping included)."""
        return sorted(self.pg.catalog())

    def reopen(self) -> PostgresRepository:
        """A second repository on the same database, with a pool of its own."""
        return PostgresRepository(self.url, self.busy_timeout, self.pool_size)

    def close(self) -> None:
        """Close the pool."""
        self.pg.close()

    def batches(self, sql: str, params: Sequence[Any], batch: int = 2000) -> Iterator[Batch]:
        """A SELECT's rows, `batch` at a time, through a server-side cursor (not all read at once)."""
        return self.pg.batches(sql, params, batch)

    def claim_events(
        self, events: Sequence[tuple[str, str, str | None] | tuple[str, str, str | None, str | None]]
    ) -> list[bool]:
        """As on SQLite, with each sender's events stored one transaction after the other.

        Ids come from a sequence, handed out before commit: without the lock, two webhooks of one person
        committing in the other order would leave the later message with the lower id.
        """
        people = sorted({f"{e[0]}:{e[3]}" for e in events if len(e) > 3 and e[3]})  # sorted: no deadlock
        if not people:
            return super().claim_events(events)
        with self._tx() as cur:
            for who in people:
                cur.execute("SELECT pg_advisory_xact_lock(?, hashtext(?))", [CLAIM_LOCK, who])
            return self._claim_in(cur, events)

    @contextlib.contextmanager
    def person_turn(self, key: ConversationKey) -> Iterator[None]:
        """Hold the person's advisory lock, the inbox workers' own, for a turn answered at once (the web chat).

        Several `serve` processes behind a load balancer may each get one of a person's messages at the same
        moment: each turn reads the conversation, then stores it whole, so two at once would lose one's answers.
        The lock lives in a transaction of its own, let go when the turn is over, or when the process dies.
        """
        with self.pg.pool.connection() as conn, conn.transaction():
            conn.execute(b"SELECT set_config('lock_timeout', %s, true)", [f"{round(self.busy_timeout * 1000)}"])
            who = person_of(key.channel, key.user, 0)
            conn.execute(b"SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [INBOX_LOCK, who])
            yield

    def token_refresh_lock(self, name: str) -> AbstractAsyncContextManager[None]:
        """A lock in the database held while a platform's tokens are refreshed: another process refreshing at the
        same moment waits, then finds the new tokens stored instead of spending the single-use refresh token again."""
        return _advisory_lock(self.url, TOKEN_LOCK, name)

    def shared_inbox(self) -> SharedInbox:
        """The inbox as several workers read it at once."""
        return SharedInbox(self.url)

    def _forget_old_pages(self) -> None:
        """Nothing to fold in: PostgreSQL's VACUUM (autovacuum) reclaims erased rows."""

    def misses(
        self, communes: list[int] | None = None, limit: int = 200, answered: bool = False
    ) -> list[dict[str, Any]]:
        """The most asked questions, as on SQLite; the latest asking's text taken explicitly (no bare column)."""
        where, args = [f"answered_at IS {'NOT ' if answered else ''}NULL"], []
        if communes is not None:
            where.append(f"commune_code IN ({','.join('?' * len(communes)) or 'NULL'})")
            args = list(communes)
        latest = "(array_agg({} ORDER BY at DESC, id DESC))[1]"
        rows = self.db.execute(
            f"SELECT {latest.format('example')}, count(*) AS n, max(at) AS last_at, key, commune_code, "
            f"{latest.format('answered_by')}, {latest.format('id')} FROM questions "
            f"WHERE {' AND '.join(where)} GROUP BY key, commune_code ORDER BY n DESC, last_at DESC LIMIT ?",
            [*args, limit],
        ).fetchall()
        keys = ("question", "count", "last_at", "key", "commune_code", "answered_by", "id")
        return [dict(zip(keys, row, strict=True)) for row in rows]


TOKEN_LOCK = 7_326_004  # (TOKEN_LOCK, hash of the platform): one refresh of its tokens at a time, database-wide
LOCK_WAIT = "30s"  # longer than a refresh takes (Zalo's client gives up after 10 s)


@asynccontextmanager
async def _advisory_lock(url: str, lock: int, name: str) -> AsyncIterator[None]:
    """An advisory lock on a connection of its own, waited for without stopping the event loop.

    Closing the connection lets it go, and so does a process that dies holding it.
    """
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(f"SET lock_timeout = '{LOCK_WAIT}'".encode())
        await conn.execute(b"SELECT pg_advisory_lock(%s, hashtext(%s))", [lock, name])
        yield


INBOX_LOCK = 7_326_002  # advisory locks of the inbox: (INBOX_LOCK, hash of the person)
CLAIM_LOCK = 7_326_003  # a person's events are stored one transaction after the other: ids in arrival order
_HEADS = (
    "SELECT i.id, i.channel, i.payload, i.person, i.attempts, i.next_try, i.at FROM inbox i "
    "WHERE i.next_try <= %s AND NOT EXISTS (SELECT 1 FROM inbox e WHERE e.channel = i.channel "
    "AND e.person = i.person AND e.id < i.id) ORDER BY i.id LIMIT %s"
)
_STILL_HEAD = (
    "SELECT 1 FROM inbox i WHERE i.id = %s AND NOT EXISTS (SELECT 1 FROM inbox e WHERE e.channel = i.channel "
    "AND e.person = i.person AND e.id < i.id)"
)


class SharedInbox:
    """The inbox read by several workers at once, on one machine or several, each person's events in order.

    A worker runs an event only while it holds its person's advisory lock and the event is the earliest of that
    person still in the inbox (earlier ones are deleted only once their turn is over). The locks live on this
    worker's own connection: a worker that dies loses its connection, and with it its locks, at once; its
    unfinished events are then run by another worker (a turn already stored is recognised and not run twice).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: psycopg.Connection[Any] | None = None
        self.held: set[str] = set()  # people whose lock this worker holds

    @property
    def conn(self) -> psycopg.Connection[Any]:
        """The connection holding the locks (made again if it broke: the locks went with it)."""
        if self._conn is None or self._conn.broken or self._conn.closed:
            self._conn, self.held = psycopg.connect(self.url, autocommit=True), set()
        return self._conn

    def claim(self, limit: int, busy: set[int], now: float) -> list[tuple[str, tuple[Any, ...]]]:
        """Events to run now (their person, their row), at most `limit`, none of those in `busy` (running here)."""
        conn = self.conn
        rows = conn.execute(_HEADS.encode(), [now, limit + len(busy)]).fetchall()
        claimed = []
        for row in rows:
            if row[0] in busy:
                continue
            who = person_of(row[1], row[3], row[0])
            if not self._lock(who):
                continue  # another worker runs this person now
            if conn.execute(_STILL_HEAD.encode(), [row[0]]).fetchone() is None:
                self.release(who)  # finished by another worker meanwhile
                continue
            claimed.append((who, row))
            if len(claimed) >= limit:
                break
        return claimed

    def _lock(self, who: str) -> bool:
        if who in self.held:  # advisory locks count per session: take each person's once
            return True
        row = self.conn.execute(b"SELECT pg_try_advisory_lock(%s, hashtext(%s))", [INBOX_LOCK, who]).fetchone()
        if row and row[0]:
            self.held.add(who)
            return True
        return False

    def finish(self, who: str, event_id: int) -> None:
        """The event's turn is over: it leaves the inbox, then its person is free for the next worker."""
        self.conn.execute(b"DELETE FROM inbox WHERE id = %s", [event_id])
        self.release(who)

    def retry(self, who: str, event_id: int, attempts: int, next_try: float) -> None:
        """The turn failed: the event keeps its place (its person's later events wait) until its next try."""
        self.conn.execute(
            b"UPDATE inbox SET attempts = %s, next_try = %s WHERE id = %s", [attempts, next_try, event_id]
        )
        self.release(who)

    def release(self, who: str) -> None:
        """Let other workers run this person."""
        if who in self.held:
            self.held.discard(who)
            self.conn.execute(b"SELECT pg_advisory_unlock(%s, hashtext(%s))", [INBOX_LOCK, who])

    def close(self) -> None:
        """Close the connection (every lock goes with it)."""
        if self._conn is not None:
            self._conn.close()
