"""Settings: the only reader of the environment (and of .env)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

_BUNDLED = Path(__file__).resolve().parent.parent


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

    khuyencong_db: Path = Field(default=Path("data/khuyencong.db"), description="SQLite database file")
    khuyencong_knowledge: Path = Field(default_factory=_default_knowledge, description="knowledge/ folder")
    khuyencong_dialogs: Path = Field(default_factory=_default_dialogs, description="dialogs/ folder")
    khuyencong_idle_hours: float = Field(default=336.0, gt=0, description="silence after which a chat starts over")
    khuyencong_retention_months: int = Field(default=24, gt=0, le=120, description="how long leads are kept")
    khuyencong_locality: str | None = Field(default=None, description="the deploying unit's locality id")
