"""Owner-only files: the database, its backups, exports and secrets are readable by the service's user alone."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

FILE_MODE, DIR_MODE = 0o600, 0o700
UMASK = 0o077  # set at process start: every file and folder the commands create is owner-only


def owner_only(*paths: Path) -> None:
    """Make existing files owner-only (a deployment from before this rule; a file created elsewhere)."""
    for path in paths:
        with contextlib.suppress(OSError):  # absent, or not ours: nothing to tighten here
            if path.exists() and path.stat().st_mode & 0o077:
                path.chmod(DIR_MODE if path.is_dir() else FILE_MODE)


def private_dir(path: Path) -> None:
    """Create a folder owner-only (an existing folder keeps its mode: it may be shared, like /tmp)."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)


def write_durably(path: Path, data: bytes) -> None:
    """Replace a file atomically and durably: owner-only, fsynced, renamed, folder fsynced."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the rename itself survives a power cut
    finally:
        os.close(folder)
