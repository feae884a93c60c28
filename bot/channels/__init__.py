"""Channels: the ways people reach the assistant (console, Telegram, Zalo, web)."""
