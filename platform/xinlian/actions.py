"""Changes users make: reviews of ECGs and steps of green-channel transfers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ecg_relay.models import Review
from referral_engine.models import Referral, ReferralEvent
from referral_engine.service import stamp
from referral_engine.states import InvalidTransition, State, Step
from xinlian import audit
from xinlian.auth import Principal
from xinlian.errors import DomainError, InvalidInput
from xinlian.models import Role
from xinlian.queries import get_record, get_referral

VERDICTS = ("confirmed", "rejected")

# Who may stamp which step: the cardiologist confirms or calls off on clinical grounds;
# the referral office runs the logistics; admins can correct either.
STEP_ROLES: dict[Step, frozenset[Role]] = {
    Step.CONFIRM: frozenset({Role.CARDIOLOGIST, Role.ADMIN}),
    Step.DEPART: frozenset({Role.REFERRAL_COORDINATOR, Role.ADMIN}),
    Step.ARRIVE: frozenset({Role.REFERRAL_COORDINATOR, Role.ADMIN}),
    Step.ADMIT: frozenset({Role.REFERRAL_COORDINATOR, Role.CARDIOLOGIST, Role.ADMIN}),
    Step.CANCEL: frozenset({Role.REFERRAL_COORDINATOR, Role.CARDIOLOGIST, Role.ADMIN}),
}


def submit_review(
    session: Session,
    *,
    principal: Principal,
    record_id: str,
    verdict: str,
    flag_code: str | None,
    report: str | None,
    now: datetime,
    source_ip: str | None,
) -> Review:
    """Record the cardiologist's verdict on a flag; it confirms or cancels the green channel."""
    if verdict not in VERDICTS:
        raise InvalidInput("BAD_VERDICT", message_zh="审核结论无效", message_en="Invalid verdict")
    row = get_record(
        session, principal=principal, record_id=record_id, source_ip=source_ip, action="ecg.review"
    )
    analysis = row.analysis
    if flag_code is not None and (analysis is None or flag_code not in analysis.flag_codes):
        raise InvalidInput(
            "BAD_FLAG", message_zh="该心电图没有此提示", message_en="This ECG has no such flag"
        )
    review = Review(
        record_id=record_id,
        analysis_id=analysis.id if analysis else None,
        reviewer_id=principal.user_id,
        verdict=verdict,
        flag_code=flag_code,
        algorithm_version=analysis.algorithm_version if analysis else None,
        report=(report or "").strip() or None,
        created_at=now,
    )
    session.add(review)
    referral = row.referral
    if referral is not None and State(referral.state) == State.OPENED:
        step = Step.CONFIRM if verdict == "confirmed" else Step.CANCEL
        stamp(
            session,
            referral=referral,
            step=step,
            at=now,
            now=now,
            actor_type="user",
            actor_id=principal.user_id,
            note=None if verdict == "confirmed" else "flag rejected by cardiologist",
        )
    session.flush()
    return review


def stamp_step(
    session: Session,
    *,
    principal: Principal,
    referral_id: str,
    step: str,
    at: datetime | None,
    note: str | None,
    now: datetime,
    source_ip: str | None,
) -> ReferralEvent:
    try:
        step_enum = Step(step)
    except ValueError:
        raise InvalidInput("BAD_STEP", message_zh="步骤无效", message_en="Unknown step") from None
    if step_enum not in STEP_ROLES or principal.role not in STEP_ROLES[step_enum]:
        raise DomainError("FORBIDDEN", status_code=403, key="error.forbidden")
    row = get_referral(
        session,
        principal=principal,
        referral_id=referral_id,
        source_ip=source_ip,
        action=f"referral.{step_enum.value}",
    )
    referral: Referral = row.referral
    try:
        event = stamp(
            session,
            referral=referral,
            step=step_enum,
            at=at or now,
            now=now,
            actor_type="user",
            actor_id=principal.user_id,
            note=note,
        )
    except InvalidTransition:
        raise DomainError(
            "INVALID_TRANSITION", status_code=409, key="error.invalid_transition"
        ) from None
    except ValueError as exc:
        raise InvalidInput(
            "BAD_TIME",
            message_zh="时间无效（不能晚于现在或早于上一步）",
            message_en=f"Invalid time: {exc}",
        ) from None
    audit.record(
        session,
        actor_type="user",
        actor_id=principal.user_id,
        action="referral.stamp",
        target_type="referral",
        target_id=referral.id,
        organization_id=referral.from_organization_id,
        source_ip=source_ip,
        detail={"step": step_enum.value},
    )
    return event
