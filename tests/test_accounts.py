"""Staff accounts in the dashboard over real HTTP: an admin adds, resets, disables and re-scopes officers; each
officer sees her communes and changes her own password; the command line goes through the same library."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from bot.places import Gazetteer
from bot.staff.accounts import AccountBook, Refused, hash_password
from bot.staff.store import StaffStore
from tests.conftest import Store
from tests.test_channels import Env, run, running
from tests.test_dashboard import PASSWORD, csrf_of, seed, sign_in
from tests.test_hostile_dashboard import encode
from tests.test_staff_security import cli

NEW_PASSWORD = "mat-khau-moi-cua-hoa-2026"
WHEN = re.compile(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}")  # dd/mm/yyyy HH:MM


@asynccontextmanager
async def as_admin(tmp_path: Path, store: Store | None = None) -> AsyncIterator[Env]:
    """A running server with two communes' leads, an officer "lan", and the admin "tinh" signed in on env.http."""
    async with running(tmp_path, khuyencong_db=Path(store.target) if store else tmp_path / "k.db") as env:
        seed(env)
        await sign_in(env, "tinh")
        yield env


def counts(env: Env) -> tuple[int, int, int]:
    """Accounts, audit rows and sessions: what a refused change must leave as it was."""
    db = env.app.repo.db
    return tuple(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("staff", "staff_audit", "sessions"))  # type: ignore[return-value]


def account_id(env: Env, login: str) -> int:
    return int(env.app.repo.db.execute("SELECT id FROM staff WHERE name = ?", [login]).fetchone()[0])


async def page(http: aiohttp.ClientSession, url: str) -> tuple[int, str, str]:
    """Status, final address and text of a GET (redirects followed)."""
    async with http.get(url) as resp:
        return resp.status, resp.url.path, await resp.text()


async def post(http: aiohttp.ClientSession, url: str, form: dict[str, str]) -> tuple[int, str]:
    async with http.post(url, data=form) as resp:
        return resp.status, await resp.text()


async def admin_adds(env: Env, **fields: str) -> tuple[int, str]:
    """The admin (signed in on env.http) fills the add form."""
    _, _, listing = await page(env.http, env.url + "/staff/accounts")
    form = {"login": "hoa.vt", "display_name": "Trần Thị Hoa", "role": "officer", "communes": "vinh thuy", **fields}
    return await post(env.http, env.url + "/staff/accounts", {"csrf": csrf_of(listing), **form})


def one_time(html: str) -> str:
    found = re.search(r'<output id="one-time"[^>]*>([^<]+)</output>', html)
    assert found is not None, "no one-time password shown"
    return found.group(1)


async def browser_of(env: Env, login: str, password: str) -> tuple[aiohttp.ClientSession, str]:
    """A second client signed in as `login`: its session, and where sign-in sent it."""
    http, where, _ = await signing_in(env, login, password)
    return http, where


async def signing_in(env: Env, login: str, password: str) -> tuple[aiohttp.ClientSession, str, str]:
    """A second client trying to sign in as `login`: its session, where it was sent, and what the page said."""
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with http.get(env.url + "/staff/login") as resp:
        csrf = csrf_of(await resp.text())
    async with http.post(env.url + "/staff/login", data={"csrf": csrf, "name": login, "password": password}) as resp:
        return http, resp.url.path, await resp.text()


async def change_own(
    http: aiohttp.ClientSession, env: Env, current: str, new: str, repeat: str = ""
) -> tuple[int, str]:
    _, _, mine = await page(http, env.url + "/staff/account")
    form = {"csrf": csrf_of(mine), "current": current, "new_password": new, "repeat": repeat or new}
    return await post(http, env.url + "/staff/account", form)


@run
async def test_an_admin_adds_an_officer_who_sets_her_password_and_sees_her_commune(
    tmp_path: Path, store: Store
) -> None:
    async with as_admin(tmp_path, store) as env:
        status, html = await admin_adds(env)
        assert status == 200 and "Đã tạo tài khoản hoa.vt" in html
        password = one_time(html)
        assert len(password) >= 10
        assert "Trần Thị Hoa" in html and "Xã Vĩnh Thủy, Quảng Trị" in html and "Cán bộ xã" in html
        assert "Chưa đăng nhập" in html and "Đang dùng" in html
        assert "Tạo tài khoản" in html and "Xã phụ trách: — → Xã Vĩnh Thủy, Quảng Trị" in html  # audited in words
        stored = env.app.repo.db.execute("SELECT password_hash FROM staff WHERE name = 'hoa.vt'").fetchone()[0]
        assert password not in stored and stored.startswith("$argon2id$")
        _, _, again = await page(env.http, env.url + "/staff/accounts")
        assert password not in again  # shown once only

        hoa, landed = await browser_of(env, "hoa.vt", password)
        async with hoa:
            assert landed == "/staff/account"  # a one-time password: her own page first
            status, where, html = await page(hoa, env.url + "/staff/")
            assert where == "/staff/account" and "mật khẩu tạm" in html  # nothing else until she sets her own
            async with hoa.post(env.url + "/staff/bulk", data={"csrf": csrf_of(html), "ref": "x"}) as resp:
                assert resp.status == 403
            status, html = await change_own(hoa, env, "sai-mat-khau-roi", NEW_PASSWORD)
            assert status == 400 and "Mật khẩu hiện tại không đúng" in html
            status, html = await change_own(hoa, env, password, NEW_PASSWORD, "khac-hoan-toan-123")
            assert status == 400 and "không giống nhau" in html
            status, html = await change_own(hoa, env, password, NEW_PASSWORD)
            assert status == 200 and "Đã đổi mật khẩu" in html
            assert "Xã Vĩnh Thủy, Quảng Trị" in html and "Cán bộ xã" in html  # the communes she manages
            assert WHEN.search(html)  # her last sign-in, dd/mm/yyyy HH:MM
            status, where, _ = await page(hoa, env.url + "/staff/")
            assert status == 200 and where == "/staff/"
        _, _, html = await page(env.http, env.url + "/staff/accounts")
        assert WHEN.search(html.split("Đăng nhập gần nhất", 1)[1]) and "Tự đổi mật khẩu" in html
        assert "· tinh · Tạo tài khoản: hoa.vt" in html  # who made the change, what, and to which account


@run
async def test_an_admin_adds_with_a_typed_password_and_communes_by_code_or_name_with_province(tmp_path: Path) -> None:
    async with as_admin(tmp_path) as env:
        status, html = await admin_adds(
            env, login="binh", communes="13531\nBình Giang, Ninh Bình\nXã Vĩnh Thủy", password="mot-mat-khau-dai"
        )
        assert status == 200 and 'id="one-time"' not in html  # she typed it: nothing to show
        book = AccountBook(env.app.repo, Gazetteer())
        account = book.by_login("binh")
        assert account is not None and account.communes == (13531, 19405) and account.must_change
        status, html = await admin_adds(env, login="tinh2", role="admin", communes="")
        assert status == 200 and "Quản trị (mọi xã)" in html


@run
async def test_a_reset_or_a_disable_without_the_tick_changes_nothing(tmp_path: Path) -> None:
    """One tap by mistake on 'Khóa tài khoản' or 'Đặt lại mật khẩu' must not lock a colleague out."""
    async with as_admin(tmp_path) as env:
        lan = account_id(env, "lan")
        phone, _ = await browser_of(env, "lan", PASSWORD)
        async with phone:
            before = counts(env)
            _, _, html = await page(env.http, f"{env.url}/staff/accounts/{lan}")
            assert html.count('name="sure"') == 2 and "Chắc chắn khóa" in html
            for path, form, said in (
                ("reset", {}, "Chưa đặt lại mật khẩu"),
                ("active", {"active": "0"}, "Chưa khóa tài khoản"),
            ):
                status, shown = await post(
                    env.http, f"{env.url}/staff/accounts/{lan}/{path}", {"csrf": csrf_of(html), **form}
                )
                assert status == 400 and said in shown and "Mật khẩu tạm:" not in shown, path
            assert counts(env) == before
            assert (await page(phone, env.url + "/staff/"))[1] == "/staff/"  # her session goes on
        still, landed = await browser_of(env, "lan", PASSWORD)
        async with still:
            assert landed == "/staff/"  # her password is the same


@run
async def test_a_reset_or_a_disable_ends_every_session_of_that_account_at_once(tmp_path: Path) -> None:
    async with as_admin(tmp_path) as env:
        lan = account_id(env, "lan")
        phone, _ = await browser_of(env, "lan", PASSWORD)
        laptop, _ = await browser_of(env, "lan", PASSWORD)
        async with phone, laptop:
            _, _, html = await page(env.http, f"{env.url}/staff/accounts/{lan}")
            status, html = await post(
                env.http, f"{env.url}/staff/accounts/{lan}/reset", {"csrf": csrf_of(html), "sure": "yes"}
            )
            assert status == 200 and "mọi phiên đăng nhập của tài khoản đã kết thúc" in html
            password = one_time(html)
            for browser in (phone, laptop):
                assert (await page(browser, env.url + "/staff/"))[1] == "/staff/login"
        old, landed, said = await signing_in(env, "lan", PASSWORD)
        async with old:
            assert landed == "/staff/login" and "không đúng" in said  # the old password is gone
        again, landed = await browser_of(env, "lan", password)
        async with again:
            assert landed == "/staff/account"  # the one-time password works, and must be changed
            assert (await change_own(again, env, password, NEW_PASSWORD))[0] == 200
            _, _, html = await page(env.http, f"{env.url}/staff/accounts/{lan}")
            status, html = await post(
                env.http,
                f"{env.url}/staff/accounts/{lan}/active",
                {"csrf": csrf_of(html), "active": "0", "sure": "yes"},
            )
            assert status == 200 and "Đã khóa tài khoản" in html and "Đã khóa" in html
            assert (await page(again, env.url + "/staff/"))[1] == "/staff/login"
        locked, landed, said = await signing_in(env, "lan", NEW_PASSWORD)
        async with locked:
            assert landed == "/staff/login" and "đang bị khóa" in said
        assert StaffStore(env.app.repo).account("lan") is not None
        _, _, html = await page(env.http, f"{env.url}/staff/accounts/{lan}")
        status, html = await post(
            env.http, f"{env.url}/staff/accounts/{lan}/active", {"csrf": csrf_of(html), "active": "1"}
        )
        assert status == 200 and "Đã mở lại tài khoản" in html
        assert "Khóa tài khoản" in html and "Trạng thái: Đang dùng → Đã khóa" in html  # the history, in words
        back, landed = await browser_of(env, "lan", NEW_PASSWORD)
        async with back:
            assert landed == "/staff/"


@run
async def test_a_disabled_officer_is_told_so_only_with_the_right_password_and_loses_telegram(tmp_path: Path) -> None:
    async with running(tmp_path) as env:
        seed(env)
        store = StaffStore(env.app.repo)
        store.link_telegram("lan", 777)
        book = AccountBook(env.app.repo, Gazetteer())
        book.set_active(None, account_id(env, "lan"), False)
        assert store.by_telegram(777) is None  # the staff commands on Telegram no longer answer her
        assert "đang bị khóa" in await sign_in(env, "lan")
        assert "đang bị khóa" not in await sign_in(env, "lan", "sai-mat-khau-nhe")


@run
async def test_no_admin_locks_out_herself_or_the_last_active_admin(tmp_path: Path, store: Store) -> None:
    async with as_admin(tmp_path, store) as env:
        tinh = account_id(env, "tinh")
        before = counts(env)
        _, _, html = await page(env.http, f"{env.url}/staff/accounts/{tinh}")
        for action, form in (
            ("active", {"active": "0"}),
            ("access", {"display_name": "Tỉnh", "role": "officer", "communes": "vinh thuy"}),
            ("reset", {}),
        ):
            status, answer = await post(
                env.http, f"{env.url}/staff/accounts/{tinh}/{action}", {"csrf": csrf_of(html), **form}
            )
            assert status == 400 and ("chính mình" in answer or "Tài khoản của tôi" in answer), action
        assert counts(env) == before
        assert (await page(env.http, env.url + "/staff/accounts"))[0] == 200  # still an admin, still signed in
        # Two admins disabling each other at the same moment: the second finds herself gone, the last one stays.
        repo = env.app.repo
        book = AccountBook(repo, Gazetteer())
        book.create("cli", "tinh2", "Tỉnh hai", True, (), hash_password(PASSWORD), False)
        second = StaffStore(repo).account("tinh2")
        first = StaffStore(repo).account("tinh")
        assert first is not None and second is not None
        book.set_active(first, second.id, False)
        with pytest.raises(Refused, match="quản trị cuối cùng"):
            book.set_active(second, tinh, False)
        with pytest.raises(Refused, match="quản trị cuối cùng"):
            book.set_access(None, tinh, "", False, (19405,))
        code, _, err = cli(
            ["staff", "add", "tinh", "--commune", "19405", "--db", store.target], f"{PASSWORD}\n{PASSWORD}\n"
        )
        assert code == 2 and "quản trị cuối cùng" in err
        assert StaffStore(store.open()).account("tinh").all_communes  # type: ignore[union-attr]


def admin_posts(target: int) -> list[tuple[str, dict[str, str]]]:
    """Every form of the admin's account pages, filled in, aimed at one account."""
    return [
        ("/staff/accounts", {"login": "x.y", "display_name": "X", "role": "admin"}),
        (f"/staff/accounts/{target}/reset", {"sure": "yes"}),
        (f"/staff/accounts/{target}/active", {"active": "0", "sure": "yes"}),
        (f"/staff/accounts/{target}/access", {"display_name": "X", "role": "officer", "communes": "19405"}),
    ]


@run
async def test_an_officer_gets_403_on_every_account_route_and_changes_nothing(tmp_path: Path) -> None:
    async with running(tmp_path) as env:
        seed(env)
        html = await sign_in(env, "lan")
        assert "/staff/accounts" not in html and 'href="/staff/account"' in html  # her own page only
        tinh, csrf = account_id(env, "tinh"), csrf_of(html)
        before = counts(env)
        gets = [("GET", path, {}) for path in ("/staff/accounts", f"/staff/accounts/{tinh}")]
        for method, path, form in gets + [("POST", path, form) for path, form in admin_posts(tinh)]:
            async with env.http.request(method, env.url + path, data={"csrf": csrf, **form}) as resp:
                assert resp.status == 403 and "quản trị" in await resp.text(), path
        assert counts(env) == before


@run
async def test_account_forms_need_the_sessions_csrf_token(tmp_path: Path) -> None:
    async with as_admin(tmp_path) as env:
        lan = account_id(env, "lan")
        before = counts(env)
        mine = {"current": PASSWORD, "new_password": NEW_PASSWORD, "repeat": NEW_PASSWORD}
        for path, form in [*admin_posts(lan), ("/staff/account", mine)]:
            for csrf in ({}, {"csrf": "forged"}):
                async with env.http.post(env.url + path, data={**csrf, **form}) as resp:
                    assert resp.status == 403, path
        assert counts(env) == before


BAD = [
    ({"communes": "xa khong co that"}, "Không tìm thấy xã/phường"),
    ({"communes": "vinh thuyy"}, "Có phải: Xã Vĩnh Thủy, Quảng Trị?"),
    ({"communes": "binh giang"}, "có ở nhiều nơi"),
    ({"communes": "999999"}, "mang mã 999999"),
    ({"communes": ""}, "ít nhất một xã"),
    ({"communes": "Vĩnh Thủy, Tỉnh Không Có"}, "Không tìm thấy xã/phường"),
    ({"login": "lan"}, "đã có người dùng"),
    ({"login": "Lan Anh"}, "chữ thường không dấu"),
    ({"login": "<b>x</b>"}, "chữ thường không dấu"),
    ({"display_name": "<script>alert(1)</script>"}, "dấu &lt; hoặc &gt;"),
    ({"display_name": '=HYPERLINK("http://x")'}, "công thức"),
    ({"display_name": "Lan " * 2600}, "tối đa 80 ký tự"),
    ({"display_name": "   "}, "Xin nhập họ tên"),
    ({"role": "root"}, "Xin chọn vai trò"),
    ({"password": "ngan"}, "ít nhất 10 ký tự"),
]


@pytest.mark.parametrize(("fields", "said"), BAD, ids=[str(i) for i in range(len(BAD))])
@run
async def test_bad_input_when_adding_is_refused_politely_and_changes_nothing(
    tmp_path: Path, fields: dict[str, str], said: str
) -> None:
    async with as_admin(tmp_path) as env:
        before = counts(env)
        status, html = await admin_adds(env, **fields)
        assert status == 400 and said in html and "Chưa lưu" in html, html[:3000]
        assert "<script>alert(1)</script>" not in html
        assert counts(env) == before


@run
async def test_a_lone_surrogate_or_broken_bytes_in_any_field_are_refused(tmp_path: Path) -> None:
    async with as_admin(tmp_path) as env:
        lan = account_id(env, "lan")
        _, _, html = await page(env.http, env.url + "/staff/accounts")
        csrf = csrf_of(html)
        before = counts(env)
        good = {"login": "hoa.vt", "display_name": "Trần Thị Hoa", "role": "officer", "communes": "vinh thuy"}
        targets = [
            ("/staff/accounts", {**good, field: good.get(field, "mat-khau-dai-lam") + "\ud800"})
            for field in ("display_name", "communes", "password")
        ]
        targets.append((f"/staff/accounts/{lan}/access", {**good, "display_name": "Lan\ud800"}))
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        for path, form in targets:
            body = "&".join(f"{k}={encode(v)}" for k, v in {"csrf": csrf, **form}.items())  # %ED%A0%80 as sent
            async with env.http.post(env.url + path, data=body.encode(), headers=headers) as resp:
                assert resp.status == 400 and "ký tự không đọc được" in await resp.text(), form
        assert counts(env) == before


@run
async def test_an_admin_changes_an_officers_communes_and_her_open_pages_see_them_at_once(
    tmp_path: Path, store: Store
) -> None:
    async with running(tmp_path, khuyencong_db=Path(store.target)) as env:
        refs = seed(env)
        lan_http, _ = await browser_of(env, "lan", PASSWORD)
        async with lan_http:
            assert refs["other"] not in (await page(lan_http, env.url + "/staff/"))[2]
            await sign_in(env, "tinh")
            lan = account_id(env, "lan")
            _, _, html = await page(env.http, f"{env.url}/staff/accounts/{lan}")
            assert "Xã Vĩnh Thủy, Quảng Trị" in html  # the form starts from her communes, by name
            form = {"csrf": csrf_of(html), "display_name": "Nguyễn Thị Lan", "role": "officer"}
            status, html = await post(
                env.http, f"{env.url}/staff/accounts/{lan}/access", {**form, "communes": "vinh thuy\nbinh giang"}
            )
            assert status == 400 and "có ở nhiều nơi" in html
            unchanged = AccountBook(env.app.repo, Gazetteer()).get(lan)
            assert unchanged is not None and unchanged.communes == (19405,) and unchanged.display_name == ""
            communes = "Xã Vĩnh Thủy, Quảng Trị\nbinh giang, ninh binh"
            status, html = await post(
                env.http, f"{env.url}/staff/accounts/{lan}/access", {**form, "communes": communes}
            )
            assert status == 200 and "Đã lưu" in html
            assert "Xã phụ trách: Xã Vĩnh Thủy, Quảng Trị → Xã Vĩnh Thủy, Quảng Trị; Xã Bình Giang, Ninh Bình" in html
            assert "Họ tên: — → Nguyễn Thị Lan" in html
            _, _, listing = await page(lan_http, env.url + "/staff/")
            assert refs["other"] in listing and "Nguyễn Thị Lan" in listing  # her next click, no new sign-in
            _, _, mine = await page(lan_http, env.url + "/staff/account")
            assert "Xã Bình Giang, Ninh Bình" in mine
            status, html = await post(
                env.http, f"{env.url}/staff/accounts/{lan}/access", {**form, "communes": communes}
            )
            assert "Không có gì thay đổi" in html


@run
async def test_the_command_line_goes_through_the_same_library_and_audit(tmp_path: Path) -> None:
    async with running(tmp_path) as env:
        seed(env)
        db = ["--db", str(tmp_path / "k.db")]
        code, out, err = cli(
            ["staff", "add", "hoa.vt", "--commune", "vinh thuy", "--display-name", "Trần Thị Hoa", *db],
            f"{PASSWORD}\n{PASSWORD}\n",
        )
        assert code == 0 and "Xã Vĩnh Thủy, Quảng Trị" in out, err
        code, _, err = cli(["staff", "add", "Hoa Tran", "--commune", "19405", *db], f"{PASSWORD}\n{PASSWORD}\n")
        assert code == 2 and "chữ thường không dấu" in err
        code, _, err = cli(["staff", "add", "mai", "--commune", "binh giang", *db], f"{PASSWORD}\n{PASSWORD}\n")
        assert code == 2 and "có ở nhiều nơi" in err and err.strip().count("\n") == 0
        await sign_in(env, "tinh")
        _, _, html = await page(env.http, env.url + "/staff/accounts")
        assert "Trần Thị Hoa" in html and "Quản trị trên máy chủ (dòng lệnh)" in html
        hoa, landed = await browser_of(env, "hoa.vt", PASSWORD)
        async with hoa:
            assert landed == "/staff/"  # typed at the server by its operator: no forced change


@run
async def test_guessing_the_current_password_from_a_signed_in_page_is_throttled(tmp_path: Path) -> None:
    async with running(tmp_path) as env:
        seed(env)
        await sign_in(env, "lan")
        for _ in range(5):
            status, html = await change_own(env.http, env, "doan-mo-mat-khau", NEW_PASSWORD)
            assert status == 400 and "Mật khẩu hiện tại không đúng" in html
        status, html = await change_own(env.http, env, PASSWORD, NEW_PASSWORD)  # the right one, too late
        assert status == 400 and "quá nhiều lần" in html
        assert "không đúng" not in await sign_in(env, "lan")  # her password did not change


def test_a_commune_typed_with_its_province_and_no_comma_is_found() -> None:
    """'binh giang ninh binh', as the chat reads it: was refused with 'Có phải: Xã Bình Giang, Ninh Bình?'."""
    from bot.staff.accounts import resolve_communes

    gazetteer = Gazetteer()
    assert resolve_communes(gazetteer, "binh giang ninh binh\nxã Vĩnh Thủy Quảng Trị") == (13531, 19405)
    with pytest.raises(Refused, match="nhiều nơi"):
        resolve_communes(gazetteer, "binh giang")  # several provinces have one: still asked which
