"""Bundle branch block morphology (Surawicz 2009) on simulated beats of known shape."""

from __future__ import annotations

import pytest

from devices.simulator import simulate
from ecg_relay.analysis import analyze


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_lbbb_morphology_evidence(seed: int) -> None:
    """LBBB: no septal q in I/V5/V6, R-peak time >= 60 ms in V5/V6, no R' in V1-V2."""
    e = simulate("lbbb", seed=seed)
    r = analyze(e.signals, e.fs, e.lead_names, sex="M", age=60)
    flag = next(f for f in r.flags if f.code == "LBBB")
    ev = flag.evidence
    assert ev["qrs_ms"] >= 120
    assert all(q > -0.05 for q in ev["initial_q_mv"].values())
    assert max(ev["r_peak_time_ms"].values()) >= 60
    assert max(ev["late_r_mv"].values()) < 0.15
    assert "RBBB" not in r.codes


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rbbb_morphology_evidence(seed: int) -> None:
    """RBBB: a late R' in V1 or V2 and a terminal S in I or V6; never LBBB."""
    e = simulate("rbbb", seed=seed)
    r = analyze(e.signals, e.fs, e.lead_names, sex="M", age=60)
    ev = next(f for f in r.flags if f.code == "RBBB").evidence
    assert max(ev["late_r_mv"].values()) > 0.15
    assert min(ev["terminal_qrs_mv"].values()) < 0
    assert "LBBB" not in r.codes


def test_narrow_qrs_is_no_bundle_branch_block() -> None:
    """A normal QRS (< 120 ms) raises neither block, whatever its shape."""
    e = simulate("normal", seed=2)
    codes = analyze(e.signals, e.fs, e.lead_names).codes
    assert "LBBB" not in codes and "RBBB" not in codes


@pytest.mark.parametrize("scenario", ["rbbb", "lbbb"])
def test_sinus_tachycardia_with_bundle_branch_block_is_not_vt(scenario: str) -> None:
    """A P wave before every wide QRS with typical BBB morphology is aberrancy, not VT."""
    e = simulate(scenario, seed=2, heart_rate_bpm=130)
    r = analyze(e.signals, e.fs, e.lead_names)
    assert "VT" not in r.codes, r.codes
    assert scenario.upper() in r.codes and "SINUS_TACHY" in r.codes
