"""The platform's side of the relay: devices, patients, records and audit in the database.

Database work runs on the relay's own threads so the event loop keeps serving other carts
and file writes never queue behind database calls. Reads use a small pool. Writes go to
one writer thread that commits whatever arrived while it was busy as one transaction, each
write in its own savepoint (group commit): SQLite admits one writer at a time, writers
waiting in its busy handler sleep in growing steps (up to 100 ms), and one commit per
batch instead of per record is what lets 50 carts store 100 records a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from devices import service as device_service
from devices.clock import ClockEstimator, sample
from devices.models import Device
from ecg_relay import service as relay_service
from ecg_relay.backend import DeviceIdentity, StoredRecord
from ecg_relay.formats import RecordInfo
from ecg_relay.frames import Heartbeat, Offer
from ecg_relay.models import EcgRecord
from ecg_relay.storage import (
    ORPHAN_GRACE_S,
    STAGING_MAX_AGE_S,
    JanitorReport,
    Storage,
    janitor,
)
from xinlian import audit
from xinlian.db import utcnow
from xinlian.i18n import LOCAL_TZ
from xinlian.patients import PatientInfo, resolve_patient
from xinlian.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")
UNNAMED_PATIENT = "未登记"
DB_THREADS = 8
MAX_BATCH = 32
IDLE_WRITER_S = 30.0
# last_seen_at is for the fleet page; refreshing it on every connection would make each
# reconnect a write transaction.
LAST_SEEN_RESOLUTION = timedelta(seconds=30)


class _Duplicate(Exception):
    def __init__(self, record_id: str) -> None:
        self.record_id = record_id


def _aware(value: datetime | None) -> datetime | None:
    """Cart times without a UTC offset are wall-clock time in Asia/Shanghai."""
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=LOCAL_TZ)


def _birth(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _settle(fut: asyncio.Future[Any], outcome: Any) -> None:
    if fut.done():
        return
    if isinstance(outcome, _Failed):
        fut.set_exception(outcome.exc)
    else:
        fut.set_result(outcome)


class WriteBatcher:
    """One writer thread; jobs that arrive while it commits are committed together.

    A job is a function of the session; it runs inside its own savepoint, so a job that
    raises is undone alone and its caller gets the exception.
    """

    def __init__(self, sessions: sessionmaker[Session], *, max_batch: int = MAX_BATCH) -> None:
        self.sessions = sessions
        self.max_batch = max_batch
        bind = sessions.kw.get("bind")
        self.sqlite = bind is not None and bind.dialect.name == "sqlite"
        self._queue: queue.SimpleQueue[
            tuple[Callable[[Session], Any], asyncio.Future[Any], asyncio.AbstractEventLoop]
        ] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()

    async def submit(self, job: Callable[[Session], T]) -> T:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        self._queue.put((job, fut, loop))
        with self._start:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="relay-db-writer", daemon=True
                )
                self._thread.start()
        return await fut

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=IDLE_WRITER_S)
            except queue.Empty:
                with self._start:
                    if self._queue.empty():
                        self._thread = None  # the next submit starts a new writer
                        return
                continue
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            outcomes = self._commit([job for job, _, _ in batch])
            for (_, fut, loop), outcome in zip(batch, outcomes, strict=True):
                with contextlib.suppress(RuntimeError):  # the caller's loop has closed
                    loop.call_soon_threadsafe(_settle, fut, outcome)

    def _commit(self, jobs: list[Callable[[Session], Any]]) -> list[Any]:
        outcomes: list[Any] = []
        try:
            with self.sessions() as s:
                if self.sqlite:
                    # The batch takes SQLite's write lock once, up front: left to the first
                    # job's savepoint (xinlian.db), a locked database would be waited for,
                    # and fail, once per job of the batch.
                    s.connection().exec_driver_sql("BEGIN IMMEDIATE")
                for job in jobs:
                    try:
                        with s.begin_nested():
                            outcomes.append(job(s))
                    except Exception as exc:
                        outcomes.append(_Failed(exc))
                s.commit()
        except BaseException as exc:  # the callers must hear of it, whatever it is
            log.exception("relay write batch of %d failed", len(jobs))
            return [_Failed(exc)] * len(jobs)
        return outcomes


class SqlRelayBackend:
    """``ecg_relay.backend.RelayBackend`` over the platform's SQL database."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        on_stored: Callable[[], None] | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.on_stored = on_stored  # wakes the in-process analysis worker
        self._clocks: dict[str, ClockEstimator] = {}
        self._reads = ThreadPoolExecutor(max_workers=DB_THREADS, thread_name_prefix="relay-db-r")
        self._writer = WriteBatcher(sessions)

    async def _read(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._reads, fn)

    async def authenticate(self, credential: str) -> DeviceIdentity | None:
        def run() -> tuple[DeviceIdentity | None, bool]:
            with self.sessions() as s:
                device = device_service.authenticate(s, credential=credential)
                if device is None:
                    return None, False
                seen = device.last_seen_at
                stale = seen is None or utcnow() - seen > LAST_SEEN_RESOLUTION
                return DeviceIdentity(
                    device.id, device.organization_id, device.credential_issued_at
                ), stale

        identity, stale = await self._read(run)
        if identity is not None and stale:

            def touch(s: Session) -> None:
                dev = s.get(Device, identity.device_id)
                if dev is not None:
                    now = utcnow()
                    dev.first_seen_at = dev.first_seen_at or now
                    dev.last_seen_at = now

            await self._writer.submit(touch)
        return identity

    async def connection_allowed(self, device: DeviceIdentity) -> bool:
        def run() -> bool:
            with self.sessions() as s:
                return device_service.is_connection_allowed(
                    s, device_id=device.device_id, credential_issued_at=device.credential_issued_at
                )

        return await self._read(run)

    async def find_stored(self, content_sha256: str) -> str | None:
        def run() -> str | None:
            with self.sessions() as s:
                rec = relay_service.find_record_by_sha(s, content_sha256)
                return rec.id if rec else None

        return await self._read(run)

    async def store(
        self,
        device: DeviceIdentity,
        offer: Offer,
        *,
        content_sha256: str,
        directory: Path,
        info: RecordInfo,
    ) -> StoredRecord:
        def run(s: Session) -> StoredRecord:
            now = utcnow()
            dev = s.get(Device, device.device_id)
            assert dev is not None
            stored, created = self._insert(s, dev, offer, content_sha256, directory, info, now)
            if not created:
                raise _Duplicate(stored.id)
            dev.last_seen_at = dev.last_upload_at = now
            audit.record(
                s,
                actor_type="device",
                actor_id=dev.id,
                action="ecg.upload",
                target_type="ecg_record",
                target_id=stored.id,
                organization_id=dev.organization_id,
                detail={"bytes": sum(f.size for f in offer.files)},
            )
            s.flush()
            return StoredRecord(stored.id, False)

        try:
            result = await self._writer.submit(run)
        except _Duplicate as dup:
            # The patient row made for this copy went with the job's savepoint.
            return StoredRecord(dup.record_id, True)
        if not result.duplicate and self.on_stored is not None:
            self.on_stored()
        return result

    def _insert(
        self,
        s: Session,
        dev: Device,
        offer: Offer,
        content_sha256: str,
        directory: Path,
        info: RecordInfo,
        now: datetime,
    ) -> tuple[EcgRecord, bool]:
        """Patient, record and analysis job; the existing record when the content is known."""
        meta = offer.metadata
        offset = timedelta(milliseconds=dev.clock_offset_ms or 0.0)

        def corrected(value: datetime | None) -> datetime | None:
            aware = _aware(value)
            return aware - offset if aware is not None else None

        patient = resolve_patient(
            s,
            key=self.settings.resolved_secret(),
            organization_id=dev.organization_id,
            info=PatientInfo(
                name=meta.patient.name or UNNAMED_PATIENT,
                sex=meta.patient.sex,
                birth_date=_birth(meta.patient.birth_date),
                national_id=meta.patient.national_id,
                phone=meta.patient.phone,
            ),
            is_demo=dev.is_demo,
        )
        s.flush()
        record = EcgRecord(
            content_sha256=content_sha256,
            device_id=dev.id,
            organization_id=dev.organization_id,
            patient_id=patient.id,
            record_name=offer.record_name,
            format=offer.format,
            stored_path=str(directory),
            files={f.name: {"size": f.size, "sha256": f.sha256} for f in offer.files},
            sampling_rate_hz=info.fs,
            lead_names=list(info.lead_names),
            duration_s=info.duration_s,
            acquired_at_reported=_aware(meta.acquired_at),
            acquired_at=corrected(meta.acquired_at),
            clock_offset_ms=dev.clock_offset_ms,
            received_at=now,
            first_medical_contact_at=corrected(meta.first_medical_contact_at),
            symptom_onset_at=corrected(meta.symptom_onset_at),
            chest_pain=meta.chest_pain,
            preliminary_read=meta.preliminary_read,
            is_demo=dev.is_demo,
        )
        return relay_service.store_record(s, record, now=now)

    async def record_status(self, record_id: str) -> dict[str, Any] | None:
        def run() -> dict[str, Any] | None:
            with self.sessions() as s:
                return relay_service.record_status(s, record_id)

        return await self._read(run)

    async def record_statuses(self, record_ids: Collection[str]) -> dict[str, dict[str, Any]]:
        def run() -> dict[str, dict[str, Any]]:
            with self.sessions() as s:
                return relay_service.record_statuses(s, record_ids)

        return await self._read(run)

    async def heartbeat(self, device: DeviceIdentity, frame: Heartbeat) -> None:
        def run(s: Session) -> None:
            dev = s.get(Device, device.device_id)
            if dev is None:
                return
            dev.last_seen_at = utcnow()
            if frame.agent_version is not None:
                dev.agent_version = frame.agent_version
            if frame.outbox_depth is not None:
                dev.outbox_depth = frame.outbox_depth
            if frame.disk_free_bytes is not None:
                dev.disk_free_bytes = frame.disk_free_bytes
            s.flush()

        await self._writer.submit(run)

    async def clock_sample(
        self, device: DeviceIdentity, *, t1: float, t2: float, t3: float, t4: float
    ) -> None:
        est = self._clocks.setdefault(device.device_id, ClockEstimator())
        est.add(sample(t1, t2, t3, t4))

        def run(s: Session) -> None:
            dev = s.get(Device, device.device_id)
            if dev is None:
                return
            dev.clock_offset_ms = est.offset_ms()
            dev.clock_rtt_ms = est.delay_ms()
            drift = est.drift_ppm()
            if drift is not None:
                dev.clock_drift_ppm = drift
            dev.last_seen_at = utcnow()
            s.flush()

        await self._writer.submit(run)

    async def janitor(
        self,
        storage: Storage,
        *,
        orphan_grace_s: float = ORPHAN_GRACE_S,
        staging_max_age_s: float = STAGING_MAX_AGE_S,
    ) -> JanitorReport:
        """Remove record folders without a row and abandoned staged uploads (in a thread)."""

        def stored(candidates: Collection[str]) -> set[str]:
            with self.sessions() as s:
                return relay_service.stored_hashes(s, candidates)

        report = await self._read(
            lambda: janitor(
                storage,
                stored=stored,
                orphan_grace_s=orphan_grace_s,
                staging_max_age_s=staging_max_age_s,
            )
        )
        if report.orphan_records or report.stale_uploads:
            log.info(
                "relay janitor removed %d orphan record folders and %d stale uploads",
                len(report.orphan_records),
                len(report.stale_uploads),
            )
        return report
