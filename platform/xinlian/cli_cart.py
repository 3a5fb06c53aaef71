"""`xinlian cart ...` and `xinlian upload`: the cart PC's side of the relay."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from devices.agent import config as agent_config
from devices.agent.outbox import Outbox
from devices.agent.runner import Agent
from devices.simulator.cases import make_case, write_case
from ecg_relay.client import RelayClient, RelayRefused

cart_app = typer.Typer(help="The ECG cart agent (run on the cart PC).", no_args_is_help=True)
console = Console()
ConfigOpt = Annotated[Path, typer.Option("--config", help="Agent config file (mode 0600).")]


def _print_event(kind: str, data: dict[str, Any]) -> None:
    if kind == "queued":
        console.print(f"[cyan]排队 queued[/cyan] {data['record_name']}")
    elif kind == "stored":
        dup = " (重复 duplicate)" if data.get("duplicate") else ""
        console.print(
            f"[green]已送达 stored[/green] {data['record_name']} → {data['record_id']}{dup}"
        )
    elif kind == "refused":
        console.print(
            f"[red]被拒绝 refused[/red] {data['record_name']}: {data['code']} "
            f"{data['message_zh']} / {data['message_en']}"
        )
    elif kind == "offline":
        console.print(
            f"[yellow]离线 offline[/yellow] {data['error']}; 重试 retry in {data['retry_in_s']:.0f}s"
        )
    elif kind == "result":
        _print_result(data)


def _print_result(frame: dict[str, Any]) -> None:
    analysis = frame.get("analysis") or {}
    referral = frame.get("referral")
    codes = ", ".join(analysis.get("flag_codes", [])) or "无提示 no flags"
    line = f"结果 result {frame['record_id']}: HR {analysis.get('heart_rate_bpm')} · {codes}"
    if referral:
        line += f" · [bold red]绿色通道 green channel: {referral['state']}[/bold red]"
    console.print(line)


@cart_app.command("enroll")
def enroll(
    server: Annotated[str, typer.Option(help="Central server, e.g. https://xinlian.example.cn")],
    code: Annotated[str, typer.Option(help="One-time enrollment code from the administrator.")],
    config: ConfigOpt = agent_config.DEFAULT_PATH,
) -> None:
    """Exchange a one-time code for this cart's credential and save it (mode 0600)."""
    url = server.rstrip("/") + "/api/v1/devices/enroll"
    try:
        r = httpx.post(url, json={"code": code}, timeout=30)
    except httpx.HTTPError as exc:
        console.print(f"[red]无法连接 cannot reach {server}: {exc}[/red]")
        raise typer.Exit(2) from None
    if r.status_code != 200:
        body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
        console.print(
            f"[red]{body.get('code', r.status_code)}: {body.get('message_zh', '')} / "
            f"{body.get('message_en', r.text[:200])}[/red]"
        )
        raise typer.Exit(2)
    data = r.json()
    agent_config.save(
        agent_config.AgentConfig(
            server=server,
            credential=data["credential"],
            device_id=data["device_id"],
            serial_number=data["serial_number"],
        ),
        config,
    )
    console.print(f"已注册 enrolled {data['serial_number']}; config saved to {config}")


def run_agent(
    cfg: agent_config.AgentConfig,
    watch: Path,
    state: Path,
    *,
    until_empty: bool = False,
    stop: asyncio.Event | None = None,
) -> None:
    outbox = Outbox(state)
    agent = Agent(
        relay_url=cfg.relay_url,
        credential=cfg.credential,
        watch=watch,
        outbox=outbox,
        on_event=_print_event,
    )

    async def main() -> None:
        task = asyncio.create_task(agent.run(until_empty=until_empty))
        if stop is not None:
            await asyncio.wait(
                [task, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED
            )
            agent.stop()
        await task

    try:
        asyncio.run(main())
    finally:
        outbox.close()


@cart_app.command("run")
def run(
    watch: Annotated[Path, typer.Option(help="Folder where the ECG cart exports WFDB records.")],
    server: Annotated[str | None, typer.Option(help="Override the server in the config.")] = None,
    config: ConfigOpt = agent_config.DEFAULT_PATH,
    state: Annotated[
        Path | None, typer.Option(help="Outbox database (default beside config).")
    ] = None,
) -> None:
    """Watch the export folder and upload every complete record, resuming after outages."""
    cfg = agent_config.load(config)
    if server:
        cfg = agent_config.AgentConfig(
            server=server,
            credential=cfg.credential,
            device_id=cfg.device_id,
            serial_number=cfg.serial_number,
        )
    if not watch.is_dir():
        console.print(f"[red]{watch} is not a folder[/red]")
        raise typer.Exit(2)
    console.print(f"watching {watch} → {cfg.relay_url}")
    with contextlib.suppress(KeyboardInterrupt):
        run_agent(cfg, watch, state or config.with_name("outbox.sqlite3"))


async def simulate_cart(
    cfg: agent_config.AgentConfig,
    folder: Path,
    state: Path,
    *,
    rate_per_min: float,
    count: int | None,
    seed: int | None,
    first_scenario: str | None = None,
    first_delay_s: float = 2.0,
    stop: asyncio.Event | None = None,
) -> None:
    """Write simulated records into ``folder`` at ``rate_per_min`` while an agent uploads them."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    outbox = Outbox(state)
    agent = Agent(
        relay_url=cfg.relay_url,
        credential=cfg.credential,
        watch=folder,
        outbox=outbox,
        on_event=_print_event,
        scan_s=0.5,
    )
    runner = asyncio.create_task(agent.run())
    stop = stop or asyncio.Event()
    try:
        n = 0
        delay = first_delay_s
        while count is None or n < count:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            if stop.is_set() or runner.done():
                break
            n += 1
            case = make_case(
                rng, now=datetime.now(UTC), number=n, scenario=first_scenario if n == 1 else None
            )
            name = f"{cfg.serial_number or 'cart'}-{datetime.now(UTC):%Y%m%d%H%M%S}-{n:04d}"
            await asyncio.to_thread(write_case, case, folder, name)
            # Poisson arrivals: patients do not come on a timetable.
            delay = float(rng.exponential(60.0 / rate_per_min))
        while count is not None and outbox.depth() and not stop.is_set() and not runner.done():
            await asyncio.sleep(0.5)
    finally:
        agent.stop()
        with contextlib.suppress(Exception):
            await runner
        outbox.close()


@cart_app.command("simulate")
def simulate_command(
    server: Annotated[str, typer.Option(help="Central server URL.")],
    rate: Annotated[float, typer.Option(help="ECGs per minute.")] = 2.0,
    count: Annotated[int | None, typer.Option(help="Stop after N records.")] = None,
    seed: Annotated[int | None, typer.Option()] = None,
    config: ConfigOpt = agent_config.DEFAULT_PATH,
) -> None:
    """A simulated cart: realistic ECGs (acute ones among them) through the real agent path."""
    cfg = agent_config.load(config)
    cfg = agent_config.AgentConfig(
        server=server,
        credential=cfg.credential,
        device_id=cfg.device_id,
        serial_number=cfg.serial_number,
    )
    with (
        tempfile.TemporaryDirectory(prefix="xinlian-cart-") as tmp,
        contextlib.suppress(KeyboardInterrupt),
    ):
        asyncio.run(
            simulate_cart(
                cfg,
                Path(tmp) / "export",
                Path(tmp) / "outbox.sqlite3",
                rate_per_min=rate,
                count=count,
                seed=seed,
            )
        )


def upload_command(
    files: Annotated[list[Path], typer.Argument(help="The files of one WFDB record (.hea, .dat).")],
    config: ConfigOpt = agent_config.DEFAULT_PATH,
    server: Annotated[str | None, typer.Option(help="Override the server in the config.")] = None,
    metadata: Annotated[
        Path | None, typer.Option(help="Sidecar JSON with patient and times.")
    ] = None,
    wait: Annotated[bool, typer.Option(help="Wait for the analysis result.")] = True,
) -> None:
    """Upload one record now, with a progress bar, and show what the centre found."""
    import json

    cfg = agent_config.load(config)
    url = agent_config.relay_url(server or cfg.server)
    for f in files:
        if not f.is_file():
            console.print(f"[red]no such file: {f}[/red]")
            raise typer.Exit(2)
    meta = json.loads(metadata.read_text(encoding="utf-8")) if metadata else {}
    total = sum(f.stat().st_size for f in files)

    async def main() -> None:
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("上传 uploading", total=total)
            client = RelayClient(
                url,
                cfg.credential,
                on_progress=lambda _u, done, _t: progress.update(task, completed=done),
            )
            try:
                stored = await client.upload(files, metadata=meta, upload_id=uuid.uuid4().hex)
                progress.update(task, completed=total)
            finally:
                if not wait:
                    await client.close()
        console.print(
            f"[green]已送达 stored[/green] {stored.record_id}"
            + (" (重复 duplicate)" if stored.duplicate else "")
        )
        if wait:
            try:
                for r in await client.wait_results([stored.record_id], timeout=120):
                    _print_result(r)
            finally:
                await client.close()

    try:
        asyncio.run(main())
    except RelayRefused as err:
        console.print(f"[red]{err.code}: {err.message_zh} / {err.message_en}[/red]")
        raise typer.Exit(2) from None
