"""Benchmarks (not timed tests): FAQ retrieval at 1,000 entries, one assessment, `khuyencong ask` as a process.

Run `make bench`; the figures are written to docs/benchmarks.md.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bot.eligibility import Assessor, Profile
from bot.faq import FaqIndex
from bot.knowledge import FaqEntry, FaqFile, load_knowledge
from bot.messages import ConversationKey, Incoming
from bot.storage.sqlite import SqliteRepository

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "benchmarks.md"


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    """Median, p95 and p99 of samples (seconds)."""
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return statistics.median(ordered), pick(0.95), pick(0.99)


def timed(func: Callable[[], object], repeat: int) -> list[float]:
    """Wall time of each call."""
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        out.append(time.perf_counter() - start)
    return out


def scaled_faq(faq: FaqFile, size: int) -> FaqFile:
    """The real FAQ repeated with distinct ids up to `size` entries, so the index has that many documents."""
    entries = []
    for i in range(size):
        base = faq.entries[i % len(faq.entries)]
        suffix = f" {i // len(faq.entries)}" if i >= len(faq.entries) else ""
        entries.append(
            FaqEntry(
                id=f"{base.id}_{i}",
                question=base.question + suffix,
                variants=[v + suffix for v in base.variants],
                answer=base.answer,
                citation=base.citation,
                status=base.status,
                tags=base.tags,  # the subjects an entry is about take part in ranking
            )
        )
    return FaqFile(subjects=faq.subjects, entries=entries)


def bench_faq(kb_root: Path) -> list[str]:
    """p50/p95/p99 of one retrieval over 1,000 entries, for the evaluation questions."""
    import yaml

    kb = load_knowledge(kb_root)
    index = FaqIndex(
        scaled_faq(kb.faq, 1000), kb.out_of_scope, kb.abbreviations.abbreviations, kb.abbreviations.phrases
    )
    questions = [i["q"] for i in yaml.safe_load((ROOT / "tests/data/faq_eval.yaml").read_text())["in_scope"]]
    for q in questions:  # warm the speller cache as a running server would be
        index.ask(q)
    samples = [t for q in questions for t in timed(lambda q=q: index.ask(q), 5)]
    p50, p95, p99 = percentiles(samples)
    return [
        f"| FAQ retrieval, 1,000 entries ({len(samples)} asks) | {p50 * 1e3:.3f} ms | {p95 * 1e3:.3f} ms | "
        f"{p99 * 1e3:.3f} ms | p99 < 1 ms |"
    ]


def bench_assess(kb_root: Path) -> list[str]:
    """One assessment of a typical profile."""
    assessor = Assessor(load_knowledge(kb_root))
    profiles = [
        Profile(legal_form="household_business", activity="làm nước mắm", province="Quảng Trị", commune="Vĩnh Thủy"),
        Profile(
            legal_form="enterprise",
            activity="hàn cửa sắt",
            workers=40,
            revenue_vnd=9 * 10**9,
            commune="Bình Giang",
            province="Ninh Bình",
            needs=["máy móc"],
        ),
        Profile(
            legal_form="cooperative",
            activity="dệt thổ cẩm",
            province="Hà Nội",
            commune="phường Hoàn Kiếm",
            craft_village=True,
        ),
    ]
    day = dt.date(2026, 6, 1)
    for p in profiles:
        assessor.assess(p, day)
    samples = [t for p in profiles for t in timed(lambda p=p: assessor.assess(p, day), 300)]
    p50, p95, p99 = percentiles(samples)
    return [
        f"| One assessment ({len(samples)} runs) | {p50 * 1e3:.3f} ms | {p95 * 1e3:.3f} ms | "
        f"{p99 * 1e3:.3f} ms | < 1 ms |"
    ]


def bench_ask_process() -> list[str]:
    """`khuyencong ask` as a whole process, start to exit: with the index cache warm, and cold."""
    import shutil
    import tempfile

    tmp = Path(tempfile.mkdtemp())
    cmd = [sys.executable, "-m", "bot.cli", "ask", "hkd co dc ho tro may moc ko", "--json", "--db", str(tmp / "k.db")]

    def ask() -> None:
        subprocess.run(cmd, cwd=ROOT, capture_output=True, check=True)

    def cold() -> None:
        shutil.rmtree(tmp / "cache", ignore_errors=True)
        ask()

    cold_samples = timed(cold, 5)
    ask()
    warm_samples = timed(ask, 15)
    shutil.rmtree(tmp, ignore_errors=True)
    rows = []
    for label, samples in (("index cached", warm_samples), ("first run, builds the cache", cold_samples)):
        p50, p95, _ = percentiles(samples)
        rows.append(
            f"| `khuyencong ask` whole process, {label} ({len(samples)} runs) | {p50 * 1e3:.0f} ms | "
            f"{p95 * 1e3:.0f} ms | – | < 500 ms |"
        )
    return rows


# Whole interviews and registrations: today's flow, the consent follows the tap on Đăng ký, name and phone
# come in one message.
TURN_SCRIPT = (
    "kiem tra",
    "hkd",
    "lam nuoc mam",
    "xa vinh thuy quang tri",
    "may moc",
    "dang ky",
    "dong y",
    "Nguyen Thi Lan 0912 345 678",
    "Co so Lan",
    "xac nhan",
    "hkd co dc ho tro ko",
    "menu",
)


def turn_samples(db: Path | str, users: int) -> list[float]:
    """Wall time of each engine turn with its commit, `users` people through TURN_SCRIPT, on a database."""
    from bot.app import build

    app = build(db=Path(db), knowledge=ROOT / "knowledge")  # a postgresql:// URL survives Path (bot.storage.factory)
    samples: list[float] = []
    for user in range(users):
        key = ConversationKey("bench", f"u{user}")
        for text in TURN_SCRIPT:
            start = time.perf_counter()
            app.engine.handle(Incoming(key, text=text.replace("0912 345 678", f"0912 {user:03d} 678")))
            samples.append(time.perf_counter() - start)
    app.close()
    return samples


def bench_turns() -> list[str]:
    """Engine turn latency with a SQLite commit on a file, over whole interviews and registrations."""
    import tempfile

    samples = turn_samples(Path(tempfile.mkdtemp()) / "bench.db", 150)
    p50, p95, p99 = percentiles(samples)
    return [
        f"| One turn: engine + SQLite commit ({len(samples)} turns, WAL) | {p50 * 1e3:.3f} ms | "
        f"{p95 * 1e3:.3f} ms | {p99 * 1e3:.3f} ms | p99 < 2 ms |"
    ]


def bench_storage() -> list[str]:
    """Memory and database size with 10,000 stored conversations (half with a registration)."""
    import resource
    import tempfile

    from bot.storage import Consent, Conversation, Lead
    from bot.storage.sqlite import SqliteRepository

    tmp = Path(tempfile.mkdtemp())
    repo = SqliteRepository(tmp / "bench.db")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    slots = {
        "legal_form": "household_business",
        "activity": "làm nước mắm",
        "needs": ["advanced_machinery"],
        "place": {"code": 19405, "commune": "Xã Vĩnh Thủy", "province": "Quảng Trị", "type": "xa"},
    }
    for i in range(10_000):
        key = ConversationKey("bench", f"u{i}")
        conv = Conversation(key, flow="eligibility", step="needs", slots=dict(slots), history=["legal_form"])
        lead = None
        if i % 2:
            cid = repo.add_consent(Consent("bench", key.user, "registration", "v1", "…", True))
            lead = Lead(
                "",
                "bench",
                key.user,
                "Nguyễn Văn A",
                f"+8491{i:07d}",
                "Cơ sở A",
                19405,
                "Xã Vĩnh Thủy",
                "Quảng Trị",
                {"legal_form": "household_business"},
                {"eligible": True, "reasons": []},
                ["advanced_machinery"],
                "",
                cid,
            )
        repo.save_turn(conv, f"m{i}", lead)
    repo.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = sum(f.stat().st_size for f in tmp.iterdir())
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    repo.close()
    return [
        f"| 10,000 conversations, 5,000 leads: database size | {size / 2**20:.1f} MiB | – | – | (recorded) |",
        f"| 10,000 conversations: memory growth of the process while storing | {grown:.1f} MiB | – | – | (recorded) |",
    ]


_NAMES = ("Nguyễn Văn Hùng", "Lê Thị Hoàng", "Trần Thị Mai", "Phạm Văn Bình", "Hoàng Thị Lan", "Võ Văn Tâm")


def generated_leads(repo: SqliteRepository, count: int) -> None:
    """`count` leads of one commune written straight into the table (names, phones and dates vary)."""
    import json as _json

    assessment = _json.dumps(
        {
            "eligible": True,
            "sector": "agro_food_processing",
            "reasons": [],
            "lines": [{"code": "advanced_machinery", "funding": "commune", "cap_vnd": 20_000_000}],
        }
    )
    profile = _json.dumps({"legal_form": "household_business", "activity": "làm nước mắm"}, ensure_ascii=False)
    rows = [
        (
            f"KC-{i:06d}",
            "zalo",
            f"u{i}",
            f"{_NAMES[i % len(_NAMES)]} {i}",
            f"+8491{i:07d}",
            f"Cơ sở nước mắm {i}",
            19405,
            "Xã Vĩnh Thủy",
            "Quảng Trị",
            profile,
            assessment,
            '["advanced_machinery"]',
            "",
            1,
            "new",
            f"2026-0{1 + i % 9}-1{i % 10}T08:00:00+00:00",
            "2026-10-01T08:00:00+00:00",
        )
        for i in range(count)
    ]
    with repo.db.conn:
        columns = "ref, channel, user, name, phone, facility_name, commune_code, commune, province, profile, "
        columns += "assessment, lines_wanted, note, consent_id, status, created_at, updated_at"  # by name: leads grow
        repo.db.conn.executemany(f"INSERT INTO leads ({columns}) VALUES ({','.join('?' * 17)})", rows)


def bench_export() -> list[str]:
    """`khuyencong export --format xlsx` of 100,000 generated leads, as a whole process: time and peak memory."""
    import resource
    import tempfile

    tmp = Path(tempfile.mkdtemp())
    repo = SqliteRepository(tmp / "leads.db")
    generated_leads(repo, 100_000)
    repo.close()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "export",
            "--format",
            "xlsx",
            "--out",
            str(tmp / "out.xlsx"),
            "--db",
            str(tmp / "leads.db"),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    took = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    peak_mib = max(peak, before) / 1024
    size = (tmp / "out.xlsx").stat().st_size / 2**20
    return [
        f"| Export 100,000 leads to XLSX, whole command ({size:.1f} MiB file) | {took:.2f} s | – | – | < 5 s |",
        f"| … peak memory of that process | {peak_mib:.0f} MiB | – | – | < 200 MB |",
    ]


def bench_webhook() -> list[str]:
    """The Zalo webhook path against a bare aiohttp handler (bench/webhook.py)."""
    from bench.webhook import main as webhook

    return webhook()


def bench_understanding() -> list[str]:
    """Understanding one message (bench/understanding.py)."""
    from bench.understanding import main as understanding

    return understanding()


def bench_load() -> list[str]:
    """500 people × 20 turns over HTTP on the three channels (bench/load.py)."""
    from bench.load import main as load

    return load()


def bench_search() -> list[str]:
    """One page of the lead list searched over 100,000 leads (the dashboard's query, count included)."""
    import tempfile

    from bot.staff.store import LeadQuery, Staff, StaffStore

    repo = SqliteRepository(Path(tempfile.mkdtemp()) / "leads.db")
    generated_leads(repo, 100_000)
    store, officer = StaffStore(repo), Staff(1, "lan", (19405,), False)
    rows = []
    for typed in ("hung", "Hoàng 4242", "0910 012 345", "kc 000123", "không có ai"):
        took = timed(lambda typed=typed: store.leads(officer, LeadQuery(q=typed)), 30)  # type: ignore[misc]
        p50, p95, p99 = (1000 * t for t in percentiles(took))
        rows.append(
            f"| Search {typed!r} over 100,000 leads, one page and the count | {p50:.1f} ms | {p95:.1f} ms "
            f"| {p99:.1f} ms | < 100 ms |"
        )
    store.update(officer, "KC-000042", "contacted", "Lan", "2026-01-01", "")
    took = timed(lambda: store.leads(officer, LeadQuery(due="2026-12-03")), 30)
    p50, p95, p99 = (1000 * t for t in percentiles(took))
    rows.append(f"| 'Cần gọi hôm nay' over 100,000 leads | {p50:.1f} ms | {p95:.1f} ms | {p99:.1f} ms | < 100 ms |")
    return rows


def bench_workers() -> list[str]:
    """Turns a second with 1 worker on SQLite and 1, 2, 4 on PostgreSQL; the crowd on both (bench/workers.py)."""
    from bench.workers import main as workers

    return workers()


# In this order: the memory figures must not come from the other benchmarks (RUSAGE_CHILDREN keeps the
# largest child), so storage and export run first.
BENCHMARKS: dict[str, tuple[Callable[[], list[str]], str]] = {
    "storage": (bench_storage, "database size and memory with 10,000 conversations and 5,000 leads"),
    "export": (bench_export, "`khuyencong export --format xlsx` of 100,000 leads: time and peak memory"),
    "faq": (lambda: bench_faq(ROOT / "knowledge"), "one FAQ retrieval over 1,000 entries"),
    "assess": (lambda: bench_assess(ROOT / "knowledge"), "one eligibility assessment"),
    "ask": (bench_ask_process, "`khuyencong ask` as a whole process, cache warm and cold"),
    "understanding": (bench_understanding, "understanding one message: intents and facts (bench/understanding.py)"),
    "turns": (bench_turns, "one engine turn with its SQLite commit, over whole interviews"),
    "webhook": (bench_webhook, "the Zalo webhook path against a bare aiohttp handler (bench/webhook.py)"),
    "search": (bench_search, "a search of the lead list over 100,000 leads (name, phone, reference)"),
    "load": (bench_load, "500 people × 20 turns over HTTP on the three channels (bench/load.py)"),
    "workers": (
        bench_workers,
        "turns/s: 1 worker on SQLite against 1, 2, 4 on PostgreSQL; 500 × 20 on both (bench/workers.py)",
    ),
}


def main(names: list[str]) -> None:
    """Run the named benchmarks (all by default); only a run of all of them rewrites docs/benchmarks.md."""
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        sys.exit(f"unknown benchmark {unknown}; choose from {', '.join(BENCHMARKS)}")
    began = time.perf_counter()
    rows: list[str] = []
    for name in names or list(BENCHMARKS):
        print(f"… {name}", file=sys.stderr, flush=True)
        rows += BENCHMARKS[name][0]()
    took = time.perf_counter() - began
    if names:
        print("\n".join(rows))
        return
    write_doc(rows, took)


def write_doc(rows: list[str], took: float) -> None:
    """The table, how to run each benchmark, then the hand-written sections kept from the old file."""
    machine = (
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}"
    )
    commands = [f"| `{name}` | `python -m bench.run {name}` | {what} |" for name, (_, what) in BENCHMARKS.items()]
    text = "\n".join(
        [
            "# Benchmarks",
            "",
            "Measured by `make bench` (`python -m bench.run`: every benchmark, then this file is rewritten).",
            "Medians and percentiles of wall time on one machine; the targets are the quality bars of design §6",
            "and of the issues. Not timed tests: CI does not run these.",
            "",
            f"Last run: {dt.date.today().isoformat()} on {machine}; the whole run took {took / 60:.1f} minutes.",
            "",
            "| what | median | p95 | p99 | target |",
            "|---|---|---|---|---|",
            *rows,
            "",
            "## Each benchmark alone",
            "",
            "`python -m bench.run NAME` runs one and prints its rows without touching this file.",
            "",
            "| name | command | what |",
            "|---|---|---|",
            *commands,
            "",
        ]
    )
    existing = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
    marker = "\n## FAQ evaluation"
    tail = existing[existing.index(marker) :] if marker in existing else ""
    OUT.write_text(text + tail, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main(sys.argv[1:])
