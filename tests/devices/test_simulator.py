"""The ECG simulator: readable WFDB, lead relations, ground truth that matches the signal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import wfdb

from devices.simulator import LEAD_NAMES, SCENARIOS, simulate, write_record


def _lead(sig: np.ndarray, name: str) -> np.ndarray:
    return sig[:, LEAD_NAMES.index(name)]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_scenario_gives_finite_twelve_lead_signals(scenario: str) -> None:
    """10 s at 500 Hz, twelve standard leads, all finite, amplitudes within ±5 mV."""
    ecg = simulate(scenario, seed=5)
    assert ecg.signals.shape == (5000, 12)
    assert ecg.lead_names == LEAD_NAMES
    assert np.isfinite(ecg.signals).all()
    assert np.abs(ecg.signals).max() < 5.0
    assert ecg.truth.scenario == scenario


@pytest.mark.parametrize("scenario", ["normal", "inferior_stemi", "af", "vt", "noisy"])
def test_einthoven_and_goldberger_hold(scenario: str) -> None:
    """III = II − I, aVR = −(I+II)/2, aVL = I − II/2, aVF = II − I/2, to float precision."""
    s = simulate(scenario, seed=2).signals
    i, ii = _lead(s, "I"), _lead(s, "II")
    np.testing.assert_allclose(_lead(s, "III"), ii - i, atol=1e-12)
    np.testing.assert_allclose(_lead(s, "aVR"), -(i + ii) / 2, atol=1e-12)
    np.testing.assert_allclose(_lead(s, "aVL"), i - ii / 2, atol=1e-12)
    np.testing.assert_allclose(_lead(s, "aVF"), ii - i / 2, atol=1e-12)


def test_written_record_reads_back_with_wfdb(tmp_path: Path) -> None:
    """wfdb reads names, rate, units and values (within 1 µV quantisation); relations survive."""
    ecg = simulate("anterior_stemi", seed=9)
    paths = write_record(ecg, tmp_path, "ant9")
    assert [p.name for p in paths] == ["ant9.hea", "ant9.dat"]
    assert (tmp_path / "ant9.truth.json").exists()
    rec = wfdb.rdrecord(str(tmp_path / "ant9"))
    assert rec.sig_name == list(LEAD_NAMES)
    assert rec.fs == 500 and rec.units == ["mV"] * 12
    assert np.abs(rec.p_signal - ecg.signals).max() <= 0.0005 + 1e-9
    i, ii, iii = (rec.p_signal[:, LEAD_NAMES.index(n)] for n in ("I", "II", "III"))
    assert np.abs(iii - (ii - i)).max() <= 0.0015


def test_same_seed_same_record() -> None:
    """A seed makes a record reproducible; another seed makes another record."""
    a, b, c = simulate("af", seed=3), simulate("af", seed=3), simulate("af", seed=4)
    np.testing.assert_array_equal(a.signals, b.signals)
    assert not np.array_equal(a.signals, c.signals)


@pytest.mark.parametrize("rate", [45.0, 72.0, 130.0])
def test_requested_heart_rate(rate: float) -> None:
    """R peaks in the ground truth give the requested rate within 3%."""
    truth = simulate("normal", seed=1, heart_rate_bpm=rate).truth
    measured = 60.0 * 500 / np.mean(np.diff(truth.r_peaks))
    assert abs(measured - rate) / rate < 0.03


def _st_at_j60(sig: np.ndarray, r_peaks: tuple[int, ...], lead: str) -> float:
    """Median of (J+60 ms) minus PR-segment level over beats; J = R + 50 ms for these beats."""
    x = _lead(sig, lead)
    values = []
    for r in r_peaks[1:-1]:
        baseline = np.median(x[r - 45 : r - 30])  # PR segment: 60-90 ms before R
        values.append(np.median(x[r + 25 + 28 : r + 25 + 32]) - baseline)  # 500 Hz: 2 ms/sample
    return float(np.median(values))


@pytest.mark.parametrize(
    ("scenario", "up", "down"),
    [
        ("inferior_stemi", ("II", "III", "aVF"), ("aVL",)),
        ("anterior_stemi", ("V2", "V3", "V4"), ()),
        ("lateral_stemi", ("I", "aVL", "V5", "V6"), ("III",)),
    ],
)
def test_stemi_scenarios_elevate_their_territory(
    scenario: str, up: tuple[str, ...], down: tuple[str, ...]
) -> None:
    """ST at J+60 ms is ≥ 0.1 mV above the PR baseline in the territory, depressed reciprocally."""
    ecg = simulate(scenario, seed=6)
    for lead in up:
        assert _st_at_j60(ecg.signals, ecg.truth.r_peaks, lead) >= 0.1, lead
    for lead in down:
        assert _st_at_j60(ecg.signals, ecg.truth.r_peaks, lead) <= -0.05, lead
    normal = simulate("normal", seed=6)
    for lead in up:
        assert abs(_st_at_j60(normal.signals, normal.truth.r_peaks, lead)) < 0.06, lead


def test_af_is_irregular_and_sinus_is_regular() -> None:
    """RR coefficient of variation: AF well above 0.1, sinus rhythm well below."""

    def cv(scenario: str) -> float:
        rr = np.diff(simulate(scenario, seed=8).truth.r_peaks)
        return float(np.std(rr) / np.mean(rr))

    assert cv("af") > 0.12
    assert cv("normal") < 0.06


def test_lead_off_lead_is_flat() -> None:
    """The disconnected lead reads a few microvolts; the others carry the ECG."""
    ecg = simulate("lead_off", seed=1)
    v3 = _lead(ecg.signals, "V3")
    assert np.ptp(v3) < 0.03
    assert np.ptp(_lead(ecg.signals, "V4")) > 0.8
    assert ecg.truth.flat_leads == ("V3",)


def test_unknown_scenario_lists_valid_ones() -> None:
    """A typo gets a ValueError naming the valid scenarios."""
    with pytest.raises(ValueError, match="inferior_stemi"):
        simulate("inferior-stemi")
