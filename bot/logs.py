"""Logging of the long-running commands: one format, quiet HTTP clients, and no secret in any line."""

from __future__ import annotations

import logging

from bot.config import Settings

FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"
SECRET_SETTINGS = (
    "telegram_bot_token",
    "telegram_webhook_secret",
    "zalo_oa_secret_key",
    "zalo_app_secret_key",
    "zalo_access_token",
    "zalo_refresh_token",
    "khuyencong_secret_key",
)
CHATTY = ("httpx", "httpcore")  # they log every request URL at INFO, and a Bot API URL holds the bot token
MIN_SECRET = 6  # shorter values would blank ordinary words; no real token or key is that short
MASK = "***"


class RedactSecrets(logging.Filter):
    """Replaces every known secret in a record's message, arguments and traceback."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def add(self, *secrets: str | None) -> None:
        """Hide these values from now on (settings at start, rotated tokens when they arrive)."""
        self.secrets.update(s for s in secrets if s and len(s) >= MIN_SECRET)

    def redact(self, text: str) -> str:
        """The text with every secret masked."""
        for secret in sorted(self.secrets, key=len, reverse=True):  # a longer secret may contain a shorter one
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drop it."""
        if not self.secrets:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = self.redact(message), None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


REDACT = RedactSecrets()


def hide(*secrets: str | None) -> None:
    """Add secrets learnt at run time (a refreshed token) to what every log line hides."""
    REDACT.add(*secrets)


def setup_logging(settings: Settings) -> None:
    """INFO to stderr for serve, worker and telegram; HTTP clients at WARNING; every secret masked."""
    logging.basicConfig(level=logging.INFO, format=FORMAT)
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.WARNING)
    REDACT.add(*(getattr(settings, name, None) for name in SECRET_SETTINGS))
    for handler in logging.getLogger().handlers:
        if REDACT not in handler.filters:
            handler.addFilter(REDACT)
