"""Kept for imports written before the dialog became a package: everything lives in bot.dialog."""

from bot.dialog import MAX_MISSES, MAX_TEXT, DialogEngine, EngineConfig

__all__ = ["MAX_MISSES", "MAX_TEXT", "DialogEngine", "EngineConfig"]
