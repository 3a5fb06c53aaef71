"""Tables of the relay: stored ECG records, analysis jobs and results, reviews.

Uploads in flight live in the staging area on disk (ecg_relay/storage.py), not here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xinlian.db import Base, new_id, utcnow


class EcgRecord(Base):
    """A stored ECG. Exists only once its files are complete, verified and fsynced."""

    __tablename__ = "ecg_record"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    # The unique constraint is the deduplication: concurrent copies cannot race past it.
    content_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    device_id: Mapped[str | None] = mapped_column(ForeignKey("device.id"), index=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organization.id"), index=True)
    patient_id: Mapped[str | None] = mapped_column(ForeignKey("patient.id"), index=True)
    record_name: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(16))  # "wfdb"
    stored_path: Mapped[str] = mapped_column(String(500))
    files: Mapped[dict[str, object]] = mapped_column(JSON)  # name -> {size, sha256}
    sampling_rate_hz: Mapped[float] = mapped_column(Float)
    lead_names: Mapped[list[str]] = mapped_column(JSON)
    duration_s: Mapped[float] = mapped_column(Float)
    acquired_at_reported: Mapped[datetime | None] = mapped_column(default=None)
    acquired_at: Mapped[datetime | None] = mapped_column(default=None)  # corrected for cart clock
    clock_offset_ms: Mapped[float | None] = mapped_column(Float, default=None)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    first_medical_contact_at: Mapped[datetime | None] = mapped_column(default=None)
    symptom_onset_at: Mapped[datetime | None] = mapped_column(default=None)
    chest_pain: Mapped[bool | None] = mapped_column(Boolean, default=None)
    preliminary_read: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[str] = mapped_column(String(16), default="received")  # received/analysed
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)


class AnalysisJob(Base):
    """Durable queue entry: analysis runs at least once per record, leased by one worker."""

    __tablename__ = "analysis_job"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    record_id: Mapped[str] = mapped_column(ForeignKey("ecg_record.id"), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


class Analysis(Base):
    """One result per record and algorithm version: re-running the job changes nothing."""

    __tablename__ = "analysis"
    __table_args__ = (UniqueConstraint("record_id", "algorithm_version"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    record_id: Mapped[str] = mapped_column(ForeignKey("ecg_record.id"), index=True)
    algorithm_version: Mapped[str] = mapped_column(String(32))
    readable: Mapped[bool] = mapped_column(Boolean)
    acute: Mapped[bool] = mapped_column(Boolean)
    heart_rate_bpm: Mapped[float | None] = mapped_column(Float, default=None)
    flag_codes: Mapped[list[str]] = mapped_column(JSON)
    result: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Review(Base):
    """A cardiologist's confirmation or rejection, tied to the exact flag and version."""

    __tablename__ = "review"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    record_id: Mapped[str] = mapped_column(ForeignKey("ecg_record.id"), index=True)
    analysis_id: Mapped[str | None] = mapped_column(ForeignKey("analysis.id"), default=None)
    reviewer_id: Mapped[str] = mapped_column(ForeignKey("user_account.id"))
    verdict: Mapped[str] = mapped_column(String(16))  # confirmed / rejected
    flag_code: Mapped[str | None] = mapped_column(String(32), default=None)
    algorithm_version: Mapped[str | None] = mapped_column(String(32), default=None)
    report: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
