"""Named FastAPI dependencies: a route's signature says who may call it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from xinlian.auth import Principal, principal_for_token
from xinlian.db import utcnow
from xinlian.errors import Forbidden, Unauthenticated
from xinlian.models import Role
from xinlian.settings import Settings

SESSION_COOKIE = "xinlian_session"


def get_db(request: Request) -> Iterator[Session]:
    """The request owns the transaction: commit on success, roll back on any error."""
    session: Session = request.app.state.sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# scope="function": the commit happens when the route returns, before the response is
# sent, so a client that reads right after a 201 sees its own write.
DbSession = Annotated[Session, Depends(get_db, scope="function")]


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(get_settings_dep)]


def request_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.cookies.get(SESSION_COOKIE)


def get_current_user(request: Request, db: DbSession) -> Principal:
    token = request_token(request)
    principal = principal_for_token(db, token=token, now=utcnow()) if token else None
    if principal is None:
        raise Unauthenticated()
    request.state.principal = principal
    return principal


CurrentUser = Annotated[Principal, Depends(get_current_user)]


def require_roles(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency admitting only the given roles."""
    allowed = frozenset(roles)

    def check(user: CurrentUser) -> Principal:
        if user.role not in allowed:
            raise Forbidden()
        return user

    return check


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


Clinician = Annotated[
    Principal,
    Depends(
        require_roles(
            Role.TOWNSHIP_DOCTOR, Role.CARDIOLOGIST, Role.REFERRAL_COORDINATOR, Role.ADMIN
        )
    ),
]
Cardiologist = Annotated[Principal, Depends(require_roles(Role.CARDIOLOGIST))]
Coordinator = Annotated[
    Principal, Depends(require_roles(Role.REFERRAL_COORDINATOR, Role.CARDIOLOGIST, Role.ADMIN))
]
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
# Who reads the flags' production PPV: the cardiologists who review them, and the admins.
FlagAuditor = Annotated[Principal, Depends(require_roles(Role.CARDIOLOGIST, Role.ADMIN))]
