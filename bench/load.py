"""Many people at once over real HTTP on the three channels: no cross-talk, no lost turn; latency and memory.

`simulate()` drives N simulated people concurrently, spread over the web chat (POST /api/chat), Zalo
(signed webhook events) and Telegram (webhook updates with the secret header). Each person has a
scripted conversation: the eligibility interview, a registration with their own name, phone and facility,
then free questions and commands. Like a person on a phone, each sends the next message only after the
replies to the previous one arrived; everyone talks at the same time.

Every reply is checked: it must be the expected answer to that person's own message and name no other
person (name, phone, facility or reference code); every message gets all its replies; the database ends
with exactly one lead per registering person, with what that person typed.

A turn's latency runs from sending the message to receiving its last reply. The web chat's HTTP answer
holds every reply; on Zalo and Telegram the replies reach the fake platforms one by one, so a turn ends
when the fake received as many as the same step brought on the web chat (the engine does not depend on
the channel). The fakes' lists are read every 2 ms, so those latencies may be up to 2 ms late.

`tests/test_load.py` runs it at CI size against an in-process server; `python -m bench.load` runs the
full size (500 people × 20 turns) against a real `khuyencong serve` process with its worker child.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import resource
import shutil
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from bot.storage.factory import is_postgres, open_repository
from tests.fakes import FakeTelegram, FakeZalo, raw_json, start, zalo_event
from tests.test_channels import TG_SECRET, sign
from tests.test_serve import environment

ROOT = Path(__file__).resolve().parent.parent
CHANNELS = ("web", "zalo", "telegram")
FULL_USERS, FULL_TURNS = 500, 20
POLL_SECONDS = 0.002  # how often the fakes' lists are read for new replies
REGISTRATION_TURNS = 12  # a script this long or longer includes the whole registration
FREE = ["du lieu cua toi", "ho tro toi da bao nhieu", "menu", "hkd co dc ho tro ko", "can giay to gi", "cam on"]
# What identifies a simulated person in a reply; fixed-width numbers, so no one's is part of another's.
MARKERS = re.compile(r"Nguyen Van \d{4}|\b09\d{8}\b|Co so \d{4}|KC-[A-Z0-9]{6}")
_update_ids = itertools.count(10_000_000)  # Telegram update ids are unique per bot, across all chats


class Target(Protocol):
    """A running server and the fake platforms it sends to (tests.test_channels.Env fits)."""

    url: str
    telegram: FakeTelegram
    zalo: FakeZalo


@dataclass(frozen=True)
class Step:
    """One message of a script and what its replies must say."""

    text: str
    expect: tuple[str, ...] = ()
    shows_lead: bool = False  # the replies show the person's registration (its reference code)
    confirms: bool = False  # the replies confirm a registration (the reference code is given here)


@dataclass
class Person:
    """One simulated person: who they are, what they say, and what happened."""

    index: int
    channel: str
    user: str  # the id the server knows them by: web user id, Zalo sender id, Telegram user (= chat) id
    steps: list[Step]
    ref: str | None = None
    refs_seen: set[str] = field(default_factory=set)
    counts: list[int] = field(default_factory=list)  # replies received for each turn
    latencies: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The contact name this person types."""
        return identity(self.index)[0]

    @property
    def phone(self) -> str:
        """The phone this person types, as the bot shows it back."""
        return identity(self.index)[1]

    @property
    def facility(self) -> str:
        """The facility name this person types."""
        return identity(self.index)[2]

    @property
    def registers(self) -> bool:
        """Whether the script completes a registration."""
        return any(s.confirms for s in self.steps)

    @property
    def key(self) -> str:
        """Where the fake platforms' messages to this person are filed (see Mailbox)."""
        return f"{self.channel}:{self.user}"

    def lead(self) -> tuple[str, str, str, str, str]:
        """The lead this person's registration must store: channel, user, name, phone (+84), facility."""
        return self.channel, self.user, self.name, "+84" + self.phone[1:], self.facility

    def check(self, turn: int, texts: list[str], owners: dict[str, int]) -> None:
        """Check one turn's replies: present, the expected answer, and nobody else's details in them."""
        step = self.steps[turn]
        said = "\n".join(texts)
        where = f"{self.channel} person {self.index}, turn {turn + 1} ({step.text!r})"
        if not texts:
            self.problems.append(f"{where}: no reply")
        missing = [token for token in step.expect if token not in said]
        if missing:
            self.problems.append(f"{where}: reply lacks {missing}: {said[:200]!r}")
        found = set(MARKERS.findall(said))
        others = sorted(m for m in found if owners.get(m, self.index) != self.index)
        if others:
            self.problems.append(f"{where}: reply names other people {others}: {said[:200]!r}")
        refs = {m for m in found if m.startswith("KC-")}
        self.refs_seen |= refs
        if step.confirms:
            self.ref = min(refs) if len(refs) == 1 else None
            if self.ref is None:
                self.problems.append(f"{where}: not one reference code in the confirmation: {sorted(refs)}")
        if step.shows_lead and (self.ref is None or self.ref not in said):
            self.problems.append(f"{where}: own reference code {self.ref} not shown: {said[:200]!r}")


def identity(index: int) -> tuple[str, str, str]:
    """The name, phone and facility person `index` types (see MARKERS)."""
    return f"Nguyen Van {index:04d}", f"09{index:08d}", f"Co so {index:04d}"


def script(index: int, turns: int) -> list[Step]:
    """A person's conversation of exactly `turns` messages; it registers when turns >= 12."""
    name, phone, facility = identity(index)
    interview = [
        Step("kiem tra", ("thuộc loại nào",)),
        Step("hkd", ("sản phẩm gì",)),
        Step("lam nuoc mam", ("xã (phường) nào",)),
        Step("xa vinh thuy quang tri", ("cần hỗ trợ gì",)),
        Step("may moc", ("đủ điều kiện",)),
    ]
    registration = [
        Step("dang ky", ("có đồng ý không",)),
        Step("dong y", ("họ tên",)),
        Step(name, ("Số điện thoại",)),
        Step(phone, ("kiểm tra lại thông tin đăng ký",)),  # the facility name and the note: at the summary
        Step(facility, ("nhắn thêm",)),
        Step("bo qua", ("kiểm tra lại thông tin đăng ký", name, phone, facility)),
        Step("xac nhan", ("Đã ghi nhận đăng ký", phone), confirms=True),
    ]
    registered = turns >= REGISTRATION_TURNS
    steps = interview + (registration if registered else [])
    for text in itertools.cycle(FREE):  # free questions and commands fill the remaining turns
        if len(steps) >= turns:
            break
        if text != "du lieu cua toi":
            steps.append(Step(text))
        elif registered:
            steps.append(Step(text, ("Thông tin tôi đang lưu", name, phone, facility), shows_lead=True))
        else:
            steps.append(Step(text, ("chưa lưu",)))
    return steps[:turns]


def people(users: int, turns: int) -> list[Person]:
    """The simulated people, dealt round-robin over the channels (the first is on the web chat)."""
    found = []
    for i in range(users):
        channel = CHANNELS[i % len(CHANNELS)]
        user = {"web": f"load-web-person-{i:06d}", "zalo": f"61424948230{i:08d}", "telegram": str(800_000_000 + i)}
        found.append(Person(i, channel, user[channel], script(i, turns)))
    return found


@dataclass(frozen=True)
class Received:
    """A message a fake platform received for a person, and when this process saw it."""

    at: float
    text: str


class Mailbox:
    """The replies the fake Zalo and Telegram received, filed per person as they arrive.

    The fakes only ever append to their lists, so reading from where the last look stopped is cheap,
    and works with the plain fakes of tests/fakes.py.
    """

    def __init__(self, zalo: FakeZalo, telegram: FakeTelegram) -> None:
        self.zalo, self.telegram = zalo, telegram
        self.got: dict[str, list[Received]] = defaultdict(list)
        self._zalo_seen, self._tg_seen = len(zalo.messages), len(telegram.calls)
        self._arrived: dict[str, asyncio.Event] = {}

    def scan(self) -> None:
        """File what arrived since the last look, and wake whoever waits for it."""
        now = time.perf_counter()
        touched = set()
        messages, self._zalo_seen = self.zalo.messages[self._zalo_seen :], len(self.zalo.messages)
        for m in messages:
            key = f"zalo:{m['recipient']['user_id']}"
            self.got[key].append(Received(now, str(m["message"].get("text", ""))))
            touched.add(key)
        calls, self._tg_seen = self.telegram.calls[self._tg_seen :], len(self.telegram.calls)
        for method, params in calls:
            if method == "sendMessage":
                key = f"telegram:{int(params['chat_id'])}"
                self.got[key].append(Received(now, str(params.get("text", ""))))
                touched.add(key)
        for key in touched:
            if key in self._arrived:
                self._arrived[key].set()

    async def watch(self) -> None:
        """Look every POLL_SECONDS until cancelled."""
        while True:
            self.scan()
            await asyncio.sleep(POLL_SECONDS)

    async def wait(self, key: str, count: int, timeout: float) -> bool:
        """Wait until `count` messages arrived for a person; False on timeout."""
        deadline = time.monotonic() + timeout
        arrived = self._arrived.setdefault(key, asyncio.Event())
        while len(self.got[key]) < count:
            arrived.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(arrived.wait(), left)
        return True


class ReplyCounts:
    """How many replies each step of the script brings, learnt from the web chat (its answer holds them all)."""

    def __init__(self) -> None:
        self._counts: dict[int, asyncio.Future[int]] = {}

    def _future(self, turn: int) -> asyncio.Future[int]:
        return self._counts.setdefault(turn, asyncio.get_running_loop().create_future())

    def learn(self, turn: int, count: int) -> str | None:
        """Record a web chat turn's count; a problem when it differs from another person's."""
        future = self._future(turn)
        if not future.done():
            future.set_result(count)
        elif future.result() != count:
            return f"turn {turn + 1}: {count} replies on the web chat, another person got {future.result()}"
        return None

    async def of(self, turn: int, timeout: float) -> int | None:
        """The count for a turn, once a web chat person has had it; None on timeout."""
        try:
            return await asyncio.wait_for(asyncio.shield(self._future(turn)), timeout)
        except TimeoutError:
            return None


@dataclass
class LoadResult:
    """What a simulation measured and every problem it found (empty: no cross-talk, no lost turn)."""

    users: int
    turns: int
    elapsed: float  # seconds, first message to last reply
    latencies: dict[str, list[float]]  # seconds per turn, by channel
    replies: int  # replies received in all
    turns_answered: int  # turns that got all their replies
    leads: int  # leads in the database at the end (-1 when not checked)
    registering: int  # people whose script registers
    peak_memory: dict[str, int]  # bytes: the RSS high-water mark of each server process
    problems: list[str]

    @property
    def all_latencies(self) -> list[float]:
        """Every turn's latency, all channels together."""
        return [x for samples in self.latencies.values() for x in samples]

    def percentile(self, q: float, channel: str | None = None) -> float:
        """The q-th quantile (0–1) of the turn latencies, of one channel or all (nearest rank)."""
        samples = self.latencies.get(channel, []) if channel else self.all_latencies
        return percentile(samples, q)

    @property
    def p50(self) -> float:
        """The median turn latency (seconds)."""
        return statistics.median(self.all_latencies) if self.all_latencies else 0.0

    @property
    def p99(self) -> float:
        """The 99th percentile turn latency (seconds)."""
        return self.percentile(0.99)


def percentile(samples: Iterable[float], q: float) -> float:
    """The q-th quantile (0–1) by nearest rank; 0 for no samples."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def own_memory() -> dict[str, int]:
    """The peak RSS of this process (the server runs in it, with the load generator) since its last reset."""
    return {"this process": _status_kib("VmHWM") * 1024 or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def _status_kib(field: str) -> int:
    """A memory figure of /proc/self/status in KiB (0 where there is none: not Linux)."""
    try:
        return int(Path("/proc/self/status").read_text().split(f"{field}:", 1)[1].split()[0])
    except (OSError, IndexError, ValueError):
        return 0


def _load_peak() -> Callable[[], dict[str, int]]:
    """Start measuring what the load adds to this process: its peak RSS above what it held before.

    In a test run the process has served many tests first and keeps their memory; that is not this load's.
    Writing 5 to clear_refs resets the peak (VmHWM) to the current RSS (Linux).
    """
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    before = _status_kib("VmRSS") * 1024
    return lambda: {"this process": own_memory()["this process"] - before}


async def simulate(
    env_like: Target,
    users: int,
    turns: int,
    *,
    db: Path | str | None = None,
    peak_memory: Callable[[], dict[str, int]] = own_memory,
    turn_timeout: float = 60.0,
) -> LoadResult:
    """Run `users` people × `turns` messages at once over HTTP; check every reply, and the leads when db is given."""
    if users < 1 or turns < 1:
        raise ValueError("at least one person and one turn")
    if peak_memory is own_memory:
        peak_memory = _load_peak()
    crowd = people(users, turns)
    owners = {marker: p.index for p in crowd for marker in (p.name, p.phone, p.facility)}
    mailbox, counts = Mailbox(env_like.zalo, env_like.telegram), ReplyCounts()
    watcher = asyncio.create_task(mailbox.watch())
    problems: list[str] = []
    connector = aiohttp.TCPConnector(limit=0)  # one connection per person, as many phones would have
    try:
        async with aiohttp.ClientSession(connector=connector) as http:
            began = time.perf_counter()
            await asyncio.gather(
                *(converse(p, http, env_like.url, mailbox, counts, owners, problems, turn_timeout) for p in crowd)
            )
            elapsed = time.perf_counter() - began
            problems += await settled(http, env_like.url, mailbox, crowd)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    problems += refs_problems(crowd)
    leads = -1
    if db is not None:
        rows = read_leads(db)
        leads = len(rows)
        problems += lead_problems(rows, crowd)
    latencies: dict[str, list[float]] = {c: [] for c in CHANNELS}
    for p in crowd:
        latencies[p.channel] += p.latencies
        problems += p.problems
    return LoadResult(
        users=users,
        turns=turns,
        elapsed=elapsed,
        latencies=latencies,
        replies=sum(sum(p.counts) for p in crowd),
        turns_answered=sum(len(p.latencies) for p in crowd),
        leads=leads,
        registering=sum(p.registers for p in crowd),
        peak_memory=peak_memory(),
        problems=problems,
    )


async def converse(
    person: Person,
    http: aiohttp.ClientSession,
    url: str,
    mailbox: Mailbox,
    counts: ReplyCounts,
    owners: dict[str, int],
    problems: list[str],
    timeout: float,
) -> None:
    """One person's whole conversation; it stops at the first turn that went wrong."""
    for turn, step in enumerate(person.steps):
        began = time.perf_counter()
        try:
            if person.channel == "web":
                texts, done = await web_turn(http, url, person, step.text)
                trouble = counts.learn(turn, len(texts))
                if trouble:
                    problems.append(trouble)
            else:
                texts, done = await webhook_turn(http, url, person, step.text, turn, mailbox, counts, timeout)
        except (AssertionError, aiohttp.ClientError, TimeoutError) as exc:
            person.problems.append(f"{person.channel} person {person.index}, turn {turn + 1}: lost: {exc!r}")
            return
        person.counts.append(len(texts))
        person.latencies.append(done - began)
        person.check(turn, texts, owners)


async def web_turn(http: aiohttp.ClientSession, url: str, person: Person, text: str) -> tuple[list[str], float]:
    """POST /api/chat: the replies, and when the answer arrived."""
    async with http.post(f"{url}/api/chat", json={"user": person.user, "text": text}) as resp:
        assert resp.status == 200, f"HTTP {resp.status}: {await resp.text()}"
        body = await resp.json()
    return [str(r["text"]) for r in body["replies"]], time.perf_counter()


async def webhook_turn(
    http: aiohttp.ClientSession,
    url: str,
    person: Person,
    text: str,
    turn: int,
    mailbox: Mailbox,
    counts: ReplyCounts,
    timeout: float,
) -> tuple[list[str], float]:
    """Post a Zalo event or a Telegram update, then wait until the fake platform got all of the turn's replies."""
    before = len(mailbox.got[person.key])
    path, raw, headers = zalo_request(person, text) if person.channel == "zalo" else telegram_request(person, text)
    async with http.post(url + path, data=raw, headers=headers) as resp:
        assert resp.status == 200, f"HTTP {resp.status}: {await resp.text()}"
        answer = await resp.json()
    assert not answer.get("duplicate"), "the event was taken for a replay"
    expected = await counts.of(turn, timeout)
    assert expected is not None, "no web chat person reached this turn (no count to wait for)"
    if not await mailbox.wait(person.key, before + expected, timeout):
        got = len(mailbox.got[person.key]) - before
        raise AssertionError(f"{got} of {expected} replies after {timeout:.0f} s")
    received = mailbox.got[person.key][before : before + expected]
    return [r.text for r in received], received[-1].at


def zalo_request(person: Person, text: str) -> tuple[str, bytes, dict[str, str]]:
    """A signed user_send_text event from this person, with a message id of its own."""
    event = zalo_event(text, user=person.user, msg_id=f"load-{person.index}-{time.time_ns()}")
    raw = raw_json(event)
    headers = {"Content-Type": "application/json", "X-ZEvent-Signature": sign(raw, str(event["timestamp"]))}
    return "/webhooks/zalo", raw, headers


def telegram_request(person: Person, text: str) -> tuple[str, bytes, dict[str, str]]:
    """A text message update in this person's private chat (chat id = user id), with the secret header."""
    uid, user = next(_update_ids), int(person.user)
    update = {
        "update_id": uid,
        "message": {
            "message_id": uid,
            "date": int(time.time()),
            "chat": {"id": user, "type": "private"},
            "from": {"id": user, "is_bot": False, "first_name": f"Khach {person.index}"},
            "text": text,
        },
    }
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
    return "/webhooks/telegram", json.dumps(update).encode(), headers


async def settled(http: aiohttp.ClientSession, url: str, mailbox: Mailbox, crowd: list[Person]) -> list[str]:
    """After the last turn: the inbox empties, and nobody got a message more than their turns brought."""
    problems = []
    waiting: Any = None
    for _ in range(600):
        async with http.get(url + "/healthz") as resp:
            waiting = (await resp.json()).get("waiting_events")
        if waiting == 0:
            break
        await asyncio.sleep(0.05)
    else:
        problems.append(f"the inbox still holds {waiting} events after the last turn")
    await asyncio.sleep(0.3)  # anything sent late (a turn run twice) has time to arrive
    mailbox.scan()
    ours = {p.key for p in crowd}
    for p in crowd:
        extra = len(mailbox.got[p.key]) - sum(p.counts)
        if p.channel != "web" and extra > 0:
            problems.append(f"{p.channel} person {p.index}: {extra} messages more than their turns brought")
    strangers = sorted(k for k, got in mailbox.got.items() if got and k not in ours)
    if strangers:
        problems.append(f"messages sent to people who never wrote: {strangers[:5]}")
    return problems


def refs_problems(crowd: list[Person]) -> list[str]:
    """Each reference code was given to one person, and each person only ever saw their own."""
    problems = []
    holders: dict[str, list[int]] = defaultdict(list)
    for p in crowd:
        if p.ref:
            holders[p.ref].append(p.index)
    problems += [f"reference code {ref} given to people {who}" for ref, who in holders.items() if len(who) > 1]
    for p in crowd:
        foreign = sorted(p.refs_seen - {p.ref})
        if foreign:
            problems.append(f"{p.channel} person {p.index} (own code {p.ref}) was shown codes {foreign}")
    return problems


def read_leads(db: Path | str) -> list[tuple[str, str, str, str, str]]:
    """Every stored lead as (channel, user, name, phone, facility), from a SQLite file or a postgresql:// URL."""
    sql = "SELECT channel, user, name, phone, facility_name FROM leads"
    if is_postgres(db):
        with contextlib.closing(open_repository(db, pool_size=1)) as repo:
            rows = repo.db.execute(sql).fetchall()
    else:
        with contextlib.closing(sqlite3.connect(db)) as conn:
            rows = conn.execute(sql).fetchall()
    return [tuple(str(x) for x in row) for row in rows]  # type: ignore[misc]


def lead_problems(rows: list[tuple[str, str, str, str, str]], crowd: list[Person]) -> list[str]:
    """Exactly one lead per registering person, holding what that person typed, and no other lead."""
    expected = {p.lead() for p in crowd if p.registers}
    problems = [f"lead stored twice: {row}" for row in sorted(set(rows)) if rows.count(row) > 1]
    problems += [f"lead missing or altered: {row}" for row in sorted(expected - set(rows))]
    problems += [f"lead nobody registered this way: {row}" for row in sorted(set(rows) - expected)]
    return problems


# --- the full size, against `khuyencong serve` as a process ---------------------------------------


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    """`khuyencong serve` in another process, with the fakes in this one."""

    url: str
    telegram: FakeTelegram
    zalo: FakeZalo
    pid: int


def children(pid: int) -> list[int]:
    """The child processes of a process (the worker of `serve`)."""
    found: list[int] = []
    with contextlib.suppress(FileNotFoundError):
        for task in os.listdir(f"/proc/{pid}/task"):
            found += [int(x) for x in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    return found


def high_water(pid: int) -> int:
    """VmHWM of a process, in bytes (0 if it is gone)."""
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def server_memory(pid: int) -> Callable[[], dict[str, int]]:
    """How to read the peak RSS of the web process and of its worker child(ren)."""

    def read() -> dict[str, int]:
        found = {"web process": high_water(pid)}
        for child in children(pid):
            found["worker" if "worker" not in found else f"worker {child}"] = high_water(child)
        return found

    return read


async def until_ready(http: aiohttp.ClientSession, url: str) -> None:
    """Wait until /healthz answers 200 with the worker child alive."""
    for _ in range(600):
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(url + "/healthz") as resp:
                if resp.status == 200 and (await resp.json()).get("worker", True):
                    return
        await asyncio.sleep(0.05)
    raise RuntimeError("khuyencong serve did not start")


async def warm_up(target: Served) -> None:
    """One message on each channel from people outside the crowd: everything loaded before measuring."""
    mailbox = Mailbox(target.zalo, target.telegram)
    ids = ("warm-up-person-0001", "6142494823099999999", "799999999")
    warm = [Person(-1, channel, user, []) for channel, user in zip(CHANNELS, ids, strict=True)]
    async with aiohttp.ClientSession() as http:
        await until_ready(http, target.url)
        await web_turn(http, target.url, warm[0], "xin chao")
        for person, request in ((warm[1], zalo_request), (warm[2], telegram_request)):
            path, raw, headers = request(person, "xin chao")
            async with http.post(target.url + path, data=raw, headers=headers) as resp:
                assert resp.status == 200, await resp.text()
        for _ in range(1000):
            mailbox.scan()
            if mailbox.got[warm[1].key] and mailbox.got[warm[2].key]:
                break
            await asyncio.sleep(0.01)
        else:
            raise RuntimeError("the worker never answered")
        await asyncio.sleep(0.5)  # its remaining replies, and start-up work, settle


async def run(users: int = FULL_USERS, turns: int = FULL_TURNS, database: str | None = None) -> LoadResult:
    """Start `khuyencong serve` (default worker mode: a child process) with the fakes here, and simulate.

    `database` is a postgresql:// URL to run on (an empty database); by default a fresh SQLite file.
    """
    telegram, zalo = FakeTelegram(), FakeZalo()
    tg_runner, tg_url = await start(telegram.app())
    zl_runner, zl_url = await start(zalo.app())
    tmp = Path(tempfile.mkdtemp(prefix="khuyencong-load-"))
    port = free_port()
    # Every simulated web person comes from 127.0.0.1 here; in the field they come from hundreds of addresses,
    # so the per-address limits of the web chat (against one client scripting new chats) are lifted too.
    lifted = {"WEB_RATE_PER_MINUTE": "100000", "WEB_ADDRESS_RATE_PER_MINUTE": "1000000"}
    env = environment(tmp, port, tg_url, zl_url) | lifted | {"WEB_ADDRESS_CHATS_PER_MINUTE": "100000"}
    db = database or str(tmp / "k.db")
    env["KHUYENCONG_DB"] = db
    with (tmp / "serve.log").open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "serve", cwd=ROOT, env=env, stdout=log, stderr=log
        )
    target = Served(f"http://127.0.0.1:{port}", telegram, zalo, proc.pid)
    try:
        await warm_up(target)
        result = await simulate(target, users, turns, db=db, peak_memory=server_memory(proc.pid))
    except BaseException:
        print(f"the server's log is in {tmp / 'serve.log'}", file=sys.stderr)
        raise
    finally:
        if proc.returncode is None:
            proc.terminate()
        await asyncio.wait_for(proc.wait(), 60)
        await tg_runner.cleanup()
        await zl_runner.cleanup()
    if result.problems:
        print(f"the server's log and database are in {tmp}", file=sys.stderr)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def ms(seconds: float) -> str:
    """Seconds as milliseconds for the table."""
    return f"{seconds * 1e3:.1f} ms"


def rows(result: LoadResult) -> list[str]:
    """The rows for docs/benchmarks.md."""
    n = result.turns_answered
    verdict = "no lost turn, no cross-talk: **met**"
    if result.problems:
        verdict = f"no lost turn, no cross-talk: **not met ({len(result.problems)} problems)**"
    found = [
        f"| {result.users} people × {result.turns} turns over HTTP, three channels interleaved, each person's "
        f"next message as soon as the replies are in ({n:,} turns, {result.replies:,} replies, "
        f"{result.leads} leads in {result.elapsed:.1f} s, "
        f"{n / result.elapsed:,.0f} turns/s): latency of a turn, send → last reply | {ms(result.p50)} | "
        f"{ms(result.percentile(0.95))} | {ms(result.p99)} | {verdict} |"
    ]
    labels = {
        "web": "web chat (the HTTP answer)",
        "zalo": "Zalo (webhook → fake OA)",
        "telegram": "Telegram (webhook → fake Bot API)",
    }
    for channel, label in labels.items():
        samples = result.latencies[channel]
        if not samples:
            continue
        found.append(
            f"| … {label}, {len(samples):,} turns | {ms(statistics.median(samples))} | "
            f"{ms(percentile(samples, 0.95))} | {ms(percentile(samples, 0.99))} | (recorded) |"
        )
    parts = " + ".join(f"{name} {size / 2**20:.0f} MiB" for name, size in result.peak_memory.items())
    total = sum(result.peak_memory.values()) / 2**20
    found.append(
        f"| … peak memory of the server (RSS high-water mark: {parts}) | {total:.0f} MiB | – | – | (recorded) |"
    )
    return found


def main() -> list[str]:
    """Run the full size against a real server; the table rows (problems, if any, go to stderr)."""
    result = asyncio.run(run())
    for problem in result.problems[:50]:
        print(problem, file=sys.stderr)
    return rows(result)


if __name__ == "__main__":
    print("\n".join(main()))
