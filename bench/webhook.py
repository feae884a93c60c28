"""Webhook path vs a bare aiohttp handler: same machine, same load generator, same requests.

The Zalo path answers 200 after verifying and claiming the event, then runs the engine, stores the turn
and sends to a fake OA in the background. Both the HTTP figures and the time until every reply reached
the fake OA are measured.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
APP_ID, SECRET = "1234567890", "bench-oa-secret"
REQUESTS, CONCURRENCY, USERS = 2000, 32, 400


def port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


async def ready(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(400):
            try:
                async with http.get(url) as resp:
                    if resp.status < 500:
                        return
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not start")


def event(i: int) -> tuple[bytes, dict[str, str]]:
    """A signed text event; users repeat so each one has a conversation going."""
    stamp = str(int(time.time() * 1000))
    body = {
        "app_id": APP_ID,
        "event_name": "user_send_text",
        "timestamp": stamp,
        "sender": {"id": f"u{i % USERS}"},
        "recipient": {"id": "oa"},
        "message": {
            "text": ["kiem tra", "hkd", "lam nuoc mam", "hkd co dc ho tro ko"][i // USERS % 4],
            "msg_id": f"bench-{i}-{time.time_ns()}",
        },
    }
    raw = json.dumps(body, separators=(",", ":")).encode()
    mac = hashlib.sha256(APP_ID.encode() + raw + stamp.encode() + SECRET.encode()).hexdigest()
    return raw, {"Content-Type": "application/json", "X-ZEvent-Signature": f"mac={mac}"}


async def load(url: str) -> tuple[float, list[float]]:
    """Fire REQUESTS signed events with CONCURRENCY in flight; requests per second and latencies."""
    bodies = [event(i) for i in range(REQUESTS)]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(REQUESTS):
        queue.put_nowait(i)
    latencies: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as http:

        async def worker() -> None:
            while not queue.empty():
                raw, headers = bodies[queue.get_nowait()]
                start = time.perf_counter()
                async with http.post(url, data=raw, headers=headers) as resp:
                    await resp.read()
                    assert resp.status == 200, resp.status
                latencies.append(time.perf_counter() - start)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return REQUESTS / (time.perf_counter() - began), latencies


def p99(samples: list[float]) -> float:
    return sorted(samples)[int(0.99 * len(samples)) - 1]


async def run() -> list[str]:
    bare_port, oa_port, our_port = port(), port(), port()
    tmp = Path(tempfile.mkdtemp())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZALO_", "TELEGRAM_", "WEB_", "KHUYENCONG_"))}
    env.update(
        {
            "KHUYENCONG_DB": str(tmp / "bench.db"),
            "WEB_PORT": str(our_port),
            "WEB_RATE_PER_MINUTE": "100000",
            "ZALO_APP_ID": APP_ID,
            "ZALO_OA_SECRET_KEY": SECRET,
            "ZALO_ACCESS_TOKEN": "t",
            "ZALO_API_BASE": f"http://127.0.0.1:{oa_port}",
        }
    )
    procs = [
        spawn(["-m", "bench.servers", "bare", str(bare_port)]),
        spawn(["-m", "bench.servers", "fake_oa", str(oa_port)]),
        spawn(["-m", "bot.cli", "serve"], env),
    ]
    try:
        await ready(f"http://127.0.0.1:{our_port}/healthz")
        await ready(f"http://127.0.0.1:{oa_port}/count")
        await ready(f"http://127.0.0.1:{bare_port}/")
        bare_rps, bare_lat = await load(f"http://127.0.0.1:{bare_port}/webhooks/zalo")
        began = time.perf_counter()
        our_rps, our_lat = await load(f"http://127.0.0.1:{our_port}/webhooks/zalo")
        done, sent = await drained(oa_port, began)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=20)
    ratio = our_rps / bare_rps
    return [
        f"| Bare aiohttp handler ({REQUESTS} requests, {CONCURRENCY} in flight) | {bare_rps:,.0f} req/s | "
        f"{statistics.median(bare_lat) * 1e3:.2f} ms | {p99(bare_lat) * 1e3:.2f} ms | baseline |",
        f"| Zalo webhook path: verify, claim, 200; engine, store, send in background | {our_rps:,.0f} req/s | "
        f"{statistics.median(our_lat) * 1e3:.2f} ms | {p99(our_lat) * 1e3:.2f} ms | ≥ 50 % of bare: "
        f"**{ratio:.0%}** |",
        f"| … every turn processed and its {sent:,} replies delivered to the fake OA | {REQUESTS / done:,.0f} turns/s "
        f"| – | – | (recorded) |",
    ]


async def drained(oa_port: int, began: float) -> tuple[float, int]:
    """Seconds from the first request until the fake OA stops receiving (all background work done)."""
    last, stable_since = -1, time.perf_counter()
    async with aiohttp.ClientSession() as http:
        while time.perf_counter() - stable_since < 1.0:
            async with http.get(f"http://127.0.0.1:{oa_port}/count") as resp:
                n = (await resp.json())["n"]
            if n != last:
                last, stable_since = n, time.perf_counter()
            await asyncio.sleep(0.05)
    return stable_since - began, last


def main() -> list[str]:
    """Run the benchmark; the rows for docs/benchmarks.md."""
    return asyncio.run(run())


if __name__ == "__main__":
    print("\n".join(main()))
