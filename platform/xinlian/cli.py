"""The `xinlian` command line (typer + rich)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from xinlian.settings import get_settings

app = typer.Typer(
    help="心联 xinlian: county ECG network platform.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
user_app = typer.Typer(help="Users.", no_args_is_help=True)
org_app = typer.Typer(help="Organizations.", no_args_is_help=True)
simulate_app = typer.Typer(help="ECG simulator.", no_args_is_help=True)
eval_app = typer.Typer(
    help="Validate the analysis on real, labelled records.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(org_app, name="org")
app.add_typer(simulate_app, name="simulate")
app.add_typer(eval_app, name="eval")


def _register_cart_commands() -> None:
    from xinlian.cli_cart import cart_app, upload_command

    app.add_typer(cart_app, name="cart")
    app.command("upload")(upload_command)


_register_cart_commands()
console = Console()


def _sessions():  # type: ignore[no-untyped-def]
    import xinlian.tables  # noqa: F401  (every table's metadata, for foreign keys)
    from xinlian.db import make_engine, make_session_factory

    settings = get_settings()
    settings.ensure_dirs()
    return make_session_factory(make_engine(settings.database_url))


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Bind address (default XINLIAN_HOST or 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default XINLIAN_PORT or 8000).")] = None,
    workers: Annotated[int, typer.Option(help="Server processes (PostgreSQL only for >1).")] = 1,
) -> None:
    """Run the platform: migrate the database, then serve web, API and relay."""
    import uvicorn

    from xinlian.db import make_engine
    from xinlian.migrate import upgrade

    settings = get_settings()
    settings.ensure_dirs()
    upgrade(make_engine(settings.database_url))
    if workers > 1 and settings.database_url.startswith("sqlite"):
        console.print("[red]several workers need PostgreSQL (XINLIAN_DATABASE_URL)[/red]")
        raise typer.Exit(2)
    console.print(f"xinlian on http://{host or settings.host}:{port or settings.port}/")
    uvicorn.run(
        "xinlian.asgi:app",
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        # Frames beyond the relay's limit are refused by the websocket layer, not buffered.
        ws_max_size=settings.max_frame_bytes + 4096,
        proxy_headers=True,
        log_level="info",
    )


@app.command()
def worker() -> None:
    """Run an analysis worker without a web server (for extra analysis capacity)."""
    import signal
    import threading

    from xinlian.db import make_engine
    from xinlian.migrate import upgrade
    from xinlian.worker import WorkerThread

    settings = get_settings()
    settings.ensure_dirs()
    upgrade(make_engine(settings.database_url))
    thread = WorkerThread(
        _sessions(), lease_s=settings.analysis_lease_s, mains_hz=settings.mains_hz
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    thread.start()
    console.print("analysis worker running; Ctrl-C to stop")
    with contextlib.suppress(KeyboardInterrupt):
        done.wait()
    thread.stop()
    thread.join(timeout=30)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply the migration chain up to REVISION."""
    from xinlian.db import make_engine
    from xinlian.migrate import upgrade

    settings = get_settings()
    settings.ensure_dirs()
    upgrade(make_engine(settings.database_url), revision)
    console.print(f"database at {revision}")


@org_app.command("add")
def org_add(
    code: Annotated[str, typer.Option(help="Unique short code, e.g. XZ-ZX.")],
    name: Annotated[str, typer.Option(help="Name, e.g. 某某镇卫生院.")],
    kind: Annotated[str, typer.Option(help="central_hospital | township_centre | village_clinic")],
    parent: Annotated[str | None, typer.Option(help="Parent organization code.")] = None,
    location: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Add an organization to the county hierarchy."""
    from xinlian import admin

    with _sessions()() as session:
        org = admin.add_org(
            session, code=code, name=name, kind=kind, parent_code=parent, location=location
        )
        session.commit()
        console.print(f"organization {org.code} ({org.id}) added")


@org_app.command("list")
def org_list() -> None:
    """List organizations."""
    from sqlalchemy import select

    from xinlian.models import Organization

    table = Table("code", "name", "kind", "parent")
    with _sessions()() as session:
        orgs = session.scalars(select(Organization).order_by(Organization.code)).all()
        by_id = {o.id: o.code for o in orgs}
        for o in orgs:
            table.add_row(o.code, o.name, o.kind, by_id.get(o.parent_id or "", ""))
    console.print(table)


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Option()],
    role: Annotated[
        str, typer.Option(help="township_doctor | cardiologist | referral_coordinator | admin")
    ],
    org: Annotated[str, typer.Option(help="Organization code.")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)
    ] = "",
) -> None:
    """Add a user with one role in one organization."""
    from xinlian import admin

    with _sessions()() as session:
        user = admin.add_user(
            session,
            username=username,
            role=role,
            org_code=org,
            display_name=name or username,
            password=password,
        )
        session.commit()
        console.print(f"user {user.username} ({user.role}) added")


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Port for the demo server.")] = 8000,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    rate: Annotated[float, typer.Option(help="ECGs per minute per simulated cart.")] = 2.0,
) -> None:
    """Seed a demo county, serve it, and keep simulated township carts pushing ECGs."""
    from xinlian.demo import run_demo

    run_demo(host=host, port=port, rate_per_min=rate, console=console)


@simulate_app.command("ecg")
def simulate_ecg(
    scenario: Annotated[str, typer.Option(help="Scenario name (see --list).")] = "normal",
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("."),
    seed: Annotated[int | None, typer.Option()] = None,
    name: Annotated[str | None, typer.Option(help="Record name (default: the scenario).")] = None,
    list_: Annotated[bool, typer.Option("--list", help="List scenarios and exit.")] = False,
) -> None:
    """Write one simulated 12-lead WFDB record and its ground truth."""
    from devices.simulator import SCENARIOS, simulate, write_record

    if list_:
        for s in SCENARIOS:
            console.print(s)
        return
    if scenario not in SCENARIOS:
        console.print(f"[red]unknown scenario {scenario!r}; valid: {', '.join(SCENARIOS)}[/red]")
        raise typer.Exit(2)
    out.mkdir(parents=True, exist_ok=True)
    paths = write_record(simulate(scenario, seed=seed), out, name or scenario)
    for p in paths:
        console.print(str(p))


@app.command()
def analyze(
    record: Annotated[Path, typer.Argument(help="WFDB record path without extension.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    lang: Annotated[str, typer.Option(help="zh or en")] = "zh",
) -> None:
    """Measure a WFDB record and print its flags."""
    from ecg_relay.analysis import analyze as run_analysis
    from ecg_relay.evaluation import read_wfdb_record
    from xinlian.evidence import evidence_rows
    from xinlian.i18n import t

    try:
        signals, fs, leads, meta = read_wfdb_record(record)
    except Exception as exc:  # wfdb raises many types for unreadable files
        console.print(f"[red]cannot read {record}: {exc}[/red]")
        raise typer.Exit(2) from None
    result = run_analysis(signals, fs, leads, sex=meta.get("sex"), age=meta.get("age"))
    if as_json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=1))
        return
    table = Table(title=f"{record.name} · {result.algorithm_version}")
    table.add_column(t("ecg.measurement", lang))
    table.add_column(t("ecg.value", lang))
    hr = result.heart_rate_bpm
    table.add_row(t("m.heart_rate_bpm", lang), f"{hr:.0f}" if hr else "—")
    for key in (
        "p_ms",
        "pr_ms",
        "qrs_ms",
        "qt_ms",
        "qtc_bazett_ms",
        "qtc_fridericia_ms",
        "axis_deg",
    ):
        value = result.measurements.get(key)
        table.add_row(
            t(f"m.{key}", lang), f"{value:.0f}" if isinstance(value, int | float) else "—"
        )
    console.print(table)
    if not result.flags:
        console.print(t("ecg.no_flags", lang))
    for flag in result.flags:
        color = {"critical": "red", "urgent": "yellow"}.get(flag.severity.value, "white")
        console.print(
            f"[{color}]{t('severity.' + flag.severity.value, lang)} {flag.code}: "
            f"{t('flag.' + flag.code, lang)}[/{color}]"
        )
        for label, value in evidence_rows(flag.evidence, lang):
            console.print(f"    {label}: {value}", highlight=False)


def _eval_progress(desc: str):  # type: ignore[no-untyped-def]
    from rich.progress import Progress

    return Progress(
        f"[progress.description]{desc}", "{task.completed} records", console=console, transient=True
    )


def _run_eval(name: str, data: Path, evaluate: Any) -> dict[str, Any]:
    """Run one evaluation over DATA/records.csv with a progress line; its JSON report."""
    if not (data / "records.csv").exists():
        console.print(f"[red]{data}/records.csv not found[/red]")
        raise typer.Exit(2)
    with _eval_progress(name) as progress:
        task = progress.add_task(name)
        report = evaluate(data, progress=lambda _r: progress.advance(task))
    out: dict[str, Any] = report.to_json()
    return out


@eval_app.command("triage")
def eval_triage(
    data: Annotated[Path, typer.Option(help="Folder with records.csv (e.g. ../shared/ecg-data).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Sensitivity, specificity and PPV per triage code on labelled real records."""
    from ecg_relay.evaluation import evaluate_triage

    out = _run_eval("triage", data, evaluate_triage)
    if as_json:
        print(json.dumps(out, ensure_ascii=False, indent=1))
        return
    table = Table(
        "code",
        "TP",
        "FN",
        "FP",
        "TN",
        "Se (95% CI)",
        "Sp (95% CI)",
        "PPV (95% CI)",
        title=f"triage on {out['records']} records ({len(out['skipped'])} skipped, "
        f"{len(out['failed'])} failed)",
    )

    def fmt(v: float | None, ci: tuple[float | None, float | None]) -> str:
        return "—" if v is None else f"{v:.2f} ({ci[0]:.2f}–{ci[1]:.2f})"

    for code, s in out["codes"].items():
        table.add_row(
            code,
            str(s["tp"]),
            str(s["fn"]),
            str(s["fp"]),
            str(s["tn"]),
            fmt(s["sensitivity"], s["sensitivity_ci95"]),
            fmt(s["specificity"], s["specificity_ci95"]),
            fmt(s["ppv"], s["ppv_ci95"]),
        )
    console.print(table)
    for f in out["failed"]:
        console.print(f"[red]failed[/red] {f['record']}: {f['reason']}")
    for e in out["errors"]:
        console.print(
            f"{e['error']:11} {e['code']:9} {e['record']}  truth={';'.join(e['truth'])}  "
            f"flags={','.join(e['flags'])}"
        )


@eval_app.command("af-windows")
def eval_af_windows(
    data: Annotated[Path, typer.Option(help="Folder with records.csv (e.g. ../shared/ecg-data).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """AF calls per 10 s window against the records' rhythm annotations."""
    from ecg_relay.rhythm_eval import evaluate_af_windows

    out = _run_eval("af-windows", data, evaluate_af_windows)
    if as_json:
        print(json.dumps(out, ensure_ascii=False, indent=1))
        return

    def fmt(v: float | None, ci: tuple[float | None, float | None]) -> str:
        return "—" if v is None else f"{v:.3f} ({ci[0]:.3f}–{ci[1]:.3f})"

    console.print(
        f"{len(out['records'])} records; AF windows: {out['tp']} called, {out['fn']} missed; "
        f"other windows: {out['fp']} called, {out['tn']} not; not scored: "
        f"{out['mixed_windows']} across an episode's edge, {out['unlabelled_windows']} before "
        "a record's first rhythm label"
    )
    console.print(f"Se {fmt(out['sensitivity'], out['sensitivity_ci95'])}")
    console.print(f"Sp {fmt(out['specificity'], out['specificity_ci95'])}")
    for sk in out["skipped"]:
        console.print(f"skipped {sk['record']}: {sk['reason']}")
    for f in out["failed"]:
        console.print(f"[red]failed[/red] {f['record']}: {f['reason']}")
    for e in out["errors"]:
        console.print(
            f"{e['error']:11} {e['record']} at {e['start_s']} s  flags={','.join(e['flags'])}"
        )


@eval_app.command("noise")
def eval_noise(
    data: Annotated[Path, typer.Option(help="Folder with records.csv (e.g. ../shared/ecg-data).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Critical and urgent flags of real records with wander, tremor, mains, motion added."""
    from ecg_relay.noise_eval import evaluate_noise

    out = _run_eval("noise", data, evaluate_noise)
    if as_json:
        print(json.dumps(out, ensure_ascii=False, indent=1))
        return
    table = Table(
        "noise",
        "same flags",
        "critical gained",
        "critical lost",
        "REPEAT_ECG",
        title=f"critical and urgent flags on {out['records']} records, clean vs noisy",
    )
    for kind, k in out["kinds"].items():
        table.add_row(
            kind,
            str(k["same"]),
            str(k["critical_gained"]),
            str(k["critical_lost"]),
            str(k["repeat_ecg"]),
        )
    console.print(table)
    for kind, k in out["kinds"].items():
        for c in k["changes"]:
            console.print(
                f"{kind:7} {c['record']}  lost={','.join(c['lost']) or '-'}  "
                f"gained={','.join(c['gained']) or '-'}  truth={';'.join(c['truth'])}"
            )
    for f in out["failed"]:
        console.print(f"[red]failed[/red] {f['record']}: {f['reason']}")


@eval_app.command("rpeaks")
def eval_rpeaks(
    data: Annotated[Path, typer.Option(help="Folder with records.csv (e.g. ../shared/ecg-data).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """QRS detection Se and +P (EC57, 150 ms window), next to wfdb's xqrs."""
    from ecg_relay.evaluation import evaluate_rpeaks

    out = _run_eval("rpeaks", data, evaluate_rpeaks)
    if as_json:
        print(json.dumps(out, ensure_ascii=False, indent=1))
        return
    g = out["gross"]
    console.print(
        f"gross: {g['reference']} beats, Se {g['se']}, +P {g['ppv']} "
        f"(xqrs: Se {g['xqrs_se']}, +P {g['xqrs_ppv']})"
    )
    table = Table("record", "beats", "Se", "+P", "xqrs Se", "xqrs +P")
    for r in out["records"]:
        table.add_row(
            r["record"],
            str(r["reference"]),
            str(r["se"]),
            str(r["ppv"]),
            str(r["xqrs_se"]),
            str(r["xqrs_ppv"]),
        )
    console.print(table)
    sources = Table("source", "records", "beats", "Se", "+P", "xqrs Se", "xqrs +P")
    for name, s in out["sources"].items():
        sources.add_row(
            name,
            str(s["records"]),
            str(s["reference"]),
            str(s["se"]),
            str(s["ppv"]),
            str(s["xqrs_se"]),
            str(s["xqrs_ppv"]),
        )
    console.print(sources)
    for f in out["failed"]:
        console.print(f"[red]failed[/red] {f['record']}: {f['reason']}")
    for note in out["notes"]:
        console.print(f"note: {note}")


@eval_app.command("delineation")
def eval_delineation(
    data: Annotated[Path, typer.Option(help="Folder with records.csv (e.g. ../shared/ecg-data).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """QRS, QT and PR against LUDB's per-lead wave annotations (lead II and global)."""
    from ecg_relay.delineation_eval import evaluate_delineation

    out = _run_eval("delineation", data, evaluate_delineation)
    if as_json:
        print(json.dumps(out, ensure_ascii=False, indent=1))
        return
    table = Table(
        "reference.interval",
        "records",
        "bias (ms)",
        "MAD (ms)",
        "within 10 ms",
        "within 20 ms",
        title="measured - annotated (LUDB)",
    )
    for name, s in out["summary"].items():
        table.add_row(
            name,
            str(s["records"]),
            str(s["bias_ms"]),
            str(s["mad_ms"]),
            f"{s['within_10_ms']:.0%}",
            f"{s['within_20_ms']:.0%}",
        )
    console.print(table)
    for territory, by_mv in out["added_st_elevation"].items():
        counts = ", ".join(f"+{mv} mV {a['flagged']}/{a['records']}" for mv, a in by_mv.items())
        console.print(f"ST elevation added from the annotated J point, {territory}: {counts}")
    for sk in out["skipped"]:
        console.print(f"skipped {sk['record']}: {sk['reason']}")
    for f in out["failed"]:
        console.print(f"[red]failed[/red] {f['record']}: {f['reason']}")


def main() -> None:
    """Entry point: domain errors print their bilingual message instead of a traceback."""
    from xinlian.errors import DomainError

    try:
        app(standalone_mode=True)
    except DomainError as exc:
        console.print(f"[red]{exc.code}: {exc.message_zh} / {exc.message_en}[/red]")
        raise SystemExit(2) from None


if __name__ == "__main__":  # pragma: no cover
    main()
