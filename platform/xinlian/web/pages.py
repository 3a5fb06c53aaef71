"""The web pages: login, live worklist, 12-lead viewer, transfers, time audit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from referral_engine.metrics import TARGET_DOOR_TO_ADMISSION_MIN, summarize
from referral_engine.states import State, allowed_steps
from xinlian import actions, queries
from xinlian.auth import (
    authenticate_password,
    issue_token,
    principal_for_token,
    revoke_token,
)
from xinlian.db import utcnow
from xinlian.deps import (
    SESSION_COOKIE,
    AppSettings,
    Cardiologist,
    Clinician,
    Coordinator,
    CurrentUser,
    DbSession,
    FlagAuditor,
    client_ip,
    request_token,
)
from xinlian.errors import DomainError
from xinlian.i18n import LOCAL_TZ
from xinlian.models import Role
from xinlian.web.render import render

router = APIRouter(include_in_schema=False)

HOME_BY_ROLE = {
    Role.CARDIOLOGIST: "/worklist",
    Role.TOWNSHIP_DOCTOR: "/worklist",
    Role.REFERRAL_COORDINATOR: "/referrals",
    Role.ADMIN: "/audit/transfers",
}


def _safe_next(target: str | None) -> str | None:
    # Only local paths: an open redirect would let a phishing link borrow our login page.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return None


@router.get("/", response_model=None)
def home(request: Request, db: DbSession) -> Response:
    token = request_token(request)
    principal = principal_for_token(db, token=token, now=utcnow()) if token else None
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(HOME_BY_ROLE[principal.role], status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request, next_url: Annotated[str | None, Query(alias="next")] = None
) -> HTMLResponse:
    return render(request, "login.html", next=_safe_next(next_url), failed=False)


@router.post("/login", response_model=None)
def login(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    next_url: Annotated[str | None, Form(alias="next")] = None,
) -> Response:
    user = authenticate_password(db, username=username.strip(), password=password)
    if user is None:
        return render(
            request, "login.html", status_code=401, next=_safe_next(next_url), failed=True
        )
    token = issue_token(
        db,
        user=user,
        kind="session",
        lifetime=timedelta(hours=settings.session_hours),
        now=utcnow(),
    )
    target = _safe_next(next_url) or HOME_BY_ROLE[Role(user.role)]
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE, token, max_age=settings.session_hours * 3600, httponly=True, samesite="lax"
    )
    return response


@router.post("/logout")
def logout(request: Request, db: DbSession) -> RedirectResponse:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        revoke_token(db, token=token, now=utcnow())
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/worklist", response_class=HTMLResponse)
def worklist(request: Request, db: DbSession, user: Clinician) -> HTMLResponse:
    rows = queries.worklist(db, principal=user, source_ip=client_ip(request))
    return render(
        request, "worklist.html", rows=rows, version=queries.worklist_version(db, principal=user)
    )


@router.get("/worklist/rows", response_class=HTMLResponse)
def worklist_rows(request: Request, db: DbSession, user: Clinician) -> HTMLResponse:
    rows = queries.worklist(db, principal=user, source_ip=client_ip(request))
    return render(request, "_worklist_rows.html", rows=rows)


@router.get("/events/worklist")
async def worklist_events(request: Request, user: CurrentUser) -> StreamingResponse:
    """Server-sent events: a `change` event whenever the worklist would look different.

    Polling the database (not an in-process bus) keeps this correct with several
    server processes behind one address.
    """
    sessions = request.app.state.sessions

    def version() -> str:
        with sessions() as session:
            return queries.worklist_version(session, principal=user)

    async def stream() -> AsyncIterator[bytes]:
        last = await run_in_threadpool(version)
        yield b"retry: 3000\n\n"
        idle = 0
        while not await request.is_disconnected():
            await asyncio.sleep(1.0)
            current = await run_in_threadpool(version)
            if current != last:
                last = current
                idle = 0
                yield f"event: change\ndata: {current}\n\n".encode()
            else:
                idle += 1
                if idle >= 15:  # keep proxies from closing an idle stream
                    idle = 0
                    yield b": keep-alive\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/ecgs/{record_id}", response_class=HTMLResponse)
def ecg_view(record_id: str, request: Request, db: DbSession, user: Clinician) -> HTMLResponse:
    row = queries.get_record(db, principal=user, record_id=record_id, source_ip=client_ip(request))
    return render(request, "ecg.html", row=row, can_review=user.role == Role.CARDIOLOGIST)


@router.post("/ecgs/{record_id}/review")
def ecg_review(
    record_id: str,
    request: Request,
    db: DbSession,
    user: Cardiologist,
    verdict: Annotated[str, Form()],
    flag_code: Annotated[str | None, Form()] = None,
    report: Annotated[str | None, Form(max_length=4000)] = None,
) -> RedirectResponse:
    actions.submit_review(
        db,
        principal=user,
        record_id=record_id,
        verdict=verdict,
        flag_code=flag_code or None,
        report=report,
        now=utcnow(),
        source_ip=client_ip(request),
    )
    return RedirectResponse(f"/ecgs/{record_id}", status_code=303)


@router.get("/referrals", response_class=HTMLResponse)
def referral_list(request: Request, db: DbSession, user: Clinician) -> HTMLResponse:
    rows = queries.referrals(db, principal=user, source_ip=client_ip(request))
    return render(request, "referrals.html", rows=rows)


@router.get("/referrals/{referral_id}", response_class=HTMLResponse)
def referral_view(
    referral_id: str, request: Request, db: DbSession, user: Clinician
) -> HTMLResponse:
    row = queries.get_referral(
        db, principal=user, referral_id=referral_id, source_ip=client_ip(request)
    )
    steps = [s.value for s in allowed_steps(State(row.referral.state))]
    steps = [s for s in steps if user.role in actions.STEP_ROLES[actions.Step(s)]]
    return render(request, "referral.html", row=row, steps=steps)


def _parse_local(value: str | None) -> datetime | None:
    """A datetime-local form value is wall-clock time in Asia/Shanghai."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=LOCAL_TZ)
    except ValueError:
        raise DomainError("BAD_TIME", status_code=422, key="error.bad_time") from None


@router.post("/referrals/{referral_id}/steps")
def referral_stamp(
    referral_id: str,
    request: Request,
    db: DbSession,
    user: Coordinator,
    step: Annotated[str, Form(max_length=16)],
    at: Annotated[str | None, Form()] = None,
    note: Annotated[str | None, Form(max_length=1000)] = None,
) -> RedirectResponse:
    actions.stamp_step(
        db,
        principal=user,
        referral_id=referral_id,
        step=step,
        at=_parse_local(at),
        note=(note or "").strip() or None,
        now=utcnow(),
        source_ip=client_ip(request),
    )
    return RedirectResponse(f"/referrals/{referral_id}", status_code=303)


@router.get("/audit/transfers", response_class=HTMLResponse)
def transfer_audit(
    request: Request, db: DbSession, user: Coordinator, days: int = 30
) -> HTMLResponse:
    since = utcnow() - timedelta(days=max(1, min(days, 3650)))
    rows = queries.referrals(
        db,
        principal=user,
        since=since,
        limit=10000,
        source_ip=client_ip(request),
        action="referral.audit",
    )
    return render(
        request,
        "audit.html",
        rows=rows,
        summary=summarize([r.times for r in rows]),
        target=TARGET_DOOR_TO_ADMISSION_MIN,
        days=days,
    )


@router.get("/audit/flags", response_class=HTMLResponse)
def flag_audit(request: Request, db: DbSession, user: FlagAuditor, days: int = 90) -> HTMLResponse:
    since = utcnow() - timedelta(days=max(1, min(days, 3650)))
    rows = queries.flag_performance(db, principal=user, since=since)
    return render(request, "audit_flags.html", rows=rows, days=days)
