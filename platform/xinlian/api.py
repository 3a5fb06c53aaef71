"""The JSON API under /api/v1 (bearer tokens); the web pages use the same queries."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from ecg_relay.formats import read_signals
from referral_engine.metrics import TARGET_DOOR_TO_ADMISSION_MIN, summarize
from referral_engine.states import State, allowed_steps
from xinlian import actions, queries
from xinlian.auth import authenticate_password, issue_token
from xinlian.db import utcnow
from xinlian.deps import (
    AppSettings,
    Cardiologist,
    Clinician,
    Coordinator,
    DbSession,
    FlagAuditor,
    client_ip,
)
from xinlian.errors import DomainError

router = APIRouter(prefix="/api/v1", tags=["api"])


class TokenRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime
    role: str


@router.post("/auth/token")
def create_token(body: TokenRequest, db: DbSession, settings: AppSettings) -> TokenResponse:
    """Exchange a username and password for a bearer token."""
    user = authenticate_password(db, username=body.username, password=body.password)
    if user is None:
        raise DomainError("LOGIN_FAILED", status_code=401, key="login.failed")
    now = utcnow()
    lifetime = timedelta(days=settings.api_token_days)
    token = issue_token(db, user=user, kind="api", lifetime=lifetime, now=now)
    return TokenResponse(access_token=token, expires_at=now + lifetime, role=user.role)


def _record_json(row: queries.RecordRow) -> dict[str, Any]:
    r = row.record
    p = row.patient
    return {
        "id": r.id,
        "organization": {"id": row.organization.id, "name": row.organization.name},
        "patient": None
        if p is None
        else {
            "id": p.id,
            "name": p.name,
            "sex": p.sex,
            "birth_date": p.birth_date.isoformat() if p.birth_date else None,
            "national_id_last4": p.national_id_last4,
        },
        "received_at": r.received_at.isoformat(),
        "acquired_at": r.acquired_at.isoformat() if r.acquired_at else None,
        "acquired_at_reported": r.acquired_at_reported.isoformat()
        if r.acquired_at_reported
        else None,
        "first_medical_contact_at": (
            r.first_medical_contact_at.isoformat() if r.first_medical_contact_at else None
        ),
        "symptom_onset_at": r.symptom_onset_at.isoformat() if r.symptom_onset_at else None,
        "chest_pain": r.chest_pain,
        "preliminary_read": r.preliminary_read,
        "sampling_rate_hz": r.sampling_rate_hz,
        "lead_names": r.lead_names,
        "duration_s": r.duration_s,
        "content_sha256": r.content_sha256,
        "status": r.status,
        "is_demo": r.is_demo,
        "analysis": None if row.analysis is None else row.analysis.result,
        "referral": None
        if row.referral is None
        else {
            "id": row.referral.id,
            "state": row.referral.state,
        },
        "reviewed": row.reviewed,
    }


@router.get("/ecgs")
def list_ecgs(
    request: Request, db: DbSession, user: Clinician, limit: int = 100
) -> list[dict[str, Any]]:
    """ECGs the caller may see, acute unreviewed first."""
    rows = queries.worklist(
        db, principal=user, limit=min(max(limit, 1), 500), source_ip=client_ip(request)
    )
    return [_record_json(r) for r in rows]


@router.get("/ecgs/{record_id}")
def get_ecg(record_id: str, request: Request, db: DbSession, user: Clinician) -> dict[str, Any]:
    row = queries.get_record(db, principal=user, record_id=record_id, source_ip=client_ip(request))
    return _record_json(row)


@router.get("/ecgs/{record_id}/signals")
def get_signals(record_id: str, request: Request, db: DbSession, user: Clinician) -> dict[str, Any]:
    """The samples in microvolts (integers keep the payload small), for the 12-lead viewer."""
    row = queries.get_record(
        db, principal=user, record_id=record_id, source_ip=client_ip(request), action="ecg.signals"
    )
    signals, fs, leads, _ = read_signals(Path(row.record.stored_path), row.record.record_name)
    micro = np.nan_to_num(signals * 1000.0, nan=0.0).round().astype(np.int32)
    return {
        "fs": fs,
        "lead_names": list(leads),
        "units": "uV",
        "data": [micro[:, i].tolist() for i in range(micro.shape[1])],
    }


class ReviewRequest(BaseModel):
    verdict: str = Field(pattern="^(confirmed|rejected)$")
    flag_code: str | None = Field(default=None, max_length=32)
    report: str | None = Field(default=None, max_length=4000)


@router.post("/ecgs/{record_id}/reviews", status_code=201)
def post_review(
    record_id: str, body: ReviewRequest, request: Request, db: DbSession, user: Cardiologist
) -> dict[str, Any]:
    review = actions.submit_review(
        db,
        principal=user,
        record_id=record_id,
        verdict=body.verdict,
        flag_code=body.flag_code,
        report=body.report,
        now=utcnow(),
        source_ip=client_ip(request),
    )
    return {
        "id": review.id,
        "verdict": review.verdict,
        "flag_code": review.flag_code,
        "algorithm_version": review.algorithm_version,
    }


def _referral_json(row: queries.ReferralRow) -> dict[str, Any]:
    t = row.times
    return {
        "id": row.referral.id,
        "record_id": row.record.id,
        "state": row.referral.state,
        "trigger_codes": row.referral.trigger_codes,
        "organization": {"id": row.organization.id, "name": row.organization.name},
        "patient": None
        if row.patient is None
        else {"id": row.patient.id, "name": row.patient.name},
        "opened_at": row.referral.opened_at.isoformat(),
        "door_at": row.referral.door_at.isoformat() if row.referral.door_at else None,
        "allowed_steps": [s.value for s in allowed_steps(State(row.referral.state))],
        "timeline": [
            {
                "step": e.step,
                "at": e.at.isoformat(),
                "recorded_at": e.recorded_at.isoformat(),
                "actor_type": e.actor_type,
                "actor_id": e.actor_id,
                "note": e.note,
            }
            for e in row.events
        ],
        "times": {
            "ecg_to_open_min": t.ecg_to_open_min,
            "open_to_confirm_min": t.open_to_confirm_min,
            "open_to_depart_min": t.open_to_depart_min,
            "depart_to_arrive_min": t.depart_to_arrive_min,
            "arrive_to_admit_min": t.arrive_to_admit_min,
            "door_to_admission_min": t.door_to_admission_min,
            "within_target": t.within_target,
        },
    }


@router.get("/referrals")
def list_referrals(request: Request, db: DbSession, user: Clinician) -> list[dict[str, Any]]:
    rows = queries.referrals(db, principal=user, source_ip=client_ip(request))
    return [_referral_json(r) for r in rows]


@router.get("/referrals/{referral_id}")
def get_referral(
    referral_id: str, request: Request, db: DbSession, user: Clinician
) -> dict[str, Any]:
    return _referral_json(
        queries.get_referral(
            db, principal=user, referral_id=referral_id, source_ip=client_ip(request)
        )
    )


class StepRequest(BaseModel):
    step: str = Field(max_length=16)
    at: datetime | None = None
    note: str | None = Field(default=None, max_length=1000)


@router.post("/referrals/{referral_id}/steps", status_code=201)
def post_step(
    referral_id: str, body: StepRequest, request: Request, db: DbSession, user: Coordinator
) -> dict[str, Any]:
    if body.at is not None and body.at.tzinfo is None:
        raise DomainError(
            "BAD_TIME",
            status_code=422,
            message_zh="时间必须带时区",
            message_en="time must carry a UTC offset",
        )
    actions.stamp_step(
        db,
        principal=user,
        referral_id=referral_id,
        step=body.step,
        at=body.at,
        note=body.note,
        now=utcnow(),
        source_ip=client_ip(request),
    )
    db.flush()
    return _referral_json(
        queries.get_referral(
            db, principal=user, referral_id=referral_id, source_ip=client_ip(request)
        )
    )


@router.get("/metrics/transfers")
def transfer_metrics(
    request: Request, db: DbSession, user: Coordinator, days: int = 30
) -> dict[str, Any]:
    """Door-to-admission over recent transfers, against the 90-minute target."""
    since = utcnow() - timedelta(days=max(1, min(days, 3650)))
    rows = queries.referrals(
        db,
        principal=user,
        since=since,
        limit=10000,
        source_ip=client_ip(request),
        action="referral.audit",
    )
    s = summarize([r.times for r in rows])
    return {
        "target_min": TARGET_DOOR_TO_ADMISSION_MIN,
        "count": s.count,
        "completed": s.completed,
        "within_target": s.within_target,
        "median_door_to_admission_min": s.median_door_to_admission_min,
        "p90_door_to_admission_min": s.p90_door_to_admission_min,
        "transfers": [_referral_json(r) for r in rows],
    }


@router.get("/metrics/flags")
def flag_metrics(db: DbSession, user: FlagAuditor, days: int = 90) -> dict[str, Any]:
    """Per-flag PPV from cardiologists' reviews, per algorithm version."""
    since = utcnow() - timedelta(days=max(1, min(days, 3650)))
    rows = queries.flag_performance(db, principal=user, since=since)
    return {"days": days, "flags": [r.to_dict() for r in rows]}
