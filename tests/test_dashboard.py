"""The staff dashboard over real HTTP: access control, the officer's day, CSRF, escaping, throttling."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import aiohttp
import openpyxl

from bot.staff.store import StaffStore
from tests.conftest import Store
from tests.test_channels import Env, run, running
from tests.test_exports import add_lead

PASSWORD = "mat-khau-du-dai-123"


def seed(env: Env) -> dict[str, str]:
    """Two communes' leads (one with hostile HTML) and an officer of the first commune."""
    repo = env.app.repo
    refs = {
        "mine": add_lead(repo, 1, name="Nguyễn Thị Lan").ref,
        "html": add_lead(repo, 2, name="<script>alert(1)</script>").ref,
        "other": add_lead(repo, 3, commune=(13531, "Xã Bình Giang", "Ninh Bình")).ref,
    }
    StaffStore(repo).add("lan", PASSWORD, [19405], False)
    StaffStore(repo).add("tinh", PASSWORD, [], True)
    return refs


async def sign_in(env: Env, name: str = "lan", password: str = PASSWORD) -> str:
    async with env.http.get(env.url + "/staff/login") as resp:
        csrf = re.search(r'name="csrf" value="([^"]+)"', await resp.text())
    assert csrf is not None
    async with env.http.post(
        env.url + "/staff/login", data={"csrf": csrf.group(1), "name": name, "password": password}
    ) as resp:
        return await resp.text()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


@run
async def test_every_staff_route_refuses_anonymous_requests(tmp_path: Path) -> None:
    async with running(tmp_path) as env:
        refs = seed(env)
        assert env.server is not None
        routes = [
            (r.method, r.resource.canonical)
            for r in env.server.router.routes()
            if r.resource is not None and r.resource.canonical.startswith("/staff")
        ]
        assert len(routes) >= 7
        for method, path in routes:
            if path == "/staff/login":
                continue
            url = env.url + path.replace("{ref}", refs["mine"]).replace("{fmt}", "xlsx")
            async with env.http.request(method, url, allow_redirects=False, data={"status": "contacted"}) as resp:
                expected = (302,) if method in ("GET", "HEAD") else (403,)
                assert resp.status in expected, (method, path, resp.status)
                body = await resp.read()
                assert (b"Nguy" not in body and refs["mine"].encode() not in body) or resp.status == 302


@run
async def test_an_officer_finds_a_registration_changes_its_status_and_downloads(tmp_path: Path, store: Store) -> None:
    async with running(tmp_path, khuyencong_db=Path(store.target)) as env:
        refs = seed(env)
        page = await sign_in(env)
        assert refs["mine"] in page and refs["other"] not in page  # only the officer's commune
        assert "2 đăng ký mới hôm nay" in page  # today's registrations, not yet contacted
        async with env.http.get(env.url + "/staff/", params={"q": "0910000001"}) as resp:
            found = await resp.text()
        assert refs["mine"] in found and refs["html"] not in found  # search by phone
        async with env.http.get(f"{env.url}/staff/leads/{refs['mine']}") as resp:
            detail = await resp.text()
        assert "Ngành được hỗ trợ" in detail and "Đồng ý" in detail  # cited assessment and consent record
        assert "0910000001" in detail and "+8491" not in detail  # the number staff dial
        form = {
            "csrf": csrf_of(detail),
            "status": "contacted",
            "assignee": "Lan",
            "follow_up": "2026-12-01",
            "note": "Đã gọi, hẹn nộp hồ sơ",
        }
        async with env.http.post(f"{env.url}/staff/leads/{refs['mine']}", data=form) as resp:
            saved = await resp.text()
        assert resp.status == 200 and "Đã lưu" in saved and "Trạng thái: Mới → Đã liên hệ" in saved
        history = env.app.repo.audit(refs["mine"])
        assert history[-1]["actor"] == "staff:lan" and history[-1]["changes"]["status"] == ["new", "contacted"]
        async with env.http.get(env.url + "/staff/", params={"status": "contacted"}) as resp:
            assert refs["mine"] in await resp.text()
        for fmt in ("xlsx", "summary"):
            async with env.http.get(f"{env.url}/staff/export/{fmt}") as resp:
                assert resp.status == 200 and "attachment" in resp.headers["Content-Disposition"]
                book = openpyxl.load_workbook(io.BytesIO(await resp.read()))
            if fmt == "xlsx":
                refs_in_file = {row[0].value for row in book.active.iter_rows(min_row=2)}  # type: ignore[union-attr]
                assert refs_in_file == {refs["mine"], refs["html"]}  # nothing of the other commune
        exports = env.app.repo.db.execute("SELECT actor, format, scope, count FROM export_log").fetchall()
        assert any(
            actor == "staff:lan" and fmt == "xlsx" and n == 2 for actor, fmt, _, n in exports
        )  # who exported what
        async with env.http.get(f"{env.url}/staff/leads/{refs['other']}") as resp:
            assert resp.status == 404  # another commune's lead
        async with env.http.post(f"{env.url}/staff/leads/{refs['other']}", data=form) as resp:
            assert resp.status == 404  # nor can it be changed
        assert [h["action"] for h in env.app.repo.audit(refs["other"])] == ["created"]
        async with env.http.get(f"{env.url}/staff/export/csv", params={"commune": "13531"}) as resp:
            assert resp.status == 404


@run
async def test_a_provincial_admin_sees_every_commune(tmp_path: Path) -> None:
    async with running(tmp_path) as env:
        refs = seed(env)
        page = await sign_in(env, "tinh")
        assert refs["mine"] in page and refs["other"] in page


@run
async def test_csrf_escaping_and_cookie_flags(tmp_path: Path) -> None:
    async with running(tmp_path) as env:
        refs = seed(env)
        page = await sign_in(env)
        assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        for data in ({"status": "supported"}, {"status": "supported", "csrf": "forged"}):
            async with env.http.post(f"{env.url}/staff/leads/{refs['mine']}", data=data) as resp:
                assert resp.status == 403
        async with env.http.post(env.url + "/staff/logout", data={}) as resp:
            assert resp.status == 403
        assert env.app.repo.audit(refs["mine"])[-1]["action"] == "created"  # nothing changed
        cookies = aiohttp.CookieJar(unsafe=True)
        async with (
            aiohttp.ClientSession(cookie_jar=cookies) as other,
            other.get(env.url + "/staff/login", headers={"X-Forwarded-Proto": "https"}) as resp,
        ):
            flags = resp.headers["Set-Cookie"]
        assert "HttpOnly" in flags and "SameSite=Strict" in flags and "Secure" in flags


@run
async def test_logins_are_throttled_after_failures(tmp_path: Path, store: Store) -> None:
    async with running(tmp_path, khuyencong_db=Path(store.target)) as env:
        seed(env)
        for _ in range(5):
            assert "không đúng" in await sign_in(env, password="sai")
        refused = await sign_in(env)  # the right password, too late
        assert "Sai quá nhiều lần" in refused


@run
async def test_stats_questions_and_knowledge_pages(tmp_path: Path, store: Store) -> None:
    async with running(tmp_path, khuyencong_db=Path(store.target)) as env:
        seed(env)
        web_user = "f" * 32
        async with env.http.post(
            env.url + "/api/chat", json={"user": web_user, "text": "<b>xe tải chở hàng đi lạng sơn mất mấy tiếng</b>"}
        ):
            pass
        await sign_in(env)
        async with env.http.get(env.url + "/staff/stats") as resp:
            stats = await resp.text()
        assert resp.status == 200 and "<svg" in stats and "Đã đăng ký" in stats and "Ứng dụng máy móc" in stats
        assert "<td>Đã đăng ký</td><td>2</td>" in stats  # two leads in the officer's commune
        async with env.http.get(env.url + "/staff/questions") as resp:
            questions = await resp.text()
        # Asked before any commune was known: for all-commune accounts only (was: shown to every officer).
        assert resp.status == 200 and "xe tải chở hàng" not in questions
        async with env.http.get(env.url + "/staff/knowledge") as resp:
            knowledge = await resp.text()
        assert "hợp lệ" in knowledge and "Ứng dụng máy móc, thiết bị tiên tiến" in knowledge  # an S-status line


async def ask_from(env: Env, user: str, place: str | None, question: str) -> None:
    """A web chat that says where it is (or not), then asks something the FAQ cannot answer."""
    interview = ["kiem tra", "hkd", "lam nuoc mam", place, "may moc"] if place else []
    for text in [*interview, question]:
        async with env.http.post(env.url + "/api/chat", json={"user": user, "text": text}) as resp:
            assert resp.status == 200


async def questions_seen_by(env: Env, name: str) -> str:
    await sign_in(env, name)
    async with env.http.get(env.url + "/staff/questions") as resp:
        assert resp.status == 200
        return await resp.text()


@run
async def test_an_officer_sees_only_the_questions_of_people_of_her_communes(tmp_path: Path, store: Store) -> None:
    """Was: every commune's free text, names and phones included, shown to every officer."""
    async with running(tmp_path, khuyencong_db=Path(store.target)) as env:
        seed(env)  # 'lan' has Vĩnh Thủy (19405), 'tinh' every commune
        StaffStore(env.app.repo).add("giang", PASSWORD, [21244], False)  # Trà Giang, Quảng Ngãi
        asked = {
            "vinh": "<b>xe tải chở hàng đi lạng sơn mất mấy tiếng, gọi chị Lan 0912 111 222</b>",
            "tra": "xe tải chở hàng đi lạng sơn mất mấy tiếng, gọi anh Hùng 0905 333 444",
            "nowhere": "xe tải chở hàng đi lạng sơn mất mấy tiếng, gọi cô Mai 0987 555 666",
        }
        await ask_from(env, "a" * 32, "xa vinh thuy quang tri", asked["vinh"])
        await ask_from(env, "b" * 32, "xa tra giang quang ngai", asked["tra"])
        await ask_from(env, "c" * 32, None, asked["nowhere"])
        seen = {name: await questions_seen_by(env, name) for name in ("lan", "giang", "tinh")}
    # The phones typed are masked before storing (was: kept and shown as typed).
    assert "chị Lan 09xx xxx xxx" in seen["lan"] and "Hùng" not in seen["lan"] and "Mai" not in seen["lan"]
    assert "anh Hùng 09xx xxx xxx" in seen["giang"] and "chị Lan" not in seen["giang"] and "Mai" not in seen["giang"]
    assert not any(phone in page for phone in ("111 222", "333 444", "555 666") for page in seen.values())
    assert all(who in seen["tinh"] for who in ("chị Lan", "anh Hùng", "cô Mai"))  # the province sees everything
    assert "<b>xe" not in seen["tinh"] and "&lt;b&gt;xe" in seen["tinh"]  # escaped


@run
async def test_a_lead_is_given_to_a_colleague_picked_by_name_not_typed_from_memory(tmp_path: Path) -> None:
    """The person-in-charge fields offer the names of her commune's accounts (and the province's), no one else's."""
    async with running(tmp_path) as env:
        refs = seed(env)
        store = StaffStore(env.app.repo)
        store.add("hoa", PASSWORD, [19405], False)
        store.add("binh", PASSWORD, [13531], False)
        store.add("nghi", PASSWORD, [19405], False)
        env.app.repo.db.execute("UPDATE staff SET display_name = 'Trần Thị Hoa' WHERE name = 'hoa'")
        env.app.repo.db.execute("UPDATE staff SET display_name = 'Lê Văn Bình' WHERE name = 'binh'")
        env.app.repo.db.execute("UPDATE staff SET active = 0 WHERE name = 'nghi'")  # disabled: not offered
        await sign_in(env)
        for path in (f"/staff/leads/{refs['mine']}", "/staff/"):
            async with env.http.get(env.url + path) as resp:
                page = await resp.text()
            offered = re.findall(
                r'<option value="([^"]+)">', page.split('<datalist id="colleagues">')[1].split("</datalist>")[0]
            )
            assert offered == ["lan", "tinh", "Trần Thị Hoa"], (path, offered)
            assert 'list="colleagues"' in page


@run
async def test_a_lead_page_says_each_thing_once_and_no_dangling_dot(tmp_path: Path) -> None:
    """A lead without a shop name is titled by its code alone; the support wanted is not listed twice."""
    async with running(tmp_path) as env:
        refs = seed(env)
        repo = env.app.repo
        (profile,) = repo.db.execute("SELECT profile FROM leads WHERE ref = ?", [refs["mine"]]).fetchone()
        profile = json.loads(profile) | {"needs": ["advanced_machinery"]}
        repo.db.execute(
            "UPDATE leads SET facility_name = '', profile = ? WHERE ref = ?", [json.dumps(profile), refs["mine"]]
        )
        await sign_in(env)
        async with env.http.get(f"{env.url}/staff/leads/{refs['mine']}") as resp:
            page = await resp.text()
        assert f"<h1>{refs['mine']}</h1>" in page
        assert page.count("Ứng dụng máy móc, thiết bị tiên tiến</dd>") == 1, page
