"""Licence check of the run-time dependency closure: no GPL or AGPL code ships with this MIT project.

Walks the installed distributions from khuyencong-bot's own requirements (not its extras: dev and bench tools
do not ship), reads each one's licence from its metadata (License-Expression, else License, else the
"License ::" classifiers) and fails on GPL or AGPL. LGPL is allowed: a library used unmodified through its
interface (python-telegram-bot) does not extend its terms to the project. A distribution whose metadata names
no licence fails too, unless tools/licences.toml records its licence and the reason we know it.

Run: .venv/bin/python tools/licences.py   (exit 1 and one line per problem; `make test` runs it)
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT_PROJECT = "khuyencong-bot"
OVERRIDES = Path(__file__).with_name("licences.toml")
_LESSER = re.compile(r"LGPL|Lesser General Public|Library General Public|Library or Lesser", re.IGNORECASE)
_COPYLEFT = re.compile(r"\bA?GPL|General Public License|Affero", re.IGNORECASE)
_UNKNOWN = {"", "unknown", "none", "n/a"}


@dataclass(frozen=True)
class Found:
    """One distribution of the closure and the licence read for it."""

    name: str
    licence: str  # as declared ('' when the metadata names none)
    origin: str  # where it was read: 'License-Expression', 'License', 'classifiers', 'tools/licences.toml'


Lookup = Callable[[str], metadata.Distribution | None]


def installed(name: str) -> metadata.Distribution | None:
    """The installed distribution of that name, or None."""
    try:
        return metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None


def closure(root: str, lookup: Lookup = installed) -> Iterator[metadata.Distribution]:
    """The root distribution and every distribution its run-time requirements pull in, each once."""
    yielded: set[str] = set()
    visited: set[tuple[str, frozenset[str]]] = set()
    pending: list[tuple[str, frozenset[str]]] = [(root, frozenset())]
    while pending:
        name, extras = pending.pop()
        key = canonicalize_name(name)
        dist = lookup(name)
        if dist is None or (key, extras) in visited:
            continue  # not installed: required only on another platform or Python (its marker was false)
        visited.add((key, extras))
        if key not in yielded:
            yielded.add(key)
            yield dist
        envs = [{"extra": e} for e in extras] or [{"extra": ""}]
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or any(req.marker.evaluate(env) for env in envs):
                pending.append((req.name, frozenset(req.extras)))


def declared(dist: metadata.Distribution) -> Found:
    """The licence a distribution declares, from the most precise field present."""
    meta = dist.metadata
    name = meta["Name"] or "?"
    expression = _field(meta, "License-Expression")
    if expression.lower() not in _UNKNOWN:
        return Found(name, expression, "License-Expression")
    text = _field(meta, "License").splitlines()
    if text and text[0].strip().lower() not in _UNKNOWN:
        return Found(name, text[0].strip(), "License")
    classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    classifiers = [c for c in classifiers if c not in ("OSI Approved", "")]
    return Found(name, " AND ".join(classifiers), "classifiers" if classifiers else "")


def _field(meta: metadata.PackageMetadata, name: str) -> str:
    """A metadata field, '' when absent."""
    return str((meta.get_all(name) or [""])[0]).strip()


def copyleft(licence: str) -> bool:
    """Whether a licence is GPL or AGPL (LGPL is not); 'MIT OR GPL-2.0' is not, one may choose MIT."""
    choices = re.split(r"\s+OR\s+", licence.replace("(", " ").replace(")", " "))
    return all(any(_COPYLEFT.search(_LESSER.sub("", part)) for part in re.split(r"\s+AND\s+", c)) for c in choices)


def load_overrides(path: Path = OVERRIDES) -> dict[str, dict[str, str]]:
    """Known licences of distributions whose metadata names none: {name: {licence, reason}}."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    packages: dict[str, dict[str, str]] = data.get("packages", {})
    for name, entry in packages.items():
        if not entry.get("licence") or not entry.get("reason"):
            raise ValueError(f"{path.name}: [packages.{name}] needs a licence and a reason")
    return {canonicalize_name(k): v for k, v in packages.items()}


def problems(found: list[Found], overrides: Mapping[str, Mapping[str, str]]) -> list[str]:
    """One line per distribution that may not ship: GPL/AGPL, or no licence known."""
    out = []
    for item in found:
        known = overrides.get(canonicalize_name(item.name))
        licence, origin = item.licence, item.origin
        if known and not licence:
            licence, origin = known["licence"], OVERRIDES.name
        if not licence:
            out.append(f"{item.name}: its metadata names no licence; add it to {OVERRIDES.name} with the reason")
        elif copyleft(licence):
            out.append(f"{item.name}: {licence} (from {origin}) is copyleft; not allowed at run time in an MIT project")
    return out


def check(root: str = ROOT_PROJECT, lookup: Lookup = installed, overrides_path: Path = OVERRIDES) -> list[str]:
    """The problems of the run-time closure of `root` (empty when every licence may ship)."""
    if lookup(root) is None:
        return [f"{root} is not installed: nothing to check"]
    return problems([declared(d) for d in closure(root, lookup)], load_overrides(overrides_path))


def main() -> int:
    """Print the closure's licences and the problems; exit 1 when any."""
    found = [declared(d) for d in closure(ROOT_PROJECT)]
    for item in sorted(found, key=lambda f: f.name.lower()):
        print(f"  {item.name}: {item.licence or '?'}")
    bad = check()
    for line in bad:
        print(f"LICENCE: {line}", file=sys.stderr)
    print(f"{len(found)} run-time distributions, {len(bad)} problem(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
