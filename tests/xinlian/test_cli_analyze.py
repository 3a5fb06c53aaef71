"""`xinlian analyze RECORD`: the measurements and flags of one WFDB record, for a person
(with the evidence as text in their language) and as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from devices.simulator import simulate, write_record
from ecg_relay.analysis import ALGORITHM_VERSION
from xinlian.cli import app


def _stemi(tmp_path: Path) -> Path:
    write_record(simulate("inferior_stemi", seed=4), tmp_path, "stemi")
    return tmp_path / "stemi"


def test_analyze_json_is_the_stored_result(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["analyze", str(_stemi(tmp_path)), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["algorithm_version"] == ALGORITHM_VERSION
    flag = next(f for f in out["flags"] if f["code"] == "STEMI_INFERIOR")
    assert set(flag["evidence"]["leads"]) >= {"II", "III", "aVF"}


def test_analyze_prints_flags_with_readable_evidence(tmp_path: Path) -> None:
    record = _stemi(tmp_path)
    en = CliRunner().invoke(app, ["analyze", str(record), "--lang", "en"], terminal_width=200)
    assert en.exit_code == 0, en.output
    assert "Critical STEMI_INFERIOR: Suspected inferior STEMI" in en.output
    assert "ST at J: II +0.2" in en.output and "Measurement" in en.output
    zh = CliRunner().invoke(app, ["analyze", str(record)], terminal_width=200)
    assert "危急 STEMI_INFERIOR" in zh.output and "J 点 ST: II +0.2" in zh.output
    assert "st_j_mv" not in zh.output


def test_analyze_unreadable_record_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["analyze", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "cannot read" in result.output
