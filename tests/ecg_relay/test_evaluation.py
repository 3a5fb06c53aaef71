"""Evaluation statistics (unit) and the evaluation on the real development set (realdata)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from devices.simulator import simulate, write_record
from ecg_relay.evaluation import evaluate_triage, match, wilson
from tests.conftest import ecg_data_dir


def test_wilson_interval() -> None:
    """Wilson 95% interval: known values, and None for an empty denominator."""
    lo, hi = wilson(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-3) and hi == pytest.approx(0.9433, abs=1e-3)
    assert wilson(0, 0) == (None, None)


def test_ec57_matching_pairs_each_reference_once() -> None:
    """Each reference beat pairs with at most one detection inside the window."""
    ref = np.array([100, 500, 900])
    det = np.array([110, 120, 560, 2000])
    assert match(ref, det, window=30) == (1, 2, 3)


def test_triage_on_a_simulated_folder(tmp_path: Path) -> None:
    """records.csv with simulated records: acute ones counted as TP, others as TN, shape as documented."""
    rows = [
        ("sim", "stemi1", "STEMI"),
        ("sim", "norm1", "NORMAL"),
        ("sim", "af1", "AF"),
        ("sim", "peaks", "RPEAKS_ONLY"),
    ]
    write_record(simulate("inferior_stemi", seed=1), tmp_path / "sim", "stemi1")
    write_record(simulate("normal", seed=1), tmp_path / "sim", "norm1")
    write_record(simulate("af", seed=1), tmp_path / "sim", "af1")
    with open(tmp_path / "records.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["folder", "record", "triage"])
        w.writerows(rows)
    out = evaluate_triage(tmp_path).to_json()
    assert out["records"] == 3 and len(out["skipped"]) == 1 and out["failed"] == []
    assert out["codes"]["STEMI"]["tp"] == 1
    assert out["codes"]["STEMI"]["tn"] == 2 and out["codes"]["AF"]["tp"] == 1
    assert set(out["codes"]["STEMI"]) >= {
        "tp",
        "fn",
        "fp",
        "tn",
        "sensitivity",
        "specificity",
        "ppv",
    }


DATA = ecg_data_dir()
needs_data = pytest.mark.skipif(
    not (DATA / "records.csv").exists(),
    reason=f"real ECG records not found at {DATA} (set XINLIAN_ECG_DATA)",
)


@pytest.fixture(scope="module")
def real_triage() -> dict[str, Any]:
    return evaluate_triage(DATA).to_json()


@pytest.mark.realdata
@needs_data
def test_triage_on_real_records(real_triage: dict[str, Any]) -> None:
    """Every labelled record is read; specificity targets for STEMI and AF hold (docs/validation.md)."""
    out = real_triage
    assert out["failed"] == []
    assert out["records"] >= 190
    assert out["codes"]["STEMI"]["specificity"] >= 0.90
    assert out["codes"]["AF"]["specificity"] >= 0.90


@pytest.mark.realdata
@needs_data
@pytest.mark.xfail(
    reason="measured STEMI Se 0.67 (target 0.90) and AF+AFL Se 0.90 = 19/21 (target 0.95)",
    strict=True,
)
def test_sensitivity_targets_on_real_records(real_triage: dict[str, Any]) -> None:
    """Targets of issue 4: STEMI sensitivity ≥ 90% and AF sensitivity ≥ 95%."""
    out = real_triage
    assert out["codes"]["STEMI"]["sensitivity"] >= 0.90
    assert out["codes"]["AF"]["sensitivity"] >= 0.95
