"""`xinlian demo`: a demo county on the embedded default, with simulated township carts."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import uvicorn
from rich.console import Console
from rich.table import Table

from devices.agent.config import AgentConfig
from xinlian.app import create_app
from xinlian.db import session_scope
from xinlian.demo_seed import DEMO_PASSWORD, USERS, seed
from xinlian.i18n import t
from xinlian.settings import Settings

DEMO_DIR = Path("var") / "demo"


def demo_settings(host: str, port: int) -> Settings:
    """Always its own SQLite file and storage: demo data never mixes with real data."""
    return Settings(
        var_dir=DEMO_DIR,
        database_url=f"sqlite:///{(DEMO_DIR / 'xinlian.sqlite3').as_posix()}",
        storage_dir=DEMO_DIR / "ecg",
        host=host,
        port=port,
    )


def run_demo(*, host: str, port: int, rate_per_min: float, console: Console) -> None:
    from xinlian.cli_cart import simulate_cart

    settings = demo_settings(host, port)
    app = create_app(settings)
    with session_scope(app.state.sessions) as session:
        carts = seed(session)

    url = f"http://{host}:{port}/"
    table = Table(title=f"{t('app.name')} · 演示 demo · {url}")
    for col in ("角色 role", "用户名 username", "密码 password", "姓名 name"):
        table.add_column(col)
    for username, display, role, _org in USERS:
        table.add_row(t(f"role.{role.value}"), username, DEMO_PASSWORD, display)
    console.print(table)
    console.print(
        f"打开 open {url} — 以 cardio 登录查看实时心电工作列表 (log in as cardio to watch "
        "the live worklist). Ctrl-C 停止 stops."
    )

    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", ws_max_size=settings.max_frame_bytes + 4096
    )
    server = uvicorn.Server(config)

    async def main() -> None:
        serving = asyncio.create_task(server.serve())
        while not server.started:
            if serving.done():
                await serving
                return
            await asyncio.sleep(0.05)
        stop = asyncio.Event()
        tasks = []
        for i, cart in enumerate(carts):
            cfg = AgentConfig(
                server=f"http://{host}:{port}",
                credential=cart.credential,
                device_id="",
                serial_number=cart.serial_number,
            )
            base = DEMO_DIR / "carts" / cart.serial_number
            tasks.append(
                asyncio.create_task(
                    simulate_cart(
                        cfg,
                        base / "export",
                        base / "outbox.sqlite3",
                        rate_per_min=rate_per_min,
                        count=None,
                        seed=None,
                        # The first cart sends an inferior STEMI within seconds of start, so a
                        # visitor sees the green channel open in the first minute.
                        first_scenario="inferior_stemi" if i == 0 else "normal",
                        first_delay_s=8.0 if i == 0 else 15.0 + 10 * i,
                        stop=stop,
                    )
                )
            )
        try:
            await serving
        finally:
            stop.set()
            for task in tasks:
                with contextlib.suppress(Exception):
                    await task

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
