"""The Zalo OA tokens: OAuth v4 refresh of a single-use rotating refresh token that survives a crash,
sealed at rest, and the channel's auth state for /healthz and staff."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import sqlite3
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import aiohttp

from bot.app import OrderedHandler
from bot.files import write_durably
from bot.logs import hide
from bot.secret_box import PREFIX, SecretBox
from bot.storage.sqlite import SqliteRepository
from bot.text import ascii_int

if TYPE_CHECKING:
    from bot.channels.zalo import ZaloSettings

log = logging.getLogger("khuyencong.zalo")
NAME = "zalo"
SAVE_RETRY = 30.0  # seconds between attempts to save recovered tokens while the database refuses
AuthState = Literal["ok", "refresh_failing", "needs_new_token"]
STAFF_TEXT: dict[str, str] = {
    "ok": "Zalo OA đã gửi được tin nhắn trở lại bình thường.",
    "refresh_failing": (
        "Zalo OA tạm thời không làm mới được mã truy cập (lỗi mạng hoặc Zalo bận), tin nhắn Zalo có thể bị chậm. "
        "Hệ thống đang tự thử lại."
    ),
    "needs_new_token": (
        "Zalo OA đã ngừng gửi tin nhắn: Zalo không chấp nhận mã làm mới nữa. Cán bộ kỹ thuật cần lấy mã mới "
        "(access token và refresh token) trên trang quản lý Zalo, ghi vào tệp cấu hình rồi khởi động lại trợ lý."
    ),
}


@dataclass(frozen=True)
class TokenPair:
    """An access token, its refresh token and when the access token expires (ISO 8601)."""

    access: str
    refresh: str
    expires_at: str


def fingerprint(token: str | None) -> str:
    """A short hash that tells whether the settings' first refresh token changed (never the token itself)."""
    return hashlib.sha256(token.encode()).hexdigest()[:16] if token else ""


def auth_state(repo: SqliteRepository) -> str:
    """The Zalo channel's auth state: 'ok', 'refresh_failing' or 'needs_new_token' (for /healthz)."""
    return repo.token_state(NAME) or "ok"


def auth_notice(repo: SqliteRepository) -> str | None:
    """What staff should know about Zalo's tokens, in Vietnamese; None when all is well."""
    state = auth_state(repo)
    return None if state == "ok" else STAFF_TEXT.get(state)


def check_key(repo: SqliteRepository, key: str | None, first_refresh_token: str | None) -> None:
    """Raise SecretKeyError (a Vietnamese message) when the tokens in use cannot be opened with this key."""
    box = SecretBox(key)
    TokenJournal(journal_path(repo), box).read()
    stored = repo.load_tokens(NAME) or {}
    seed = fingerprint(first_refresh_token)
    if seed and stored.get("seed", seed) != seed:
        return  # new tokens in the settings replace the stored ones, unread
    for value in stored.get("access_token", ""), stored.get("refresh_token", ""):
        box.open(value)


def journal_path(repo: SqliteRepository) -> Path | None:
    """Where new tokens wait for the database: next to the database file (none for a memory database)."""
    return repo.path.with_name(repo.path.name + ".zalo-tokens") if repo.path is not None else None


class TokenJournal:
    """The tokens Zalo just gave, on disk the moment they arrive, until the database holds them.

    A refresh token is single-use: once Zalo answered, the old one is dead. A kill or a database error
    before the commit would lose the only valid token; the journal survives both, and is read at start.
    """

    def __init__(self, path: Path | None, box: SecretBox) -> None:
        self.path, self.box = path, box

    def write(self, pair: TokenPair) -> None:
        """Keep the pair durably (owner-only, sealed when a key is set); a failure is logged, not raised."""
        if self.path is None:
            return
        try:
            write_durably(self.path, self.box.seal(json.dumps(asdict(pair))).encode())
        except OSError as exc:  # a full disk: the database save below is then the only copy
            log.error("zalo: new tokens not written to %s: %s", self.path, exc)

    def read(self) -> TokenPair | None:
        """The pair of an unfinished save, if any (SecretKeyError when it cannot be opened)."""
        if self.path is None or not self.path.exists():
            return None
        try:
            return TokenPair(**json.loads(self.box.open(self.path.read_text())))
        except (OSError, ValueError, TypeError) as exc:  # a torn file cannot happen (rename), but be safe
            log.error("zalo: token journal %s unreadable: %s", self.path, exc)
            return None

    def clear(self) -> None:
        """The database holds the pair now."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)


class Tokens:
    """The OA access token, refreshed through OAuth v4; new tokens go to the journal, then the database."""

    NAME = NAME

    def __init__(self, config: ZaloSettings, handler: OrderedHandler, repo: SqliteRepository) -> None:
        self.config, self.handler, self.repo = config, handler, repo
        self.box = SecretBox(config.secret_key)
        self.journal = TokenJournal(journal_path(repo), self.box)
        self.access, self.refresh_token = config.access_token, config.refresh_token
        self.seed = fingerprint(config.refresh_token)
        self._lock = asyncio.Lock()
        self._loaded = False
        self._unsaved: TokenPair | None = None
        self._retry_at = 0.0
        self._state: str | None = None

    async def current(self) -> str:
        """The access token to use: a recovered journal first, then the database, then the settings."""
        if not self._loaded:
            await self._load()
        if self._unsaved is not None and time.monotonic() >= self._retry_at:
            async with self._lock:
                if self._unsaved is not None:
                    await self._save(self._unsaved)
        return self.access

    async def _load(self) -> None:
        async with self._lock:
            if self._loaded:
                return
            stored = await self.handler.call(self.repo.load_tokens, NAME)
            self._state = await self.handler.call(self.repo.token_state, NAME)
            pending = self.journal.read()
            if pending is not None:
                log.warning("zalo: tokens of an interrupted refresh recovered from %s", self.journal.path)
                self._use(pending)
                self._unsaved = pending
            elif stored and (not self.seed or stored.get("seed", self.seed) == self.seed):
                pair = self._opened(stored)
                self._use(pair)
                if self.box.encrypts and not stored["refresh_token"].startswith(PREFIX):
                    self._unsaved = pair  # stored before a key was set: sealed now
            elif stored:
                log.warning("zalo: new tokens in the settings replace the stored ones")
                await self._set_state("ok", "new tokens from the settings")
            self._loaded = True

    def _use(self, pair: TokenPair) -> None:
        self.access, self.refresh_token = pair.access, pair.refresh
        hide(pair.access, pair.refresh)

    async def refresh(self, session: aiohttp.ClientSession, stale: str) -> bool:
        """Refresh once; concurrent callers wait, and find it already done (a refresh token is single-use)."""
        async with self._lock:
            if self.access != stale:
                return True
            refresh_token, app_secret = self.refresh_token, self.config.app_secret_key
            if not (refresh_token and app_secret):
                log.error("zalo: access token rejected and no refresh token/app secret configured")
                await self._set_state("needs_new_token", "no refresh token or app secret key configured")
                return False
            # Other processes on the database (workers, a second serve) refresh in turn, each first looking
            # whether the one before it already did: a refresh token spent twice is refused by Zalo.
            async with self.repo.token_refresh_lock(NAME):
                if await self._refreshed_elsewhere(stale):
                    return True
                return await self._refresh_now(session, refresh_token, app_secret)

    async def _refresh_now(self, session: aiohttp.ClientSession, refresh_token: str, app_secret: str) -> bool:
        """Spend the refresh token: the new pair kept at once (journal, then database), or the failure recorded."""
        pair, state, detail = await self._ask_zalo(session, refresh_token, app_secret)
        if pair is None:
            await self._set_state(state, detail)
            return False
        self.journal.write(pair)  # durable before anything else can fail: the old refresh token is dead
        self._use(pair)
        await self._save(pair)
        await self._set_state("ok", "access token refreshed")
        log.info("zalo: access token refreshed")
        return True

    async def _refreshed_elsewhere(self, stale: str) -> bool:
        """Whether the database holds tokens newer than `stale` (another process refreshed): then they are used."""
        if self._unsaved is not None:  # ours are newer than any the database holds
            return False
        stored = await self.handler.call(self.repo.load_tokens, NAME)
        if not stored or (self.seed and stored.get("seed", self.seed) != self.seed):
            return False
        pair = self._opened(stored)
        if pair.access == stale:
            return False
        self._use(pair)
        self._state = await self.handler.call(self.repo.token_state, NAME)
        log.info("zalo: access token refreshed by another process, taken from the database")
        return True

    def _opened(self, stored: dict[str, str]) -> TokenPair:
        """A stored pair, unsealed."""
        return TokenPair(
            self.box.open(stored["access_token"]), self.box.open(stored["refresh_token"]), stored["expires_at"]
        )

    async def _ask_zalo(
        self, session: aiohttp.ClientSession, refresh_token: str, app_secret: str
    ) -> tuple[TokenPair | None, AuthState, str]:
        form = {"refresh_token": refresh_token, "app_id": self.config.app_id, "grant_type": "refresh_token"}
        url = f"{self.config.oauth_base.rstrip('/')}/v4/oa/access_token"
        try:
            async with session.post(url, data=form, headers={"secret_key": app_secret}) as resp:
                status = resp.status
                data = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("zalo: token refresh failed: %s", exc)
            return None, "refresh_failing", f"no answer from Zalo OAuth ({type(exc).__name__})"
        if status >= 500 or not isinstance(data, dict):
            log.warning("zalo: token refresh failed: HTTP %s", status)
            return None, "refresh_failing", f"Zalo OAuth answered HTTP {status}"
        access, refresh = data.get("access_token"), data.get("refresh_token")
        if not (isinstance(access, str) and access and isinstance(refresh, str) and refresh):
            detail = {k: v for k, v in data.items() if "token" not in k}
            log.error("zalo: token refresh refused: %s", detail)
            return None, "needs_new_token", f"refresh token refused: {detail}"[:300]
        seconds = ascii_int(str(data.get("expires_in") or ""), 9) or 90000
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
        return TokenPair(access, refresh, expires.isoformat(timespec="seconds")), "ok", ""

    async def _save(self, pair: TokenPair) -> None:
        """Commit the pair to the database; on failure the journal keeps it and a later call retries."""
        sealed = (self.box.seal(pair.access), self.box.seal(pair.refresh))
        try:
            await self.handler.call(self.repo.save_tokens, NAME, *sealed, pair.expires_at, self.seed)
        except sqlite3.Error as exc:
            self._unsaved, self._retry_at = pair, time.monotonic() + SAVE_RETRY
            log.error(
                "zalo: new tokens not saved in the database (%s); kept in %s, retried later", exc, self.journal.path
            )
            return
        self._unsaved = None
        self.journal.clear()

    async def _set_state(self, state: AuthState, detail: str) -> None:
        """Record a change of auth state and tell staff; the same state again is not news."""
        if state == (self._state or "ok"):
            return
        try:
            await self.handler.call(self.repo.save_token_state, NAME, state, detail)
        except sqlite3.Error as exc:
            log.error("zalo: auth state %s not recorded: %s", state, exc)
            return
        self._state = state
        (log.info if state == "ok" else log.error)("zalo: auth state is now %s (%s)", state, detail)
        if self.config.alert is not None:
            await self.config.alert(STAFF_TEXT[state])
