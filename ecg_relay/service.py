"""Relay persistence: store a verified record once, enqueue its analysis, report its status.

Plain functions over a Session; they flush, the caller commits.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ecg_relay.models import Analysis, AnalysisJob, EcgRecord
from referral_engine.models import Referral
from referral_engine.states import TERMINAL


def find_record_by_sha(session: Session, content_sha256: str) -> EcgRecord | None:
    """The stored record with this content hash, if any."""
    return session.scalar(select(EcgRecord).where(EcgRecord.content_sha256 == content_sha256))


def stored_hashes(session: Session, candidates: Collection[str]) -> set[str]:
    """Those of ``candidates`` that have a record row (for the storage janitor)."""
    found: set[str] = set()
    items = list(candidates)
    for i in range(0, len(items), 500):
        found.update(
            session.scalars(
                select(EcgRecord.content_sha256).where(
                    EcgRecord.content_sha256.in_(items[i : i + 500])
                )
            )
        )
    return found


def store_record(session: Session, record: EcgRecord, *, now: datetime) -> tuple[EcgRecord, bool]:
    """Insert the record and its analysis job together; (existing, False) for a duplicate.

    The UNIQUE content hash decides, inside a savepoint, so 50 concurrent copies of one
    record leave one row and one job whichever connection wins; nothing is checked first.
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
    return record_statuses(session, [record_id]).get(record_id)


def record_statuses(session: Session, record_ids: Collection[str]) -> dict[str, dict[str, Any]]:
    """``record_status`` for many records in three queries; unknown ids are left out.

    ``final`` is true when nothing more will change that the cart must hear: analysed,
    and no referral or one that reached a terminal state.
    """
    ids = list(record_ids)
    if not ids:
        return {}
    records = session.execute(
        select(EcgRecord.id, EcgRecord.status).where(EcgRecord.id.in_(ids))
    ).all()
    analyses: dict[str, Analysis] = {}
    for row in session.scalars(
        select(Analysis).where(Analysis.record_id.in_(ids)).order_by(Analysis.created_at)
    ):
        analyses[row.record_id] = row  # the newest wins
    referrals = {
        r.record_id: r for r in session.scalars(select(Referral).where(Referral.record_id.in_(ids)))
    }
    terminal = {s.value for s in TERMINAL}
    out: dict[str, dict[str, Any]] = {}
    for record_id, status in records:
        analysis = analyses.get(record_id)
        referral = referrals.get(record_id)
        out[record_id] = {
            "record_id": record_id,
            "status": status,
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
            "final": analysis is not None and (referral is None or referral.state in terminal),
        }
    return out
