"""One turn's output, and the newcomers welcomed without a stored conversation."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass, field

from bot.messages import Button, ConversationKey, Reply
from bot.storage import Conversation, Lead

WELCOMED_KEPT, WELCOMED_FOR = 10_000, 3600.0  # newcomers welcomed but not stored: how many, for how many seconds


@dataclass
class Turn:
    """What one turn produces: replies, and a lead to store with the conversation."""

    replies: list[Reply] = field(default_factory=list)
    lead: Lead | None = None
    registered_office: str = ""
    failed: bool = False  # the assistant could not answer this message (two in a row hand the chat to staff)
    handed_over: dict[str, object] | None = None  # the place of a request for staff, for the staff chat's notice

    def say(self, text: str, buttons: list[Button] | tuple[Button, ...] = (), erased: bool = False) -> None:
        """Add a reply."""
        self.replies.append(Reply(text, tuple(buttons), erased))


def holds_something(conv: Conversation) -> bool:
    """Whether a conversation holds more than a greeting: answers, a flow under way, a pending question."""
    return bool(conv.flow or conv.step or conv.slots or conv.history or conv.pending)


class Welcomed:
    """Who was welcomed without a stored conversation, bounded, so a second greeting is not welcomed again.

    Not conversation state: it only spares a newcomer whose greeting was not stored a second welcome.
    """

    def __init__(self) -> None:
        self._at: OrderedDict[ConversationKey, dt.datetime] = OrderedDict()

    def recently(self, key: ConversationKey, now: dt.datetime) -> bool:
        """Whether this person was welcomed within the last hour."""
        at = self._at.get(key)
        return at is not None and (now - at).total_seconds() <= WELCOMED_FOR

    def remember(self, key: ConversationKey, now: dt.datetime, welcomed: bool) -> None:
        """Keep (bounded) who was welcomed without a stored conversation; forget them once stored."""
        self._at.pop(key, None)
        if welcomed:
            self._at[key] = now
            while len(self._at) > WELCOMED_KEPT:  # a flood of new ids pushes out the oldest
                self._at.popitem(last=False)
