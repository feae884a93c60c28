"""Every dashboard page on a phone (375 px wide) in a real headless Chromium, as an officer and as the province.

The rule: the page itself never scrolls sideways (document.scrollingElement.scrollWidth ≤ 375) and no element's
right edge passes 375 px, except inside a box that scrolls sideways on its own (overflow-x: auto or scroll) and
holds a table: a wide table may scroll in its box, the page around it may not. The box itself must fit.
Every page is screenshotted (full page) into the test's tmp folder (or $SCREENSHOTS, to keep them for a look), and
the image must be 375 px wide too.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
from pathlib import Path

import pytest

from tests.staff_routes import crawl_routes, routes_for
from tests.test_channels import run, running
from tests.test_dashboard_browser import signed_in
from tests.test_no_codes import busy_day

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="make test installs chromium; run it through make")
WIDTH = 375
# Elements whose right edge passes the viewport, outside a sideways-scrolling box that holds a table.
OVERFLOW = """(width) => {
  const scroller = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const x = getComputedStyle(p).overflowX;
      if ((x === 'auto' || x === 'scroll') && (p.tagName === 'TABLE' || p.querySelector('table'))) return true;
    }
    return false;
  };
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  const wide = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || box.right <= width + 0.5 || scroller(el)) continue;
    const text = (el.textContent || '').trim().slice(0, 40);
    wide.push(name(el) + ' (right ' + Math.round(box.right) + ' px: ' + text + ')');
  }
  return {scroll: document.scrollingElement.scrollWidth, wide: wide.slice(0, 8)};
}"""


def png_width(path: Path) -> int:
    """The width of a PNG image, from its header."""
    return int(struct.unpack(">I", path.read_bytes()[16:20])[0])


@run
async def test_every_dashboard_page_fits_a_phone_without_sideways_scrolling(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    async with running(tmp_path) as env, async_playwright() as pw:
        busy_day(env)
        assert env.server is not None
        problems: list[str] = []
        shots = Path(os.environ.get("SCREENSHOTS") or tmp_path)
        shots.mkdir(parents=True, exist_ok=True)
        for who in ("lan", "tinh"):  # a commune officer and the provincial admin see different pages
            env.http.cookie_jar.clear()
            pages = [got async for got in crawl_routes(env, who, per_route=2)]
            assert {got.route for got in pages} == routes_for(env.server, who), "a route the crawl cannot reach"
            browser, page = await signed_in(pw, env.url, who, viewport={"width": WIDTH, "height": 800})
            for got in [got for got in pages if got.page]:
                await page.goto(env.url + got.url)
                found = await page.evaluate(OVERFLOW, WIDTH)
                shot = shots / f"{who}{re.sub(r'[^a-zA-Z0-9]+', '-', got.url)}.png"
                await page.screenshot(path=shot, full_page=True)
                if found["scroll"] > WIDTH or found["wide"] or png_width(shot) != WIDTH:
                    problems.append(f"{who} {got.url}: page {found['scroll']} px wide; {found['wide']}; {shot}")
            await browser.close()
        assert not problems, "\n".join(problems)


@run
async def test_on_a_phone_the_first_lead_shows_before_the_filters_and_slots(tmp_path: Path) -> None:
    """An officer opening the list on her phone sees the search and the first lead within the first screen."""
    from playwright.async_api import async_playwright

    async with running(tmp_path) as env, async_playwright() as pw:
        busy_day(env)
        browser, page = await signed_in(pw, env.url, "lan", viewport={"width": WIDTH, "height": 800})
        await page.goto(env.url + "/staff/")
        first = await page.locator("table.leads tbody tr").first.bounding_box()
        search = await page.get_by_label("Tìm").bounding_box()
        assert first is not None and search is not None
        assert search["y"] < first["y"] < 800, f"the first lead starts {first['y']:.0f} px down"
        await page.get_by_text("Lọc thêm").click()  # the other filters are one tap away
        assert await page.get_by_label("Trạng thái").is_visible()
        await browser.close()
