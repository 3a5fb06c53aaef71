"""The application factory: settings, database, routers, templates and the analysis worker."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from xinlian.db import make_engine, make_session_factory
from xinlian.errors import DomainError
from xinlian.settings import Settings, get_settings

log = logging.getLogger(__name__)
PACKAGE_DIR = Path(__file__).resolve().parent


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    migrate: bool = True,
    start_workers: bool = True,
) -> FastAPI:
    """Build the platform. ``migrate`` brings the schema up to date before serving."""
    settings = settings or get_settings()
    settings.ensure_dirs()
    settings.resolved_secret()
    engine = engine or make_engine(settings.database_url)
    if migrate:
        from xinlian.migrate import upgrade

        upgrade(engine)
    sessions: sessionmaker[Session] = make_session_factory(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from xinlian.worker import WorkerThread

        workers = [
            WorkerThread(sessions, lease_s=settings.analysis_lease_s, mains_hz=settings.mains_hz)
            for _ in range(settings.analysis_workers if start_workers else 0)
        ]
        from xinlian.maintenance import MaintenanceThread

        maintenance = MaintenanceThread(sessions, settings)
        for w in workers:
            w.start()
        maintenance.start()
        app.state.workers = workers
        try:
            yield
        finally:
            maintenance.stop()
            for w in workers:
                w.stop()
            for w in workers:
                w.join(timeout=10)

    app = FastAPI(
        title="心联 xinlian",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.workers = []

    from xinlian import api, devices_api, relay_router
    from xinlian.web import admin_pages, pages

    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(admin_pages.router)
    app.include_router(relay_router.router)
    app.include_router(devices_api.router)
    app.mount("/static", StaticFiles(directory=PACKAGE_DIR / "static"), name="static")

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        if _wants_html(request):
            if exc.status_code == 401:
                return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
            from xinlian.web.render import render_error

            return render_error(request, exc)
        return JSONResponse(exc.to_dict(), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        return JSONResponse(
            {
                "code": "INVALID",
                "message_zh": "输入无效",
                "message_en": "Invalid input",
                "errors": [
                    {"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()
                ],
            },
            status_code=422,
        )

    return app


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get(
        "accept", ""
    )
