"""Patient identity resolution for incoming ECGs: match by keyed national-ID hash or create."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from xinlian.models import Patient
from xinlian.security import hash_national_id


@dataclass(frozen=True)
class PatientInfo:
    name: str
    sex: str | None = None
    birth_date: date | None = None
    national_id: str | None = None
    phone: str | None = None


def resolve_patient(
    session: Session, *, key: str, organization_id: str, info: PatientInfo, is_demo: bool = False
) -> Patient:
    """The patient with this national ID, else a new patient of the sending organization.

    Without an ID there is no safe way to match people across ECGs, so each such ECG
    gets its own patient row; the cardiologist still sees name, sex and age.
    """
    id_hash = hash_national_id(key, info.national_id) if info.national_id else None
    if id_hash is not None:
        existing = session.scalar(select(Patient).where(Patient.national_id_hash == id_hash))
        if existing is not None:
            return existing
    patient = Patient(
        organization_id=organization_id,
        name=info.name,
        sex=info.sex,
        birth_date=info.birth_date,
        national_id_hash=id_hash,
        national_id_last4=info.national_id.strip()[-4:] if info.national_id else None,
        phone=info.phone,
        is_demo=is_demo,
    )
    try:
        with session.begin_nested():
            session.add(patient)
    except IntegrityError:
        # Another upload created the same person a moment ago.
        found = session.scalar(select(Patient).where(Patient.national_id_hash == id_hash))
        if found is None:
            raise
        return found
    return patient
