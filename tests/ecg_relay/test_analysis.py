"""ECG analysis on synthetic and simulated signals with known truth."""

from __future__ import annotations

import json

import numpy as np
import pytest

from devices.simulator import SCENARIOS, simulate
from ecg_relay.analysis import ALGORITHM_VERSION, AnalysisResult, Severity, analyze
from ecg_relay.analysis.criteria import ste_threshold_mv
from ecg_relay.analysis.leads import normalise_lead

FS = 500
LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")


def _ecg(scenario: str, seed: int = 1) -> AnalysisResult:
    e = simulate(scenario, seed=seed)
    return analyze(e.signals, e.fs, e.lead_names, sex="M", age=60)


def test_result_is_json_and_round_trips() -> None:
    """The result serialises to JSON and back without loss, with the algorithm version."""
    r = _ecg("inferior_stemi")
    data = json.loads(json.dumps(r.to_dict()))
    back = AnalysisResult.from_dict(data)
    assert back == r
    assert data["algorithm_version"] == ALGORITHM_VERSION
    assert data["acute"] is True


@pytest.mark.parametrize("rate", [48.0, 75.0, 125.0])
def test_heart_rate_within_two_bpm(rate: float) -> None:
    """Heart rate of a simulated sinus rhythm within 2/min of the truth."""
    e = simulate("normal", seed=4, heart_rate_bpm=rate)
    r = analyze(e.signals, e.fs, e.lead_names)
    assert e.truth.heart_rate_bpm is not None and r.heart_rate_bpm is not None
    assert abs(r.heart_rate_bpm - e.truth.heart_rate_bpm) <= 2.0


def test_r_peaks_match_truth() -> None:
    """Every true R peak is found within 30 ms, with no extra detections."""
    e = simulate("normal", seed=2)
    found = np.array(analyze(e.signals, e.fs, e.lead_names).measurements["r_peaks"])
    truth = np.array(e.truth.r_peaks)
    assert found.size == truth.size
    assert np.abs(found - truth).max() <= 15


def test_r_peaks_reported_at_input_rate() -> None:
    """Records at 250 Hz are resampled inside; R peaks come back in 250 Hz samples."""
    e = simulate("normal", seed=2)
    half = e.signals[::2]
    r = analyze(half, 250, e.lead_names)
    truth = np.array(e.truth.r_peaks) / 2
    assert np.abs(np.array(r.measurements["r_peaks"]) - truth).max() <= 8


def _synthetic(st_mv: dict[str, float], hr: float = 70.0) -> np.ndarray:
    """Gaussian beats in every lead with a plateau ST shift per lead (not lead-consistent)."""
    n = FS * 10
    t = np.arange(n) / FS
    x = np.zeros((n, 12))
    rr = 60.0 / hr
    for onset in np.arange(0.3, 9.5, rr):
        d = t - onset
        qrs = 1.0 * np.exp(-0.5 * ((d - 0.04) / 0.01) ** 2) - 0.2 * np.exp(
            -0.5 * ((d - 0.065) / 0.01) ** 2
        )
        p = 0.12 * np.exp(-0.5 * ((d + 0.11) / 0.02) ** 2)
        tw = 0.3 * np.exp(-0.5 * ((d - 0.28) / 0.045) ** 2)
        with np.errstate(over="ignore"):
            rise = 1 / (1 + np.exp(-(d - 0.072) / 0.003))
            plateau = rise * (1 / (1 + np.exp((d - 0.31) / 0.025)))
        for j, lead in enumerate(LEADS):
            x[:, j] += qrs + p + tw + st_mv.get(lead, 0.0) * plateau
    rng = np.random.default_rng(0)
    return x + rng.normal(0, 0.005, x.shape)


def test_stemi_flag_from_two_contiguous_inferior_leads() -> None:
    """≥ 1 mm at J in II and aVF raises STEMI_INFERIOR with evidence; 0.5 mm does not."""
    high = analyze(_synthetic({"II": 0.15, "aVF": 0.15, "aVL": -0.1}), FS, LEADS)
    flag = next(f for f in high.flags if f.code == "STEMI_INFERIOR")
    assert flag.severity is Severity.CRITICAL
    assert set(flag.evidence["leads"]) == {"II", "aVF"}
    assert "aVL" in flag.evidence["reciprocal_depression_mv"]
    low = analyze(_synthetic({"II": 0.05, "aVF": 0.05}), FS, LEADS)
    assert "STEMI_INFERIOR" not in low.codes
    single = analyze(_synthetic({"III": 0.2}), FS, LEADS)
    assert not single.acute


@pytest.mark.parametrize(
    ("sex", "age", "expected"),
    [("M", 55, 0.20), ("M", 30, 0.25), ("F", 55, 0.15), (None, None, 0.15), ("M", None, 0.15)],
)
def test_v2_v3_thresholds_by_sex_and_age(
    sex: str | None, age: float | None, expected: float
) -> None:
    """4th UDMI V2-V3 thresholds; unknown sex or age falls back to the most sensitive."""
    assert ste_threshold_mv("V2", sex=sex, age=age) == expected
    assert ste_threshold_mv("V5", sex=sex, age=age) == 0.10


def test_v2_v3_elevation_depends_on_patient() -> None:
    """About 0.18 mV at J in V2-V3 is STEMI in a woman, not in a man of 50."""
    sig = _synthetic({"V2": 0.20, "V3": 0.20})
    assert "STEMI_ANTERIOR" in analyze(sig, FS, LEADS, sex="F", age=50).codes
    assert "STEMI_ANTERIOR" not in analyze(sig, FS, LEADS, sex="M", age=50).codes


def test_flat_signal_asks_for_a_repeat() -> None:
    """All electrodes off: unreadable, REPEAT_ECG, nothing else."""
    r = analyze(np.zeros((5000, 12)), FS, LEADS)
    assert not r.readable and r.codes == ("REPEAT_ECG",)


def test_nan_signal_asks_for_a_repeat_not_an_exception() -> None:
    """NaN samples are a bad recording, answered with REPEAT_ECG."""
    r = analyze(np.full((5000, 12), np.nan), FS, LEADS)
    assert not r.readable and r.codes == ("REPEAT_ECG",)


@pytest.mark.parametrize("sd_mv", [0.05, 0.3, 1.0])
def test_noise_on_every_lead_asks_for_a_repeat_not_a_critical_flag(sd_mv: float) -> None:
    """Broadband electrode/muscle noise in all leads is REPEAT_ECG, never VT or STEMI."""
    x = np.random.default_rng(3).normal(0.0, sd_mv, (5000, 12))
    r = analyze(x, FS, LEADS)
    assert not r.readable and r.codes == ("REPEAT_ECG",), r.codes
    assert r.measurements["unreadable_reason"] == "all_leads_noisy"


def test_noisy_leads_over_a_real_ecg_are_still_analysed() -> None:
    """Muscle tremor on every lead over a real ECG: the QRS stands out, the rate is read."""
    e = simulate("normal", seed=1)
    noisy = e.signals + np.random.default_rng(1).normal(0.0, 0.1, e.signals.shape)
    r = analyze(noisy, e.fs, e.lead_names)
    assert r.readable and set(r.lead_quality.values()) == {"noise"}
    assert r.heart_rate_bpm is not None and abs(r.heart_rate_bpm - e.truth.heart_rate_bpm) < 3
    assert not r.acute, r.codes


def _muscle_noise(shape: tuple[int, int], fs: int, rms_mv: float, seed: int) -> np.ndarray:
    """Muscle tremor: 20-150 Hz noise of ``rms_mv`` in every lead."""
    from scipy.signal import butter, sosfiltfilt

    sos = butter(4, [20.0, 150.0], btype="band", fs=fs, output="sos")
    w = sosfiltfilt(sos, np.random.default_rng(seed).normal(0.0, 1.0, shape), axis=0)
    return rms_mv * w / w.std(axis=0)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_muscle_tremor_over_a_low_voltage_ecg_does_not_widen_the_qrs(seed: int) -> None:
    """A low-voltage sinus rhythm (QRS about 0.4 mV) under 0.04 mV of tremor on every lead:
    what survives the median kept the spatial velocity above its edge fraction through the
    PR segment, the QRS onset walked back to the search limit and 1.5.0 read a 200 ms QRS,
    VT (a real Georgia record did the same). The edges must stand above the noise."""
    e = simulate("normal", seed=seed)
    x = 0.4 * e.signals + _muscle_noise(e.signals.shape, e.fs, 0.04, seed)
    r = analyze(x, e.fs, e.lead_names)
    assert r.readable and "VT" not in r.codes, r.codes
    assert abs(r.measurements["qrs_ms"] - e.truth.qrs_ms) <= 20, r.measurements["qrs_ms"]


@pytest.mark.parametrize("seed", [1, 3, 4, 6])
def test_heavy_tremor_does_not_move_the_t_end(seed: int) -> None:
    """The tangent method on a median beat that still carries tremor: the steepest
    "descent" was a noise spike after the T wave (1.5.0: QT 426-536 ms against 347-397,
    QTc over 500 ms, QTC_LONG). The QT must read as it does on the quiet record."""
    quiet = simulate("normal", seed=seed)
    noisy = simulate("noisy", seed=seed, noise=3.0)
    assert noisy.truth.qt_ms == quiet.truth.qt_ms
    q = analyze(quiet.signals, quiet.fs, quiet.lead_names).measurements["qt_ms"]
    r = analyze(noisy.signals, noisy.fs, noisy.lead_names)
    assert abs(r.measurements["qt_ms"] - q) <= 20, (r.measurements["qt_ms"], q)
    assert not {"QTC_LONG", "QTC_PROLONGED"} & set(r.codes), r.codes


@pytest.mark.parametrize("seed", range(1, 7))
def test_t_end_is_read_on_the_t_wave_not_on_a_later_flutter_wave(seed: int) -> None:
    """Fixed 2:1 flutter: an F wave follows each T wave. The tangent is drawn at the steepest
    point of the T wave's own descending limb; a steeper F-wave limb after it must not set
    the T end (with the beats smoothed for the tangent, the steepest slope anywhere in the
    window read seed 3's QT as 434 ms against 275, QTc 647 ms)."""
    e = simulate("flutter_2to1", seed=seed)
    r = analyze(e.signals, e.fs, e.lead_names)
    assert e.truth.qt_ms is not None
    assert abs(r.measurements["qt_ms"] - e.truth.qt_ms) <= 30, r.measurements["qt_ms"]


def test_no_qtc_is_read_under_flutter_waves() -> None:
    """F waves run through the T wave's end as through the ST segment: in flutter the QTc
    limits are not applied, and the result says why."""
    e = simulate("flutter", seed=1)
    r = analyze(e.signals, e.fs, e.lead_names)
    assert "AFL" in r.codes
    assert not {"QTC_LONG", "QTC_PROLONGED"} & set(r.codes)
    assert any(note.startswith("QTc: atrial flutter") for note in r.measurements["not_evaluated"])


def test_shape_mismatch_is_a_clear_error() -> None:
    """Signals whose columns do not match the lead names are a programming error."""
    with pytest.raises(ValueError, match="lead names"):
        analyze(np.zeros((5000, 3)), FS, LEADS)


def test_two_lead_holter_record_is_analysed() -> None:
    """With only II and V5, rhythm works and missing territories are reported as not evaluated."""
    e = simulate("af", seed=2)
    cols = [e.lead_names.index("II"), e.lead_names.index("V5")]
    r = analyze(e.signals[:, cols], e.fs, ["MLII", "V5"])
    assert r.readable and "AF" in r.codes
    assert any("STEMI_ANTERIOR" in s for s in r.measurements["not_evaluated"])


def test_monitor_channels_beside_the_ecg_are_not_read_as_leads() -> None:
    """PLETH and RESP in the same record are left out and named; the ECG reads as alone."""
    e = simulate("normal", seed=3)
    t = np.arange(e.signals.shape[0]) / e.fs
    pleth = 40 * np.clip(np.sin(2 * np.pi * 1.2 * t), 0, None)[:, None]  # NU, pulse-shaped
    resp = 300 * np.sin(2 * np.pi * 0.25 * t)[:, None]
    x = np.hstack([e.signals, pleth, resp])
    alone = analyze(e.signals, e.fs, e.lead_names)
    mixed = analyze(x, e.fs, [*e.lead_names, "PLETH", "Resp"])
    assert mixed.codes == alone.codes
    assert mixed.measurements["ignored_channels"] == ["PLETH", "Resp"]
    assert set(mixed.lead_quality) == set(alone.lead_quality)
    none = analyze(x[:, -2:], e.fs, ["PLETH", "ABP"])
    assert not none.readable and none.measurements["unreadable_reason"] == "no_ecg_lead"


def test_monitor_channel_names_are_told_from_ecg_leads() -> None:
    """Monitor channels and their trends are no leads; ECG spellings all are."""
    from ecg_relay.analysis.leads import is_ecg_lead

    for name in ("PLETH", "Resp", "ABP", "ARTm", "Pulse (SpO2)", "ST-II", "HR", "NBPsys", "CVP"):
        assert not is_ecg_lead(name), name
    for name in ("I", "ii", "aVR", "V1", "MLII", "V", "ECG", "CM5", "MCL1", "vx", "L0", "D2"):
        assert is_ecg_lead(name), name


def test_lead_name_spellings() -> None:
    """Common spellings map to the standard names."""
    assert [normalise_lead(n) for n in ("i", "ii", "AVR", "avf", "v1", "MLII", "V6")] == [
        "I",
        "II",
        "aVR",
        "aVF",
        "V1",
        "II",
        "V6",
    ]
    # Exports that prefix the lead, and names that are no standard lead, kept as given.
    prefixed = ("ECG I", "ECG-II", "Lead V1", "LEAD_aVF", "-aVR", "ECG1", "CM5", "ECG")
    assert [normalise_lead(n) for n in prefixed] == [
        "I",
        "II",
        "V1",
        "aVF",
        "-aVR",
        "ECG1",
        "CM5",
        "ECG",
    ]


# Fixed 2:1 flutter is tested on its own (tests/ecg_relay/test_rhythm.py): it is found in most
# seeds, not all; where it is missed it reads as sinus tachycardia.
DETECTED = [s for s in SCENARIOS if s != "flutter_2to1"]
ACUTE_CODES = {"STEMI_INFERIOR", "STEMI_ANTERIOR", "STEMI_LATERAL", "VT", "VF_ASYSTOLE", "AVB3"}


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("scenario", DETECTED)
def test_simulated_ground_truth_is_detected(scenario: str, seed: int) -> None:
    """Each scenario's expected flags are raised, and no critical flag it does not carry."""
    e = simulate(scenario, seed=seed)
    r = analyze(e.signals, e.fs, e.lead_names, sex="M", age=60)
    expected = set(e.truth.expected_flags)
    assert expected <= set(r.codes), r.codes
    assert not (set(r.codes) - expected) & ACUTE_CODES, r.codes


def test_flutter_is_detected() -> None:
    """Atrial flutter with variable conduction (F waves locked to the QRS) raises AFL."""
    assert "AFL" in _ecg("flutter", seed=1).codes


def _sharp_qrs_ecg(st_j_mv: tuple[float, ...]) -> np.ndarray:
    """12 leads of tall, narrow, steep QRS complexes (2-3 mV in V2-V4, 10 ms wide R) with
    little noise: their own slopes fill the 40-150 Hz band over the noise limit."""
    from devices.simulator import morphology as m

    fs, rr, n_beats = 500, 0.8, 12
    q = m.Wave(0.020, 0.004, (-0.05, -0.05, 0.0, 0.0, 0.0, -0.1, -0.1, -0.1))
    r = m.Wave(0.040, 0.005, (0.9, 1.2, 0.5, 1.5, 2.6, 2.8, 2.2, 1.6))
    s = m.Wave(0.058, 0.005, (-0.1, -0.2, -1.8, -2.6, -1.6, -0.6, -0.3, -0.2))
    t = m.t_wave(0.40, 0.110, 0.045, (0.25, 0.3, 0.1, 0.5, 0.6, 0.5, 0.4, 0.3))
    beat = m.BeatShape(qrs_s=0.080, qrs=(q, r, s), t_waves=(t,), st_j_mv=st_j_mv)
    x = np.zeros((round(n_beats * rr * fs), len(m.INDEPENDENT)))
    time = np.arange(x.shape[0]) / fs
    with np.errstate(over="ignore"):  # the ST plateau's logistic far from its beat
        for k in range(n_beats):
            onset = 0.3 + k * rr
            x += m.render(beat, time - onset)
            x += m.p_wave(time - (onset - 0.15))
    x += np.random.default_rng(2).normal(0.0, 0.004, x.shape)
    return np.asarray(m.derive_twelve(x))


def test_tall_steep_qrs_is_not_noise_and_keeps_its_st_segment() -> None:
    """The 40-150 Hz energy of tall, steep chest QRS complexes is no muscle noise: judged
    between the beats the leads are clean, so an anterior STEMI in them is found (it read
    ST_DEPRESSION and POOR_QUALITY with V1-V6 left out as 'noise')."""
    from ecg_relay.analysis.quality import lead_quality

    clean = _sharp_qrs_ecg((0.0,) * 8)
    assert lead_quality(clean, FS, 50.0).count("noise") >= 4  # the whole-record reading
    r = analyze(clean, FS, LEADS, sex="M", age=60)
    assert set(r.lead_quality.values()) == {"ok"} and "POOR_QUALITY" not in r.codes
    stemi = _sharp_qrs_ecg((0.05, -0.05, 0.20, 0.35, 0.35, 0.25, 0.08, 0.0))
    assert "STEMI_ANTERIOR" in analyze(stemi, FS, LEADS, sex="M", age=60).codes


def test_a_qrs_no_human_heart_makes_is_a_gain_error_not_a_stemi() -> None:
    """A wrong gain (here eight times the true one) turns an ordinary ECG's ST segment into
    'ST elevation': a QRS over 10 mV is reported as a gain problem and no millivolt
    criterion is read on it (a PTB-XL record written at 200 units/mV read STEMI so)."""
    e = simulate("normal", seed=2)
    base = analyze(e.signals, e.fs, e.lead_names, sex="M", age=60)
    assert not base.acute and "POOR_QUALITY" not in base.codes
    r = analyze(e.signals * 8.0, e.fs, e.lead_names, sex="M", age=60)
    assert not r.acute and "ST_DEPRESSION" not in r.codes, r.codes
    pq = next(f for f in r.flags if f.code == "POOR_QUALITY")
    assert max(pq.evidence["implausible_qrs_mv"].values()) > 10.0
    assert any("gain" in note for note in r.measurements["not_evaluated"])
    stemi = simulate("anterior_stemi", seed=2)
    assert "STEMI_ANTERIOR" in analyze(stemi.signals, stemi.fs, stemi.lead_names).codes
    scaled = analyze(stemi.signals * 8.0, stemi.fs, stemi.lead_names)
    assert "STEMI_ANTERIOR" not in scaled.codes
    assert any("gain" in note for note in scaled.measurements["not_evaluated"])


def test_a_gain_error_is_seen_in_a_noisy_lead_too() -> None:
    """Only the leads with the tallest QRS exceed 10 mV; with tremor on exactly those leads
    (labelled noise, left out of the ST criteria) the gain error must still be seen, or the
    other leads' millivolts are read on the wrong scale (PTB-XL HR20715 with mains added
    read STEMI_ANTERIOR). One noisy lead alone over 10 mV is not taken for a gain error: it
    may be an artefact locked to the beats."""
    from scipy.signal import butter, sosfiltfilt

    e = simulate("anterior_stemi", seed=2)
    # Smoothed first, so that eight times steeper QRS slopes do not read as tremor themselves.
    x = sosfiltfilt(butter(2, 20.0, fs=e.fs, output="sos"), e.signals, axis=0) * 10.0
    tall = [i for i in range(12) if np.ptp(x[:, i]) > 10.0]
    assert 0 < len(tall) < 12
    x[:, tall] += _muscle_noise((x.shape[0], len(tall)), e.fs, 0.1, 1)
    r = analyze(x, e.fs, e.lead_names)
    assert {r.lead_quality[e.lead_names[i]] for i in tall} == {"noise"}
    assert "ok" in r.lead_quality.values()
    assert not r.acute, r.codes
    assert any("gain" in note for note in r.measurements["not_evaluated"])
    # A 12 mV artefact of 10 ms at every R in V1 alone: the STEMI is still read.
    stemi = simulate("anterior_stemi", seed=1)
    y = stemi.signals.copy()
    for peak in stemi.truth.r_peaks:
        y[peak : peak + 5, stemi.lead_names.index("V1")] += 12.0
    one = analyze(y, stemi.fs, stemi.lead_names)
    assert one.lead_quality["V1"] == "noise"
    assert "STEMI_ANTERIOR" in one.codes, one.codes
    assert not any("gain" in note for note in one.measurements["not_evaluated"])


def test_bursts_of_noise_with_no_ecg_are_not_cleared_as_beats() -> None:
    """Bursts of muscle noise (20-200 Hz, 80 ms every 0.5 s) with no ECG, one lead weaker
    so it reads clean: the detector takes the bursts for beats (1.4.0 read VT at 120/min) and
    between them the leads are quiet, but the 'QRS' energy lies above 40 Hz in every lead:
    no lead is cleared and no rhythm is read, the ECG is to be repeated."""
    from scipy.signal import butter, sosfiltfilt

    rng = np.random.default_rng(1)
    n = 10 * FS
    sos = butter(4, [20.0, 200.0], btype="band", fs=FS, output="sos")
    w = sosfiltfilt(sos, rng.normal(0.0, 1.0, (n, 12)), axis=0)
    w /= w.std()
    gate = np.zeros(n)
    for start in np.arange(0.3, 9.9, 0.5):
        gate[int(start * FS) : int((start + 0.08) * FS)] = 1.0
    gain = np.ones(12)
    gain[0] = 0.15
    x = 0.3 * w * gate[:, None] * gain + rng.normal(0.0, 0.003, (n, 12))
    r = analyze(x, FS, LEADS)
    assert r.codes == ("REPEAT_ECG",), r.codes
    assert r.measurements["unreadable_reason"] == "complexes_are_noise"
    assert list(r.lead_quality.values()).count("noise") >= 10


def test_asystole_under_muscle_noise_on_most_leads_is_still_asystole() -> None:
    """Muscle noise on all leads but one over asystole: the detector takes noise for beats,
    yet below 0.3 mV there is no QRS; the noise-burst test must not turn it into a repeat."""
    from scipy.signal import butter, sosfiltfilt

    e = simulate("asystole", seed=1)
    rng = np.random.default_rng(1)
    sos = butter(4, [20.0, 200.0], btype="band", fs=e.fs, output="sos")
    w = sosfiltfilt(sos, rng.normal(0.0, 1.0, e.signals.shape), axis=0)
    w[:, 1] = 0.0
    r = analyze(e.signals + 0.1 * w / w.std(), e.fs, e.lead_names)
    flag = next(f for f in r.flags if f.code == "VF_ASYSTOLE")
    assert flag.evidence["rhythm"] == "asystole"
