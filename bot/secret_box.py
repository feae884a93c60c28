"""Secrets at rest: platform tokens sealed with Fernet under KHUYENCONG_SECRET_KEY, plain text without a key."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

PREFIX = "fernet:"
MISSING_KEY = (
    "Mã truy cập Zalo đã lưu được mã hóa nhưng chưa có KHUYENCONG_SECRET_KEY. "
    "Hãy đặt lại đúng khóa đã dùng trong tệp .env."
)
WRONG_KEY = (
    "KHUYENCONG_SECRET_KEY không đúng: không giải mã được mã truy cập Zalo đã lưu. "
    "Hãy đặt lại đúng khóa đã dùng, hoặc lấy mã mới trên trang quản lý Zalo."
)


class SecretKeyError(Exception):
    """A sealed value cannot be opened: the key is missing or wrong (the message is for the operator)."""


class SecretBox:
    """Seals and opens short secrets; without a key it stores them as they are (documented in deploy.md)."""

    def __init__(self, key: str | None) -> None:
        # Any passphrase: SHA-256 makes it the 32 bytes Fernet wants (a random key from .env.example's recipe)
        digest = hashlib.sha256(key.encode()).digest() if key else None
        self._fernet = Fernet(base64.urlsafe_b64encode(digest)) if digest else None

    @property
    def encrypts(self) -> bool:
        """Whether values are sealed (a key is set)."""
        return self._fernet is not None

    def seal(self, value: str) -> str:
        """The value as stored."""
        if self._fernet is None:
            return value
        return PREFIX + self._fernet.encrypt(value.encode()).decode()

    def open(self, stored: str) -> str:
        """The value from what is stored; plain text from before a key was set is read as it is."""
        if not stored.startswith(PREFIX):
            return stored
        if self._fernet is None:
            raise SecretKeyError(MISSING_KEY)
        try:
            return self._fernet.decrypt(stored[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            raise SecretKeyError(WRONG_KEY) from None
