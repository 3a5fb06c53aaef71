"""Referral service on a real, migrated database."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from referral_engine.models import Referral, ReferralEvent
from referral_engine.service import open_for_record, stamp, times_for
from referral_engine.states import InvalidTransition, Step
from tests import factories
from xinlian.db import utcnow


def test_open_is_idempotent(session: Session) -> None:
    """Opening twice for one record returns the same referral and one timeline entry."""
    central, towns = factories.county(session)
    rec = factories.ecg_record(session, org=towns[0])
    now = utcnow()
    first, created1 = open_for_record(
        session,
        record_id=rec.id,
        patient_id=None,
        from_organization_id=towns[0].id,
        to_organization_id=central.id,
        trigger_codes=["STEMI_INFERIOR"],
        door_at=None,
        now=now,
    )
    second, created2 = open_for_record(
        session,
        record_id=rec.id,
        patient_id=None,
        from_organization_id=towns[0].id,
        to_organization_id=central.id,
        trigger_codes=["STEMI_INFERIOR"],
        door_at=None,
        now=now,
    )
    session.commit()
    assert (created1, created2) == (True, False)
    assert first.id == second.id
    assert session.scalar(select(func.count()).select_from(ReferralEvent)) == 1


def test_concurrent_opens_make_one_referral(sessions: sessionmaker[Session]) -> None:
    """Eight workers opening at once for one record leave exactly one referral."""
    with sessions() as s:
        central, towns = factories.county(s)
        rec = factories.ecg_record(s, org=towns[0])
        s.commit()
        rec_id, town_id, central_id = rec.id, towns[0].id, central.id

    def attempt(_: int) -> str:
        with sessions() as s:
            for _try in range(20):
                try:
                    ref, _ = open_for_record(
                        s,
                        record_id=rec_id,
                        patient_id=None,
                        from_organization_id=town_id,
                        to_organization_id=central_id,
                        trigger_codes=["VT"],
                        door_at=None,
                        now=utcnow(),
                    )
                    s.commit()
                    return ref.id
                except Exception:  # SQLite may report "database is locked" under contention
                    s.rollback()
            raise AssertionError("could not open")

    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(attempt, range(8)))
    assert len(ids) == 1
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Referral)) == 1


def test_stamp_validates_order_and_time(session: Session) -> None:
    """Steps follow the state machine; future times and times before the last step are refused."""
    central, towns = factories.county(session)
    rec = factories.ecg_record(session, org=towns[0])
    now = utcnow()
    ref, _ = open_for_record(
        session,
        record_id=rec.id,
        patient_id=None,
        from_organization_id=towns[0].id,
        to_organization_id=central.id,
        trigger_codes=["STEMI_ANTERIOR"],
        door_at=now - timedelta(minutes=20),
        now=now - timedelta(minutes=10),
    )
    with pytest.raises(InvalidTransition):
        stamp(
            session,
            referral=ref,
            step=Step.ADMIT,
            at=now,
            now=now,
            actor_type="user",
            actor_id=None,
        )
    with pytest.raises(ValueError):
        stamp(
            session,
            referral=ref,
            step=Step.DEPART,
            at=now + timedelta(minutes=5),
            now=now,
            actor_type="user",
            actor_id=None,
        )
    with pytest.raises(ValueError):
        stamp(
            session,
            referral=ref,
            step=Step.DEPART,
            at=now - timedelta(minutes=30),
            now=now,
            actor_type="user",
            actor_id=None,
        )
    stamp(
        session,
        referral=ref,
        step=Step.DEPART,
        at=now - timedelta(minutes=5),
        now=now,
        actor_type="user",
        actor_id=None,
    )
    stamp(
        session,
        referral=ref,
        step=Step.ARRIVE,
        at=now - timedelta(minutes=2),
        now=now,
        actor_type="user",
        actor_id=None,
    )
    stamp(session, referral=ref, step=Step.ADMIT, at=now, now=now, actor_type="user", actor_id=None)
    session.commit()
    assert ref.state == "admitted" and ref.closed_at == now
    times = times_for(session, referral=ref, ecg_at=None)
    assert times.door_to_admission_min == 20.0
