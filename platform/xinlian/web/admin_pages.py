"""Administrator pages: the county's organizations and users."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from devices.models import Device, DeviceAlert
from xinlian import admin, audit, devices_api
from xinlian.deps import Admin, AppSettings, DbSession, client_ip
from xinlian.errors import DomainError
from xinlian.models import Organization, Role, User
from xinlian.web.render import render

router = APIRouter(include_in_schema=False, prefix="/admin")


def _page(
    request: Request, db: DbSession, error: DomainError | None = None, status_code: int = 200
) -> HTMLResponse:
    orgs = db.scalars(select(Organization).order_by(Organization.kind, Organization.code)).all()
    users = db.scalars(select(User).order_by(User.organization_id, User.username)).all()
    names = {o.id: o.name for o in orgs}
    return render(
        request,
        "admin_orgs.html",
        status_code=status_code,
        orgs=orgs,
        users=users,
        org_names=names,
        roles=[r.value for r in Role],
        error=error,
    )


@router.get("/orgs", response_class=HTMLResponse)
def orgs_page(request: Request, db: DbSession, user: Admin) -> HTMLResponse:
    return _page(request, db)


@router.post("/orgs", response_model=None)
def add_org(
    request: Request,
    db: DbSession,
    user: Admin,
    code: Annotated[str, Form(max_length=64)],
    name: Annotated[str, Form(max_length=200)],
    kind: Annotated[str, Form()],
    parent: Annotated[str | None, Form()] = None,
) -> Response:
    try:
        org = admin.add_org(db, code=code, name=name, kind=kind, parent_code=parent or None)
    except DomainError as exc:
        db.rollback()
        return _page(request, db, error=exc, status_code=exc.status_code)
    audit.record(
        db,
        actor_type="user",
        actor_id=user.user_id,
        action="org.add",
        target_type="organization",
        target_id=org.id,
        source_ip=client_ip(request),
    )
    return RedirectResponse("/admin/orgs", status_code=303)


@router.post("/users", response_model=None)
def add_user(
    request: Request,
    db: DbSession,
    user: Admin,
    username: Annotated[str, Form(max_length=64)],
    display_name: Annotated[str, Form(max_length=100)],
    role: Annotated[str, Form()],
    org: Annotated[str, Form()],
    password: Annotated[str, Form(max_length=200)],
) -> Response:
    try:
        new = admin.add_user(
            db,
            username=username,
            role=role,
            org_code=org,
            display_name=display_name,
            password=password,
        )
    except DomainError as exc:
        db.rollback()
        return _page(request, db, error=exc, status_code=exc.status_code)
    audit.record(
        db,
        actor_type="user",
        actor_id=user.user_id,
        action="user.add",
        target_type="user",
        target_id=new.id,
        source_ip=client_ip(request),
    )
    return RedirectResponse("/admin/orgs", status_code=303)


@dataclass(frozen=True)
class FleetRow:
    device: Device
    alerts: list[DeviceAlert]


def _fleet(
    request: Request,
    db: DbSession,
    *,
    error: DomainError | None = None,
    status_code: int = 200,
    issued_code: str | None = None,
    issued_expires: datetime | None = None,
) -> HTMLResponse:
    alerts = devices_api.open_alerts(db)
    devices = db.scalars(select(Device).order_by(Device.organization_id, Device.serial_number))
    orgs = db.scalars(select(Organization).order_by(Organization.code)).all()
    return render(
        request,
        "fleet.html",
        status_code=status_code,
        rows=[FleetRow(d, alerts.get(d.id, [])) for d in devices],
        orgs=orgs,
        org_names={o.id: o.name for o in orgs},
        error=error,
        issued_code=issued_code,
        issued_expires=issued_expires,
    )


@router.get("/fleet", response_class=HTMLResponse)
def fleet_page(request: Request, db: DbSession, user: Admin) -> HTMLResponse:
    return _fleet(request, db)


@router.post("/fleet", response_model=None)
def fleet_register(
    request: Request,
    db: DbSession,
    user: Admin,
    serial_number: Annotated[str, Form(max_length=64)],
    vendor: Annotated[str, Form(max_length=64)],
    model: Annotated[str, Form(max_length=64)],
    org: Annotated[str, Form(max_length=64)],
) -> Response:
    try:
        devices_api.register(
            devices_api.RegisterRequest(
                serial_number=serial_number, vendor=vendor, model=model, organization_code=org
            ),
            request,
            db,
            user,
        )
    except DomainError as exc:
        db.rollback()
        return _fleet(request, db, error=exc, status_code=exc.status_code)
    return RedirectResponse("/admin/fleet", status_code=303)


@router.post("/fleet/{device_id}/enrollment-code", response_class=HTMLResponse)
def fleet_code(
    device_id: str, request: Request, db: DbSession, user: Admin, settings: AppSettings
) -> HTMLResponse:
    issued = devices_api.new_code(device_id, request, db, user, settings)
    return _fleet(
        request,
        db,
        issued_code=issued["code"],
        issued_expires=datetime.fromisoformat(issued["expires_at"]),
    )


@router.post("/fleet/{device_id}/revoke")
def fleet_revoke(device_id: str, request: Request, db: DbSession, user: Admin) -> RedirectResponse:
    devices_api.revoke(device_id, request, db, user)
    return RedirectResponse("/admin/fleet", status_code=303)


@router.post("/fleet/{device_id}/status")
def fleet_status(
    device_id: str, request: Request, db: DbSession, user: Admin, status: Annotated[str, Form()]
) -> RedirectResponse:
    devices_api.set_status(device_id, devices_api.StatusRequest(status=status), request, db, user)
    return RedirectResponse("/admin/fleet", status_code=303)


@router.post("/fleet/{device_id}/move")
def fleet_move(
    device_id: str,
    request: Request,
    db: DbSession,
    user: Admin,
    org: Annotated[str, Form(max_length=64)],
) -> RedirectResponse:
    devices_api.move(device_id, devices_api.MoveRequest(organization_code=org), request, db, user)
    return RedirectResponse("/admin/fleet", status_code=303)


@router.post("/fleet/{device_id}/rotate", response_class=HTMLResponse)
def fleet_rotate(
    device_id: str, request: Request, db: DbSession, user: Admin, settings: AppSettings
) -> HTMLResponse:
    issued = devices_api.rotate(device_id, request, db, user, settings)
    return _fleet(
        request,
        db,
        issued_code=issued["code"],
        issued_expires=datetime.fromisoformat(issued["expires_at"]),
    )
