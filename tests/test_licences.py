"""The licence check (tools/licences.py): no GPL/AGPL distribution may ship at run time; LGPL may."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest

from tools.licences import OVERRIDES, Lookup, check, copyleft


def _fake(tmp_path: Path, dists: dict[str, list[str]]) -> Lookup:
    """Installed distributions made of METADATA files: name → its header lines (Requires-Dist, License…)."""
    found: dict[str, metadata.Distribution] = {}
    for name, lines in dists.items():
        folder = tmp_path / f"{name}-1.0.dist-info"
        folder.mkdir()
        header = ["Metadata-Version: 2.4", f"Name: {name}", "Version: 1.0", *lines]
        (folder / "METADATA").write_text("\n".join(header) + "\n", encoding="utf-8")
        found[name] = metadata.PathDistribution(folder)
    return found.get


# The metadata of vietnam-provinces 2025.10.1 as installed: no License field, no licence classifier.
_VIETNAM_PROVINCES = ["Classifier: Natural Language :: Vietnamese", "Requires-Python: <4.0,>=3.10"]


def test_the_gpl_gazetteer_package_fails_the_check(tmp_path: Path) -> None:
    lookup = _fake(
        tmp_path,
        {
            "khuyencong-bot": ["License: MIT", "Requires-Dist: rapidfuzz>=3.9", "Requires-Dist: vietnam-provinces"],
            "rapidfuzz": ["License-Expression: MIT"],
            "vietnam-provinces": _VIETNAM_PROVINCES,
        },
    )
    assert check(lookup=lookup) == [
        "vietnam-provinces: GPL-3.0-or-later (from licences.toml) is copyleft; "
        "not allowed at run time in an MIT project"
    ]


def test_a_package_with_no_licence_named_fails_unless_recorded(tmp_path: Path) -> None:
    lookup = _fake(tmp_path, {"khuyencong-bot": ["License: MIT", "Requires-Dist: mystery"], "mystery": []})
    assert check(lookup=lookup) == ["mystery: its metadata names no licence; add it to licences.toml with the reason"]
    recorded = tmp_path / "licences.toml"
    recorded.write_text('[packages.mystery]\nlicence = "MIT"\nreason = "LICENSE file of its repository"\n')
    assert check(lookup=lookup, overrides_path=recorded) == []
    recorded.write_text('[packages.mystery]\nlicence = "MIT"\n')
    with pytest.raises(ValueError, match="needs a licence and a reason"):
        check(lookup=lookup, overrides_path=recorded)


def test_gpl_deep_in_the_closure_fails_but_dev_extras_do_not_ship(tmp_path: Path) -> None:
    lookup = _fake(
        tmp_path,
        {
            "khuyencong-bot": ["License: MIT", "Requires-Dist: lib", 'Requires-Dist: devtool; extra == "dev"'],
            "lib": ["License-Expression: BSD-3-Clause", "Requires-Dist: deep[fast]"],
            "deep": ["License-Expression: MIT", 'Requires-Dist: accel; extra == "fast"'],
            "accel": ["Classifier: License :: OSI Approved :: GNU Affero General Public License v3"],
            "devtool": ["License-Expression: GPL-3.0-only"],
        },
    )
    assert check(lookup=lookup) == [
        "accel: GNU Affero General Public License v3 (from classifiers) is copyleft; "
        "not allowed at run time in an MIT project"
    ]


@pytest.mark.parametrize(
    ("licence", "forbidden"),
    [
        ("GPL-3.0-or-later", True),
        ("AGPL-3.0-only", True),
        ("GNU General Public License v2 (GPLv2)", True),
        ("GPL-2.0-only AND MIT", True),
        ("LGPL-3.0-only", False),  # python-telegram-bot: a library used through its interface
        ("GNU Lesser General Public License v3 (LGPLv3)", False),
        ("MIT OR GPL-2.0-or-later", False),  # one may take it under MIT
        ("Apache-2.0 AND MIT", False),
        ("MPL-2.0", False),
    ],
)
def test_gpl_and_agpl_are_forbidden_lgpl_is_allowed(licence: str, forbidden: bool) -> None:
    assert copyleft(licence) is forbidden


def test_the_installed_project_passes_and_every_recorded_licence_has_a_reason() -> None:
    assert check() == []
    assert "reason" in OVERRIDES.read_text(encoding="utf-8")
