"""Trợ lý khuyến công: the library behind the assistant."""
