"""Intervals against LUDB-style per-lead wave annotations (unit) and on LUDB itself (realdata)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import wfdb

from ecg_relay.delineation_eval import evaluate_delineation, reference_intervals
from tests.conftest import ecg_data_dir, needs_ecg_data


def _write(folder: Path, lead: str, beats: list[tuple[int, int, int, int, int, int]]) -> None:
    """Annotations of one lead: per beat (P on, P peak, QRS on, R, QRS end, T end)."""
    samples: list[int] = []
    symbols: list[str] = []
    for p_on, p_pk, q_on, r, q_off, t_end in beats:
        samples += [p_on, p_pk, p_pk + 10, q_on, r, q_off, t_end - 60, t_end - 30, t_end]
        symbols += ["(", "p", ")", "(", "N", ")", "(", "t", ")"]
    wfdb.wrann("rec", lead, np.array(samples), symbols, write_dir=str(folder))


def test_lead_ii_and_global_intervals(tmp_path: Path) -> None:
    """Lead II's own intervals; globally the earliest onset to the latest end per beat."""
    fs = 500.0
    ii = [(100, 120, 180, 200, 225, 400), (600, 620, 680, 700, 725, 900)]
    avl = [(100, 120, 175, 202, 235, 410), (600, 620, 675, 702, 235 + 500, 910)]
    _write(tmp_path, "ii", ii)
    _write(tmp_path, "avl", avl)
    ref = reference_intervals(tmp_path / "rec", fs)
    assert ref["lead_ii"] == {"qrs_ms": 90.0, "qt_ms": 440.0, "pr_ms": 160.0}
    # Global, per beat: onset from aVL (5 samples earlier), QRS end and T end from aVL.
    assert ref["global"] == {"qrs_ms": 120.0, "qt_ms": 470.0}


DATA = ecg_data_dir()


@pytest.mark.realdata
@needs_ecg_data
def test_intervals_on_ludb() -> None:
    """What 1.4.0 reaches on LUDB (docs/validation.md): QRS, PR and QT against lead II."""
    out = evaluate_delineation(DATA).to_json()
    s = out["summary"]
    assert out["skipped"] == [] and s["lead_ii.qrs_ms"]["records"] >= 100
    assert abs(s["lead_ii.qrs_ms"]["bias_ms"]) <= 5 and s["lead_ii.qrs_ms"]["within_20_ms"] >= 0.8
    assert abs(s["lead_ii.pr_ms"]["bias_ms"]) <= 5 and s["lead_ii.pr_ms"]["within_20_ms"] >= 0.85
    assert abs(s["lead_ii.qt_ms"]["bias_ms"]) <= 15 and s["lead_ii.qt_ms"]["within_20_ms"] >= 0.6
    # ST elevation added to real beats from the annotated J point: none flagged without it,
    # most at 1.5 mm and more (docs/validation.md gives the counts).
    for territory, added in out["added_st_elevation"].items():
        assert added["0.00"]["flagged"] == 0 and added["0.00"]["records"] >= 70, territory
        assert added["0.15"]["flagged"] >= 0.8 * added["0.15"]["records"], territory
        assert added["0.20"]["flagged"] >= 0.9 * added["0.20"]["records"], territory
