"""Finding a lead the way officers type: without diacritics, any case or spacing, a phone in any format;
the list's columns, a commune by name, the "cần gọi hôm nay" view and changing several leads at once."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from bot.knowledge import vn_today
from bot.messages import ConversationKey
from bot.staff.store import EVERYONE, LeadQuery, StaffStore
from bot.storage.sqlite import SqliteRepository
from tests.conftest import Store
from tests.test_channels import Env, run, running
from tests.test_dashboard import csrf_of, seed, sign_in
from tests.test_exports import add_lead


def people(repo: SqliteRepository) -> dict[str, str]:
    """Leads as people typed them: lower case without marks, with marks, a hand-set reference."""
    refs = {
        "hung": add_lead(repo, 11, name="nguyen van hung").ref,
        "hoang": add_lead(repo, 12, name="Lê Thị Hoàng", phone="+84912345678").ref,
        "other": add_lead(repo, 13, name="Trần Văn Bình").ref,
    }
    repo.db.execute(
        "UPDATE leads SET ref = 'KC-0012', facility_name = 'Xưởng Mây Tre Đan' WHERE ref = ?", [refs["other"]]
    )
    refs["other"] = "KC-0012"
    return refs


def found(repo: SqliteRepository, typed: str) -> set[str]:
    leads, total = StaffStore(repo).leads(EVERYONE, LeadQuery(q=typed))
    assert total == len(leads)
    return {lead.ref for lead in leads}


@pytest.mark.parametrize(
    ("typed", "who"),
    [
        ("Hùng", "hung"),
        ("HUNG", "hung"),
        ("Nguyễn  Văn Hùng", "hung"),
        ("hoang", "hoang"),
        ("lê thị hoàng", "hoang"),
        ("kc 0012", "other"),
        ("kc-0012", "other"),
        ("may tre dan", "other"),  # the facility
        ("0912 345 678", "hoang"),
        ("0912.345.678", "hoang"),
        ("+84912345678", "hoang"),
        ("84 912345678", "hoang"),
        ("345 678", "hoang"),
        ("０９１２３４５６７８", "hoang"),  # full-width digits from a phone keyboard
    ],
)
def test_a_lead_is_found_however_it_is_typed(tmp_path: Path, store: Store, typed: str, who: str) -> None:
    repo = store.open()
    refs = people(repo)
    assert found(repo, typed) == {refs[who]}


def test_the_product_is_searched_and_punctuation_alone_finds_nothing(tmp_path: Path, store: Store) -> None:
    repo = store.open()
    people(repo)
    assert len(found(repo, "nuoc mam")) == 3  # every lead of add_lead makes nước mắm
    assert found(repo, "--") == set() and found(repo, "xyz") == set()


def test_a_changed_or_erased_lead_is_found_by_what_it_holds_now(tmp_path: Path, store: Store) -> None:
    repo = store.open()
    refs = people(repo)
    repo.db.execute("UPDATE leads SET name = 'Phạm Thị Thu' WHERE ref = ?", [refs["hung"]])  # a staff correction
    assert found(repo, "hung") == set() and found(repo, "pham thi thu") == {refs["hung"]}
    repo.delete_person(ConversationKey("test", "u12"))
    assert found(repo, "hoang") == set()
    left = repo.db.execute("SELECT count(*) FROM lead_search WHERE key LIKE '%hoang%'").fetchone()[0]
    assert left == 0  # no folded copy of an erased person's name stays behind


def test_keys_of_leads_stored_before_the_migration_are_made(tmp_path: Path) -> None:
    repo = SqliteRepository(tmp_path / "k.db")
    refs = people(repo)
    repo.db.execute("DROP TABLE lead_search")
    repo.db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm015_search_keys'")
    repo.close()
    again = SqliteRepository(tmp_path / "k.db")
    assert found(again, "hung") == {refs["hung"]}


async def _list(env: Env, **params: str) -> str:
    async with env.http.get(env.url + "/staff/", params=params) as resp:
        assert resp.status == 200
        return await resp.text()


@run
async def test_the_list_shows_the_follow_up_in_vietnamese_and_filters_by_commune_name(
    tmp_path: Path, store: Store
) -> None:
    async with running(tmp_path, khuyencong_db=Path(store.target)) as env:
        refs = seed(env)
        StaffStore(env.app.repo).update(EVERYONE, refs["mine"], "contacted", "Chị Mai", vn_today().isoformat(), "")
        await sign_in(env, "tinh")
        page = await _list(env)
        for shown in ("làm nước mắm", "Ứng dụng máy móc, thiết bị tiên tiến", "Đủ điều kiện", "Đã liên hệ", "Chị Mai"):
            assert shown in page, shown
        assert vn_today().strftime("%d/%m/%Y") in page and vn_today().isoformat() not in re.sub(r"<[^>]+>", "", page)
        for typed in ("vinh thuy", "Xã Vĩnh Thủy", "19405"):
            chosen = await _list(env, commune=typed)
            assert refs["mine"] in chosen and refs["other"] not in chosen, typed
        assert refs["other"] in await _list(env, commune="binh giang")
        nowhere = await _list(env, commune="xa khong co that")
        assert "Không tìm thấy xã/phường" in nowhere and refs["mine"] not in nowhere


@run
async def test_the_due_view_lists_follow_ups_of_today_and_before_still_open(tmp_path: Path, store: Store) -> None:
    async with running(tmp_path, khuyencong_db=Path(store.target)) as env:
        refs = seed(env)
        store, today = StaffStore(env.app.repo), vn_today()
        store.update(EVERYONE, refs["mine"], "contacted", "", (today - dt.timedelta(days=2)).isoformat(), "")
        store.update(EVERYONE, refs["html"], "new", "", (today + dt.timedelta(days=1)).isoformat(), "")
        store.update(EVERYONE, refs["other"], "supported", "", today.isoformat(), "")  # done: no call needed
        await sign_in(env, "tinh")
        page = await _list(env, view="due")
        assert refs["mine"] in page and refs["html"] not in page and refs["other"] not in page
        assert "Cần gọi hôm nay (1)" in page


@run
async def test_several_leads_change_at_once_each_audited_and_within_the_officers_communes(
    tmp_path: Path, store: Store
) -> None:
    async with running(tmp_path, khuyencong_db=Path(store.target)) as env:
        refs = seed(env)
        third = add_lead(env.app.repo, 4).ref
        page = await sign_in(env)  # lan: commune 19405 only
        mine = [refs["mine"], refs["html"], third]
        form = [("csrf", csrf_of(page)), ("status", "contacted"), ("assignee", "Lan"), ("back", "q=&status=new")]
        form += [("ref", r) for r in [*mine, refs["other"]]]
        async with env.http.post(env.url + "/staff/bulk", data=form) as resp:
            after = await resp.text()
            assert resp.status == 200 and "status=new" in str(resp.url)
        assert "Đã cập nhật 3 đăng ký." in after
        for ref in mine:
            last = env.app.repo.audit(ref)[-1]
            assert last["actor"] == "staff:lan" and last["changes"]["status"] == ["new", "contacted"], ref
            assert StaffStore(env.app.repo).followup(ref)["assignee"] == "Lan"
        assert [h["action"] for h in env.app.repo.audit(refs["other"])] == ["created"]  # another commune's
        async with env.http.post(env.url + "/staff/bulk", data=[("status", "new"), ("ref", third)]) as resp:
            assert resp.status == 403  # no CSRF token
        async with env.http.post(
            env.url + "/staff/bulk", data=[("csrf", csrf_of(page)), ("status", "lost"), ("ref", third)]
        ) as resp:
            assert resp.status == 400 and "Trạng thái không hợp lệ" in await resp.text()
        assert env.app.repo.db.execute("SELECT status FROM leads WHERE ref = ?", [third]).fetchone()[0] == "contacted"


@run
async def test_the_list_filters_by_sector_line_and_days_in_vietnam(tmp_path: Path, store: Store) -> None:
    async with running(tmp_path, khuyencong_db=Path(store.target)) as env:
        refs = seed(env)  # 'mine' and 'html' in the officer's commune, registered now
        today = vn_today()
        # 'html' makes baskets, wants a fair, and registered at 23:30 Vietnam time a week ago (16:30 UTC).
        week_ago = dt.datetime.combine(today - dt.timedelta(days=7), dt.time(16, 30), dt.UTC)
        assessment = {"eligible": True, "sector": "handicrafts", "reasons": [], "lines": []}
        env.app.repo.db.execute(
            "UPDATE leads SET assessment = ?, lines_wanted = ?, created_at = ? WHERE ref = ?",
            [json.dumps(assessment), '["fairs_exhibitions"]', week_ago.isoformat(timespec="seconds"), refs["html"]],
        )
        await sign_in(env)
        day = (today - dt.timedelta(days=7)).isoformat()
        for params, shown in (
            ({"sector": "handicrafts"}, "html"),
            ({"sector": "agro_food_processing"}, "mine"),
            ({"line": "fairs_exhibitions"}, "html"),
            ({"line": "advanced_machinery"}, "mine"),
            ({"since": day, "until": day}, "html"),  # that Vietnam day: 23:30 there is still the same day
            ({"since": today.isoformat()}, "mine"),
        ):
            page = await _list(env, **params)
            hidden = "mine" if shown == "html" else "html"
            assert refs[shown] in page and refs[hidden] not in page, params
