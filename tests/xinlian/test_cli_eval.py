"""`xinlian eval ...` on a simulated folder: the JSON the issue specifies, and clear errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from typer.testing import CliRunner

from devices.simulator import simulate, write_record
from xinlian.cli import app


def _folder(tmp_path: Path) -> Path:
    write_record(simulate("inferior_stemi", seed=2), tmp_path / "sim", "stemi")
    write_record(simulate("normal", seed=2), tmp_path / "sim", "norm")
    with open(tmp_path / "records.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["folder", "record", "triage"])
        w.writerows([("sim", "stemi", "STEMI"), ("sim", "norm", "NORMAL"), ("sim", "gone", "AF")])
    return tmp_path


def test_eval_triage_prints_one_json_object(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["eval", "triage", "--data", str(_folder(tmp_path)), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["records"] == 2 and out["codes"]["STEMI"]["tp"] == 1
    assert [f["record"] for f in out["failed"]] == ["sim/gone"]  # listed with its reason
    assert out["failed"][0]["reason"]


def test_eval_without_records_csv_is_a_clear_error(tmp_path: Path) -> None:
    for command in ("triage", "rpeaks", "delineation", "af-windows", "noise"):
        result = CliRunner().invoke(app, ["eval", command, "--data", str(tmp_path)])
        assert result.exit_code == 2
        assert "records.csv not found" in " ".join(result.output.split())


def test_eval_delineation_without_ludb_reports_nothing_to_compare(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["eval", "delineation", "--data", str(_folder(tmp_path)), "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["summary"] == {} and out["records"] == [] and out["added_st_elevation"] == {}


def test_eval_noise_and_af_windows_print_one_json_object(tmp_path: Path) -> None:
    """The noise evaluation reports every noise kind for the two readable records; the
    AF-window evaluation finds no rhythm-annotated record there and scores nothing."""
    folder = _folder(tmp_path)
    result = CliRunner().invoke(app, ["eval", "noise", "--data", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["records"] == 2 and set(out["kinds"]) == {"wander", "tremor", "mains", "motion"}
    assert [f["record"] for f in out["failed"]] == ["sim/gone"]
    result = CliRunner().invoke(app, ["eval", "af-windows", "--data", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["records"] == [] and out["tp"] + out["fn"] + out["fp"] + out["tn"] == 0
