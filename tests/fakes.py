"""Local fakes of the remote platforms (Telegram Bot API, Zalo OA API and OAuth), served over real HTTP.

Only the platforms are faked; our server and the real python-telegram-bot client talk to these over
127.0.0.1 exactly as they would to the real hosts.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


async def start(app: web.Application) -> tuple[web.AppRunner, str]:
    """Serve an aiohttp app on an ephemeral loopback port; return the runner and its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    """Wait until predicate() is true (background processing on the server)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the server")
        await asyncio.sleep(0.01)


@dataclass
class Hold:
    """Answers nothing after the first `after` sends (each is counted as received), until released: a test
    can then kill the sender while every send it started is known to have reached the platform."""

    after: int | None = None
    seen: int = 0
    held: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait(self) -> None:
        self.seen += 1
        if self.after is not None and self.seen > self.after:
            self.held += 1
            await self.release.wait()


@dataclass
class FakeTelegram:
    """The Bot API methods our bot uses, recording every call; can answer 429 with retry_after."""

    token: str = "123456:TEST-TOKEN"
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    too_many: int = 0  # the next N sendMessage calls get 429
    forbidden: set[int] = field(default_factory=set)  # chats that blocked the bot: sendMessage gets 403
    delivered: list[dict[str, Any]] = field(default_factory=list)  # sendMessage calls answered ok
    hold: Hold = field(default_factory=Hold)
    updates: list[dict[str, Any]] = field(default_factory=list)  # for getUpdates (long polling)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(f"/bot{self.token}/{{method}}", self.handle)
        return app

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """The sendMessage calls, optionally to one chat."""
        return [p for m, p in self.calls if m == "sendMessage" and (chat_id is None or int(p["chat_id"]) == chat_id)]

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        form = await request.post() if request.can_read_body else {}
        params = {k: (v if isinstance(v, str) else getattr(v, "filename", "file")) for k, v in form.items()}
        self.calls.append((method, params))
        if method == "sendMessage" and self.too_many > 0:
            self.too_many -= 1
            return web.json_response(
                {
                    "ok": False,
                    "error_code": 429,
                    "description": "Too Many Requests: retry after 1",
                    "parameters": {"retry_after": 1},
                },
                status=429,
            )
        if method == "sendMessage" and int(params.get("chat_id", 0)) in self.forbidden:
            return web.json_response(
                {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}, status=403
            )
        if method == "sendMessage":
            self.delivered.append(params)
            await self.hold.wait()
        result: Any = True
        if method == "getMe":
            result = {"id": 999, "is_bot": True, "first_name": "Khuyến công", "username": "khuyencong_test_bot"}
        elif method in ("sendMessage", "editMessageText", "sendDocument"):
            result = {
                "message_id": next(self._ids),
                "date": int(time.time()),
                "chat": {"id": int(params.get("chat_id", 0)), "type": "private"},
                "text": params.get("text", ""),
            }
        elif method == "getUpdates":
            offset = int(params.get("offset", 0) or 0)
            result = [u for u in self.updates if u["update_id"] >= offset]
            if not result:
                await asyncio.sleep(0.05)
        return web.json_response({"ok": True, "result": result})


@dataclass
class FakeZalo:
    """The OA customer-service message endpoint, the paid template (ZBS) endpoint, and OAuth v4 refresh with
    single-use rotating tokens."""

    app_secret_key: str = "app-secret"
    access_token: str = "access-1"
    refresh_token: str = "refresh-1"
    messages: list[dict[str, Any]] = field(default_factory=list)
    errors: list[int] = field(default_factory=list)  # injected error codes, used one per call
    blocked: set[str] = field(default_factory=set)  # users outside the 7-day window (-230)
    refreshes: int = 0
    used_refresh_tokens: set[str] = field(default_factory=set)
    on_refresh: Callable[[], object] | None = None  # runs just before a successful refresh is answered
    refresh_delay: float = 0.0  # seconds a successful refresh takes to answer (a slow network)
    hold: Hold = field(default_factory=Hold)
    template_calls: list[dict[str, Any]] = field(default_factory=list)  # every ZBS template request, as sent
    templates: list[dict[str, Any]] = field(default_factory=list)  # the ones taken
    template_errors: list[int] = field(default_factory=list)  # injected codes, one per call; 500: an HTTP 500

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v3.0/oa/message/cs", self.send)
        app.router.add_post("/message/template", self.template)  # ZALO_ZBS_API_BASE points here too
        app.router.add_post("/v4/oa/access_token", self.oauth)
        return app

    def to(self, user: str) -> list[dict[str, Any]]:
        """The messages sent to one user."""
        return [m["message"] for m in self.messages if m["recipient"]["user_id"] == user]

    async def send(self, request: web.Request) -> web.Response:
        body = await request.json()
        if self.errors:
            return web.json_response({"error": self.errors.pop(0), "message": "injected"})
        if request.headers.get("access_token") != self.access_token:
            return web.json_response({"error": -216, "message": "Access token is invalid"})
        if body["recipient"]["user_id"] in self.blocked:
            return web.json_response({"error": -230, "message": "User has not interacted in 7 days"})
        self.messages.append(body)
        await self.hold.wait()
        return web.json_response({"error": 0, "message": "Success", "data": {"message_id": f"m{len(self.messages)}"}})

    async def template(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.template_calls.append(body)
        if self.template_errors:
            code = self.template_errors.pop(0)
            if code == 500:  # the answer lost: Zalo may or may not have sent it
                return web.Response(status=500)
            return web.json_response({"error": code, "message": "injected"})
        if request.headers.get("access_token") != self.access_token:
            return web.json_response({"error": -124, "message": "Access token is invalid"})
        self.templates.append(body)
        await self.hold.wait()
        return web.json_response(
            {"error": 0, "message": "Success", "data": {"msg_id": f"t{len(self.templates)}", "sent_time": "0"}}
        )

    async def oauth(self, request: web.Request) -> web.Response:
        form = await request.post()
        token = str(form.get("refresh_token", ""))
        if request.headers.get("secret_key") != self.app_secret_key or form.get("grant_type") != "refresh_token":
            return web.json_response({"error": -14002, "error_name": "Invalid secret key"})
        if token != self.refresh_token or token in self.used_refresh_tokens:
            return web.json_response({"error": -14014, "error_name": "Invalid refresh token"})
        self.used_refresh_tokens.add(token)  # single use
        self.refreshes += 1
        self.access_token = f"access-{self.refreshes + 1}"
        self.refresh_token = f"refresh-{self.refreshes + 1}"
        if self.on_refresh is not None:
            self.on_refresh()
        await asyncio.sleep(self.refresh_delay)
        return web.json_response(
            {"access_token": self.access_token, "refresh_token": self.refresh_token, "expires_in": "90000"}
        )


def zalo_event(
    text: str | None,
    user: str = "6142494823000000001",
    msg_id: str | None = None,
    event_name: str = "user_send_text",
    app_id: str = "1234567890",
    ts: int | None = None,
) -> dict[str, Any]:
    """A Zalo OA webhook event, shaped as the platform sends it."""
    stamp = str(ts if ts is not None else int(time.time() * 1000))
    event: dict[str, Any] = {
        "app_id": app_id,
        "user_id_by_app": "979122185046046317",
        "event_name": event_name,
        "timestamp": stamp,
        "sender": {"id": user},
        "recipient": {"id": "3662729599332560487"},
    }
    if event_name == "follow":
        event["follower"] = {"id": user}
    elif text is not None:
        event["message"] = {"text": text, "msg_id": msg_id or f"msg-{time.time_ns()}"}
    else:
        event["message"] = {
            "msg_id": msg_id or f"msg-{time.time_ns()}",
            "attachments": [{"type": "image", "payload": {"url": "https://example.invalid/a.jpg"}}],
        }
    return event


def raw_json(event: dict[str, Any]) -> bytes:
    """The body bytes exactly as sent (the signature covers these bytes)."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
