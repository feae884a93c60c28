"""Hostile input to the staff dashboard's forms over real HTTP, in the style of tests/test_hostile.py.

The sign-in form, a lead's follow-up form, the list's filters and search, the export links' query strings
and the sign-out form get deterministic hostile values (lone surrogates, 100 KB fields, markup, formulas,
absurd numbers and dates, wrong types, missing or forged CSRF tokens). Every answer must be polite and in
Vietnamese, never a 5xx; nothing is logged at ERROR; no stranger signs in; and every refused form changes
nothing: the leads it aimed at, their follow-up and audit trail are byte-for-byte as before.
"""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from bot.staff.exports import STATUS_LABELS
from tests.test_channels import Env, run, running
from tests.test_dashboard import csrf_of, seed, sign_in
from tests.test_hostile import (
    FORMULAS,
    MARKUP,
    ODD,
    SEED,
    SETTINGS,
    SQL,
    VIETNAMESE_LETTERS,
    big_text,
    collecting_errors,
    hostile_text,
    lone_surrogates,
    reader,
)

REQUESTS = int(os.environ.get("HOSTILE_DASHBOARD_REQUESTS", "800"))
IN_FLIGHT = 6  # fewer than the sign-ins that may be under way at once: the flood tests forms, not the busy page
BIG_FIELDS = 6  # 100 KB values: a few, they are slow
NUMBERS = ["9" * 400, "99999999999999999999", "-1", "0", "1e308", "NaN", "²", "١٢", "+5", " 3", "0x10", "1_000"]
DATES = [
    "0001-01-01", "9999-12-31", "2026-02-30", "2026-13-01", "+002026-01-01", "99999-01-01", "2026-1-1",
    "2026-01-01T25:00", "01/02/2026", "2026-01-01\x00", "'; DROP TABLE leads; --", "-0001-01-01", "2026‐01‐01",
]  # fmt: skip
FILTERS = ["commune", "status", "line", "sector", "since", "until", "q", "page"]
DEVICES = ["1.abc.def", "1.x.d\u00e9f", "%ED%A0%80.1.2", "1..2.3"]  # forged known-device cookies
FORMATS = ["csv", "xlsx", "summary", "pdf", "../csv", "CSV", "csv\x00"]


@dataclass(frozen=True)
class Request:
    """One request of the flood: method, path with its query already encoded, form, and the statuses allowed."""

    kind: str
    method: str
    path: str
    form: Any = None
    signed_in: bool = True
    expect: frozenset[int] = frozenset({200})


@dataclass
class Forms:
    """Deterministic hostile dashboard requests; `mine` and `other` are leads no request may change."""

    rng: random.Random
    csrf: str
    refs: dict[str, str]
    made: list[Request] = field(default_factory=list)

    def value(self) -> str:
        """One hostile value for any field."""
        rng = self.rng
        makers: list[Callable[[], str]] = [
            lambda: hostile_text(rng),
            lambda: lone_surrogates(rng),
            lambda: rng.choice(NUMBERS),
            lambda: rng.choice(DATES),
            lambda: rng.choice(FORMULAS + MARKUP + SQL + ODD),
            lambda: rng.choice(list(STATUS_LABELS)),
        ]
        return rng.choice(makers)()

    def token(self) -> str | None:
        """The session's CSRF token, a forged one, or none."""
        return self.rng.choice([self.csrf, self.csrf, "forged", self.csrf[:-1] + "x", "", None, self.value()])

    def login(self) -> Request:
        """The sign-in form with hostile names and passwords; the login token right, forged or missing."""
        form = {"name": self.value(), "password": self.value(), "csrf": self.rng.choice(["t" * 32, "t" * 32, "x", "é"])}
        if self.rng.random() < 0.1:
            del form[self.rng.choice(list(form))]
        return Request("login", "POST", "/staff/login", self.wrong_types(form), False, frozenset({200, 429}))

    def update(self) -> Request:
        """A lead's follow-up form; one aimed at a lead no request may change is always invalid somehow."""
        target = self.rng.choice(["mine", "other", "html", "html", "html", "nope"])
        form: dict[str, Any] = {
            "csrf": self.token(),
            "status": self.rng.choice([*STATUS_LABELS, self.value(), self.value()]),
            "assignee": self.rng.choice(["Lan", "", self.value()]),
            "follow_up": self.rng.choice(["", "2026-12-01", self.value()]),
            "note": self.rng.choice(["Đã gọi", "", self.value()]),
        }
        if target == "mine":  # never all valid: a wrong status, token or date, or a field over its limit
            spoil = self.rng.choice(["csrf", "status", "follow_up", "note"])
            form[spoil] = {"csrf": "forged", "status": "supported\x00", "follow_up": "2026-02-30"}.get(
                spoil, "x" * 3000
            )
        ref = self.refs.get(target, self.value())
        form = {k: v for k, v in form.items() if v is not None}
        return Request("update", "POST", f"/staff/leads/{encode(ref)}", self.wrong_types(form), True, UPDATE)

    def listing(self) -> Request:
        """The lead list with hostile filters and search, some repeated."""
        return Request("list", "GET", "/staff/?" + self.query(), expect=frozenset({200, 400}))

    def export(self) -> Request:
        """An export link with a hostile query string, sometimes a made-up format."""
        fmt = self.rng.choice(["csv", "xlsx", "summary", *FORMATS])
        return Request("export", "GET", f"/staff/export/{encode(fmt)}?" + self.query(), expect=EXPORT)

    def lead_page(self) -> Request:
        """A lead's page by a hostile reference."""
        ref = self.rng.choice([self.value(), self.refs["other"], self.refs["mine"].lower(), "KC-" + "X" * 5000])
        return Request("lead", "GET", f"/staff/leads/{encode(ref)}", expect=frozenset({200, 404}))

    def logout(self) -> Request:
        """The sign-out form with a forged or missing token: refused, the session lives on."""
        form = {"csrf": self.rng.choice(["forged", "", self.value()])} if self.rng.random() < 0.8 else {}
        return Request("logout", "POST", "/staff/logout", self.wrong_types(form), True, frozenset({403}))

    def query(self) -> str:
        pairs = [(self.rng.choice(FILTERS), self.value()) for _ in range(self.rng.randint(1, 5))]
        return "&".join(f"{encode(k)}={encode(v)}" for k, v in pairs)

    def wrong_types(self, form: dict[str, Any]) -> Any:
        """Sometimes the form as multipart with a file in place of a field, or a JSON body instead of a form."""
        roll = self.rng.random()
        if roll < 0.05:
            return b'{"name": ["lan"], "password": {"x": 1}}'
        if roll < 0.12 and form:
            data = aiohttp.FormData()
            victim = self.rng.choice(list(form))
            for key, value in form.items():
                if key == victim:
                    data.add_field(key, b"\x00\xff" * 50, filename="x.xlsx")
                else:
                    data.add_field(key, storable(value))
            return data
        return "&".join(f"{encode(k)}={encode(v)}" for k, v in form.items()).encode()  # surrogates as %ED%A0%80

    def big(self) -> Request:
        """A 100 KB field in one of the forms."""
        text = big_text(self.rng)
        if self.rng.random() < 0.5:
            form = {"csrf": "t" * 32, "name": text, "password": text}
            return Request("big login", "POST", "/staff/login", form, False, frozenset({200, 413, 429}))
        form = {"csrf": self.csrf, "status": "contacted", "note": text, "assignee": text}
        return Request("big update", "POST", f"/staff/leads/{self.refs['mine']}", form, True, UPDATE | {413})

    def build(self) -> list[Request]:
        kinds = [self.login, self.update, self.update, self.listing, self.export, self.lead_page, self.logout]
        requests = [self.rng.choice(kinds)() for _ in range(REQUESTS)] + [self.big() for _ in range(BIG_FIELDS)]
        self.rng.shuffle(requests)
        return requests


UPDATE = frozenset({200, 400, 403, 404})
EXPORT = frozenset({200, 400, 404})


def storable(text: str) -> str:
    """Text a client library can send in a form body: lone surrogates go in query strings and paths instead."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def encode(text: str) -> str:
    """Percent-encoded UTF-8, lone surrogates included (as a hostile client would send them)."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


async def fire(env: Env, http: aiohttp.ClientSession, session: str, request: Request) -> str | None:
    """Send one request; what is wrong with its answer, if anything."""
    cookies = (
        f"kc_staff={session}"
        if request.signed_in
        else f"kc_login={'t' * 32}; kc_device={DEVICES[len(str(request.form)) % 4]}"
    )
    headers = {"Cookie": cookies}
    if isinstance(request.form, bytes):
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    url = URL(env.url + request.path, encoded=True)
    async with http.request(request.method, url, data=request.form, headers=headers, allow_redirects=False) as resp:
        body = await resp.read()
    text = body.decode("utf-8", "replace")
    if resp.status not in request.expect:
        return (
            f"{request.kind} {request.path[:120]!r}: {resp.status}, expected {sorted(request.expect)}; {text[:300]!r}"
        )
    if resp.status != 200 and not VIETNAMESE_LETTERS & set(text.lower()):
        return f"{request.kind} {request.path[:80]!r}: {resp.status} without a Vietnamese answer: {text[:200]!r}"
    return None


def untouchable(db: sqlite3.Connection, refs: list[str]) -> list[Any]:
    """The rows of leads no request may change: the lead, its follow-up and its audit trail."""
    marks = ",".join("?" * len(refs))
    return [
        db.execute(f"SELECT * FROM leads WHERE ref IN ({marks}) ORDER BY ref", refs).fetchall(),
        db.execute(f"SELECT * FROM lead_followup WHERE ref IN ({marks}) ORDER BY ref", refs).fetchall(),
        db.execute(f"SELECT * FROM lead_audit WHERE lead_ref IN ({marks}) ORDER BY id", refs).fetchall(),
        db.execute("SELECT * FROM staff ORDER BY id").fetchall(),
    ]


@run
async def test_dashboard_forms_survive_hostile_input(tmp_path: Path) -> None:
    with collecting_errors() as errors:
        async with running(tmp_path, **SETTINGS) as env:
            refs = seed(env)
            page = await sign_in(env)
            session = env.http.cookie_jar.filter_cookies(URL(env.url + "/staff/"))["kc_staff"].value
            forms = Forms(random.Random(SEED + 7), csrf_of(page), refs)
            requests = forms.build()
            with closing(reader(env)) as db:
                before = untouchable(db, [refs["mine"], refs["other"]])
                queue, problems = iter(requests), []
                async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:

                    async def worker() -> None:
                        for request in queue:
                            if (problem := await fire(env, http, session, request)) is not None:
                                problems.append(problem)

                    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
                assert not problems, f"{len(problems)} wrong answers, the first ones:\n" + "\n".join(problems[:8])
                assert untouchable(db, [refs["mine"], refs["other"]]) == before, "a refused form changed something"
                assert db.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1, "a stranger signed in"
            async with env.http.get(env.url + "/staff/leads/" + refs["html"]) as resp:
                assert resp.status == 200  # what the accepted hostile follow-ups stored reads back
            async with env.http.get(env.url + "/staff/", allow_redirects=False) as resp:
                assert resp.status == 200  # the officer is still signed in
    assert not errors.records, errors.report()


RAW_COOKIES = [b"kc_staff=\xff\xfe\xed\xa0\x80", b"kc_staff=%ED%A0%80", b"kc_device=1.\xed\xa0\x80.x; kc_login=\xc3"]


@run
async def test_broken_bytes_in_cookies_get_a_polite_answer(tmp_path: Path) -> None:
    """Cookies are whatever bytes a client sends: not UTF-8, or a lone surrogate once decoded."""
    with collecting_errors() as errors:
        async with running(tmp_path) as env:
            seed(env)
            url = URL(env.url)
            for cookie in RAW_COOKIES:
                for method, path in (("GET", "/staff/"), ("POST", "/staff/login"), ("POST", "/staff/logout")):
                    status, body = await raw_request(url, method, path, cookie, b"csrf=%C3&name=lan&password=x")
                    assert status in (200, 302, 403), (cookie, path, status, body[:300])
                    assert status == 302 or VIETNAMESE_LETTERS & set(body.decode("utf-8", "replace").lower())
    assert not errors.records, errors.report()


async def raw_request(url: URL, method: str, path: str, cookie: bytes, body: bytes) -> tuple[int, bytes]:
    """One HTTP/1.1 request written byte for byte, as no client library would send it."""
    reader, writer = await asyncio.open_connection(url.host, url.port)
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {len(body)}\r\n"
    head += "Content-Type: application/x-www-form-urlencoded\r\n"
    writer.write(head.encode() + b"Cookie: " + cookie + b"\r\n\r\n" + body)
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return int(answer.split(b" ", 2)[1]), answer.split(b"\r\n\r\n", 1)[-1]
