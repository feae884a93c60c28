"""The person's own data: what we keep of them, and erasing it on request."""

from __future__ import annotations

import datetime as dt

from bot.dialog.context import Context
from bot.dialog.turn import Turn
from bot.knowledge import VN_TIME
from bot.messages import Button
from bot.storage import Conversation
from bot.text import national_phone


def vn_date(stamp: str) -> str:
    """An ISO timestamp as a person reads it: the day in Vietnam, dd/mm/yyyy."""
    try:
        at = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return "-"
    at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
    return at.astimezone(VN_TIME).strftime("%d/%m/%Y")


class PersonData:
    """Shows a person their registrations and erases everything of theirs once they confirm."""

    def __init__(self, ctx: Context) -> None:
        self.ctx, self.texts = ctx, ctx.texts

    def show(self, conv: Conversation, turn: Turn) -> None:
        """The registrations this chat made, with a button to erase them."""
        leads = self.ctx.repo.leads_of(conv.key)
        news = self.news_lines(conv) + self.callback_lines(conv)
        if not leads and not news:
            turn.say(self.texts.my_data_none, self.ctx.menu_buttons())
            return
        lines = [self.texts.my_data, *news]
        for lead in leads:
            place = ", ".join(x for x in (lead.commune, lead.province) if x)
            lines.append(
                f"• Mã {lead.ref}: {lead.name}, {national_phone(lead.phone)}, {lead.facility_name}, {place}; "
                f"đăng ký ngày {vn_date(lead.created_at)}"
            )
        turn.say("\n".join(lines), [self.ctx.command_button("delete"), Button("Menu", "cmd:menu")])

    def news_lines(self, conv: Conversation) -> list[str]:
        """The communes whose news this chat receives, with the day each consent was given."""
        subs = self.ctx.repo.announcements.subscriptions_of(conv.key)
        return [self.texts.news.my_data.format(place=s.commune, day=vn_date(s.at)) for s in subs]

    def callback_lines(self, conv: Conversation) -> list[str]:
        """The numbers kept for a call back after "gặp cán bộ", with whose staff call and the day."""
        said = self.texts.handoff
        return [
            said.my_data.format(
                phone=national_phone(h.callback_phone), office=h.commune or said.my_data_office, day=vn_date(h.at)
            )
            for h in self.ctx.repo.handoffs.callbacks_of(conv.key)
        ]

    def ask_delete(self, conv: Conversation, turn: Turn) -> None:
        """Ask before erasing."""
        conv.pending = {"kind": "delete"}
        turn.say(self.texts.delete_confirm, self.ctx.yes_no_buttons())

    def delete_decided(self, conv: Conversation, yes: bool, turn: Turn) -> None:
        """Erase everything of this chat, or say nothing was erased."""
        conv.pending = {}
        if not yes:
            turn.say(self.texts.delete_cancelled, self.ctx.menu_buttons())
            return
        count = self.ctx.repo.delete_person(conv.key)
        conv.slots, conv.flow, conv.step, conv.history = {}, None, None, []
        turn.say(self.texts.deleted.format(count=count), self.ctx.menu_buttons(), erased=True)
