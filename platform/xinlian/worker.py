"""The analysis worker: drains the durable analysis_job queue, at least once per record.

A job is leased (state running, lease_until) by one worker at a time; a worker that
dies leaves a lease that expires, and another worker (or the same one restarted)
picks the job up again. Results are idempotent: one Analysis row per record and
algorithm version, one Referral per record, both enforced by UNIQUE constraints.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ecg_relay.analysis import ALGORITHM_VERSION, AnalysisResult, analyze
from ecg_relay.formats import read_signals
from ecg_relay.models import Analysis, AnalysisJob, EcgRecord
from referral_engine.service import open_for_record
from xinlian import audit
from xinlian.db import session_scope, utcnow
from xinlian.models import Organization, OrgKind, Patient

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def claim_job(session: Session, *, owner: str, now: datetime, lease_s: float) -> int | None:
    """Lease the oldest runnable job. A conditional UPDATE, so two workers never share one."""
    runnable = or_(
        AnalysisJob.state == "pending",
        (AnalysisJob.state == "running") & (AnalysisJob.lease_until < now),
    )
    candidates = session.scalars(
        select(AnalysisJob.id).where(runnable).order_by(AnalysisJob.id).limit(8)
    ).all()
    for job_id in candidates:
        result = session.execute(
            update(AnalysisJob)
            .where(AnalysisJob.id == job_id, runnable)
            .values(
                state="running",
                lease_owner=owner,
                lease_until=now + timedelta(seconds=lease_s),
                attempts=AnalysisJob.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            session.commit()
            return job_id
    session.commit()
    return None


def _age_years(birth: date | None, at: datetime | None) -> float | None:
    if birth is None:
        return None
    when = (at or utcnow()).date()
    return (when - birth).days / 365.25


def central_hospital_of(session: Session, organization_id: str) -> str | None:
    """Walk up the hierarchy to the county's central hospital, where transfers go."""
    seen: set[str] = set()
    current: str | None = organization_id
    while current is not None and current not in seen:
        seen.add(current)
        org = session.get(Organization, current)
        if org is None:
            return None
        if org.kind == OrgKind.CENTRAL_HOSPITAL:
            return org.id
        current = org.parent_id
    return None


def analyse_record(
    record: EcgRecord, patient: Patient | None, *, mains_hz: float
) -> AnalysisResult:
    """Read the stored signals and run the analysis (CPU-bound; never on the event loop)."""
    signals, fs, lead_names, _duration = read_signals(Path(record.stored_path), record.record_name)
    return analyze(
        signals,
        fs,
        lead_names,
        sex=patient.sex if patient else None,
        age=_age_years(patient.birth_date, record.acquired_at) if patient else None,
        mains_hz=mains_hz,
    )


def save_result(
    session: Session, *, record: EcgRecord, result: AnalysisResult, now: datetime
) -> Analysis:
    """Store the result once, and open the green channel when a critical flag is raised."""
    existing = session.scalar(
        select(Analysis).where(
            Analysis.record_id == record.id, Analysis.algorithm_version == result.algorithm_version
        )
    )
    analysis = existing
    if analysis is None:
        analysis = Analysis(
            record_id=record.id,
            algorithm_version=result.algorithm_version,
            readable=result.readable,
            acute=result.acute,
            heart_rate_bpm=result.heart_rate_bpm,
            flag_codes=[f.code for f in result.flags],
            result=result.to_dict(),
            created_at=now,
        )
        try:
            with session.begin_nested():
                session.add(analysis)
        except IntegrityError:
            analysis = session.scalar(
                select(Analysis).where(
                    Analysis.record_id == record.id,
                    Analysis.algorithm_version == result.algorithm_version,
                )
            )
            assert analysis is not None
    if analysis.acute:
        critical = [f.code for f in result.flags if f.severity.value == "critical"]
        referral, created = open_for_record(
            session,
            record_id=record.id,
            patient_id=record.patient_id,
            from_organization_id=record.organization_id,
            to_organization_id=central_hospital_of(session, record.organization_id),
            trigger_codes=critical,
            door_at=record.first_medical_contact_at,
            now=now,
            is_demo=record.is_demo,
        )
        if created:
            audit.record(
                session,
                actor_type="system",
                actor_id=None,
                action="referral.open",
                target_type="referral",
                target_id=referral.id,
                organization_id=record.organization_id,
                detail={"record_id": record.id, "codes": critical},
            )
    record.status = "analysed"
    return analysis


def process_job(
    sessions: sessionmaker[Session], *, job_id: int, owner: str, mains_hz: float
) -> None:
    with session_scope(sessions) as session:
        job = session.get(AnalysisJob, job_id)
        if job is None or job.lease_owner != owner:
            return
        record = session.get(EcgRecord, job.record_id)
        assert record is not None
        patient = session.get(Patient, record.patient_id) if record.patient_id else None
        record_id = record.id
    try:
        with session_scope(sessions) as session:
            record = session.get(EcgRecord, record_id)
            assert record is not None
            result = analyse_record(record, patient, mains_hz=mains_hz)
            save_result(session, record=record, result=result, now=utcnow())
            job = session.get(AnalysisJob, job_id)
            assert job is not None
            job.state = "done"
            job.finished_at = utcnow()
            job.last_error = None
    except Exception as exc:  # a bad record must not stop the queue
        log.exception("analysis of record %s failed", record_id)
        with session_scope(sessions) as session:
            job = session.get(AnalysisJob, job_id)
            if job is not None:
                job.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                job.state = "failed" if job.attempts >= MAX_ATTEMPTS else "pending"
                job.lease_owner = None
                job.lease_until = None


def run_once(
    sessions: sessionmaker[Session], *, owner: str, lease_s: float, mains_hz: float
) -> bool:
    """Process one job if there is one; True when a job was processed."""
    with sessions() as session:
        job_id = claim_job(session, owner=owner, now=utcnow(), lease_s=lease_s)
    if job_id is None:
        return False
    process_job(sessions, job_id=job_id, owner=owner, mains_hz=mains_hz)
    return True


class WorkerThread(threading.Thread):
    """One analysis worker inside a process; `wake()` shortens the wait after an upload."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        lease_s: float,
        mains_hz: float,
        idle_s: float = 0.5,
    ) -> None:
        super().__init__(daemon=True, name="xinlian-analysis")
        self.sessions = sessions
        self.lease_s = lease_s
        self.mains_hz = mains_hz
        self.idle_s = idle_s
        self._stop_event = threading.Event()
        self._wake = threading.Event()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop_event.set()
        self._wake.set()

    def run(self) -> None:
        owner = worker_name()
        while not self._stop_event.is_set():
            try:
                worked = run_once(
                    self.sessions, owner=owner, lease_s=self.lease_s, mains_hz=self.mains_hz
                )
            except Exception:
                log.exception("analysis worker loop error")
                worked = False
            if not worked:
                self._wake.wait(self.idle_s)
                self._wake.clear()


__all__ = [
    "ALGORITHM_VERSION",
    "WorkerThread",
    "claim_job",
    "process_job",
    "run_once",
    "save_result",
]
