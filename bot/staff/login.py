"""Staff sign-in: attempts counted before the password check, argon2 off the engine thread, known devices.

Failures are counted per (account, client address), per address, per account from unknown browsers, and
apart from all of those per known device: a browser where the officer signed in before carries a signed
cookie, so strangers guessing her password elsewhere cannot lock her out of it (OWASP "device cookies").
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import Argon2Error, InvalidHashError

from bot.app import OrderedHandler
from bot.staff.store import Staff, StaffStore

log = logging.getLogger("khuyencong.staff")
DEVICE_COOKIE = "kc_device"
DEVICE_DAYS = 180
PER_DEVICE = 5  # wrong passwords from a known browser of the account
PER_ACCOUNT_ADDRESS = 5  # wrong passwords for one account from one address (an unknown browser)
PER_ADDRESS = 20  # wrong passwords from one address, whatever the names
PER_ACCOUNT = 30  # wrong passwords for one account from every unknown browser together
HASH_WORKERS = 1  # argon2 is memory- and CPU-hard: one at a time leaves the other core to the conversations
MAX_WAITING = 8  # sign-ins from unknown browsers in progress at once; more are refused politely, not queued
DEVICE_LANE = 4  # kept apart for browsers carrying a device cookie: a crowd of strangers cannot fill these
BLOCK_SECONDS = 60.0  # an address told "too many wrong passwords" is refused for this long without any work
MAX_BLOCKED = 10_000  # addresses remembered at once: memory stays bounded under a flood
_hasher = PasswordHasher()


class Busy(Exception):
    """Too many sign-ins in progress: refuse this one, the caller may try again shortly."""


class Throttled(Exception):
    """Too many wrong passwords lately for this account, address or device."""


@dataclass(frozen=True)
class Attempt:
    """Who is signing in: the typed name, the client's address and the device cookie the browser sent."""

    name: str
    password: str
    address: str
    device: str


@functools.cache
def _decoy() -> str:
    """A hash to check unknown names against: the same work as a real check, so no timing hint."""
    return _hasher.hash(secrets.token_urlsafe(16))


def password_matches(hashed: str | None, password: str) -> bool:
    """Whether the password fits the argon2 hash (None: an unknown account, checked against a decoy)."""
    try:
        _hasher.verify(hashed or _decoy(), password.encode("utf-8", "surrogatepass"))
    except (Argon2Error, InvalidHashError):
        return False
    return hashed is not None


class SignIn:
    """Checks passwords on a small pool of their own, with a bound on how many sign-ins may be under way."""

    def __init__(self, store: StaffStore, handler: OrderedHandler) -> None:
        self.store, self.handler = store, handler
        self._pool = ThreadPoolExecutor(max_workers=HASH_WORKERS, thread_name_prefix="password")
        self._under_way = {"device": 0, "stranger": 0}
        self._blocked: dict[str, float] = {}  # address -> until (monotonic), oldest first
        self._key = b""
        self._names: dict[int, str] = {}  # account id -> name, for checking device cookies without the database

    @contextmanager
    def _slot(self, lane: str) -> Iterator[None]:
        if self._under_way[lane] >= (DEVICE_LANE if lane == "device" else MAX_WAITING):
            raise Busy
        self._under_way[lane] += 1
        try:
            yield
        finally:
            self._under_way[lane] -= 1

    def _refused_at_once(self, attempt: Attempt) -> bool:
        """An address lately throttled is refused with no database work and no slot: its flood costs nothing."""
        until = self._blocked.get(attempt.address)
        if until is None or until < time.monotonic():
            self._blocked.pop(attempt.address, None)
            return False
        return not self._known_device(attempt.device)  # the officer's own browser is judged by its cookie

    def _known_device(self, cookie: str) -> bool:
        """Whether the cookie is a genuine device cookie of an account seen since start (checked in memory)."""
        parts = cookie.split(".")
        if len(parts) != 3 or not parts[0].isdigit() or not self._key:
            return False
        name = self._names.get(int(parts[0]))
        if name is None:
            return False
        mac = hmac.new(self._key, _bytes(f"{parts[0]}.{parts[1]}.{name}"), hashlib.sha256).hexdigest()
        return hmac.compare_digest(_bytes(parts[2]), _bytes(mac))

    def _block(self, address: str) -> None:
        self._blocked.pop(address, None)
        self._blocked[address] = time.monotonic() + BLOCK_SECONDS
        while len(self._blocked) > MAX_BLOCKED:
            del self._blocked[next(iter(self._blocked))]

    async def check(self, attempt: Attempt) -> Staff | None:
        """The account if the password is right; raises Busy or Throttled before any password is checked."""
        if self._refused_at_once(attempt):
            raise Throttled
        with self._slot("device" if self._known_device(attempt.device) else "stranger"):
            return await self._check(attempt)

    async def _check(self, attempt: Attempt) -> Staff | None:
        found = await self.handler.call(self.store.credentials, _storable(attempt.name))
        staff, hashed = found if found else (None, None)
        device = await self._device_nonce(attempt.device, staff)
        limits = _limits(attempt, staff, device)
        rows = await self.handler.call(self.store.attempt, limits)
        if rows is None:
            if not device:  # a stranger's address: its next tries are refused before any work
                self._block(attempt.address)
            raise Throttled
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(self._pool, password_matches, hashed, attempt.password):
            _log_failure(staff, attempt.address)
            return None
        resets = [key for key, _ in limits if key.startswith(("device:", "account-address:"))]
        await self.handler.call(self.store.succeeded, rows, resets)
        return staff

    async def device_cookie(self, staff: Staff, current: str) -> str:
        """The known-device cookie for this account: the browser's own if it is one, else a new one."""
        self._names[staff.id] = staff.name
        if await self._device_nonce(current, staff):
            return current
        body = f"{staff.id}.{secrets.token_urlsafe(16)}"
        return f"{body}.{await self._sign(body, staff)}"

    async def _device_nonce(self, cookie: str, staff: Staff | None) -> str:
        """The nonce of a genuine device cookie of this account, else ''."""
        parts = cookie.split(".")
        if staff is None or len(parts) != 3 or parts[0] != str(staff.id):
            return ""
        body = f"{parts[0]}.{parts[1]}"
        self._names[staff.id] = staff.name
        return parts[1] if hmac.compare_digest(_bytes(parts[2]), _bytes(await self._sign(body, staff))) else ""

    async def _sign(self, body: str, staff: Staff) -> str:
        """The cookie's signature, bound to the account's name too: a reused id does not inherit a device."""
        if not self._key:
            self._key = await self.handler.call(self.store.secret, "device_cookie")
        return hmac.new(self._key, _bytes(f"{body}.{staff.name}"), hashlib.sha256).hexdigest()

    async def hash(self, password: str) -> str:
        """An argon2 hash of a new password, made on the same small pool as the sign-in checks."""
        from bot.staff.accounts import hash_password  # the accounts library imports this package's store

        return await asyncio.get_running_loop().run_in_executor(self._pool, hash_password, password)

    async def verify(self, hashed: str | None, password: str) -> bool:
        """Whether a password fits its hash, checked on the same small pool as the sign-ins."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, password_matches, hashed, password)

    def close(self) -> None:
        """Stop the pool's thread."""
        self._pool.shutdown(wait=False, cancel_futures=True)


class RefusalLog:
    """Refused sign-ins, logged at most once a minute per reason with a count: a flood must not fill the log."""

    def __init__(self, every: float = 60.0) -> None:
        self.every = every
        self._last: dict[str, float] = {}
        self._skipped: dict[str, int] = {}

    def note(self, reason: str, address: str) -> None:
        """One refusal; logged if none of this reason was logged lately."""
        moment = time.monotonic()
        if moment - self._last.get(reason, -self.every) < self.every:
            self._skipped[reason] = self._skipped.get(reason, 0) + 1
            return
        self._last[reason] = moment
        skipped = self._skipped.pop(reason, 0)
        log.warning("staff: sign-in refused, %s, from %s (%d more since the last such line)", reason, address, skipped)


def _limits(attempt: Attempt, staff: Staff | None, device: str) -> list[tuple[str, int]]:
    """The counters this attempt goes under, with their limits. Keys hold no typed text (it may be a password)."""
    if device:
        return [(f"device:{device}", PER_DEVICE)]
    account = f"id{staff.id}" if staff else "h" + hashlib.sha256(_bytes(attempt.name.lower())).hexdigest()[:24]
    return [
        (f"account-address:{account}:{attempt.address}", PER_ACCOUNT_ADDRESS),
        (f"address:{attempt.address}", PER_ADDRESS),
        (f"account:{account}", PER_ACCOUNT),
    ]


def _log_failure(staff: Staff | None, address: str) -> None:
    """Name the account only when it exists: what was typed for an unknown one may well be a password."""
    if staff is None:
        log.warning("staff: failed sign-in, unknown account, from %s", address)
    else:
        log.warning("staff: failed sign-in for %s from %s", staff.name, address)


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _storable(name: str) -> str:
    """The name as SQLite can take it: one with a lone surrogate names no account."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return ""
    return name
