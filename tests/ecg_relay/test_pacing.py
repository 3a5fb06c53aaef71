"""Pacemaker stimuli and paced rhythm (analysis.pacing through analyze) on simulated records."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import resample_poly

from devices.simulator import simulate
from ecg_relay.analysis import analyze
from ecg_relay.analysis.pacing import paced_beats, pacing_spikes, remove_spikes

FS = 500
ALL = np.ones(12, dtype=bool)


@pytest.mark.parametrize("seed", range(1, 6))
def test_every_stimulus_is_found_once(seed: int) -> None:
    """Each simulated stimulus is found within one sample, and nothing else is."""
    e = simulate("paced", seed=seed)
    spikes = pacing_spikes(e.signals, FS, ALL)
    onsets = np.round((np.array(e.truth.r_peaks) / FS - 0.082) * FS).astype(int)
    assert spikes.size == onsets.size
    assert np.abs(spikes - onsets).max() <= 2


@pytest.mark.parametrize("scenario", ["normal", "af", "vt", "lbbb", "noisy", "sinus_tachy"])
@pytest.mark.parametrize("seed", [1, 2])
def test_no_stimulus_in_unpaced_rhythms(scenario: str, seed: int) -> None:
    """Steep QRS upstrokes, wide ectopy and muscle noise are no pacing stimuli."""
    e = simulate(scenario, seed=seed)
    assert pacing_spikes(e.signals, FS, ALL).size == 0
    assert "PACED" not in analyze(e.signals, e.fs, e.lead_names).codes


def test_electrode_pop_on_one_electrode_is_no_stimulus() -> None:
    """A step on one chest electrode (one lead) is an artefact, not a stimulus."""
    e = simulate("normal", seed=3)
    x = e.signals.copy()
    x[2000:, 7] += 3.0  # V2 electrode pops and stays offset
    assert pacing_spikes(x, FS, ALL).size == 0


def test_step_inside_a_clipped_qrs_is_no_stimulus() -> None:
    """An amplifier recovering from a clipped R wave drops in one sample on many leads;
    it follows the QRS upstroke, so it is not a stimulus (seen in LUDB 99)."""
    e = simulate("normal", seed=4, noise=0.0)
    x = e.signals.copy()
    for r in e.truth.r_peaks:
        x[r : r + 8] = x[r]  # plateau at the R peak, then a one-sample drop
    assert pacing_spikes(x, FS, ALL).size == 0


def test_removed_stimuli_leave_a_bridged_line() -> None:
    """Blanking bridges the stimulus samples; the rest of the signal is untouched."""
    e = simulate("paced", seed=2)
    spikes = pacing_spikes(e.signals, FS, ALL)
    y = remove_spikes(e.signals, spikes, FS)
    s = int(spikes[0])
    assert np.abs(np.diff(y[s - 1 : s + 5], axis=0)).max() < 0.2
    far = np.ones(y.shape[0], dtype=bool)
    for k in spikes:
        far[k : k + 4] = False
    assert np.array_equal(y[far], e.signals[far])


def test_paced_rhythm_is_reported_and_its_wide_qrs_is_not_judged() -> None:
    """VVI pacing over complete heart block: PACED with the dissociated atrial rate; no
    LBBB, VT or STEMI from the paced complexes, and the reason is said."""
    e = simulate("paced", seed=1)
    r = analyze(e.signals, e.fs, e.lead_names, sex="M", age=70)
    assert "PACED" in r.codes
    assert not {"LBBB", "RBBB", "VT", "STEMI_INFERIOR", "STEMI_ANTERIOR", "AVB3"} & set(r.codes)
    ev = next(f for f in r.flags if f.code == "PACED").evidence
    assert ev["pacing"] == "ventricular" and ev["paced_beats"] >= 9
    assert 72 <= ev["atrial_rate_bpm"] <= 90 and "AV block" in ev["note"]
    assert any("paced" in n for n in r.measurements["not_evaluated"])


def test_paced_beats_follow_their_stimulus() -> None:
    """A beat is paced when a stimulus lies up to 200 ms before its R peak."""
    p = paced_beats(np.array([100, 1000]), np.array([140, 600, 1050, 1400]), FS)
    assert p.paced.tolist() == [True, False, True, False]
    assert p.spike_to_r_ms == pytest.approx(90.0)
    assert not p.rhythm_paced  # 2 of 4 beats, but fewer than 3 paced


def test_below_500_hz_pacing_is_not_looked_for() -> None:
    """At 250 Hz the stimulus is filtered away; no PACED call is made from what remains."""
    e = simulate("paced", seed=1)
    x = resample_poly(e.signals, 1, 2, axis=0)
    assert "PACED" not in analyze(x, 250, e.lead_names).codes


def test_stimuli_are_found_at_the_recorded_rate() -> None:
    """At 1000 Hz (PTB's rate) the stimuli are found before resampling spreads them."""
    e = simulate("paced", seed=1, fs=1000)
    r = analyze(e.signals, e.fs, e.lead_names)
    assert "PACED" in r.codes and "LBBB" not in r.codes


def test_limb_electrode_pop_is_no_paced_rhythm() -> None:
    """A pop on the LA electrode steps I, III, aVR, aVL and aVF at once (a stimulus's
    signature on five leads) but comes once: no paced rhythm."""
    e = simulate("normal", seed=5)
    x = e.signals.copy()
    names = list(e.lead_names)
    for lead, share in (("I", 1.0), ("III", -1.0), ("aVR", -0.5), ("aVL", 1.0), ("aVF", -0.5)):
        x[2500:, names.index(lead)] += 2.0 * share
    assert pacing_spikes(x, FS, ALL).size <= 1
    assert "PACED" not in analyze(x, e.fs, e.lead_names).codes


def test_gaps_of_missing_samples_are_no_stimuli() -> None:
    """Samples missing on every lead at once (packet loss) over a wandering baseline: the
    gaps are bridged, not read as stimuli, QRS or ST shifts."""
    e = simulate("normal", seed=6)
    t = np.arange(e.signals.shape[0]) / e.fs
    x = e.signals + 1.0 * np.sin(2 * np.pi * 0.3 * t)[:, None]
    for r in e.truth.r_peaks:
        x[max(0, r - 60) : max(0, r - 40)] = np.nan
    clean = analyze(e.signals + 1.0 * np.sin(2 * np.pi * 0.3 * t)[:, None], e.fs, e.lead_names)
    gaps = analyze(x, e.fs, e.lead_names)
    assert "PACED" not in gaps.codes
    assert set(gaps.codes) - {"POOR_QUALITY"} == set(clean.codes) - {"POOR_QUALITY"}


def test_atrial_stimulus_keeps_the_patients_own_qrs_criteria() -> None:
    """A stimulus an AV delay (170 ms) before each R paces the atria: the RBBB and the
    inferior STEMI of the patient's own QRS are still called."""
    for scenario, code in (("rbbb", "RBBB"), ("inferior_stemi", "STEMI_INFERIOR")):
        e = simulate(scenario, seed=1)
        x = e.signals.copy()
        spike = np.array([6.0, -8.0, -14.0, 1.0, 7.0, -11.0, 10.0, 9.0, 7.0, 5.0, 4.0, 3.0])
        for r in e.truth.r_peaks:
            if r - 85 >= 0:
                x[r - 85] += 0.25 * spike
        out = analyze(x, e.fs, e.lead_names, sex="M", age=60)
        assert "PACED" in out.codes and code in out.codes, out.codes
        ev = next(f for f in out.flags if f.code == "PACED").evidence
        assert ev["pacing"] == "atrial"
