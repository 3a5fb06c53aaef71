"""The migrated schema on the configured database (SQLite or PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from xinlian import audit
from xinlian.tables import metadata


def test_migrations_build_every_table(engine: Engine) -> None:
    """The Alembic chain creates exactly the tables the models declare."""
    names = set(inspect(engine).get_table_names()) - {"alembic_version"}
    assert names == set(metadata.tables)


def test_audit_log_is_append_only(session: Session) -> None:
    """The database refuses to rewrite or delete audit entries."""
    audit.record(
        session, actor_type="system", actor_id=None, action="test", target_type="x", target_id="1"
    )
    session.commit()
    with pytest.raises(DBAPIError):
        session.execute(text("UPDATE audit_entry SET action = 'tampered'"))
        session.commit()
    session.rollback()
    with pytest.raises(DBAPIError):
        session.execute(text("DELETE FROM audit_entry"))
        session.commit()
    session.rollback()
    assert session.execute(text("SELECT action FROM audit_entry")).scalars().all() == ["test"]


def test_a_savepoint_commits_only_with_its_unit_of_work(sessions: sessionmaker[Session]) -> None:
    """Work inside begin_nested() is undone when the enclosing unit of work rolls back.

    pysqlite opens no transaction for a SAVEPOINT, so on SQLite a savepoint that came first
    in a unit of work ran as its own transaction and committed on release: a later failure
    of the unit of work left that part written.
    """
    with sessions() as s:
        s.execute(text("SELECT 1"))  # a read first, as the services do
        with s.begin_nested():
            audit.record(
                s, actor_type="system", actor_id=None, action="t", target_type="x", target_id="2"
            )
        s.rollback()
    with sessions() as s:
        assert s.execute(text("SELECT count(*) FROM audit_entry")).scalar_one() == 0
    with sessions() as s:
        with s.begin_nested():
            audit.record(
                s, actor_type="system", actor_id=None, action="t", target_type="x", target_id="3"
            )
        s.commit()
    with sessions() as s:
        assert s.execute(text("SELECT count(*) FROM audit_entry")).scalar_one() == 1
