"""Structural types of the knowledge the FAQ index reads, so that it need not import the pydantic schema."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class FaqEntryLike(Protocol):
    """An FAQ entry (bot.knowledge.FaqEntry)."""

    @property
    def id(self) -> str: ...
    @property
    def question(self) -> str: ...
    @property
    def variants(self) -> Sequence[str]: ...
    @property
    def answer(self) -> str: ...
    @property
    def citation(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def tags(self) -> Sequence[str]: ...


class SubjectLike(Protocol):
    """A subject a question can name (bot.knowledge.FaqSubject)."""

    @property
    def tag(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def terms(self) -> Sequence[str]: ...
    @property
    def required(self) -> bool: ...


class FaqLike(Protocol):
    """The FAQ file (bot.knowledge.FaqFile)."""

    @property
    def subjects(self) -> Sequence[SubjectLike]: ...
    @property
    def entries(self) -> Sequence[FaqEntryLike]: ...


class TopicLike(Protocol):
    """An out-of-scope topic (bot.knowledge.OutOfScopeTopic)."""

    @property
    def id(self) -> str: ...
    @property
    def terms(self) -> Sequence[str]: ...
    @property
    def accent_only_terms(self) -> Sequence[str]: ...
    @property
    def alone(self) -> bool: ...
    @property
    def answer(self) -> str: ...


class OutOfScopeLike(Protocol):
    """The out-of-scope file (bot.knowledge.OutOfScopeFile)."""

    @property
    def topics(self) -> Sequence[TopicLike]: ...
    @property
    def in_scope_terms(self) -> Sequence[str]: ...
