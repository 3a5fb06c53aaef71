"""Relay persistence: store a verified record once, enqueue its analysis, report its status."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ecg_relay.models import Analysis, AnalysisJob, EcgRecord
from referral_engine.models import Referral


def find_record_by_sha(session: Session, content_sha256: str) -> EcgRecord | None:
    return session.scalar(select(EcgRecord).where(EcgRecord.content_sha256 == content_sha256))


def store_record(session: Session, record: EcgRecord, *, now: datetime) -> tuple[EcgRecord, bool]:
    """Insert the record and its analysis job together; (existing, False) for a duplicate.

    The UNIQUE content hash decides, inside a savepoint, so 50 concurrent copies of one
    record leave one row and one job whichever connection wins.
    """
    try:
        with session.begin_nested():
            session.add(record)
            session.flush()
            session.add(AnalysisJob(record_id=record.id, created_at=now))
            session.flush()
    except IntegrityError:
        existing = find_record_by_sha(session, record.content_sha256)
        if existing is None:
            raise
        return existing, False
    return record, True


def record_status(session: Session, record_id: str) -> dict[str, Any] | None:
    """What the cart is told about its record: analysis summary and green-channel state."""
    record = session.get(EcgRecord, record_id)
    if record is None:
        return None
    analysis = session.scalar(
        select(Analysis).where(Analysis.record_id == record_id).order_by(Analysis.created_at.desc())
    )
    referral = session.scalar(select(Referral).where(Referral.record_id == record_id))
    return {
        "record_id": record_id,
        "status": record.status,
        "analysis": None
        if analysis is None
        else {
            "algorithm_version": analysis.algorithm_version,
            "readable": analysis.readable,
            "acute": analysis.acute,
            "heart_rate_bpm": analysis.heart_rate_bpm,
            "flag_codes": list(analysis.flag_codes),
        },
        "referral": None if referral is None else {"id": referral.id, "state": referral.state},
    }
