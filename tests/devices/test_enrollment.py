"""Enrollment codes and credentials, with a controlled clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from devices import enrollment
from devices.service import authenticate
from tests import factories

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def _device(session: Session) -> str:
    _central, (town, _) = factories.county(session)
    return enrollment.register(
        session,
        serial_number=f"SN-{factories._suffix()}",
        vendor="Edan",
        model="SE-1200",
        organization_id=town.id,
        now=T0,
    ).id


def test_code_is_single_use(session: Session) -> None:
    """A code gives one credential; the second redemption is CODE_USED."""
    device_id = _device(session)
    code, _ = enrollment.create_code(
        session, device_id=device_id, now=T0, valid_for=timedelta(hours=24), created_by=None
    )
    enrolled = enrollment.redeem(session, code=code.lower(), now=T0 + timedelta(minutes=5))
    assert authenticate(session, credential=enrolled.credential) is not None
    with pytest.raises(enrollment.EnrollmentError) as info:
        enrollment.redeem(session, code=code, now=T0 + timedelta(minutes=6))
    assert info.value.code == "CODE_USED" and info.value.message_zh


def test_code_expires(session: Session) -> None:
    """After 24 hours the code is refused as expired."""
    device_id = _device(session)
    code, expires = enrollment.create_code(
        session, device_id=device_id, now=T0, valid_for=timedelta(hours=24), created_by=None
    )
    assert expires == T0 + timedelta(hours=24)
    with pytest.raises(enrollment.EnrollmentError) as info:
        enrollment.redeem(session, code=code, now=expires)
    assert info.value.code == "CODE_EXPIRED"


def test_new_code_voids_older_ones(session: Session) -> None:
    """Issuing a new code makes the previous unused code useless."""
    device_id = _device(session)
    old, _ = enrollment.create_code(
        session, device_id=device_id, now=T0, valid_for=timedelta(hours=24), created_by=None
    )
    new, _ = enrollment.create_code(
        session,
        device_id=device_id,
        now=T0 + timedelta(minutes=1),
        valid_for=timedelta(hours=24),
        created_by=None,
    )
    with pytest.raises(enrollment.EnrollmentError):
        enrollment.redeem(session, code=old, now=T0 + timedelta(minutes=2))
    assert enrollment.redeem(session, code=new, now=T0 + timedelta(minutes=2)).credential


def test_unknown_code(session: Session) -> None:
    """A made-up code is CODE_UNKNOWN."""
    with pytest.raises(enrollment.EnrollmentError) as info:
        enrollment.redeem(session, code="ABCDEFGHJK", now=T0)
    assert info.value.code == "CODE_UNKNOWN"


def test_revoke_and_rotate_take_effect_at_once(session: Session) -> None:
    """Revoked: the credential fails. Rotated: the old credential fails, the new works."""
    device_id = _device(session)
    code, _ = enrollment.create_code(
        session, device_id=device_id, now=T0, valid_for=timedelta(hours=1), created_by=None
    )
    first = enrollment.redeem(session, code=code, now=T0)
    second = enrollment.issue_credential(first.device, now=T0 + timedelta(minutes=1))
    assert authenticate(session, credential=first.credential) is None
    assert authenticate(session, credential=second) is not None
    enrollment.revoke(session, device_id=device_id, now=T0 + timedelta(minutes=2))
    assert authenticate(session, credential=second) is None
    with pytest.raises(enrollment.EnrollmentError) as info:
        enrollment.create_code(
            session, device_id=device_id, now=T0, valid_for=timedelta(hours=1), created_by=None
        )
    assert info.value.code == "DEVICE_RETIRED"
