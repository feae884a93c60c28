"""The shared vocabulary between channels and the engine: what comes in, what goes out."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from bot.text import storable


@dataclass(frozen=True)
class ConversationKey:
    """Whose conversation: the channel and the user's id on it."""

    channel: str
    user: str


@dataclass(frozen=True)
class Incoming:
    """One message from a person: typed text or the payload of a button they tapped."""

    key: ConversationKey
    text: str | None = None
    button: str | None = None
    message_id: str | None = None  # the platform's id, for processing a redelivery only once
    reply_to: str | None = None  # set: the replies are kept in the outbox with the turn, for this address


@dataclass(frozen=True)
class Button:
    """A choice offered with a reply."""

    label: str
    payload: str


@dataclass(frozen=True)
class Reply:
    """One message to send back."""

    text: str
    buttons: tuple[Button, ...] = field(default_factory=tuple)
    erased: bool = False  # the person's data was just erased: a channel keeping its own copy drops it too

    def as_json(self) -> dict[str, object]:
        """The shape of design §4.4."""
        return {"text": self.text, "buttons": [{"label": b.label, "payload": b.payload} for b in self.buttons]}


ANY_USER = re.compile(r"^\S.{0,199}$", re.DOTALL)  # any non-blank id of at most 200 characters


def incoming_from_json(
    raw: str | bytes,
    channel: str,
    user_pattern: re.Pattern[str] = ANY_USER,
    user_rule: str = "một chuỗi (tối đa 200 ký tự)",
) -> Incoming | str:
    """An Incoming from {"user", "text"} or {"user", "button"} (design §4.4), or a polite Vietnamese error."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # bad JSON, bad UTF-8, a 5,000-digit number, 50,000 brackets
        return "Dữ liệu không phải JSON hợp lệ."
    if not isinstance(data, dict):
        return 'Dữ liệu phải là một đối tượng JSON, ví dụ {"user": "u1", "text": "xin chào"}.'
    unknown = sorted(set(data) - {"user", "text", "button"})
    if unknown:
        return f"Trường không được hỗ trợ: '{unknown[0]}'."
    user = data.get("user")
    # A lone surrogate ('\\ud800') cannot be stored; cleaned, two ids could become one, so it is refused.
    if not isinstance(user, str) or not user_pattern.match(user) or storable(user) != user:
        return f"Trường 'user' phải là {user_rule}."
    text, button = data.get("text"), data.get("button")
    if (text is None) == (button is None) or not isinstance(text if button is None else button, str):
        return "Cần đúng một trong hai trường 'text' hoặc 'button', kiểu chuỗi."
    text, button = (storable(x) if x is not None else None for x in (text, button))  # kept, surrogates as '?'
    return Incoming(ConversationKey(channel, user), text=text, button=button)
