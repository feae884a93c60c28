"""What the evaluations share: the shape of a run's result, a share of a total, reading a set file."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import yaml


class Measured(Protocol):
    """What an evaluation run gives: a summary and the cases it got wrong."""

    errors: list[str]

    def summary(self) -> str:
        """The figures, one per line."""


def share(part: int, whole: int, empty: float = 0.0) -> float:
    """part / whole, or `empty` when there is nothing to count."""
    return part / whole if whole else empty


def read_set(path: Path) -> Any:
    """The YAML of an evaluation set; ValueError naming the file when it cannot be read."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read ({type(exc).__name__})") from None
