"""Storage: the Repository protocol and its records; SQLite and in-memory implementations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from bot.messages import ConversationKey, Reply
from bot.slots import Demand

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from bot.storage.announcements import AnnouncementStore
    from bot.storage.handoffs import HandoffStore

HandoffReason = Literal["asked", "failed", "oa_chat", "question"]
"""The person asked for staff; the assistant failed them twice in a row; staff wrote first (in the Zalo OA's own
chat, or answering a question the assistant could not)."""
LeadStatus = Literal["new", "contacted", "dossier_submitted", "supported", "declined", "withdrawn"]


@dataclass
class Conversation:
    """Where one person is in the dialog, and what they have answered."""

    key: ConversationKey
    flow: str | None = None
    step: str | None = None
    slots: dict[str, Any] = field(default_factory=dict)
    history: list[str] = field(default_factory=list)  # steps answered, for 'back'
    misses: int = 0
    pending: dict[str, Any] = field(default_factory=dict)  # e.g. a guess awaiting confirmation
    flow_version: int = 0
    greeted: bool = False
    updated_at: str = ""
    fails: int = 0  # turns in a row the assistant could not answer; the second opens a handoff
    # This turn's messages for the transcript (role, author, text), stored with the turn, then emptied.
    said: list[tuple[str, str, str]] = field(default_factory=list, compare=False)


@dataclass
class Lead:
    """A registration of interest, as staff see it."""

    ref: str
    channel: str
    user: str
    name: str
    phone: str
    facility_name: str
    commune_code: int | None
    commune: str | None
    province: str | None
    profile: dict[str, Any]
    assessment: dict[str, Any]
    lines_wanted: list[str]
    note: str
    consent_id: int
    status: LeadStatus = "new"
    created_at: str = ""
    updated_at: str = ""
    duplicate_of: str | None = None  # an earlier lead of another chat with the same phone and commune, for staff
    merged: bool = field(default=False, compare=False)  # set by save_turn: this chat's earlier lead was updated


@dataclass
class Consent:
    """A person's consent to keep their contact data, with the exact text they agreed to."""

    channel: str
    user: str
    purpose: str
    text_version: str
    text: str
    given: bool
    at: str = ""
    id: int = 0


class Outbox:
    """A turn's replies, kept in the same transaction as the turn until the platform took them (design §7)."""

    def __init__(self, address: str | None, compose: Callable[[Lead | None], list[Reply]]) -> None:
        # Where the platform delivers them (Zalo user id, Telegram chat id). None: the replies are answered
        # at once (the web chat) and only kept with the message's id, so that a resend gets them again.
        self.address = address
        self._compose = compose
        self.replies: list[Reply] = []

    def fill(self, stored: Lead | None) -> list[Reply]:
        """The final replies, once the turn's lead (and so its reference code) is stored."""
        self.replies = self._compose(stored)
        return self.replies


class Repository(Protocol):
    """Everything the engine and staff tools store. Each method is one transaction."""

    def load(self, key: ConversationKey) -> Conversation | None:
        """The conversation of a person, if any."""

    def save_turn(
        self, conversation: Conversation, message_id: str | None, lead: Lead | None = None, outbox: Outbox | None = None
    ) -> Lead | None:
        """Store the conversation after a turn, mark the inbound message processed, and upsert a lead.

        Returns the stored lead: this chat's earlier lead when it registers the same phone and commune again;
        otherwise a new one (flagged `duplicate_of` when another chat registered that phone and commune).
        The lead must carry a consent to registration given by the same chat (else LeadRefused). With an
        outbox, the turn's replies are stored in the same transaction, for a sender to deliver after it.
        """

    def person_turn(self, key: ConversationKey) -> AbstractContextManager[None]:
        """Hold a person's turn against every other process on this database, for a turn answered at once."""

    def seen(self, key: ConversationKey, message_id: str) -> bool:
        """Whether this inbound message was already processed."""

    def replayed(self, key: ConversationKey, message_id: str) -> list[Reply]:
        """The replies kept with an answered-at-once message that was already processed (else none)."""

    def add_consent(self, consent: Consent) -> int:
        """Record a consent decision; returns its id."""

    def consent_given(self, key: ConversationKey, consent_id: int) -> bool:
        """Whether this consent exists, was given, for registration, by this chat."""

    def leads_of(self, key: ConversationKey) -> list[Lead]:
        """The leads a person registered."""

    def delete_person(self, key: ConversationKey) -> int:
        """Erase everything the person's chat produced; returns how many leads were erased."""

    def add_handoff(self, key: ConversationKey, note: str, commune_code: int | None) -> int:
        """Record a request to talk to staff."""

    @property
    def handoffs(self) -> HandoffStore:
        """Handoffs to staff (the conversation's mode) and the transcripts they read."""

    @property
    def announcements(self) -> AnnouncementStore:
        """Subscriptions to a commune's news and the announcement queue."""

    def audit(self, lead_ref: str) -> list[dict[str, Any]]:
        """The history of a lead, oldest first."""

    def record_miss(
        self, key: str, example: str, asker: ConversationKey | None = None, commune_code: int | None = None
    ) -> None:
        """Keep a question the FAQ could not answer, with who asked and their commune then (if known)."""

    def local_faq_version(self, commune_code: int) -> int:
        """The newest change of a commune's own FAQ entries (0: never any)."""

    def local_faq(self, communes: list[int] | None = None) -> list[dict[str, Any]]:
        """A commune's own FAQ entries (all when None), oldest first."""

    def line_demand(self, communes: list[int] | None = None) -> dict[int, dict[str, Demand]]:
        """Live registrations and approvals per commune and support line wanted."""

    def count_conversations(self) -> int:
        """How many conversations are stored."""
