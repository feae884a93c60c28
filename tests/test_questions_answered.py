"""Over real HTTP: staff answer their commune's questions, add local FAQ entries, edit and remove them."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp

from bot.staff.local_faq import Draft, LocalFaqStore, entry_of
from bot.staff.store import Staff, StaffStore
from bot.storage.sqlite import SqliteRepository
from tests.conftest import Store
from tests.test_channels import Env, run, running
from tests.test_dashboard import PASSWORD, ask_from, csrf_of, questions_seen_by, seed, sign_in
from tests.test_local_faq import LOCAL_ANSWER, LOCAL_QUESTION, UNANSWERABLE, VINH_THUY
from tests.test_serve import ProcessEnv, platforms, served

TRA_GIANG = 21244
ASKED = "lop tap huan dong goi bao bi cua xa hoc o dau vay, goi em 0912 345 678 nhe"


async def chat(env: Env, user: str, text: str) -> str:
    async with env.http.post(env.url + "/api/chat", json={"user": user, "text": text}) as resp:
        assert resp.status == 200
        return " ".join(r["text"] for r in (await resp.json())["replies"])


async def post(env: Env, path: str, form: dict[str, str], page: str = "/staff/questions") -> tuple[int, str]:
    """A form posted with the CSRF token of the page it is on."""
    async with env.http.get(env.url + page) as resp:
        csrf = csrf_of(await resp.text())
    async with env.http.post(env.url + path, data={"csrf": csrf, **form}) as resp:
        return resp.status, await resp.text()


def key_of(page: str, text_start: str) -> str:
    """The folded key the page's forms carry for the question that starts so."""
    found = re.search(r'name="key" value="(' + re.escape(text_start) + r'[^"]*)"', page)
    assert found is not None, page
    return found.group(1)


async def two_communes(env: Env) -> None:
    """Officers of Vĩnh Thủy ('lan') and Trà Giang ('giang'), an admin ('tinh'); a question from each commune."""
    seed(env)
    StaffStore(env.app.repo).add("giang", PASSWORD, [TRA_GIANG], False)
    await ask_from(env, "a" * 32, "xa vinh thuy quang tri", ASKED)
    await ask_from(env, "b" * 32, "xa tra giang quang ngai", ASKED)


@run
async def test_an_officer_adds_her_communes_answer_and_her_people_get_it_with_the_next_message(tmp_path: Path) -> None:
    async with running(tmp_path) as env:
        await two_communes(env)
        page = await questions_seen_by(env, "lan")
        assert "goi em 09xx xxx xxx nhe" in page and "345 678" not in page  # masked before it was stored
        assert "Xã Vĩnh Thủy" in page and "Trà Giang" not in page
        form = {
            "key": key_of(page, "lop tap huan"),
            "commune": str(VINH_THUY),
            "question": LOCAL_QUESTION,
            "variants": "hoc dong goi bao bi o dau\nlop bao bi hoc cho nao",
            "answer": LOCAL_ANSWER,
        }
        status, after = await post(env, "/staff/local-faq", form)
        assert status == 200 and "Đã lưu vào hỏi đáp của xã" in after
        assert 'name="key"' not in after and "Đã trả lời gần đây" in after  # answered by the entry
        mine = await chat(env, "a" * 32, "lop bao bi hoc cho nao")
        assert LOCAL_ANSWER in mine and re.search(r"Trả lời của .*Vĩnh Thủy, \d\d/\d\d/\d{4}", mine)
        assert LOCAL_ANSWER not in await chat(env, "b" * 32, "lop bao bi hoc cho nao")  # Trà Giang's person
        knowledge = {}
        for name in ("lan", "giang", "tinh"):
            await sign_in(env, name)
            async with env.http.get(env.url + "/staff/knowledge") as resp:
                knowledge[name] = await resp.text()
        assert LOCAL_ANSWER in knowledge["lan"] and LOCAL_ANSWER in knowledge["tinh"]
        assert LOCAL_ANSWER not in knowledge["giang"]
        stored = env.app.repo.local_faq()
        assert [(e["commune_code"], e["author"]) for e in stored] == [(VINH_THUY, "lan")]


@run
async def test_markup_formulas_and_other_communes_are_refused_and_change_nothing(tmp_path: Path) -> None:
    async with running(tmp_path) as env:
        await two_communes(env)
        page = await questions_seen_by(env, "lan")
        base = {"key": key_of(page, "lop tap huan"), "commune": str(VINH_THUY), "question": LOCAL_QUESTION}
        for answer, said in (
            ("<script>alert(1)</script> Học ở nhà văn hóa", "không được chứa mã HTML"),
            ('=HYPERLINK("http://lua.dao","Bấm vào đây")', "công thức"),
            ("", "không được để trống"),
        ):
            status, body = await post(env, "/staff/local-faq", base | {"answer": answer})
            assert status == 400 and said in body, body
            assert "<script>alert" not in body
        status, body = await post(env, "/staff/local-faq", base | {"commune": str(TRA_GIANG), "answer": LOCAL_ANSWER})
        assert status == 404 and "không thuộc xã của bạn" in body
        status, _ = await post(env, "/staff/questions/answered", {"key": base["key"], "commune": str(TRA_GIANG)})
        assert status == 404
        assert env.app.repo.local_faq() == []
        assert len(env.app.repo.misses()) == 2  # neither commune's question was marked answered


@run
async def test_marking_answered_editing_and_removing_are_audited_and_scoped(tmp_path: Path, store: Store) -> None:
    async with running(tmp_path, khuyencong_db=Path(store.target)) as env:
        await two_communes(env)
        page = await questions_seen_by(env, "lan")
        status, after = await post(
            env, "/staff/questions/answered", {"key": key_of(page, "lop tap huan"), "commune": str(VINH_THUY)}
        )
        assert status == 200 and "Đã đánh dấu là đã trả lời" in after
        open_rows = env.app.repo.misses()
        assert [r["commune_code"] for r in open_rows] == [TRA_GIANG]  # only her commune's asking
        assert env.app.repo.misses(answered=True)[0]["answered_by"] == "lan"
        await ask_from(env, "c" * 32, "xa vinh thuy quang tri", UNANSWERABLE)
        page = await questions_seen_by(env, "lan")
        status, _ = await post(
            env,
            "/staff/local-faq",
            {
                "key": key_of(page, "em muon"),
                "commune": str(VINH_THUY),
                "question": "Đăng ký hội thảo kinh tế tuần hoàn ở đâu?",
                "answer": "Bà con đăng ký tại Trung tâm Dịch vụ tổng hợp xã.",
            },
        )
        (entry,) = env.app.repo.local_faq()
        edit = f"/staff/local-faq/{entry['id']}"
        await sign_in(env, "giang")  # another commune's officer can neither see nor change it
        async with env.http.get(env.url + edit) as resp:
            assert resp.status == 404
        status, _ = await post(env, edit, {"question": "x", "answer": "của xã khác"}, page="/staff/knowledge")
        assert status == 404
        await sign_in(env, "lan")
        changed = {
            "question": entry["question"],
            "variants": "hoi thao tuan hoan",
            "answer": "Đăng ký ở bộ phận một cửa.",
        }
        status, body = await post(env, edit, changed, page=edit)
        assert status == 200 and "Đã lưu thay đổi" in body and "bộ phận một cửa" in body
        assert "bộ phận một cửa" in await chat(env, "c" * 32, "hoi thao tuan hoan dang ky o dau")
        status, body = await post(env, edit + "/remove", {}, page=edit)
        assert status == 200 and "Đã xóa" in body and env.app.repo.local_faq() == []
        assert "bộ phận một cửa" not in await chat(env, "c" * 32, "hoi thao tuan hoan dang ky o dau")
        actions = env.app.repo.db.execute("SELECT actor, action, changes FROM local_faq_audit ORDER BY id").fetchall()
        assert [(a, b) for a, b, _ in actions] == [
            ("staff:lan", "created"),
            ("staff:lan", "updated"),
            ("staff:lan", "removed"),
        ]
        assert "bộ phận một cửa" in actions[1][2] and "Trung tâm Dịch vụ" in actions[1][2]  # old → new


@run
async def test_a_running_serve_uses_an_entry_another_process_wrote_without_a_restart(tmp_path: Path) -> None:
    async with platforms() as fakes, served(tmp_path, fakes) as server, aiohttp.ClientSession() as http:
        env = ProcessEnv(server.url, http, fakes.telegram, fakes.zalo, app=None)  # type: ignore[arg-type]
        await ask_from(env, "a" * 32, "xa vinh thuy quang tri", ASKED)  # the local index of Vĩnh Thủy: empty
        officer = Staff(1, "lan", (VINH_THUY,), False)
        draft = Draft(LOCAL_QUESTION, "lop bao bi hoc cho nao", LOCAL_ANSWER)
        LocalFaqStore(SqliteRepository(tmp_path / "k.db")).add(officer, entry_of(draft, VINH_THUY, "lan"))
        assert LOCAL_ANSWER in await chat(env, "a" * 32, "lop bao bi hoc cho nao")
