"""The inbox's per-person question ("is this the person's earliest event?") is answered by an index on both databases.

Every worker on PostgreSQL asks it of each event it claims (bot/storage/postgres.py::SharedInbox): without the
index on (channel, person, id) each asking scans the inbox, and a backlog slows every claim. The plans are read
from each database's EXPLAIN, over an inbox with a backlog (3,000 events of 300 people) and fresh statistics.
"""

from __future__ import annotations

import psycopg

from bot.storage.postgres import _HEADS, _STILL_HEAD
from tests.conftest import Store

BACKLOG, PEOPLE = 3000, 300
PER_PERSON = {
    "the earliest events of each person": (_HEADS, [1e12, 100]),
    "is this one the earliest": (_STILL_HEAD, [1500]),
}


def plans(store: Store) -> dict[str, str]:
    """Each per-person query's plan, as the database under test gives it."""
    if store.kind == "postgres":
        with psycopg.connect(store.target, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO inbox (channel, payload, at, person) SELECT 'zalo', '{}', '2026-01-01T00:00:00+00:00', "
                "'p' || (g %% %s) FROM generate_series(1, %s) g",
                [PEOPLE, BACKLOG],
            )
            conn.execute("ANALYZE inbox")
            return {
                what: "\n".join(row[0] for row in conn.execute(b"EXPLAIN " + sql.encode(), args))
                for what, (sql, args) in PER_PERSON.items()
            }
    conn = store.open().db.conn
    rows = [("zalo", "{}", "2026-01-01T00:00:00+00:00", f"p{n % PEOPLE}") for n in range(BACKLOG)]
    conn.executemany("INSERT INTO inbox (channel, payload, at, person) VALUES (?, ?, ?, ?)", rows)
    conn.execute("ANALYZE")
    return {
        what: "\n".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql.replace("%s", "?"), args))
        for what, (sql, args) in PER_PERSON.items()
    }


def test_the_per_person_inbox_queries_use_the_inbox_person_index(store: Store) -> None:
    for what, plan in plans(store).items():
        assert "inbox_person" in plan, f"{what}:\n{plan}"
