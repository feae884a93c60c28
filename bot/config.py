"""Settings: the only reader of the environment (and of .env)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

_BUNDLED = Path(__file__).resolve().parent.parent


_STATUS = "(new|contacted|dossier_submitted|supported|declined|withdrawn)"  # a lead status (design §4.6)


def _local_or_bundled(name: str) -> Path:
    # Run from the repository, ./knowledge and ./dialogs are the ones staff edit; elsewhere the bundled copy.
    local = Path(name)
    return local if local.is_dir() else _BUNDLED / name


def _default_knowledge() -> Path:
    return _local_or_bundled("knowledge")


def _default_dialogs() -> Path:
    return _local_or_bundled("dialogs")


class Settings(BaseSettings):
    """Every setting of the assistant; .env.example documents each one."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    khuyencong_db: Path = Field(
        default=Path("data/khuyencong.db"), description="SQLite database file, or a postgresql:// URL"
    )
    khuyencong_knowledge: Path = Field(default_factory=_default_knowledge, description="knowledge/ folder")
    khuyencong_dialogs: Path = Field(default_factory=_default_dialogs, description="dialogs/ folder")
    khuyencong_idle_hours: float = Field(default=336.0, gt=0, description="silence after which a chat starts over")
    khuyencong_handoff_idle_minutes: float = Field(
        default=240.0, gt=0, description="silence after which a chat held by staff returns to the assistant"
    )
    khuyencong_handoff_remind_minutes: float = Field(
        default=30.0, gt=0, description="wait for staff after which a request is reminded once to the staff chat"
    )
    khuyencong_retention_months: int = Field(default=24, gt=0, le=120, description="how long leads are kept")
    khuyencong_locality: str | None = Field(default=None, description="the deploying unit's locality id")
    khuyencong_busy_timeout_seconds: float = Field(
        default=10.0, gt=0, le=600, description="how long a write waits for another's lock before its turn fails"
    )
    khuyencong_db_pool_size: int = Field(
        default=10, ge=2, le=200, description="PostgreSQL only: connections each process keeps to the database"
    )
    khuyencong_health_max_wait_seconds: float = Field(
        default=300.0, gt=0, description="/healthz fails once a webhook event has waited longer than this"
    )
    khuyencong_secret_key: str | None = Field(default=None, description="key encrypting stored platform tokens")

    web_host: str = Field(default="127.0.0.1", description="address `khuyencong serve` listens on")
    web_port: int = Field(default=8080, ge=0, le=65535, description="port `khuyencong serve` listens on")
    web_max_body_kb: int = Field(default=64, gt=0, le=4096, description="largest request body accepted")
    web_header_timeout: float = Field(
        default=15.0, gt=0, le=300, description="seconds a connection may take to send a request's headers"
    )
    web_body_timeout: float = Field(default=30.0, gt=0, le=600, description="seconds to send a request's body")
    web_rate_per_minute: int = Field(default=30, gt=0, description="messages one person may send per minute")
    web_address_rate_per_minute: int = Field(
        default=300, gt=0, description="web chat messages one client address may send per minute, all chats"
    )
    web_address_chats_per_minute: int = Field(
        default=30, gt=0, description="different web chats one client address may use per minute"
    )
    web_background_workers: int = Field(default=8, gt=0, le=256, description="webhook turns processed at a time")
    web_trusted_proxies: str = Field(
        default="127.0.0.1,::1", description="reverse proxies whose X-Forwarded-For is believed (addresses or CIDR)"
    )
    web_long_poll_seconds: float = Field(
        default=25.0, gt=0, le=25, description="longest wait of the widget's long poll for staff replies"
    )
    web_long_polls_max: int = Field(default=1000, gt=0, description="long polls waiting at once, all clients")
    khuyencong_worker: Literal["process", "inline", "external"] = Field(
        default="process", description="who runs webhook turns: a child process, this process, or another unit"
    )

    zalo_app_id: str | None = Field(default=None, description="Zalo app id (webhook signature, OAuth)")
    zalo_oa_secret_key: str | None = Field(default=None, description="OA secret key: webhook signature")
    zalo_app_secret_key: str | None = Field(default=None, description="app secret key: token refresh")
    zalo_access_token: str | None = Field(default=None, description="first OA access token")
    zalo_refresh_token: str | None = Field(default=None, description="first OA refresh token (rotates)")
    zalo_api_base: str = Field(default="https://openapi.zalo.me", description="Zalo OA API")
    zalo_oauth_base: str = Field(default="https://oauth.zaloapp.com", description="Zalo OAuth v4")

    zalo_free_reply_hours: float = Field(
        default=48.0, gt=0, description="hours after the person's last message staff reply free of charge"
    )
    zalo_reply_days: float = Field(default=7.0, gt=0, description="days after it staff may reply at all")
    zalo_zbs_template_id: str = Field(
        default="", max_length=40, description="Zalo's paid ZBS template for announcements outside 48 h (empty: off)"
    )
    zalo_zbs_api_base: str = Field(default="https://business.openapi.zalo.me", description="Zalo's business API")
    zalo_zbs_params: str = Field(
        default="place=place,text=text,deadline=deadline,link=link",
        pattern=r"^\s*\w+\s*=\s*(place|text|deadline|link)\s*(,\s*\w+\s*=\s*(place|text|deadline|link)\s*)*$",
        description="the template's parameters, each name=place|text|deadline|link (what it is filled with)",
    )
    zalo_zbs_param_chars: int = Field(
        default=400, ge=10, le=2000, description="longest value of one template parameter (longer is cut, with …)"
    )
    zalo_zbs_price_vnd: int = Field(
        default=0, ge=0, description="price of one template message, for the estimate staff see (0: none shown)"
    )

    announce_per_week: int = Field(default=2, ge=0, description="announcements one person receives per 7 days at most")
    announce_night_start: int = Field(default=21, ge=0, le=23, description="hour (Vietnam) from which none is sent")
    announce_night_end: int = Field(default=7, ge=0, le=23, description="hour (Vietnam) from which sending resumes")
    announce_zalo_charged: bool = Field(
        default=False, description="also send to Zalo people 48 h–7 d after their last message (charged by Zalo)"
    )
    telegram_per_second: float = Field(
        default=30.0,
        gt=0,
        description="messages per second this bot sends to Telegram, every chat and kind together "
        "(python-telegram-bot's rate limiter; Telegram allows about 30)",
    )
    announce_telegram_per_second: float = Field(
        default=25.0, gt=0, description="announcement messages per second to Telegram, all chats together"
    )
    announce_zalo_per_second: float = Field(default=10.0, gt=0, description="announcement messages per second to Zalo")
    announce_senders: int = Field(default=4, gt=0, le=64, description="announcement sends in flight per platform")
    reminder_days_before: int = Field(
        default=7,
        ge=0,
        le=60,
        description="days before a registered plan's deadline a subscriber is reminded (0: never)",
    )
    reminder_statuses: str = Field(
        default="dossier_submitted,supported",
        pattern=rf"^(|{_STATUS}(,{_STATUS})*)$",
        description="lead statuses a subscriber is told of when staff move their registration there (comma-separated)",
    )

    telegram_bot_token: str | None = Field(default=None, description="bot token from @BotFather")
    telegram_webhook_secret: str | None = Field(default=None, description="X-Telegram-Bot-Api-Secret-Token")
    telegram_api_base: str = Field(default="https://api.telegram.org/bot", description="Bot API base URL")
    telegram_staff_chat_id: str | None = Field(default=None, description="chat told of every new registration")
    telegram_staff_ids: str = Field(default="", description="comma-separated Telegram user ids allowed staff commands")

    @property
    def staff_ids(self) -> set[int]:
        """The Telegram users who may use /leads, /stats and /export."""
        return {int(x) for x in self.telegram_staff_ids.replace(" ", "").split(",") if x.lstrip("-").isdigit()}

    @property
    def zalo_enabled(self) -> bool:
        """Zalo is mounted only with its signature and sending settings."""
        return bool(self.zalo_app_id and self.zalo_oa_secret_key and self.zalo_access_token)

    @property
    def telegram_webhook_enabled(self) -> bool:
        """The Telegram webhook is mounted only with a token and a secret."""
        return bool(self.telegram_bot_token and self.telegram_webhook_secret)
