"""The benchmark of several workers (bench/workers.py) at a smoke size, so that it cannot rot unnoticed.

Only what must hold whatever the speed is asserted (every message run once, every reply delivered once, each
person's order, one lead each), never a timing: the machine running the tests may be busy.
"""

from __future__ import annotations

import asyncio

from bench.workers import QUICK, problems, rows, run_all, warm_user


def test_the_quick_run_measures_sqlite_and_two_postgres_workers_and_loses_nothing(pg_server: str) -> None:
    run = asyncio.run(run_all(quick=True, server=pg_server))
    assert run.problems == [], run.problems[:5]
    assert [x.kind for x in run.single] == ["sqlite", "postgres"]
    assert run.single[0].statements == 0 < run.single[1].statements  # counted on PostgreSQL only
    assert all(len(x.samples) == 5 * 12 for x in run.single)
    sqlite, postgres = run.layouts
    assert (sqlite.name, postgres.name) == ("SQLite, 1 worker", "PostgreSQL, 2 workers")
    for layout in run.layouts:
        assert layout.end_to_end > 0 and layout.alone > 0
    # Same messages, same replies in the same order, on both databases; every person answered every time.
    assert postgres.transcript == sqlite.transcript and len(sqlite.transcript) >= 2 * QUICK["events"] // 10
    assert postgres.delivered == sqlite.delivered
    assert postgres.transactions > 0 and set(postgres.cpu) == {"workers", "postgres"}
    assert [kind for kind, _ in run.loads] == ["postgres", "sqlite"]
    for _, crowd in run.loads:
        assert crowd.turns_answered == 6 * 12 and crowd.leads == crowd.registering == 6
    table = rows(run)
    assert sum("Complete turns a second" in row for row in table) == 2
    assert "**met**" in table[3] and all(row.startswith("| ") for row in table)


def test_the_check_catches_an_event_left_lost_doubled_or_out_of_order() -> None:
    usual = [["u0", "a"], ["u1", "a"], ["u0", "b"], ["u1", "b"]]  # two people, two messages each: replies a, b
    assert warm_user() not in {"u0", "u1"}
    assert problems(0, 0, 2 * 2 + 1, usual, events=2, people=2) == []
    assert problems(1, 0, 5, usual, 2, 2) == ["1 events still in the inbox, 0 replies still in the outbox"]
    assert problems(0, 0, 4, usual, 2, 2) == ["4 messages run, 5 sent"]
    different = "2 different transcripts for people who sent the same; 1 got the usual"
    lost, doubled, swapped = usual[:3], [*usual, ["u1", "b"]], [usual[0], usual[3], usual[2], usual[1]]
    for broken in (lost, doubled, swapped):
        assert problems(0, 0, 5, broken, 2, 2) == [different], broken
    assert problems(0, 0, 5, [*usual, ["u7", "a"]], 2, 2) == ["messages sent to people who never wrote: ['u7']"]
