"""The shared vocabulary between channels and the engine: what comes in, what goes out."""

from __future__ import annotations

from dataclasses import dataclass, field


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

    def as_json(self) -> dict[str, object]:
        """The shape of design §4.4."""
        return {"text": self.text, "buttons": [{"label": b.label, "payload": b.payload} for b in self.buttons]}
