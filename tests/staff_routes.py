"""Every GET route of the staff dashboard, found from the router, and a crawl that reaches each of them by links:
shared by the tests that must look at every page (no internal code, fits a phone)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from tests.test_channels import Env
from tests.test_dashboard import sign_in

CATCH_ALL = "/staff/{tail}"  # any other address: "Không có trang này"
# Pages only an admin opens (an officer gets 403 there): the admin's crawl must reach them, the officer's not.
ADMIN_ONLY = {"/staff/accounts", "/staff/accounts/{id}"}
START = ("/staff/", "/staff/?view=due", "/staff/login")


def get_routes(server: web.Application) -> set[str]:
    """Every GET route of the dashboard, by its pattern: a page added tomorrow is in this set too."""
    return {
        r.resource.canonical
        for r in server.router.routes()
        if r.method == "GET" and r.resource is not None and r.resource.canonical.startswith("/staff")
    } - {CATCH_ALL}


def routes_for(server: web.Application, who: str) -> set[str]:
    """The GET routes a crawl as `who` must reach: an officer ("lan") is kept out of the admin's pages."""
    return get_routes(server) - (ADMIN_ONLY if who == "lan" else set())


def route_of(server: web.Application, path: str) -> str | None:
    """The dashboard route pattern an address belongs to (None: not a page of the dashboard)."""
    for resource in server.router.resources():
        mine = resource.canonical.startswith("/staff") and resource.canonical != CATCH_ALL
        if mine and (resource.get_info().get("path") == path or _matches(resource, path)):
            return resource.canonical
    return None


def _matches(resource: Any, path: str) -> bool:
    pattern = resource.get_info().get("pattern")
    return bool(pattern is not None and pattern.fullmatch(path))


def links(page: str) -> list[str]:
    """The dashboard addresses a page links to."""
    return [h.replace("&amp;", "&") for h in re.findall(r'href="(/staff/[^"#]*)"', page)]


@dataclass(frozen=True)
class Fetched:
    """One address reached by the crawl: its route, content type and body."""

    url: str
    route: str
    kind: str
    body: bytes

    @property
    def page(self) -> bool:
        """Whether it is an HTML page (not a download)."""
        return self.kind.startswith("text/html")


async def crawl_routes(env: Env, who: str, per_route: int = 6) -> AsyncIterator[Fetched]:
    """Sign in as `who` and follow every link under /staff/ (up to `per_route` addresses of each route)."""
    assert env.server is not None
    await sign_in(env, who)
    todo, seen = list(START), set()
    count: Counter[str] = Counter()
    while todo:
        url = todo.pop(0)
        path = urlsplit(url).path
        route = route_of(env.server, path)
        if url in seen or route is None or count[route] >= per_route or "logout" in path:
            continue
        seen.add(url)
        count[route] += 1
        async with env.http.get(env.url + url, allow_redirects=False) as resp:
            body, kind = await resp.read(), resp.headers.get("Content-Type", "")
            assert resp.status == 200, (url, resp.status)
        fetched = Fetched(url, route, kind, body)
        if fetched.page:
            todo += links(body.decode("utf-8"))
        yield fetched
