"""The project's own table of administrative units after the 1 July 2025 reform (knowledge/units/), and its loader."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from bot.knowledge_errors import KnowledgeError, Problem

UnitType = Literal["xa", "phuong", "dac_khu"]
BUNDLED = Path(__file__).resolve().parent.parent / "knowledge" / "units"
PROVINCES = "provinces.yaml"
COMMUNES = "communes.csv"
_COLUMNS = ("code", "name", "type", "province")

Code = Annotated[int, Field(ge=1, le=99_999)]
Name = Annotated[str, Field(min_length=2, pattern=r"^\S(.*\S)?$")]  # no stray spaces around a name


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProvinceUnit(_Strict):
    """A province-level unit: a tỉnh, or a thành phố trực thuộc trung ương (centrally_run)."""

    code: Code
    name: Name
    centrally_run: bool


class ProvincesFile(_Strict):
    """knowledge/units/provinces.yaml: the provinces and the legal text the table follows."""

    source: Name
    status: Literal["P", "S", "R"]
    provinces: list[ProvinceUnit]


class CommuneUnit(_Strict):
    """A commune-level unit (xã, phường or đặc khu) and the code of its province."""

    code: Code
    name: Name
    type: UnitType
    province: Code


_COMMUNE_ROWS: TypeAdapter[list[CommuneUnit]] = TypeAdapter(list[CommuneUnit])


@dataclass(frozen=True)
class UnitTable:
    """Provinces and commune-level units, in the order of the files."""

    source: str
    provinces: tuple[ProvinceUnit, ...]
    communes: tuple[CommuneUnit, ...]


def load_units(folder: Path | str = BUNDLED) -> UnitTable:
    """The unit table of a folder (the bundled one by default), loaded once; KnowledgeError names each problem."""
    return _load(Path(folder).resolve())


@lru_cache(maxsize=4)
def _load(folder: Path) -> UnitTable:
    table, problems = read_units(folder)
    if table is None:
        raise KnowledgeError(problems)
    return table


def read_units(folder: Path) -> tuple[UnitTable | None, list[Problem]]:
    """Parse, validate and cross-check the unit table; the problems name file and field (or line)."""
    provinces, problems = _provinces(folder)
    communes, found = _communes(folder)
    problems += found
    if provinces is None or communes is None:
        return None, problems
    problems += table_problems(provinces.provinces, communes, _label(folder, PROVINCES), _label(folder, COMMUNES))
    if problems:
        return None, problems
    return UnitTable(provinces.source, tuple(provinces.provinces), tuple(communes)), []


def table_problems(
    provinces: Iterable[ProvinceUnit], communes: Iterable[CommuneUnit], province_file: str, commune_file: str
) -> list[Problem]:
    """Codes used twice, communes of an unknown province, provinces without a commune."""
    provinces, communes = list(provinces), list(communes)
    problems = [Problem(province_file, "code", f"{c} is used twice") for c in _twice(p.code for p in provinces)]
    problems += [Problem(province_file, "name", f"'{n}' is used twice") for n in _twice(p.name for p in provinces)]
    problems += [Problem(commune_file, "code", f"{c} is used twice") for c in _twice(u.code for u in communes)]
    known = {p.code for p in provinces}
    problems += [
        Problem(commune_file, f"code {u.code}", f"no province has code {u.province}")
        for u in communes
        if u.province not in known
    ]
    used = {u.province for u in communes}
    problems += [
        Problem(province_file, f"code {p.code}", f"{p.name} has no commune") for p in provinces if p.code not in used
    ]
    return problems


def _twice(values: Iterable[Any]) -> list[Any]:
    return [value for value, n in Counter(values).items() if n > 1]


def _label(folder: Path, name: str) -> str:
    """'knowledge/units/communes.csv': the file as the person who edits it knows it."""
    return f"{folder.parent.name}/{folder.name}/{name}"


def _provinces(folder: Path) -> tuple[ProvincesFile | None, list[Problem]]:
    label = _label(folder, PROVINCES)
    try:
        with (folder / PROVINCES).open(encoding="utf-8") as fh:
            data = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except FileNotFoundError:
        return None, [Problem(label, "", "file is missing")]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return None, [Problem(label, f"line {mark.line + 1}" if mark else "", f"YAML syntax error: {exc}")]
    try:
        return ProvincesFile.model_validate(data), []
    except ValidationError as exc:
        return None, [Problem(label, ".".join(str(p) for p in err["loc"]), err["msg"]) for err in exc.errors()]


def _communes(folder: Path) -> tuple[list[CommuneUnit] | None, list[Problem]]:
    label = _label(folder, COMMUNES)
    try:
        text = (folder / COMMUNES).read_text(encoding="utf-8")
        lines, rows = _rows(text)
    except FileNotFoundError:
        return None, [Problem(label, "", "file is missing")]
    except ValueError as exc:  # a header or a row of the wrong shape
        return None, [Problem(label, *str(exc).split(": ", 1))]
    try:
        return _COMMUNE_ROWS.validate_python(rows), []
    except ValidationError as exc:
        return None, [_row_problem(label, lines, err["loc"], err["msg"]) for err in exc.errors()]


def _row_problem(label: str, lines: list[int], loc: tuple[int | str, ...], message: str) -> Problem:
    """A validation error of one row, named by its line in the file and its column."""
    return Problem(label, f"line {lines[int(loc[0])]}: {loc[-1]}", message)


def _rows(text: str) -> tuple[list[int], list[dict[str, str]]]:
    """The line numbers and the rows of the data; '#' lines are comments, the first other line is the header."""
    numbered = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip() and not line.startswith("#")]
    if not numbered:
        raise ValueError(f"line 1: the header {','.join(_COLUMNS)} is missing")
    parsed = list(zip((n for n, _ in numbered), csv.reader(line for _, line in numbered), strict=True))
    (first, header), data = parsed[0], parsed[1:]
    if tuple(header) != _COLUMNS:
        raise ValueError(f"line {first}: the header must be {','.join(_COLUMNS)}")
    for n, fields in data:
        if len(fields) != len(_COLUMNS):
            raise ValueError(f"line {n}: {len(fields)} fields, the header has {len(_COLUMNS)}")
    return [n for n, _ in data], [dict(zip(_COLUMNS, fields, strict=True)) for _, fields in data]
