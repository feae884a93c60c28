"""Commune profiles kept by staff in the dashboard: saved, audited, exported, and seen by the next chat."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bot.app import App, build
from bot.cli import main
from bot.knowledge import Locality, Office
from bot.messages import ConversationKey, Incoming
from bot.staff.store import StaffStore
from bot.storage.profiles import ProfileStore
from tests.conftest import KNOWLEDGE, Store
from tests.fakes import wait_for
from tests.test_channels import INTERVIEW, REGISTER, Env, run, running, settings_for, tg_post, web_say
from tests.test_dashboard import PASSWORD, csrf_of, seed, sign_in

VINH_THUY, BINH_GIANG, TAM_DAO = 19405, 13531, 8911
PHONE, HOURS = "0233 3826 123", "Sáng 7:30–11:30, chiều 13:30–17:00, thứ Hai–thứ Sáu"


def profile_form(csrf: str, **over: str) -> dict[str, str]:
    """Vĩnh Thủy's profile as an officer fills it: phone, hours, address, and a plan of two lines."""
    form = {
        "csrf": csrf,
        "office_name": "Trung tâm Dịch vụ tổng hợp xã Vĩnh Thủy",
        "office_phone": PHONE,
        "office_address": "Thôn Đông, xã Vĩnh Thủy",
        "office_hours": HOURS,
        "office_zalo": "https://zalo.me/vinhthuy",
        "staff_chat_id": "",
        "valid_from": "01/01/2026",
        "valid_to": "31/12/2026",
        "line-0-code": "advanced_machinery",
        "line-0-amount": "25.000.000",
        "line-0-slots": "2",
        "line-0-total": "",
        "line-0-funding": "commune",
        "line-0-note": "Máy móc cho cơ sở chế biến",
        "line-1-code": "fairs_exhibitions",
        "line-1-amount": "10000000",
        "line-1-slots": "2",
        "line-1-total": "20.000.000",
        "line-1-funding": "commune",
        "form-0-code": "form_01a",
        "form-0-name": "Mẫu 01a",
        "form-0-description": "Đơn đề nghị hỗ trợ",
    }
    return form | over


async def profile_page(env: Env, code: int = VINH_THUY) -> tuple[int, str]:
    async with env.http.get(f"{env.url}/staff/profiles/{code}") as resp:
        return resp.status, await resp.text()


async def save_profile(env: Env, code: int = VINH_THUY, **over: str) -> tuple[int, str]:
    _, page = await profile_page(env, code)
    async with env.http.post(f"{env.url}/staff/profiles/{code}", data=profile_form(csrf_of(page), **over)) as resp:
        return resp.status, await resp.text()


@asynccontextmanager
async def saved_by_lan(tmp: Path, store: Store | None = None) -> AsyncIterator[Env]:
    """A server where the officer of Vĩnh Thủy has saved the profile of `profile_form`."""
    async with running(tmp, khuyencong_db=Path(store.target) if store else tmp / "k.db") as env:
        seed(env)
        await sign_in(env)
        await save_profile(env)
        yield env


async def chat(env: Env, user: str, *texts: str) -> str:
    out = ""
    for text in texts:
        out = " ".join(r["text"] for r in await web_say(env, {"user": user, "text": text}))
    return out


@run
async def test_an_officer_sets_phone_hours_and_plan_and_the_next_chat_shows_them(tmp_path: Path, store: Store) -> None:
    async with running(tmp_path, khuyencong_db=Path(store.target)) as env:
        seed(env)
        before = await chat(env, "a" * 32, "so dien thoai xa vinh thuy")
        assert PHONE not in before and "chưa có số điện thoại" in before  # was: the whole plan, no phone
        await sign_in(env)
        status, saved = await save_profile(env)
        assert status == 200 and "Đã lưu" in saved
        # The audit says who, and old → new in Vietnamese: no codes, days dd/mm/yyyy, money with separators.
        assert f"Số điện thoại: (trống) → {PHONE}" in saved and "<td>lan</td>" in saved
        assert (
            "20.000.000 đồng/cơ sở, 3 cơ sở" in saved
            and "25.000.000 đồng/cơ sở, 2 cơ sở, tổng 50.000.000 đồng" in saved
        )
        assert "advanced_machinery" not in saved.split("Lịch sử thay đổi")[1]
        answer = await chat(env, "b" * 32, "so dien thoai xa vinh thuy")
        assert PHONE in answer and HOURS in answer and "Thôn Đông" in answer
        hours = await chat(env, "c" * 32, "kiem tra", "hkd", "lam nuoc mam", "xa vinh thuy quang tri", "may moc")
        assert PHONE in hours  # the result names the office with its phone
        assert HOURS in await chat(env, "c" * 32, "ubnd xã mình làm việc mấy giờ")
        assert "Thôn Đông" in await chat(env, "c" * 32, "địa chỉ xã")
        staff = await chat(env, "c" * 32, "gặp cán bộ")
        assert PHONE in staff and HOURS in staff
        plan = await chat(env, "d" * 32, "xa vinh thuy nam nay ho tro may moc bao nhieu")
        assert "25 triệu" in plan and "Hồ sơ do cán bộ xã cập nhật ngày" in plan
        stored = ProfileStore(env.app.repo).get(VINH_THUY)
        assert stored is not None and stored.budget_lines[0].total_vnd == 50_000_000 and stored.status == "S"
        assert stored.budget_total_vnd == 80_000_000  # 50 + 20 million of the lines, 10 million of the survey


@run
async def test_amounts_typed_in_words_are_read_as_the_chat_reads_them(tmp_path: Path) -> None:
    async with running(tmp_path) as env:
        seed(env)
        await sign_in(env)
        over = {"line-0-amount": "25 triệu", "line-1-amount": "", "line-1-total": "1,5 tỷ", "line-1-slots": ""}
        status, saved = await save_profile(env, **over)
        assert status == 200 and "Đã lưu" in saved, saved
        stored = ProfileStore(env.app.repo).get(VINH_THUY)
        assert stored is not None
        assert [(b.amount_per_facility_vnd, b.total_vnd) for b in stored.budget_lines[:2]] == [
            (25_000_000, 50_000_000),
            (None, 1_500_000_000),
        ]


@run
async def test_an_officer_goes_back_to_the_bundled_profile_and_the_chat_follows(tmp_path: Path) -> None:
    async with saved_by_lan(tmp_path) as env:
        assert PHONE in await chat(env, "g" * 32, "so dien thoai xa vinh thuy")
        _, page = await profile_page(env)
        assert "Trở về hồ sơ gốc" in page
        url = f"{env.url}/staff/profiles/{VINH_THUY}/bundled"
        async with env.http.post(url, data={"csrf": csrf_of(page)}) as resp:  # no tick: nothing happens
            assert resp.status == 400 and "Chưa trở về hồ sơ gốc" in await resp.text()
        assert ProfileStore(env.app.repo).get(VINH_THUY) is not None
        async with env.http.post(url, data={"csrf": csrf_of(page), "sure": "yes"}) as resp:
            back = await resp.text()
        assert resp.status == 200 and "Đã trở về hồ sơ gốc" in back
        assert f"Số điện thoại: {PHONE} → (trống)" in back  # audited, old → new, in words
        assert "Trở về hồ sơ gốc</button>" not in back  # nothing saved any more
        assert ProfileStore(env.app.repo).get(VINH_THUY) is None
        assert PHONE not in await chat(env, "h" * 32, "so dien thoai xa vinh thuy")


@run
async def test_consent_and_confirmation_give_the_office_phone(tmp_path: Path) -> None:
    async with saved_by_lan(tmp_path) as env:
        user = "e" * 32
        consent = await chat(env, user, *INTERVIEW, "dang ky")
        assert f"cán bộ Trung tâm Dịch vụ tổng hợp xã Vĩnh Thủy (điện thoại {PHONE}) liên hệ" in consent
        confirmed = await chat(env, user, *REGISTER)
        assert "KC-" in confirmed and f"(điện thoại {PHONE}) sẽ liên hệ số 0912345678" in confirmed


BAD: list[tuple[dict[str, str], str]] = [
    ({"office_name": "<script>alert(1)</script>"}, "không dùng dấu &lt; hoặc &gt;"),
    ({"office_address": '=HYPERLINK("http://x")'}, "không bắt đầu bằng dấu ="),
    ({"office_phone": "gọi tôi"}, "Số điện thoại: chưa đúng"),
    ({"line-0-amount": "900000000000000"}, "số tiền chưa đúng"),
    ({"line-0-amount": "-5"}, "số tiền chưa đúng"),
    ({"line-0-amount": "khoảng 25 triệu"}, "số tiền chưa đúng"),
    ({"line-0-slots": "99999999"}, "số cơ sở phải là số nguyên"),
    ({"line-0-total": "60.000.000"}, "khác mức hỗ trợ × số cơ sở"),
    ({"line-0-code": "bogus"}, "chọn nội dung hỗ trợ trong danh sách"),
    ({"colour": "red"}, "ô không có trên trang"),
    ({"valid_to": "2026-12-31"}, "ngày/tháng/năm"),
    ({"valid_from": "31/02/2026"}, "ngày/tháng/năm"),
    ({"valid_from": "01/01/2027"}, "phải sau ngày hiệu lực từ"),
    ({"staff_chat_id": "nhóm cán bộ"}, "chỉ gồm chữ số"),
    ({"office_zalo": "javascript:alert(1)"}, "https://"),
    ({"office_name": ""}, "Tên cơ quan đầu mối: xin nhập"),
    ({"office_hours": "x" * 500}, "tối đa 200 ký tự"),
]


@run
async def test_bad_profile_input_is_refused_politely_and_changes_nothing(tmp_path: Path) -> None:
    async with running(tmp_path) as env:
        seed(env)
        await sign_in(env)
        store = ProfileStore(env.app.repo)
        for over, message in BAD:
            status, page = await save_profile(env, **over)
            assert status == 400 and message in page and "Chưa lưu" in page, (over, message)
            assert "<script>alert" not in page
        assert store.version() == 0 and store.get(VINH_THUY) is None
        assert PHONE not in await chat(env, "f" * 32, "so dien thoai xa vinh thuy")


@run
async def test_an_officer_edits_only_her_communes_and_an_admin_creates_a_new_one(tmp_path: Path, store: Store) -> None:
    async with running(tmp_path, khuyencong_db=Path(store.target), khuyencong_locality="quang-tri/vinh-thuy") as env:
        seed(env)  # 'lan' keeps Vĩnh Thủy, 'tinh' every commune
        await sign_in(env)
        assert (await profile_page(env, BINH_GIANG))[0] == 404
        async with env.http.post(f"{env.url}/staff/profiles/{BINH_GIANG}", data={"csrf": "x"}) as resp:
            assert resp.status == 403  # no valid CSRF token, whatever the commune
        _, mine = await profile_page(env)
        async with env.http.post(
            f"{env.url}/staff/profiles/{BINH_GIANG}", data=profile_form(csrf_of(mine), office_name="Của tôi")
        ) as resp:
            assert resp.status == 404
        async with env.http.get(f"{env.url}/staff/profiles/{BINH_GIANG}/yaml") as resp:
            assert resp.status == 404
        await save_profile(env)  # the deploying unit's own office now has a phone
        unknown = await chat(env, "1" * 32, "so dien thoai xa tam dao phu tho")
        assert "Tôi chưa biết số điện thoại của cán bộ xã Tam Đảo" in unknown and PHONE in unknown
        await sign_in(env, "tinh")
        status, created = await save_profile(
            env, TAM_DAO, office_name="UBND xã Tam Đảo", office_phone="0210 3888 999", **{"line-1-code": ""}
        )
        assert status == 400  # line 2 still has figures but no support line: said, nothing saved
        status, created = await save_profile(
            env,
            TAM_DAO,
            office_name="UBND xã Tam Đảo",
            office_phone="0210 3888 999",
            **{f"line-1-{f}": "" for f in ("code", "amount", "slots", "total")},
        )
        assert status == 200 and "Đã lưu" in created
        new = ProfileStore(env.app.repo).get(TAM_DAO)
        assert new is not None and (new.province, new.province_code, new.commune, new.ward_code) == (
            "Phú Thọ",
            25,
            "Xã Tam Đảo",
            TAM_DAO,
        )
        assert re.fullmatch(r"Hồ sơ do cán bộ xã cập nhật ngày \d\d/\d\d/\d{4}", new.citation) and new.status == "S"
        assert "0210 3888 999" in await chat(env, "2" * 32, "so dien thoai xa tam dao phu tho")


@run
async def test_the_exported_yaml_goes_back_into_knowledge_and_passes_kb_check(tmp_path: Path, store: Store) -> None:
    async with saved_by_lan(tmp_path, store) as env:
        async with env.http.get(f"{env.url}/staff/profiles/{VINH_THUY}/yaml") as resp:
            assert resp.status == 200 and 'filename="vinh-thuy.yaml"' in resp.headers["Content-Disposition"]
            text = await resp.text()
        saved = ProfileStore(env.app.repo).get(VINH_THUY)
    root = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, root)
    (root / "localities" / "quang-tri" / "vinh-thuy.yaml").write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["kb", "check", "--knowledge", str(root), "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 0, result.output
    assert Locality.model_validate(yaml.safe_load(text)) == saved
    assert "Vĩnh Thủy (Quảng Trị) chưa có số điện thoại" not in result.output


def test_kb_check_warns_of_communes_without_a_phone_or_with_an_expired_plan(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["kb", "check", "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 0 and "hợp lệ" in result.output  # warnings, not errors
    assert "Xã Vĩnh Thủy (Quảng Trị) chưa có số điện thoại liên hệ" in result.output
    assert "kế hoạch của tỉnh Quảng Ngãi đã hết hạn ngày 31/12/2025" in result.output


@run
async def test_the_knowledge_page_lists_what_profiles_lack_until_an_officer_fills_it(tmp_path: Path) -> None:
    async with running(tmp_path) as env:
        seed(env)
        await sign_in(env, "tinh")
        async with env.http.get(f"{env.url}/staff/knowledge") as resp:
            page = await resp.text()
        assert "Xã Vĩnh Thủy (Quảng Trị) chưa có số điện thoại liên hệ" in page and "tỉnh Quảng Ngãi đã hết hạn" in page
        await sign_in(env)
        await save_profile(env)
        await sign_in(env, "tinh")
        async with env.http.get(f"{env.url}/staff/knowledge") as resp:
            page = await resp.text()
        assert "Vĩnh Thủy (Quảng Trị) chưa có số điện thoại" not in page and "Bình Giang" in page


def _engine_app(tmp: Path, store: Store | None = None) -> App:
    db = Path(store.target) if store else tmp / "k.db"
    return build(settings_for(tmp, "http://127.0.0.1:9", "http://127.0.0.1:9", khuyencong_db=db))


def test_a_profile_saved_by_another_process_is_seen_on_the_next_turn(tmp_path: Path, store: Store) -> None:
    """Two connections to one file, as `serve` (the dashboard) and `worker` (the turns) hold them."""
    worker = _engine_app(tmp_path, store)
    dashboard = _engine_app(tmp_path, store)
    key = ConversationKey("t", "u1")

    def ask(n: int) -> str:
        replies = worker.engine.handle(Incoming(key, text="so dien thoai xa vinh thuy", message_id=f"m{n}"))
        return " ".join(r.text for r in replies)

    assert PHONE not in ask(1)
    bundled = next(x for x in dashboard.engine.kb.localities if x.ward_code == VINH_THUY)
    new = bundled.model_copy(update={"office": Office(name=bundled.office.name, phone=PHONE, hours=HOURS)})
    ProfileStore(dashboard.repo).save(new, "lan", {"Số điện thoại": ["(trống)", PHONE]})
    answer = ask(2)
    assert PHONE in answer and HOURS in answer
    worker.close()
    dashboard.close()


def test_reading_the_version_stamp_keeps_a_turn_fast(tmp_path: Path) -> None:
    """The stamp is one indexed read: well under the turn's 2 ms budget (design §6), even with many saves."""
    import time

    app = _engine_app(tmp_path)
    assert app.profiles is not None
    store = ProfileStore(app.repo)
    bundled = next(x for x in app.engine.kb.localities if x.ward_code == VINH_THUY)
    for i in range(300):
        store.save(bundled, "lan", {"Ghi chú": [str(i), str(i + 1)]})
    app.profiles.refresh()
    start = time.perf_counter()
    for _ in range(2000):
        app.profiles.refresh()
    per_turn = (time.perf_counter() - start) / 2000
    app.close()
    assert per_turn < 0.0005, per_turn


@pytest.mark.parametrize("with_chat", [True, False])
def test_notices_go_to_the_communes_own_staff_chat_else_the_global_one(tmp_path: Path, with_chat: bool) -> None:
    _notices(tmp_path, with_chat)


@run
async def _notices(tmp_path: Path, with_chat: bool) -> None:
    own, unit = "-100777", "-100500"
    async with running(tmp_path, telegram_staff_chat_id=unit) as env:
        seed(env)
        await sign_in(env)
        await save_profile(env, staff_chat_id=own if with_chat else "")
        await chat(env, "7" * 32, *INTERVIEW, "dang ky", *REGISTER)
        await chat(env, "7" * 32, "gặp cán bộ")
        await chat(env, "8" * 32, "kiem tra", "hkd", "lam nuoc mam", "xa binh giang ninh binh", "gặp cán bộ")
        chats = {"own": int(own), "unit": int(unit)}
        await wait_for(lambda: len(env.telegram.sent(chats["unit"])) + len(env.telegram.sent(chats["own"])) >= 3)
        mine = [p["text"] for p in env.telegram.sent(chats["own" if with_chat else "unit"])]
        assert any("Đăng ký mới" in t and "Xã Vĩnh Thủy" in t for t in mine)
        # The request's post (its number, reason, commune and last message: staff reply to it to answer).
        assert any(t.startswith("Yêu cầu số") and "\nXã Vĩnh Thủy, Quảng Trị\n" in t for t in mine)
        elsewhere = [p["text"] for p in env.telegram.sent(chats["unit"])]
        assert any("Xã Bình Giang" in t for t in elsewhere)  # a commune without its own chat: the unit's
        if with_chat:
            assert not any("Vĩnh Thủy" in t for t in elsewhere)
        assert not any("0912" in t or "Nguyen Thi Lan" in t for _, p in env.telegram.calls for t in [str(p)])


@run
async def test_done_when_an_officer_saves_on_a_real_serve_and_the_next_chats_show_it(tmp_path: Path) -> None:
    """Over real HTTP against `khuyencong serve`, whose webhook turns run in its worker, another process."""
    import aiohttp

    from bot.storage.sqlite import SqliteRepository
    from tests import test_channels as ch
    from tests.test_serve import ProcessEnv, platforms, served

    repo = SqliteRepository(tmp_path / "k.db")
    StaffStore(repo).add("lan", PASSWORD, [VINH_THUY], False)
    repo.close()
    async with (
        platforms() as fakes,
        served(tmp_path, fakes) as server,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http,
    ):
        env = ProcessEnv(server.url, http, fakes.telegram, fakes.zalo, app=None)  # type: ignore[arg-type]
        before = await ch.zalo_say(env, "so dien thoai xa vinh thuy")
        assert not any(PHONE in m["text"] for m in before)
        await sign_in(env)
        status, saved = await save_profile(env)
        assert status == 200 and "Đã lưu" in saved
        zalo = " ".join(m["text"] for m in await ch.zalo_say(env, "so dien thoai xa vinh thuy"))
        assert PHONE in zalo and HOURS in zalo  # the worker process, no restart, no file edited
        plan = " ".join(m["text"] for m in await ch.zalo_say(env, "xa vinh thuy nam nay ho tro may moc bao nhieu"))
        assert "25 triệu" in plan
        web = await chat(env, "9" * 32, "so dien thoai xa vinh thuy")  # type: ignore[arg-type]
        assert PHONE in web and HOURS in web
    assert server.proc.returncode == 0, server.output
    assert not (KNOWLEDGE / "localities" / "quang-tri" / "vinh-thuy.yaml").read_text("utf-8").count(PHONE)


def test_the_check_command_sees_the_profiles_saved_in_its_database(tmp_path: Path) -> None:
    import json

    from bot.knowledge import load_knowledge
    from bot.storage.sqlite import SqliteRepository
    from tests.test_cli import PROFILE

    bundled = next(x for x in load_knowledge(KNOWLEDGE).localities if x.ward_code == VINH_THUY)
    line = bundled.budget_lines[0].model_copy(update={"amount_per_facility_vnd": 25_000_000, "total_vnd": 75_000_000})
    repo = SqliteRepository(tmp_path / "k.db")
    saved = bundled.model_copy(update={"budget_lines": [line], "budget_total_vnd": None})
    ProfileStore(repo).save(saved, "lan", {"Dòng 1": ["…", "…"]})
    repo.close()
    args = ["check", "-", "--json", "--date", "2026-06-01", "--knowledge", str(KNOWLEDGE)]
    result = CliRunner().invoke(main, [*args, "--db", str(tmp_path / "k.db")], input=json.dumps(PROFILE))
    lines = json.loads(result.stdout)["support_lines"]
    assert result.exit_code == 0 and any(x["funding"] == "commune" and x["cap_vnd"] == 25_000_000 for x in lines)


@run
async def test_staff_commands_also_run_in_a_communes_own_staff_chat(tmp_path: Path) -> None:
    from tests.test_notify import STAFF_ID, in_chat, link, texts_to

    own, other = -100777, -100999
    async with running(tmp_path, telegram_staff_chat_id="-100500", telegram_staff_ids=str(STAFF_ID)) as env:
        link(env)
        await sign_in(env)
        await save_profile(env, staff_chat_id=str(own))
        assert await tg_post(env, in_chat("/leads", STAFF_ID, 1, own)) == 200
        assert await tg_post(env, in_chat("/leads", STAFF_ID, 2, other)) == 200  # a group nobody set
        mine, elsewhere = await texts_to(env, own, 1), await texts_to(env, other, 1)
        assert mine[0].startswith("2 đăng ký") and "Vĩnh Thủy" in mine[0] and "Bình Giang" not in mine[0], mine
        assert elsewhere == ["Lệnh cán bộ chỉ dùng trong tin nhắn riêng với trợ lý hoặc trong nhóm cán bộ."]
