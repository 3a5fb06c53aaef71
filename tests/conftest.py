"""Shared fixtures: a real, migrated database per test (SQLite or PostgreSQL).

The schema is built once by the real Alembic chain into a template, then each test
gets its own copy: a file copy for SQLite, CREATE DATABASE ... TEMPLATE for
PostgreSQL (set XINLIAN_TEST_DATABASE_URL=postgresql+psycopg://.../test).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from xinlian.db import make_engine, make_session_factory
from xinlian.migrate import upgrade

PG_URL = os.environ.get("XINLIAN_TEST_DATABASE_URL", "").strip()
REPO_ROOT = Path(__file__).resolve().parents[1]


def ecg_data_dir() -> Path:
    return Path(os.environ.get("XINLIAN_ECG_DATA", REPO_ROOT.parent / "shared" / "ecg-data"))


# Tests on the real records: skipped, with the reason, where the folder is absent.
needs_ecg_data = pytest.mark.skipif(
    not (ecg_data_dir() / "records.csv").exists(),
    reason=f"real ECG records not found at {ecg_data_dir()} (set XINLIAN_ECG_DATA)",
)


@pytest.fixture(scope="session")
def _template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if PG_URL:
        name = f"xinlian_tpl_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield name
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        path = tmp_path_factory.mktemp("template") / "template.sqlite3"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        yield str(path)


@pytest.fixture()
def database_url(_template: str, tmp_path: Path) -> Iterator[str]:
    """A fresh migrated database for this test; dropped afterwards."""
    if PG_URL:
        name = f"xinlian_t_{uuid.uuid4().hex[:10]}"
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{_template}"'))
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        path = tmp_path / "xinlian.sqlite3"
        shutil.copyfile(_template, path)
        yield f"sqlite:///{path}"


@pytest.fixture()
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture()
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture()
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as s:
        yield s


# --- a real server -------------------------------------------------------------------------

import threading  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import uvicorn  # noqa: E402
from fastapi import FastAPI  # noqa: E402

from xinlian.settings import Settings  # noqa: E402


@dataclass
class LiveServer:
    """A real uvicorn server on 127.0.0.1 serving the whole platform."""

    app: FastAPI
    server: uvicorn.Server
    thread: threading.Thread
    port: int
    settings: Settings

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/relay/v1"

    @property
    def sessions(self) -> sessionmaker[Session]:
        factory: sessionmaker[Session] = self.app.state.sessions
        return factory


def start_server(app: FastAPI, settings: Settings) -> LiveServer:
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="on",
        ws_max_size=settings.max_frame_bytes + 4096,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True, name="uvicorn-test")
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    return LiveServer(app=app, server=server, thread=thread, port=port, settings=settings)


def stop_server(live: LiveServer) -> None:
    live.server.should_exit = True
    live.thread.join(timeout=20)


def make_settings(tmp_path: Path, database_url: str, **overrides: object) -> Settings:
    return Settings(
        var_dir=tmp_path / "var",
        database_url=database_url,
        secret_key="test-secret-key",
        **overrides,
    )  # type: ignore[arg-type]


@pytest.fixture()
def live_server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    """The whole platform (web, API, relay, one analysis worker) on a free port."""
    from xinlian.app import create_app

    settings = make_settings(tmp_path, database_url)
    live = start_server(create_app(settings, migrate=False), settings)
    yield live
    stop_server(live)
    live.app.state.engine.dispose()


# --- a real browser ------------------------------------------------------------------------

CHROMIUM = Path(os.environ.get("XINLIAN_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture()
def browser_page() -> Iterator[object]:
    """A Playwright page in Debian's Chromium; skipped with a reason where it is absent."""
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (CI installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(
            locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1400, "height": 1000}
        )
        page = context.new_page()
        yield page
        context.close()
        browser.close()


# --- an enrolled cart ----------------------------------------------------------------------


@dataclass
class Cart:
    device_id: str
    credential: str
    organization_id: str


def enrol_cart(live: LiveServer) -> Cart:
    from tests import factories

    with live.sessions() as s:
        _central, (town, _other) = factories.county(s)
        device, credential = factories.device(s, org=town)
        s.commit()
        return Cart(device.id, credential, town.id)


@pytest.fixture()
def cart(live_server: LiveServer) -> Cart:
    return enrol_cart(live_server)
