"""Servers for the webhook benchmark, each run in its own process: a bare handler, and a counting fake OA."""

from __future__ import annotations

import sys

from aiohttp import web


def bare(port: int) -> None:
    """The baseline: an aiohttp handler that reads the body and answers 200, doing nothing else."""

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/webhooks/zalo", handle)
    web.run_app(app, host="127.0.0.1", port=port, print=None)


def fake_oa(port: int) -> None:
    """A Zalo OA send endpoint that accepts everything and counts, for the bench to know when work is done.

    It also keeps who got what, in order (GET /log), for the bench to check nothing was lost or doubled.
    """
    count = {"n": 0}
    got: list[tuple[str, str]] = []

    async def send(request: web.Request) -> web.Response:
        body = await request.json()
        got.append((str(body["recipient"]["user_id"]), str(body["message"].get("text", ""))))
        count["n"] += 1
        return web.json_response({"error": 0, "message": "Success", "data": {"message_id": str(count["n"])}})

    async def seen(request: web.Request) -> web.Response:
        return web.json_response(count)

    app = web.Application()
    app.router.add_post("/v3.0/oa/message/cs", send)

    async def log(request: web.Request) -> web.Response:
        return web.json_response(got)

    app.router.add_get("/count", seen)
    app.router.add_get("/log", log)
    web.run_app(app, host="127.0.0.1", port=port, print=None)


if __name__ == "__main__":
    {"bare": bare, "fake_oa": fake_oa}[sys.argv[1]](int(sys.argv[2]))
