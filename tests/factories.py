"""Factories for test data: real rows through the real services, unique per call."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from devices.models import Device
from devices.service import hash_credential
from ecg_relay.models import EcgRecord
from xinlian.db import utcnow
from xinlian.models import Organization, OrgKind, Role, User
from xinlian.security import hash_password, new_secret

PASSWORD = "correct-horse-battery"


def _suffix() -> str:
    return uuid.uuid4().hex[:6]


def county(session: Session) -> tuple[Organization, list[Organization]]:
    """A central hospital with two township centres."""
    central = Organization(code=f"C-{_suffix()}", name="县人民医院", kind=OrgKind.CENTRAL_HOSPITAL)
    session.add(central)
    session.flush()
    towns = [
        Organization(
            code=f"T-{_suffix()}", name=name, kind=OrgKind.TOWNSHIP_CENTRE, parent_id=central.id
        )
        for name in ("城关镇卫生院", "河口镇卫生院")
    ]
    session.add_all(towns)
    session.flush()
    return central, towns


def user(session: Session, *, role: Role, org: Organization, username: str | None = None) -> User:
    u = User(
        username=username or f"{role.value}-{_suffix()}",
        display_name=f"{role.value}",
        role=role.value,
        organization_id=org.id,
        password_hash=hash_password(PASSWORD),
    )
    session.add(u)
    session.flush()
    return u


def device(session: Session, *, org: Organization) -> tuple[Device, str]:
    """An enrolled cart and its plain credential."""
    credential = new_secret()
    d = Device(
        serial_number=f"SN-{_suffix()}",
        vendor="Sim",
        model="SIM-12",
        organization_id=org.id,
        credential_hash=hash_credential(credential),
        credential_issued_at=utcnow(),
    )
    session.add(d)
    session.flush()
    return d, credential


def ecg_record(session: Session, *, org: Organization, sha: str | None = None) -> EcgRecord:
    """A stored ECG row (no files behind it) for tests of what refers to records."""
    rec = EcgRecord(
        content_sha256=sha or uuid.uuid4().hex * 2,
        organization_id=org.id,
        record_name="r1",
        format="wfdb",
        stored_path="/nonexistent",
        files={},
        sampling_rate_hz=500.0,
        lead_names=["I"],
        duration_s=10.0,
    )
    session.add(rec)
    session.flush()
    return rec
