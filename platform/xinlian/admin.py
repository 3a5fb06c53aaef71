"""Administration of organizations and users (CLI and admin pages)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from xinlian.errors import DomainError, InvalidInput
from xinlian.models import Organization, OrgKind, Role, User
from xinlian.security import hash_password

MIN_PASSWORD_LENGTH = 8


def org_by_code(session: Session, code: str) -> Organization:
    org = session.scalar(select(Organization).where(Organization.code == code))
    if org is None:
        raise InvalidInput(
            "UNKNOWN_ORG",
            message_zh=f"机构代码不存在: {code}",
            message_en=f"no organization with code {code}",
        )
    return org


def add_org(
    session: Session,
    *,
    code: str,
    name: str,
    kind: str,
    parent_code: str | None,
    location: str | None = None,
    is_demo: bool = False,
) -> Organization:
    try:
        kind_enum = OrgKind(kind)
    except ValueError:
        raise InvalidInput(
            "BAD_KIND",
            message_zh="机构类型无效",
            message_en=f"kind must be one of {[k.value for k in OrgKind]}",
        ) from None
    parent = org_by_code(session, parent_code) if parent_code else None
    if kind_enum != OrgKind.CENTRAL_HOSPITAL and parent is None:
        raise InvalidInput(
            "PARENT_REQUIRED",
            message_zh="乡镇卫生院和村卫生室必须有上级机构",
            message_en="township centres and village clinics need a parent",
        )
    org = Organization(
        code=code.strip(),
        name=name.strip(),
        kind=kind_enum.value,
        parent_id=parent.id if parent else None,
        location=location,
        is_demo=is_demo,
    )
    try:
        with session.begin_nested():
            session.add(org)
    except IntegrityError:
        raise DomainError(
            "CONFLICT",
            status_code=409,
            message_zh="机构代码已存在",
            message_en="organization code exists",
        ) from None
    return org


def add_user(
    session: Session,
    *,
    username: str,
    role: str,
    org_code: str,
    display_name: str,
    password: str,
    is_demo: bool = False,
) -> User:
    try:
        role_enum = Role(role)
    except ValueError:
        raise InvalidInput(
            "BAD_ROLE",
            message_zh="角色无效",
            message_en=f"role must be one of {[r.value for r in Role]}",
        ) from None
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            "WEAK_PASSWORD",
            message_zh=f"密码至少 {MIN_PASSWORD_LENGTH} 位",
            message_en=f"password needs at least {MIN_PASSWORD_LENGTH} characters",
        )
    org = org_by_code(session, org_code)
    user = User(
        username=username.strip(),
        role=role_enum.value,
        organization_id=org.id,
        display_name=display_name,
        password_hash=hash_password(password),
        is_demo=is_demo,
    )
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError:
        raise DomainError(
            "CONFLICT", status_code=409, message_zh="用户名已存在", message_en="username exists"
        ) from None
    return user
