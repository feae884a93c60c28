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
REQUESTS, CONCURRENCY, USERS, ROUNDS = 6000, 32, 400, 3


def port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cores() -> tuple[set[int], set[int]]:
    """The load generator's cores and the server's: apart, so neither steals the other's CPU (both same for all)."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return set(cpus), set(cpus)
    return {cpus[0]}, set(cpus[1:])


def spawn(args: list[str], env: dict[str, str] | None = None, cpus: set[int] | None = None) -> subprocess.Popen[bytes]:
    def pin() -> None:
        if cpus:
            os.sched_setaffinity(0, cpus)  # children (our worker process) inherit it

    return subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=pin,
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


def event(i: int, users: int = USERS) -> tuple[bytes, dict[str, str]]:
    """A signed text event; users repeat so each one has a conversation going."""
    stamp = str(int(time.time() * 1000))
    body = {
        "app_id": APP_ID,
        "event_name": "user_send_text",
        "timestamp": stamp,
        "sender": {"id": f"u{i % users}"},
        "recipient": {"id": "oa"},
        "message": {
            "text": ["kiem tra", "hkd", "lam nuoc mam", "hkd co dc ho tro ko"][i // users % 4],
            "msg_id": f"bench-{i}-{time.time_ns()}",
        },
    }
    raw = json.dumps(body, separators=(",", ":")).encode()
    mac = hashlib.sha256(APP_ID.encode() + raw + stamp.encode() + SECRET.encode()).hexdigest()
    return raw, {"Content-Type": "application/json", "X-ZEvent-Signature": f"mac={mac}"}


async def load(url: str, count: int = REQUESTS, users: int = USERS) -> tuple[float, list[float]]:
    """Fire `count` signed events of `users` people over CONCURRENCY keep-alive connections; req/s and latencies.

    A bare HTTP/1.1 client on asyncio streams: it costs far less CPU per request than aiohttp's client,
    so on its own core it can outrun the server under test (the figure is the server's, not the client's).
    """
    host, port_, path = _split(url)
    requests = [_request(host, path, *event(i, users)) for i in range(count)]
    latencies: list[float] = []
    next_one = iter(range(count))

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port_)
        for i in next_one:
            start = time.perf_counter()
            writer.write(requests[i])
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), head[:40]
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
        writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(min(CONCURRENCY, count))))
    return count / (time.perf_counter() - began), latencies


def _split(url: str) -> tuple[str, int, str]:
    rest = url.removeprefix("http://")
    netloc, _, path = rest.partition("/")
    host, _, port_ = netloc.partition(":")
    return host, int(port_), "/" + path


def _request(host: str, path: str, raw: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(raw)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + raw


def p99(samples: list[float]) -> float:
    return sorted(samples)[int(0.99 * len(samples)) - 1]


async def run() -> list[str]:
    bare_port, oa_port, our_port = port(), port(), port()
    env = server_env(str(Path(tempfile.mkdtemp()) / "bench.db"), our_port, oa_port)
    client_cpus, server_cpus = cores()
    os.sched_setaffinity(0, client_cpus)
    procs = [  # the fake OA stands for the outside world: it runs beside the load generator
        spawn(["-m", "bench.servers", "bare", str(bare_port)], cpus=server_cpus),
        spawn(["-m", "bench.servers", "fake_oa", str(oa_port)], cpus=client_cpus),
        spawn(["-m", "bot.cli", "serve"], env, server_cpus),
    ]
    rounds: list[tuple[float, float, float, int]] = []
    bare_lat: list[float] = []
    our_lat: list[float] = []
    try:
        await ready(f"http://127.0.0.1:{our_port}/healthz")
        await ready(f"http://127.0.0.1:{oa_port}/count")
        await ready(f"http://127.0.0.1:{bare_port}/")
        sent = await warmed(our_port, oa_port)
        for _ in range(ROUNDS):  # paired rounds; each waits for our background work to finish first
            bare_rps, lat = await load(f"http://127.0.0.1:{bare_port}/webhooks/zalo")
            bare_lat += lat
            began = time.perf_counter()
            our_rps, lat = await load(f"http://127.0.0.1:{our_port}/webhooks/zalo")
            our_lat += lat
            done, total = await drained(oa_port, began)
            rounds.append((bare_rps, our_rps, REQUESTS / done, total - sent))
            sent = total
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
        os.sched_setaffinity(0, client_cpus | server_cpus)
    return rows(rounds, bare_lat, our_lat)


def server_env(db: str, our_port: int, oa_port: int) -> dict[str, str]:
    """The settings of a Zalo-only deployment on `db` (a file or a postgresql:// URL), sending to the fake OA."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZALO_", "TELEGRAM_", "WEB_", "KHUYENCONG_"))}
    env.update(
        {
            "KHUYENCONG_DB": db,
            "WEB_PORT": str(our_port),
            "WEB_RATE_PER_MINUTE": "100000",
            "ZALO_APP_ID": APP_ID,
            "ZALO_OA_SECRET_KEY": SECRET,
            "ZALO_ACCESS_TOKEN": "t",
            "ZALO_API_BASE": f"http://127.0.0.1:{oa_port}",
        }
    )
    return env


def rows(rounds: list[tuple[float, float, float, int]], bare_lat: list[float], our_lat: list[float]) -> list[str]:
    """The table rows: medians over the rounds, the ratio of each round's pair, latencies pooled."""
    bare = statistics.median(r[0] for r in rounds)
    ours = statistics.median(r[1] for r in rounds)
    ratios = sorted(r[1] / r[0] for r in rounds)
    turns = statistics.median(r[2] for r in rounds)
    spread = ", ".join(f"{x:.0%}" for x in ratios)
    return [
        f"| Bare aiohttp handler: **{bare:,.0f} req/s** ({ROUNDS} rounds of {REQUESTS:,} requests, {CONCURRENCY} in "
        f"flight); latency → | {statistics.median(bare_lat) * 1e3:.2f} ms | – | {p99(bare_lat) * 1e3:.2f} ms | "
        "baseline |",
        f"| Zalo webhook path (verify, claim into the inbox, 200; the worker runs engine, store, send): "
        f"**{ours:,.0f} req/s**; latency → | {statistics.median(our_lat) * 1e3:.2f} ms | – | "
        f"{p99(our_lat) * 1e3:.2f} ms | ≥ 50 % of bare req/s: **{statistics.median(ratios):.0%}** (rounds: {spread}) |",
        f"| … every turn processed and its replies delivered to the fake OA ({rounds[-1][3]:,} a round): "
        f"**{turns:,.0f} turns/s** | – | – | – | (recorded) |",
    ]


async def warmed(our_port: int, oa_port: int) -> int:
    """One event end to end: the worker process has loaded and is idle before anything is measured."""
    raw, headers = event(-1)
    async with aiohttp.ClientSession() as http:
        async with http.post(f"http://127.0.0.1:{our_port}/webhooks/zalo", data=raw, headers=headers) as resp:
            assert resp.status == 200, resp.status
        for _ in range(600):
            async with http.get(f"http://127.0.0.1:{oa_port}/count") as resp:
                if (await resp.json())["n"]:
                    break
            await asyncio.sleep(0.05)
        else:
            raise RuntimeError("the worker never answered")
        await asyncio.sleep(1)  # let the start-up work settle
        async with http.get(f"http://127.0.0.1:{oa_port}/count") as resp:
            return int((await resp.json())["n"])


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
