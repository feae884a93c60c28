"""A bounded, in-memory limit per client address: how many messages, and how many different chats, a minute."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from bot.proxy import bucket

WINDOW = 60.0  # seconds
MAX_ADDRESSES = 10_000  # beyond this the least recently seen address is forgotten: memory stays bounded


@dataclass
class _Window:
    times: deque[float] = field(default_factory=deque)
    chats: dict[str, float] = field(default_factory=dict)  # chat id -> last message

    def expire(self, before: float) -> None:
        while self.times and self.times[0] < before:
            self.times.popleft()
        self.chats = {user: at for user, at in self.chats.items() if at >= before}


class AddressLimit:
    """Per client address: at most `rate` messages and `chats` different chat ids in any minute."""

    def __init__(self, rate: int, chats: int, max_addresses: int = MAX_ADDRESSES) -> None:
        self.rate, self.chats, self.max_addresses = rate, chats, max_addresses
        self._seen: dict[str, _Window] = {}  # in order of last use, oldest first

    def allow(self, address: str, user: str, now: float | None = None) -> bool:
        """Count one message of `user` from `address`; False (nothing counted) past either limit."""
        now = time.monotonic() if now is None else now
        key = bucket(address)
        window = self._seen.pop(key, None) or _Window()
        self._seen[key] = window  # moved to the end: the most recently used
        window.expire(now - WINDOW)
        if len(window.times) >= self.rate or (user not in window.chats and len(window.chats) >= self.chats):
            return False
        window.times.append(now)
        window.chats[user] = now
        while len(self._seen) > self.max_addresses:
            del self._seen[next(iter(self._seen))]
        return True
