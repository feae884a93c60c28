"""Complete turns a second: 1 worker on SQLite against 1, 2 and 4 workers on PostgreSQL, side by side in one run.

A turn: a signed Zalo event accepted by `khuyencong serve` (stored in the inbox), run by a `khuyencong worker`
(engine, store), its replies delivered to a fake OA (bench/servers.py). Each layout gets a fresh database,
one `serve` (KHUYENCONG_WORKER=external), N `khuyencong worker` processes and two passes of the same
message mix (bench/webhook.py's events: each person through the start of the interview and a question):

- end to end: the events posted as fast as the server takes them while the workers run; from the first
  POST to the last reply at the fake OA (the webhook benchmark's "turns/s", with N workers);
- workers alone: the workers paused (SIGSTOP) while the events are posted, then let go (SIGCONT); from then
  to the last reply. This is the figure that should grow with workers.

Then what must hold whatever the speed: the inbox and the outbox empty, every message run once (its id in
`processed`), and every person given the same replies in the same order as every other person and as in
the SQLite layout (they all sent the same messages): a message lost, doubled or run out of order changes
someone's replies. Timing is recorded, never asserted.

Beside it, the 500 people × 20 turns load (bench/load.py) on PostgreSQL and on SQLite in the same run.

PostgreSQL: the server KHUYENCONG_TEST_PG names (tools/with_postgres.sh sets it); without one, `main()` runs
itself again under tools/with_postgres.sh, which starts a throw-away server on a free port and removes it
afterwards. Each layout gets a database of its own, dropped after.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench import load as crowd
from bench.run import percentiles, turn_samples
from bench.webhook import drained, event, port, ready, server_env, spawn, warmed
from bench.webhook import load as post
from bot.storage.factory import open_repository
from tests.conftest import _admin, _on

ROOT = Path(__file__).resolve().parent.parent
LAYOUTS: tuple[tuple[str, int], ...] = (("sqlite", 1), ("postgres", 1), ("postgres", 2), ("postgres", 4))
FULL = {"events": 6000, "people": 400}  # per pass: 15 messages each, as the webhook benchmark sends
QUICK = {"events": 40, "people": 10}  # a smoke run for the test: 4 messages each per pass
TICK = os.sysconf("SC_CLK_TCK")
_databases = itertools.count(1)


@dataclass
class Layout:
    """One layout's figures and every problem found."""

    kind: str  # "sqlite" or "postgres"
    workers: int
    events: int  # per pass
    end_to_end: float = 0.0  # turns/s
    alone: float = 0.0  # turns/s, workers alone (inbox filled first)
    delivered: int = 0  # messages the fake OA got, warm-up included
    transcript: list[str] = field(default_factory=list)  # what each ordinary person got, in order
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds of workers (and PostgreSQL), workers alone
    transactions: int = -1  # PostgreSQL transactions during the workers-alone pass (-1: SQLite)
    problems: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """'SQLite, 1 worker' and the like."""
        db = {"sqlite": "SQLite", "postgres": "PostgreSQL"}[self.kind]
        return f"{db}, {self.workers} worker{'s' if self.workers > 1 else ''}"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 when it is gone)."""
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    return 0.0


def backends(url: str) -> dict[int, float]:
    """The PostgreSQL server processes serving this database, with their CPU time so far."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        pids = [int(r[0]) for r in conn.execute(b"SELECT pid FROM pg_stat_activity WHERE datname = current_database()")]
    return {pid: cpu_seconds(pid) for pid in pids}


def transactions(url: str) -> int:
    """Transactions committed or rolled back in this database so far (each autocommit statement is one)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            b"SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    return int(row[0]) if row else 0


@contextlib.contextmanager
def database(kind: str, server: str | None) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a PostgreSQL database on `server` dropped afterwards."""
    if kind == "sqlite":
        tmp = Path(tempfile.mkdtemp(prefix="khuyencong-workers-"))
        try:
            yield str(tmp / "bench.db")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    if server is None:
        raise RuntimeError("no PostgreSQL server: set KHUYENCONG_TEST_PG or run under tools/with_postgres.sh")
    name = f"khuyencong_bench_{os.getpid()}_{next(_databases)}"
    _admin(server, f"CREATE DATABASE {name}")
    try:
        yield _on(server, name)
    finally:
        _admin(server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def measure(kind: str, workers: int, db: str, events: int, people: int) -> Layout:
    """Serve, `workers` workers and a fake OA on `db`: both passes, then the checks."""
    result = Layout(kind, workers, events)
    oa_port, our_port = port(), port()
    env = server_env(db, our_port, oa_port) | {"KHUYENCONG_WORKER": "external"}
    procs = [spawn(["-m", "bench.servers", "fake_oa", str(oa_port)])]
    url, oa = f"http://127.0.0.1:{our_port}", f"http://127.0.0.1:{oa_port}"
    try:
        await ready(f"{oa}/count")
        procs.append(spawn(["-m", "bot.cli", "serve"], env))
        await ready(f"{url}/healthz")  # the database is migrated before any worker opens it
        pool = [spawn(["-m", "bot.cli", "worker"], env) for _ in range(workers)]
        procs += pool
        await warmed(our_port, oa_port)
        began = time.perf_counter()
        await post(f"{url}/webhooks/zalo", events, people)
        result.end_to_end = events / (await drained(oa_port, began))[0]
        await alone(result, pool, db, url, oa_port, people)
        await check(result, db, oa, people)
    finally:
        for proc in reversed(procs):
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGCONT)  # a paused worker cannot act on SIGTERM
                proc.terminate()
            proc.wait(timeout=60)
    return result


async def alone(
    result: Layout, pool: list[subprocess.Popen[bytes]], db: str, url: str, oa_port: int, people: int
) -> None:
    """The second pass: workers paused while the inbox fills, then timed from their release to the last reply."""
    for proc in pool:
        os.kill(proc.pid, signal.SIGSTOP)
    try:
        await post(f"{url}/webhooks/zalo", result.events, people)
    finally:
        pg = result.kind == "postgres"
        workers = {p.pid: cpu_seconds(p.pid) for p in pool}
        database, committed = (backends(db), transactions(db)) if pg else ({}, -1)
        began = time.perf_counter()
        for proc in pool:
            os.kill(proc.pid, signal.SIGCONT)
    result.alone = result.events / (await drained(oa_port, began))[0]
    result.cpu = {"workers": spent(workers)}
    if pg:
        result.cpu["postgres"] = spent(database, backends(db))
        result.transactions = transactions(db) - committed


def spent(before: dict[int, float], after: dict[int, float] | None = None) -> float:
    """CPU seconds the processes of `before` used since (read now, or taken from `after`)."""
    now = after if after is not None else {pid: cpu_seconds(pid) for pid in before}
    return sum(max(0.0, now.get(pid, was) - was) for pid, was in before.items())


async def check(result: Layout, db: str, oa: str, people: int) -> None:
    """Nothing lost, nothing doubled, each person's order kept: the inbox, `processed` and what people got."""
    with contextlib.closing(open_repository(db, pool_size=1)) as repo:
        waiting, unsent = repo.inbox_size(), repo.outbox_size()
        (ran,) = repo.db.execute("SELECT count(*) FROM processed WHERE channel = 'zalo'").fetchone()
    async with aiohttp.ClientSession() as http, http.get(f"{oa}/log") as resp:
        got: list[list[str]] = await resp.json()
    result.delivered = len(got)
    result.problems += problems(waiting, unsent, int(ran), got, result.events, people)
    transcripts = Counter(tuple(t) for t in transcripts_of(got, people).values())
    if transcripts:
        result.transcript = list(transcripts.most_common(1)[0][0])


def warm_user() -> str:
    """Who bench/webhook.py's warm-up message comes from (their conversation has one message more)."""
    return str(json.loads(event(-1)[0])["sender"]["id"])


def transcripts_of(got: list[list[str]], people: int) -> dict[str, list[str]]:
    """What each person who sent only the benchmark's messages received, in order."""
    found: dict[str, list[str]] = {f"u{i}": [] for i in range(people)}
    found.pop(warm_user(), None)
    for user, text in got:
        if user in found:
            found[user].append(text)
    return found


def problems(waiting: int, unsent: int, ran: int, got: list[list[str]], events: int, people: int) -> list[str]:
    """Each event run once and every person given the same replies in the same order (they all sent the same)."""
    found = []
    if waiting or unsent:
        found.append(f"{waiting} events still in the inbox, {unsent} replies still in the outbox")
    if ran != 2 * events + 1:  # two passes and the warm-up
        found.append(f"{ran} messages run, {2 * events + 1} sent")
    transcripts = Counter(tuple(t) for t in transcripts_of(got, people).values())
    if len(transcripts) > 1:
        n = transcripts.most_common(1)[0][1]
        found.append(f"{len(transcripts)} different transcripts for people who sent the same; {n} got the usual")
    known = set(transcripts_of(got, people)) | {warm_user()}
    strangers = sorted({user for user, _ in got} - known)
    if strangers:
        found.append(f"messages sent to people who never wrote: {strangers[:5]}")
    return found


@dataclass
class InProcess:
    """One engine turn with its commit, in this process alone: latency, and what it asked the database."""

    kind: str
    samples: list[float]
    statements: float  # statements sent to PostgreSQL a turn, BEGIN and COMMIT included (0 on SQLite)


def in_process(kind: str, db: str, users: int) -> InProcess:
    """bench/run.py's turns (whole interviews and registrations) on `db`, the statements counted on PostgreSQL."""
    import psycopg

    counted = [0]
    plain, many = psycopg.Cursor.execute, psycopg.Cursor.executemany

    def execute(self: psycopg.Cursor[Any], *args: Any, **kwargs: Any) -> Any:
        counted[0] += 1
        return plain(self, *args, **kwargs)

    def executemany(self: psycopg.Cursor[Any], *args: Any, **kwargs: Any) -> Any:
        counted[0] += 1
        return many(self, *args, **kwargs)

    psycopg.Cursor.execute, psycopg.Cursor.executemany = execute, executemany  # type: ignore[method-assign]
    try:
        turn_samples(db, 1)  # start-up and its migrations, not counted
        counted[0] = 0
        samples = turn_samples(db, users)
    finally:
        psycopg.Cursor.execute, psycopg.Cursor.executemany = plain, many  # type: ignore[method-assign]
    return InProcess(kind, samples, counted[0] / len(samples))


@dataclass
class Run:
    """Everything one run measured, and the machine's load average (1 min) before and after."""

    single: list[InProcess]
    layouts: list[Layout]
    loads: list[tuple[str, crowd.LoadResult]]
    machine: list[float]

    @property
    def problems(self) -> list[str]:
        """Every problem any part found (none: nothing lost, doubled or mixed up)."""
        return [p for layout in self.layouts for p in layout.problems] + [p for _, r in self.loads for p in r.problems]


async def run_all(quick: bool, server: str) -> Run:
    """One turn in process on each database, every layout, then the crowd on PostgreSQL and SQLite."""
    size = QUICK if quick else FULL
    users, turns = (6, 12) if quick else (crowd.FULL_USERS, crowd.FULL_TURNS)
    done = Run([], [], [], [os.getloadavg()[0]])
    for kind in ("sqlite", "postgres"):
        print(f"… one turn in process on {kind}", file=sys.stderr, flush=True)
        with database(kind, server) as db:
            done.single.append(in_process(kind, db, 5 if quick else 150))
    for kind, workers in (("sqlite", 1), ("postgres", 2)) if quick else LAYOUTS:
        print(f"… {kind}, {workers} worker(s)", file=sys.stderr, flush=True)
        with database(kind, server) as db:
            done.layouts.append(await measure(kind, workers, db, size["events"], size["people"]))
    for layout in done.layouts[1:]:
        if layout.transcript != done.layouts[0].transcript:
            layout.problems.append(f"people's replies differ from {done.layouts[0].name}'s")
    for kind in ("postgres", "sqlite"):
        print(f"… {users} people × {turns} turns on {kind}", file=sys.stderr, flush=True)
        with database(kind, server) as db:
            done.loads.append((kind, await crowd.run(users, turns, database=db)))
    done.machine.append(os.getloadavg()[0])
    return done


def single_row(single: list[InProcess]) -> str:
    """The in-process turn on both databases, side by side."""
    pg = single[-1]
    a, b = (percentiles(x.samples) for x in single)
    return (
        f"| One turn in one process, engine + commit, {len(pg.samples):,} turns of whole interviews and "
        f"registrations: SQLite p50 {a[0] * 1e3:.2f} ms / p99 {a[2] * 1e3:.2f} ms → **PostgreSQL** "
        f"({pg.statements:.1f} statements a turn, BEGIN and COMMIT included) | {b[0] * 1e3:.2f} ms | "
        f"{b[1] * 1e3:.2f} ms | {b[2] * 1e3:.2f} ms | (recorded) |"
    )


def layout_row(layout: Layout, base: Layout, first_pg: Layout | None) -> str:
    """One layout's turns a second, against SQLite's (and, for more workers, against one on PostgreSQL)."""
    against = ""
    if layout is not base:
        against = f" ({layout.end_to_end / base.end_to_end:.0%} of SQLite's)"
    alone = ""
    if layout is not base:
        alone = f" ({layout.alone / base.alone:.0%} of SQLite's"
        if first_pg is not None and layout is not first_pg:
            alone += f"; {layout.alone / first_pg.alone:.2f}× one PostgreSQL worker"
        alone += ")"
    per_turn = ", ".join(f"{name} {seconds / layout.events * 1e3:.2f} ms" for name, seconds in layout.cpu.items())
    if layout.transactions >= 0:
        per_turn += f"; about {layout.transactions / layout.events:.1f} transactions a turn"
    return (
        f"| Complete turns a second, **{layout.name}** ({layout.events:,} Zalo events a pass): end to end "
        f"**{layout.end_to_end:,.0f}/s**{against}, workers alone **{layout.alone:,.0f}/s**{alone}; CPU a turn: "
        f"{per_turn} | – | – | – | {'baseline' if layout is base else '(recorded)'} |"
    )


def rows(run: Run) -> list[str]:
    """The rows for docs/benchmarks.md: a turn in process, turns a second per layout against SQLite's, the crowds."""
    base = run.layouts[0]
    first_pg = next((layout for layout in run.layouts if layout.kind == "postgres"), None)
    found = [single_row(run.single), *(layout_row(layout, base, first_pg) for layout in run.layouts)]
    trouble = [p for layout in run.layouts for p in layout.problems]
    verdict = "**met**" if not trouble else f"**not met ({len(trouble)} problems)**"
    found.append(
        f"| … in every layout: each message run once, every reply delivered once, each person's order kept "
        f"({base.delivered:,} messages to the fake OA each) | – | – | – | {verdict} |"
    )
    for kind, result in run.loads:
        db = {"sqlite": "SQLite", "postgres": "PostgreSQL"}[kind]
        first, *rest = crowd.rows(result)
        found += [first.replace("| ", f"| **{db}**, serve and its worker: ", 1), *rest]
    found.append(
        f"| … load average of the machine (1 min) before / after these: {run.machine[0]:.2f} / {run.machine[-1]:.2f} "
        f"({os.cpu_count()} cores, shared) | – | – | – | (recorded) |"
    )
    return found


def main(quick: bool = False) -> list[str]:
    """Run it (on the server KHUYENCONG_TEST_PG names, else under tools/with_postgres.sh); the table rows."""
    server = os.environ.get("KHUYENCONG_TEST_PG")
    if not server and not os.environ.get("KHUYENCONG_TEST_PG_REQUIRED"):
        return under_postgres(quick)
    if not server:
        raise SystemExit(f"no PostgreSQL server: {os.environ.get('KHUYENCONG_TEST_PG_ERROR', 'unknown reason')}")
    run = asyncio.run(run_all(quick, server))
    for problem in run.problems:
        print(problem, file=sys.stderr)
    return rows(run)


def under_postgres(quick: bool) -> list[str]:
    """This benchmark again, beside a throw-away PostgreSQL server (started, and removed after, by the script)."""
    command = [str(ROOT / "tools" / "with_postgres.sh"), sys.executable, "-m", "bench.workers"]
    out = subprocess.run([*command, *(["--quick"] if quick else [])], cwd=ROOT, stdout=subprocess.PIPE, check=True)
    return [line for line in out.stdout.decode().splitlines() if line.startswith("| ")]


if __name__ == "__main__":
    print("\n".join(main(quick="--quick" in sys.argv[1:])))
