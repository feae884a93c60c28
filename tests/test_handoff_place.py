"""A person who asks for staff before saying their commune is asked it first: the commune's officer sees it."""

from __future__ import annotations

import re
from pathlib import Path

from bot.messages import ConversationKey
from bot.staff.store import StaffStore
from tests.conftest import Store
from tests.test_channels import WEB_USER, run, running, web_say
from tests.test_dashboard import PASSWORD, sign_in
from tests.test_handoff import knowledge_with_phone


@run
async def test_an_officer_of_the_commune_typed_after_asking_for_staff_sees_the_handoff(
    tmp_path: Path, store: Store
) -> None:
    async with running(
        tmp_path, khuyencong_db=Path(store.target), khuyencong_knowledge=knowledge_with_phone(tmp_path)
    ) as env:
        StaffStore(env.app.repo).add("lan", PASSWORD, [19405], False)  # an officer of xã Vĩnh Thủy only
        asked = " ".join(r["text"] for r in await web_say(env, {"text": "gap can bo"}))
        told = " ".join(r["text"] for r in await web_say(env, {"text": "xa vinh thuy quang tri"}))
        await sign_in(env, "lan")
        async with env.http.get(f"{env.url}/staff/handoffs") as resp:
            assert resp.status == 200
            listed = re.findall(r'href="/staff/handoffs/(\d+)"', await resp.text())
        assert len(listed) == 1, "the commune's officer does not see the person's request"
        async with env.http.get(f"{env.url}/staff/handoffs/{listed[0]}") as resp:
            assert resp.status == 200 and "xa vinh thuy quang tri" in await resp.text()
        assert "xã (phường) nào, tỉnh nào" in asked and "nơi cơ sở hoạt động" not in asked
        assert "Trung tâm Dịch vụ tổng hợp xã Vĩnh Thủy" in told and "nơi cơ sở hoạt động" not in told
        handoff = env.app.repo.handoffs.active(ConversationKey("web", WEB_USER))
        assert handoff is not None and handoff.commune == "xã Vĩnh Thủy" and str(handoff.id) == listed[0]
