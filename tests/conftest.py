"""Shared fixtures: the bundled knowledge, loaded once."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.eligibility import Assessor
from bot.faq import FaqIndex
from bot.knowledge import Knowledge, load_knowledge
from bot.places import Gazetteer
from bot.storage.factory import open_repository
from bot.storage.sqlite import SqliteRepository

ROOT = Path(__file__).resolve().parent.parent
KNOWLEDGE = ROOT / "knowledge"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def kb() -> Knowledge:
    """The bundled knowledge base."""
    return load_knowledge(KNOWLEDGE)


@pytest.fixture(scope="session")
def gazetteer(kb: Knowledge) -> Gazetteer:
    """Provinces and communes, with the pre-2025 province names of the knowledge base."""
    return Gazetteer({a.old: a.new for a in kb.province_aliases.aliases})


@pytest.fixture(scope="session")
def assessor(kb: Knowledge, gazetteer: Gazetteer) -> Assessor:
    """The eligibility rules over the bundled knowledge."""
    return Assessor(kb, gazetteer)


@pytest.fixture(scope="session")
def faq(kb: Knowledge) -> FaqIndex:
    """The FAQ index over the bundled knowledge."""
    return FaqIndex(kb.faq, kb.out_of_scope, kb.abbreviations.abbreviations, kb.abbreviations.phrases)


@pytest.fixture(autouse=True)
def _private_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own database path (and so its own cache folder), never the repository's."""
    monkeypatch.setenv("KHUYENCONG_DB", str(tmp_path / "khuyencong.db"))


# --- the database under test: SQLite, and PostgreSQL when a server is given (make test starts one) -------------

PG_TEMPLATE = "khuyencong_template"
_databases = itertools.count(1)


@dataclass
class Store:
    """One fresh database of the kind under test: `target` is what --db and KHUYENCONG_DB take."""

    kind: str
    target: str
    opened: list[SqliteRepository] = field(default_factory=list)

    def open(self) -> SqliteRepository:
        """A repository on it (call again for a restart: a new connection, the same data); closed after the test."""
        self.opened.append(open_repository(self.target))
        return self.opened[-1]

    def close(self) -> None:
        """Close what the test opened (a pool left to the garbage collector stops its threads untidily)."""
        for repo in self.opened:
            repo.close()


def _server() -> str:
    """The PostgreSQL server's URL; under make test a missing server fails the test, elsewhere skips it."""
    url = os.environ.get("KHUYENCONG_TEST_PG")
    if url:
        return url
    why = os.environ.get("KHUYENCONG_TEST_PG_ERROR") or "KHUYENCONG_TEST_PG is not set"
    if os.environ.get("KHUYENCONG_TEST_PG_REQUIRED"):
        pytest.fail(f"PostgreSQL tests need a server and none could be started: {why}")
    pytest.skip(f"no PostgreSQL server ({why}); `make test` starts one")


def _on(url: str, database: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + database


def _admin(url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for sql in statements:
            conn.execute(sql.encode())


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The server's URL, with a template database migrated once: each test's database is a copy of it."""
    url = _server()
    _admin(url, f"DROP DATABASE IF EXISTS {PG_TEMPLATE} WITH (FORCE)", f"CREATE DATABASE {PG_TEMPLATE}")
    open_repository(_on(url, PG_TEMPLATE)).close()
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh database, once SQLite and once PostgreSQL (a copy of the migrated template: fast)."""
    if request.param == "postgres":
        yield from _postgres(request)
        return
    made = Store("sqlite", str(tmp_path / "k.db"))
    yield made
    made.close()


@pytest.fixture
def pg_store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """A fresh PostgreSQL database, for what only PostgreSQL does (several workers on one inbox)."""
    yield from _postgres(request)


def _postgres(request: pytest.FixtureRequest) -> Iterator[Store]:
    url = request.getfixturevalue("pg_server")
    name = f"khuyencong_t{os.getpid()}_{next(_databases)}"
    _admin(url, f"CREATE DATABASE {name} TEMPLATE {PG_TEMPLATE}")
    made = Store("postgres", _on(url, name))
    yield made
    made.close()
    _admin(url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
