"""The append-only audit log: every read or change of patient data leaves an entry."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from xinlian.models import AuditEntry


def record(
    session: Session,
    *,
    actor_type: str,
    actor_id: str | None,
    action: str,
    target_type: str,
    target_id: str | None,
    organization_id: str | None = None,
    source_ip: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add an audit entry to the caller's unit of work (committed with it).

    Never put names or ID numbers in ``detail``: the log is read by administrators.
    """
    session.add(
        AuditEntry(
            actor_type=actor_type,
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            organization_id=organization_id,
            source_ip=source_ip,
            detail=detail,
        )
    )
