"""Shared fixtures: a real, migrated database per test (SQLite or PostgreSQL).

The schema is built once by the real Alembic chain into a template, then each test
gets its own copy: a file copy for SQLite, CREATE DATABASE ... TEMPLATE for
PostgreSQL (set XINLIAN_TEST_DATABASE_URL=postgresql+psycopg://.../test).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from xinlian.db import make_engine, make_session_factory
from xinlian.migrate import upgrade

PG_URL = os.environ.get("XINLIAN_TEST_DATABASE_URL", "").strip()
REPO_ROOT = Path(__file__).resolve().parents[1]


def ecg_data_dir() -> Path:
    return Path(os.environ.get("XINLIAN_ECG_DATA", REPO_ROOT.parent / "shared" / "ecg-data"))


@pytest.fixture(scope="session")
def _template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if PG_URL:
        name = f"xinlian_tpl_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield name
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        path = tmp_path_factory.mktemp("template") / "template.sqlite3"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        yield str(path)


@pytest.fixture()
def database_url(_template: str, tmp_path: Path) -> Iterator[str]:
    """A fresh migrated database for this test; dropped afterwards."""
    if PG_URL:
        name = f"xinlian_t_{uuid.uuid4().hex[:10]}"
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{_template}"'))
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        path = tmp_path / "xinlian.sqlite3"
        shutil.copyfile(_template, path)
        yield f"sqlite:///{path}"


@pytest.fixture()
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture()
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture()
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as s:
        yield s
