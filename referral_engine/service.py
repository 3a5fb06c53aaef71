"""Referral service: open a green channel for a flagged ECG, stamp steps, read timelines."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from referral_engine.metrics import TimelineEntry, TransferTimes, transfer_times
from referral_engine.models import Referral, ReferralEvent
from referral_engine.states import TERMINAL, InvalidTransition, State, Step, next_state


def open_for_record(
    session: Session,
    *,
    record_id: str,
    patient_id: str | None,
    from_organization_id: str,
    to_organization_id: str | None,
    trigger_codes: Sequence[str],
    door_at: datetime | None,
    now: datetime,
    is_demo: bool = False,
) -> tuple[Referral, bool]:
    """Open the green channel for this ECG once; a second call returns the same referral.

    The UNIQUE record_id, not a prior SELECT, guarantees one referral per record even
    when two workers analyse the same record at once.
    """
    existing = session.scalar(select(Referral).where(Referral.record_id == record_id))
    if existing is not None:
        return existing, False
    referral = Referral(
        record_id=record_id,
        patient_id=patient_id,
        from_organization_id=from_organization_id,
        to_organization_id=to_organization_id,
        state=State.OPENED.value,
        trigger_codes=list(trigger_codes),
        door_at=door_at,
        opened_at=now,
        is_demo=is_demo,
    )
    try:
        with session.begin_nested():
            session.add(referral)
            session.flush()
            session.add(
                ReferralEvent(
                    referral_id=referral.id,
                    step=Step.OPEN.value,
                    at=now,
                    recorded_at=now,
                    actor_type="system",
                    detail={"trigger_codes": list(trigger_codes)},
                )
            )
    except IntegrityError:
        found = session.scalar(select(Referral).where(Referral.record_id == record_id))
        if found is None:
            raise
        return found, False
    return referral, True


def stamp(
    session: Session,
    *,
    referral: Referral,
    step: Step,
    at: datetime,
    now: datetime,
    actor_type: str,
    actor_id: str | None,
    note: str | None = None,
) -> ReferralEvent:
    """Record a step at time ``at`` (may be earlier than ``now`` when stamped late).

    Raises InvalidTransition for a step the current state does not allow, and
    ValueError for a time in the future or before the previous step.
    """
    state = State(referral.state)
    new_state = next_state(state, step)
    if at > now:
        raise ValueError("step time is in the future")
    last = session.scalar(
        select(ReferralEvent.at)
        .where(ReferralEvent.referral_id == referral.id)
        .order_by(ReferralEvent.at.desc())
        .limit(1)
    )
    if last is not None and at < last and step != Step.CANCEL:
        raise ValueError("step time is before the previous step")
    event = ReferralEvent(
        referral_id=referral.id,
        step=step.value,
        at=at,
        recorded_at=now,
        actor_type=actor_type,
        actor_id=actor_id,
        note=note,
    )
    session.add(event)
    referral.state = new_state.value
    if new_state in TERMINAL:
        referral.closed_at = at
    session.flush()
    return event


def timeline(session: Session, *, referral_id: str) -> list[ReferralEvent]:
    return list(
        session.scalars(
            select(ReferralEvent)
            .where(ReferralEvent.referral_id == referral_id)
            .order_by(ReferralEvent.at, ReferralEvent.id)
        )
    )


def times_for(session: Session, *, referral: Referral, ecg_at: datetime | None) -> TransferTimes:
    events = timeline(session, referral_id=referral.id)
    return transfer_times(
        door_at=referral.door_at,
        ecg_at=ecg_at,
        opened_at=referral.opened_at,
        entries=[TimelineEntry(step=e.step, at=e.at) for e in events],
    )


__all__ = ["InvalidTransition", "open_for_record", "stamp", "timeline", "times_for"]
