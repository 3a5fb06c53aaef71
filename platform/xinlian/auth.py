"""Users, logins and tokens: who is asking, and which organizations they may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from xinlian.models import ApiToken, Organization, OrgKind, Role, User
from xinlian.security import hash_password, hash_secret, new_secret, verify_password

# Only staff of the central hospital in these roles see the whole county.
COUNTY_WIDE_ROLES = frozenset({Role.CARDIOLOGIST, Role.REFERRAL_COORDINATOR, Role.ADMIN})


@dataclass(frozen=True)
class Principal:
    """The authenticated user and the organizations whose patients they may see."""

    user_id: str
    username: str
    display_name: str
    role: Role
    organization_id: str
    county_wide: bool
    token_id: str

    def can_see(self, organization_id: str | None) -> bool:
        return self.county_wide or organization_id == self.organization_id


def authenticate_password(session: Session, *, username: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        # Verify against a dummy so a missing user takes as long as a wrong password.
        verify_password(_DUMMY_HASH, password)
        return None
    return user if verify_password(user.password_hash, password) else None


def issue_token(
    session: Session, *, user: User, kind: str, lifetime: timedelta, now: datetime
) -> str:
    """A new opaque token (returned once); only its hash is stored."""
    secret = new_secret()
    session.add(
        ApiToken(
            user_id=user.id,
            token_hash=hash_secret(secret),
            kind=kind,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    session.flush()
    return secret


def revoke_token(session: Session, *, token: str, now: datetime) -> None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_secret(token)))
    if row is not None and row.revoked_at is None:
        row.revoked_at = now


def principal_for_token(session: Session, *, token: str, now: datetime) -> Principal | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_secret(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    org = session.get(Organization, user.organization_id)
    role = Role(user.role)
    county_wide = (
        org is not None and org.kind == OrgKind.CENTRAL_HOSPITAL and role in COUNTY_WIDE_ROLES
    )
    return Principal(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=role,
        organization_id=user.organization_id,
        county_wide=county_wide,
        token_id=row.id,
    )


_DUMMY_HASH = hash_password("not-a-real-password")
