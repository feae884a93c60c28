"""Subscribing to a commune's khuyến công news, with consent, and stopping it in any wording, at any time."""

from __future__ import annotations

from bot.answers import place_slot
from bot.dialog.context import Context
from bot.dialog.handoff import commune_label
from bot.dialog.turn import Turn
from bot.messages import Button
from bot.storage import Consent, Conversation
from bot.storage.announcements import NEWS, ZBS_VERSION


class News:
    """Asks the consent, records the subscription, stops it, and shows it among the person's data."""

    def __init__(self, ctx: Context) -> None:
        self.ctx, self.texts = ctx, ctx.texts.news

    def subscribe(self, conv: Conversation, turn: Turn) -> None:
        """Ask the consent for the person's commune; ask the commune first when it is not known."""
        place = conv.slots.get("place") or {}
        if not place.get("code"):
            conv.pending = {"kind": "news_place"}
            turn.say(self.texts.ask_place)
            return
        label = self.label(place)
        store = self.ctx.repo.announcements
        if any(s.commune_code == place["code"] for s in store.subscriptions_of(conv.key)):
            turn.say(self.texts.already.format(place=label), self.ctx.menu_buttons())
            return
        conv.pending = {"kind": "news", "code": place["code"], "place": label}
        turn.say(self.consent_text(conv), [Button("Đồng ý", "yes:"), Button("Không đồng ý", "no:")])

    def place_given(self, conv: Conversation, text: str, turn: Turn) -> None:
        """The commune typed after 'which commune?'; asked once more when not found, then left."""
        found = self.ctx.assessor.gazetteer.resolve_text(text).place if text else None
        tries = int(conv.pending.get("asked") or 0) + 1
        conv.pending = {}
        if found is None:
            if tries < 2:
                conv.pending = {"kind": "news_place", "asked": tries}
                turn.say(self.texts.place_unknown)
            else:
                self.ctx.menu(turn, self.ctx.texts.not_understood)
            return
        slot = place_slot(found)
        conv.slots["place"] = conv.slots.get("place") or slot
        conv.pending = {"kind": "news", "code": slot["code"], "place": self.label(slot)}
        turn.say(self.consent_text(conv), [Button("Đồng ý", "yes:"), Button("Không đồng ý", "no:")])

    def consent_text(self, conv: Conversation) -> str:
        """The consent question exactly as shown (and stored with the decision)."""
        config = self.ctx.config
        text = self.texts.consent.format(
            place=conv.pending.get("place", ""),
            per_week=config.announce_per_week,
            night_start=config.announce_night_start,
            night_end=config.announce_night_end,
        )
        if self._zbs(conv):  # the phone of a registration is used only where the person was told so
            text = text.removesuffix(self.texts.consent_ask) + self.texts.consent_zbs + " " + self.texts.consent_ask
        return text

    def _zbs(self, conv: Conversation) -> bool:
        return self.ctx.config.zbs_on_zalo and conv.key.channel == "zalo"

    def version(self, conv: Conversation) -> str:
        """The consent text's version: its own for the wording that names Zalo's paid template."""
        return self.texts.consent_version + (ZBS_VERSION if self._zbs(conv) else "")

    def decided(self, conv: Conversation, yes: bool, turn: Turn) -> None:
        """Record the decision with the text shown; subscribe on a yes."""
        shown, code, label = self.consent_text(conv), int(conv.pending["code"]), str(conv.pending["place"])
        conv.pending = {}
        if not yes:
            self.ctx.repo.add_consent(Consent(conv.key.channel, conv.key.user, NEWS, self.version(conv), shown, False))
            turn.say(self.texts.declined, self.ctx.menu_buttons())
            return
        consent = Consent(conv.key.channel, conv.key.user, NEWS, self.version(conv), shown, True)
        self.ctx.repo.announcements.subscribe(conv.key, code, label, consent)
        turn.say(self.texts.subscribed.format(place=label), self.ctx.menu_buttons())

    def unsubscribe(self, conv: Conversation, turn: Turn) -> None:
        """Stop every subscription of this chat, at once."""
        withdrawal = Consent(
            conv.key.channel, conv.key.user, NEWS, self.texts.consent_version, self.texts.withdrawn, False
        )
        if conv.pending.get("kind") in ("news", "news_place"):
            conv.pending = {}
        ended = self.ctx.repo.announcements.unsubscribe(conv.key, withdrawal)
        turn.say(self.texts.unsubscribed if ended else self.texts.not_subscribed)

    @staticmethod
    def label(place: dict[str, object]) -> str:
        """'xã Vĩnh Thủy, Quảng Trị': the commune, and its province when known."""
        label = commune_label(dict(place)) or str(place.get("commune") or "")
        province = str(place.get("province") or "")
        return f"{label}, {province}" if province else label
