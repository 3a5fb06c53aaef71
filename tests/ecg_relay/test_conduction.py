"""Bundle branch block morphology (Surawicz 2009) on simulated beats of known shape."""

from __future__ import annotations

import numpy as np
import pytest

from devices.simulator import morphology as m
from devices.simulator import simulate
from ecg_relay.analysis import analyze
from ecg_relay.analysis import criteria as c


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
    assert min(ev["terminal_half_qrs_mv"].values()) < -c.RBBB_TERMINAL_S_MV
    assert "LBBB" not in r.codes


def test_narrow_qrs_is_no_bundle_branch_block() -> None:
    """A normal QRS (< 120 ms) raises neither block, whatever its shape."""
    e = simulate("normal", seed=2)
    codes = analyze(e.signals, e.fs, e.lead_names).codes
    assert "LBBB" not in codes and "RBBB" not in codes


@pytest.mark.parametrize("scenario", ["rbbb", "lbbb"])
@pytest.mark.parametrize(("rate", "seed"), [(120, 0), (130, 2), (135, 1)])
def test_sinus_tachycardia_with_bundle_branch_block_is_not_vt(
    scenario: str, rate: int, seed: int
) -> None:
    """A P wave before every wide QRS with typical BBB morphology is aberrancy, not VT: from
    120/min this P wave must be seen, and up to 135/min it is."""
    e = simulate(scenario, seed=seed, heart_rate_bpm=rate)
    r = analyze(e.signals, e.fs, e.lead_names)
    assert "VT" not in r.codes, r.codes
    assert scenario.upper() in r.codes and "SINUS_TACHY" in r.codes


@pytest.mark.parametrize("rate", [120, 130, 140])
@pytest.mark.parametrize("seed", [0, 1])
def test_slow_vt_is_vt_although_its_t_wave_is_locked_to_the_qrs(rate: int, seed: int) -> None:
    """VT at 120-140/min: the tail of the long T wave runs into the P window, locked to every
    QRS as a P wave would be. It is no P wave (no bump of its own), so it cannot make the
    wide complexes aberrant conduction: VT, not LBBB with sinus tachycardia."""
    e = simulate("vt", seed=seed, heart_rate_bpm=rate)
    r = analyze(e.signals, e.fs, e.lead_names)
    assert "VT" in r.codes, r.codes
    assert not {"LBBB", "RBBB", "SINUS_TACHY"} & set(r.codes), r.codes
    flag = next(f for f in r.flags if f.code == "VT")
    assert flag.evidence["p_waves"] == "absent"


def test_rbbb_whose_s_wave_ends_before_the_r_prime_in_v1() -> None:
    """The QRS end is the latest over the leads: where V1's R' outlasts the broad S in I and
    V6 by 30 ms, the last 40 ms of the QRS there is back at the baseline (a real record,
    CinC 2021 E00005, read no RBBB so). The second half of the QRS still holds the S."""
    fs, rr, n_beats = 500, 0.8, 12
    q = m.Wave(0.015, 0.007, (-0.05, -0.06, 0.0, 0.0, 0.0, -0.05, -0.08, -0.08))
    r = m.Wave(0.040, 0.010, (0.60, 0.90, 0.20, 0.90, 0.70, 0.90, 0.60, 0.40))
    s = m.Wave(0.080, 0.012, (-0.25, -0.10, -0.10, -0.30, -0.30, -0.20, -0.15, -0.15))
    late = m.Wave(0.125, 0.016, (0.0, 0.0, 0.70, 0.15, 0.05, 0.0, 0.0, 0.0))
    t = m.t_wave(0.40, 0.110, 0.045, (0.20, 0.25, -0.20, 0.10, 0.35, 0.35, 0.30, 0.25))
    beat = m.BeatShape(qrs_s=0.150, qrs=(q, r, s, late), t_waves=(t,))
    x = np.zeros((round(n_beats * rr * fs), len(m.INDEPENDENT)))
    time = np.arange(x.shape[0]) / fs
    for k in range(n_beats):
        onset = 0.3 + k * rr
        x += m.render(beat, time - onset)
        x += m.p_wave(time - (onset - 0.12))
    x += np.random.default_rng(4).normal(0.0, 0.005, x.shape)
    result = analyze(m.derive_twelve(x), fs, m.LEAD_NAMES, sex="M", age=60)
    assert "RBBB" in result.codes, result.codes
    ev = next(f for f in result.flags if f.code == "RBBB").evidence
    assert min(ev["terminal_half_qrs_mv"].values()) < -c.RBBB_TERMINAL_S_MV
