"""Reads shared by the web pages and the JSON API, with the caller's scope applied.

Every function that returns patient data takes the Principal and writes the audit
entry itself, so no route can forget either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ecg_relay.models import Analysis, EcgRecord, Review
from ecg_relay.reviews import FlagPerformance
from ecg_relay.reviews import flag_performance as _flag_performance
from referral_engine.metrics import TransferTimes
from referral_engine.models import Referral, ReferralEvent
from referral_engine.service import timeline, times_for
from xinlian import audit
from xinlian.auth import Principal
from xinlian.errors import NotFound
from xinlian.models import Organization, Patient


@dataclass(frozen=True)
class RecordRow:
    record: EcgRecord
    organization: Organization
    patient: Patient | None
    analysis: Analysis | None
    referral: Referral | None
    reviewed: bool


def _scoped(stmt: Select[Any], principal: Principal) -> Select[Any]:
    if principal.county_wide:
        return stmt
    return stmt.where(EcgRecord.organization_id == principal.organization_id)


def latest_analysis(session: Session, record_id: str) -> Analysis | None:
    return session.scalar(
        select(Analysis).where(Analysis.record_id == record_id).order_by(Analysis.created_at.desc())
    )


def _row(session: Session, record: EcgRecord) -> RecordRow:
    org = session.get(Organization, record.organization_id)
    assert org is not None
    return RecordRow(
        record=record,
        organization=org,
        patient=session.get(Patient, record.patient_id) if record.patient_id else None,
        analysis=latest_analysis(session, record.id),
        referral=session.scalar(select(Referral).where(Referral.record_id == record.id)),
        reviewed=session.scalar(select(Review.id).where(Review.record_id == record.id).limit(1))
        is not None,
    )


def worklist(
    session: Session, *, principal: Principal, limit: int = 100, source_ip: str | None = None
) -> list[RecordRow]:
    """Newest ECGs first, acute and unreviewed ones on top."""
    records = session.scalars(
        _scoped(select(EcgRecord), principal).order_by(EcgRecord.received_at.desc()).limit(limit)
    ).all()
    rows = [_row(session, r) for r in records]
    rows.sort(
        key=lambda r: (
            not (r.analysis is not None and r.analysis.acute and not r.reviewed),
            -r.record.received_at.timestamp(),
        )
    )
    audit.record(
        session,
        actor_type="user",
        actor_id=principal.user_id,
        action="ecg.list",
        target_type="ecg_record",
        target_id=None,
        source_ip=source_ip,
        detail={"count": len(rows)},
    )
    return rows


def worklist_version(session: Session, *, principal: Principal) -> str:
    """A cheap fingerprint of what the worklist would show: the live page polls it."""
    newest = session.scalar(
        _scoped(select(EcgRecord.received_at), principal)
        .order_by(EcgRecord.received_at.desc())
        .limit(1)
    )
    analysed = session.scalar(
        select(Analysis.created_at).order_by(Analysis.created_at.desc()).limit(1)
    )
    stepped = session.scalar(select(ReferralEvent.id).order_by(ReferralEvent.id.desc()).limit(1))
    reviewed = session.scalar(select(Review.created_at).order_by(Review.created_at.desc()).limit(1))
    return "|".join(str(x) for x in (newest, analysed, stepped, reviewed))


def get_record(
    session: Session,
    *,
    principal: Principal,
    record_id: str,
    source_ip: str | None = None,
    action: str = "ecg.view",
) -> RecordRow:
    """One ECG the caller may see; 404 (not 403) otherwise so ids reveal nothing."""
    record = session.get(EcgRecord, record_id)
    if record is None or not principal.can_see(record.organization_id):
        raise NotFound("ecg")
    audit.record(
        session,
        actor_type="user",
        actor_id=principal.user_id,
        action=action,
        target_type="ecg_record",
        target_id=record.id,
        organization_id=record.organization_id,
        source_ip=source_ip,
    )
    return _row(session, record)


@dataclass(frozen=True)
class ReferralRow:
    referral: Referral
    record: EcgRecord
    organization: Organization
    patient: Patient | None
    times: TransferTimes
    events: list[ReferralEvent]


def _referral_row(session: Session, referral: Referral) -> ReferralRow:
    record = session.get(EcgRecord, referral.record_id)
    org = session.get(Organization, referral.from_organization_id)
    assert record is not None and org is not None
    return ReferralRow(
        referral=referral,
        record=record,
        organization=org,
        patient=session.get(Patient, referral.patient_id) if referral.patient_id else None,
        times=times_for(
            session, referral=referral, ecg_at=record.acquired_at or record.received_at
        ),
        events=timeline(session, referral_id=referral.id),
    )


def referrals(
    session: Session,
    *,
    principal: Principal,
    since: datetime | None = None,
    limit: int = 200,
    source_ip: str | None = None,
    action: str = "referral.list",
) -> list[ReferralRow]:
    stmt = select(Referral).order_by(Referral.opened_at.desc()).limit(limit)
    if not principal.county_wide:
        stmt = stmt.where(Referral.from_organization_id == principal.organization_id)
    if since is not None:
        stmt = stmt.where(Referral.opened_at >= since)
    rows = [_referral_row(session, r) for r in session.scalars(stmt)]
    audit.record(
        session,
        actor_type="user",
        actor_id=principal.user_id,
        action=action,
        target_type="referral",
        target_id=None,
        source_ip=source_ip,
        detail={"count": len(rows)},
    )
    return rows


def get_referral(
    session: Session,
    *,
    principal: Principal,
    referral_id: str,
    source_ip: str | None = None,
    action: str = "referral.view",
) -> ReferralRow:
    referral = session.get(Referral, referral_id)
    if referral is None or not principal.can_see(referral.from_organization_id):
        raise NotFound("referral")
    audit.record(
        session,
        actor_type="user",
        actor_id=principal.user_id,
        action=action,
        target_type="referral",
        target_id=referral.id,
        organization_id=referral.from_organization_id,
        source_ip=source_ip,
    )
    return _referral_row(session, referral)


def flag_performance(
    session: Session, *, principal: Principal, since: datetime
) -> list[FlagPerformance]:
    """Per-flag review counts and PPV in the caller's scope (aggregates: no patient data)."""
    return _flag_performance(
        session,
        since=since,
        organization_id=None if principal.county_wide else principal.organization_id,
    )
