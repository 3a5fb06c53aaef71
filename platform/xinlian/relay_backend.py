"""The platform's side of the relay: devices, patients, records and audit in the database.

Every method runs its database work in a worker thread so the event loop keeps
serving other carts.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from devices import service as device_service
from devices.clock import ClockEstimator, sample
from devices.models import Device
from ecg_relay import service as relay_service
from ecg_relay.backend import DeviceIdentity, StoredRecord
from ecg_relay.formats import RecordInfo
from ecg_relay.models import EcgRecord
from ecg_relay.protocol import Heartbeat, Offer
from xinlian import audit
from xinlian.db import session_scope, utcnow
from xinlian.i18n import LOCAL_TZ
from xinlian.patients import PatientInfo, resolve_patient
from xinlian.settings import Settings

UNNAMED_PATIENT = "未登记"


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


class SqlRelayBackend:
    def __init__(
        self, sessions: sessionmaker[Session], settings: Settings, on_stored: Any = None
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.on_stored = on_stored  # wakes the in-process analysis worker
        self._clocks: dict[str, ClockEstimator] = {}

    async def authenticate(self, credential: str) -> DeviceIdentity | None:
        def run() -> DeviceIdentity | None:
            with session_scope(self.sessions) as s:
                device = device_service.authenticate(s, credential=credential)
                if device is None:
                    return None
                now = utcnow()
                device.first_seen_at = device.first_seen_at or now
                device.last_seen_at = now
                return DeviceIdentity(
                    device.id, device.organization_id, device.credential_issued_at
                )

        return await asyncio.to_thread(run)

    async def connection_allowed(self, device: DeviceIdentity) -> bool:
        def run() -> bool:
            with self.sessions() as s:
                return device_service.is_connection_allowed(
                    s, device_id=device.device_id, credential_issued_at=device.credential_issued_at
                )

        return await asyncio.to_thread(run)

    async def find_stored(self, content_sha256: str) -> str | None:
        def run() -> str | None:
            with self.sessions() as s:
                rec = relay_service.find_record_by_sha(s, content_sha256)
                return rec.id if rec else None

        return await asyncio.to_thread(run)

    async def store(
        self,
        device: DeviceIdentity,
        offer: Offer,
        *,
        content_sha256: str,
        directory: Path,
        info: RecordInfo,
    ) -> StoredRecord:
        def run() -> StoredRecord:
            now = utcnow()
            with session_scope(self.sessions) as s:
                dev = s.get(Device, device.device_id)
                assert dev is not None
                meta = offer.metadata
                offset = timedelta(milliseconds=dev.clock_offset_ms or 0.0)

                def corrected(value: datetime | None) -> datetime | None:
                    aware = _aware(value)
                    return aware - offset if aware is not None else None

                try:
                    with s.begin_nested():
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
                            files={
                                f.name: {"size": f.size, "sha256": f.sha256} for f in offer.files
                            },
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
                        stored, created = relay_service.store_record(s, record, now=now)
                        if not created:
                            raise _Duplicate(stored.id)
                except _Duplicate as dup:
                    return StoredRecord(dup.record_id, True)
                dev.last_upload_at = now
                dev.last_seen_at = now
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
                return StoredRecord(stored.id, False)

        result = await asyncio.to_thread(run)
        if not result.duplicate and self.on_stored is not None:
            self.on_stored()
        return result

    async def record_status(self, record_id: str) -> dict[str, Any] | None:
        def run() -> dict[str, Any] | None:
            with self.sessions() as s:
                return relay_service.record_status(s, record_id)

        return await asyncio.to_thread(run)

    async def heartbeat(self, device: DeviceIdentity, frame: Heartbeat) -> None:
        def run() -> None:
            with session_scope(self.sessions) as s:
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

        await asyncio.to_thread(run)

    async def clock_sample(
        self, device: DeviceIdentity, *, t1: float, t2: float, t3: float, t4: float
    ) -> None:
        est = self._clocks.setdefault(device.device_id, ClockEstimator())
        est.add(sample(t1, t2, t3, t4))

        def run() -> None:
            with session_scope(self.sessions) as s:
                dev = s.get(Device, device.device_id)
                if dev is None:
                    return
                dev.clock_offset_ms = est.offset_ms()
                dev.clock_rtt_ms = est.delay_ms()
                drift = est.drift_ppm()
                if drift is not None:
                    dev.clock_drift_ppm = drift
                dev.last_seen_at = utcnow()

        await asyncio.to_thread(run)
