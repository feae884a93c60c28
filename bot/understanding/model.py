"""What a message says: intents and facts, each with its span in the text and a confidence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Intent = Literal[
    "check_eligibility",
    "register",
    "ask_question",
    "talk_to_staff",
    "see_my_data",
    "delete_my_data",
    "subscribe_news",
    "unsubscribe_news",
    "greeting",
    "thanks",
    "yes",
    "no",
    "skip",
    "dont_know",
    "correction",
    "menu",
    "back",
    "restart",
    "help",
    "inform",  # states facts and nothing else
]
FactKind = Literal[
    "legal_form",
    "product",
    "sector",
    "commune",
    "province",
    "workers",
    "revenue",
    "capital",
    "craft_village",
    "export",
    "owner_flag",
    "local_material",
    "need",
    "phone",
    "name",
    "facility",
]


@dataclass(frozen=True)
class Fact:
    """One fact: its kind, its value (a code, a number, a name), where it was read and how sure we are."""

    kind: FactKind
    value: Any
    start: int
    end: int
    confidence: float
    why: str = ""  # the phrase or rule that produced it, for --show-errors and logs
    alternatives: tuple[Any, ...] = ()  # other values it may mean (several communes of that name)


@dataclass(frozen=True)
class IntentHit:
    """An intent and the words that showed it."""

    intent: Intent
    start: int
    end: int
    confidence: float
    why: str = ""


@dataclass(frozen=True)
class Understanding:
    """Everything read from one message; spans index into `text` (the message in NFC)."""

    text: str
    intents: tuple[IntentHit, ...] = ()
    facts: tuple[Fact, ...] = ()

    @property
    def intent(self) -> Intent | None:
        """The most likely intent, or None when the message says nothing recognisable."""
        return self.intents[0].intent if self.intents else None

    def fact(self, kind: FactKind) -> Fact | None:
        """The most confident fact of a kind."""
        found = [f for f in self.facts if f.kind == kind]
        return max(found, key=lambda f: f.confidence) if found else None

    def values(self, kind: FactKind) -> list[Any]:
        """Every value of a kind, in text order, without repeats."""
        return list(dict.fromkeys(f.value for f in self.facts if f.kind == kind))
