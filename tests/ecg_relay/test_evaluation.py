"""Evaluation statistics (unit) and the evaluation on the real development set (realdata)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from devices.simulator import simulate, write_record
from ecg_relay.evaluation import (
    MATCH_WINDOW_S,
    WINDOW_S,
    _detect_windows,
    _reference_beats,
    _unannotated_edges,
    evaluate_triage,
    match,
    match_outside,
    outside,
    vf_episodes,
)
from ecg_relay.stats import wilson
from tests.conftest import ecg_data_dir, needs_ecg_data


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


def test_ec57_vf_episode_brackets_are_excluded() -> None:
    """'[' ... ']' is a VF/VFL episode; beats inside are not scored, those outside are."""
    samples = np.array([100, 200, 300, 400, 500])
    symbols = ["N", "[", "N", "]", "N"]
    spans = vf_episodes(samples, symbols, [""] * 5, 1000)
    assert spans == [(200, 401)]
    assert outside(np.array([100, 300, 400, 500]), spans).tolist() == [True, False, False, True]


def test_ec57_vf_rhythm_runs_to_next_rhythm_change() -> None:
    """Rhythm '(VF' (aux may carry a NUL, as in cudb) is excluded until the next '+' annotation."""
    samples = np.array([0, 100, 250, 600, 700])
    symbols = ["+", "N", "+", "+", "N"]
    aux = ["(N", "", "(VF\x00", "(N", ""]
    assert vf_episodes(samples, symbols, aux, 1000) == [(250, 600)]
    aux_vfl = ["(N", "", "(VFL", "(VT", ""]
    assert vf_episodes(samples, symbols, aux_vfl, 1000) == [(250, 600)]


def test_ec57_open_episode_runs_to_end_and_overlaps_merge() -> None:
    """An episode without its end runs to the record end; '(VF' and '[' together make one span."""
    samples = np.array([50, 53541, 53546])
    symbols = ["N", "+", "["]
    assert vf_episodes(samples, symbols, ["", "(VF", ""], 127232) == [(53541, 127232)]
    assert vf_episodes(np.array([10]), ["+"], ["(AFIB"], 100) == []


def test_ludb_scores_only_the_annotated_span() -> None:
    """Unannotated edges (before first QRS - 150 ms, after last + 150 ms) are left out."""
    fs = 500.0
    spans = _unannotated_edges(np.array([600, 1000, 4000]), 5000, fs)
    assert spans == ((0, 525), (4076, 5000))
    det = np.array([100, 530, 1000, 4070, 4090, 4900])
    assert det[outside(det, list(spans))].tolist() == [530, 1000, 4070]
    assert _unannotated_edges(np.array([], dtype=int), 5000, fs) == ((0, 5000),)


def test_long_records_lose_no_beat_at_the_window_edges() -> None:
    """A 45 s record read in 10 s windows: beats on the windows' edges are found once each."""
    e = simulate("normal", seed=3, duration_s=45.0, heart_rate_bpm=80.0)
    truth = np.array(e.truth.r_peaks)
    edges = np.arange(1, 5) * int(WINDOW_S * e.fs)
    near_edge = np.min(np.abs(truth[:, None] - edges[None, :]), axis=1) < 0.05 * e.fs
    assert near_edge.sum() >= 1  # the case under test is present
    found = _detect_windows(e.signals, e.fs)
    assert match(truth, found, int(MATCH_WINDOW_S * e.fs)) == (truth.size, 0, 0)


def test_detections_beside_a_span_left_out_are_not_false() -> None:
    """A detection that pairs with no scored beat is false only away from the spans left
    out: within the match window of one, its beat may be one that is not scored."""
    spans = [(4751, 5000)]
    ref = np.array([1000, 4700])
    det = np.array([1002, 4702, 4747, 4900, 3000])
    assert match_outside(ref, det, 75, spans) == (2, 0, 1)  # only 3000 is false
    # A scored beat still pairs with a detection inside the span (within the window).
    assert match_outside(np.array([4745]), np.array([4760]), 75, spans) == (1, 0, 0)


def test_cpsc2019_strips_are_scored_from_half_a_second_to_nine_and_a_half(
    tmp_path: Path,
) -> None:
    """CPSC 2019's own scoring keeps the reference R peaks within 0.5-9.5 s of each strip."""
    import scipy.io

    scipy.io.savemat(tmp_path / "data_00001.mat", {"ecg": np.zeros((5000, 1))})
    scipy.io.savemat(tmp_path / "R_00001.mat", {"R_peak": np.array([[100, 300, 2500, 4760]])})
    ref = _reference_beats(tmp_path, "data_00001")
    assert ref is not None and ref.fs == 500.0
    assert ref.beats.tolist() == [300, 2500]
    assert ref.excluded == ((0, 250), (4751, 5000))


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


@pytest.fixture(scope="module")
def real_triage() -> dict[str, Any]:
    return evaluate_triage(DATA).to_json()


@pytest.mark.realdata
@needs_ecg_data
def test_triage_on_real_records(real_triage: dict[str, Any]) -> None:
    """Every labelled record is read; specificity targets for STEMI and AF hold (docs/validation.md)."""
    out = real_triage
    assert out["failed"] == []
    assert out["records"] >= 190
    assert out["codes"]["STEMI"]["specificity"] >= 0.90
    assert out["codes"]["AF"]["specificity"] >= 0.90


@pytest.mark.realdata
@needs_ecg_data
@pytest.mark.xfail(
    reason=(
        "measured STEMI Se 0.33 (2/6: the other PTB admission-diagnosis records show no ST "
        "elevation at J reaching the 4th UDMI thresholds) and AF+AFL Se 0.90 (targets "
        "0.90/0.95), see docs/validation.md"
    ),
    strict=True,
)
def test_sensitivity_targets_on_real_records(real_triage: dict[str, Any]) -> None:
    """Targets of issue 4: STEMI sensitivity ≥ 90% and AF sensitivity ≥ 95%."""
    out = real_triage
    assert out["codes"]["STEMI"]["sensitivity"] >= 0.90
    assert out["codes"]["AF"]["sensitivity"] >= 0.95


@pytest.fixture(scope="module")
def real_rpeaks() -> dict[str, Any]:
    from ecg_relay.evaluation import evaluate_rpeaks

    return evaluate_rpeaks(DATA).to_json()


@pytest.mark.realdata
@needs_ecg_data
def test_rpeaks_on_real_records(real_rpeaks: dict[str, Any]) -> None:
    """QRS detection (EC57 scoring) on the development set: what this version reaches.

    Gross Se and +P >= 99%, Se at least xqrs', every source >= 97%; the EC57 exclusions are
    applied and said (cu01's VF episode, LUDB's unannotated edges).
    """
    out = real_rpeaks
    g = out["gross"]
    assert g["reference"] >= 7000 and out["skipped"] == []
    assert any("CPSC 2019" in n for n in out["notes"])
    assert g["se"] >= 0.99 and g["ppv"] >= 0.99
    assert g["se"] >= g["xqrs_se"]
    for name, s in out["sources"].items():
        assert s["se"] >= 0.97 and s["ppv"] >= 0.97, (name, s)
    cu01 = next(r for r in out["records"] if r["record"] == "cudb/cu01")
    assert cu01["scored_to_s"] == pytest.approx(214.164, abs=0.01) and cu01["excluded_s"] > 290
    assert all(r["excluded_s"] > 0 for r in out["records"] if r["record"].startswith("ludb/"))
    assert any("VF" in n for n in out["notes"]) and any("LUDB" in n for n in out["notes"])


@pytest.mark.realdata
@needs_ecg_data
def test_rpeaks_targets_on_real_records(real_rpeaks: dict[str, Any]) -> None:
    """Issue 4 target: gross Se and +P >= 99.5%, and no worse than xqrs on either."""
    g = real_rpeaks["gross"]
    assert g["se"] >= 0.995 and g["ppv"] >= 0.995
    assert g["se"] >= g["xqrs_se"] and g["ppv"] >= g["xqrs_ppv"]
