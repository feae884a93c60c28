"""Settings: the only reader of the environment (and of .env)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

_BUNDLED_KNOWLEDGE = Path(__file__).resolve().parent.parent / "knowledge"


def _default_knowledge() -> Path:
    # Run from the repository, ./knowledge is the one staff edit; elsewhere fall back to the bundled copy.
    local = Path("knowledge")
    return local if local.is_dir() else _BUNDLED_KNOWLEDGE


class Settings(BaseSettings):
    """Every setting of the assistant; .env.example documents each one."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    khuyencong_db: Path = Field(default=Path("data/khuyencong.db"), description="SQLite database file")
    khuyencong_knowledge: Path = Field(default_factory=_default_knowledge, description="knowledge/ folder")
