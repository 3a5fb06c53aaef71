"""ECG simulator: standard 12-lead WFDB records with known ground truth.

A beat model (Gaussian waves per lead, limb leads derived so Einthoven's and
Goldberger's relations hold exactly), rhythm plans per scenario, heart-rate
variability and realistic noise. It checks the pipeline; accuracy is judged only on
the real records in ../shared/ecg-data.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import wfdb

from devices.simulator import morphology
from devices.simulator.morphology import INDEPENDENT, LEAD_NAMES
from devices.simulator.noise import add_noise
from devices.simulator.scenarios import SCENARIOS, build

ADC_GAIN_PER_MV = 1000.0  # 1 uV resolution in format 16


@dataclass(frozen=True)
class GroundTruth:
    scenario: str
    rhythm: str
    heart_rate_bpm: float | None
    r_peaks: tuple[int, ...]
    pr_ms: float | None
    qrs_ms: float | None
    qt_ms: float | None
    qtc_bazett_ms: float | None
    st_j_mv: dict[str, float]
    expected_flags: tuple[str, ...]
    flat_leads: tuple[str, ...]
    seed: int | None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["r_peaks"] = list(self.r_peaks)
        data["expected_flags"] = list(self.expected_flags)
        data["flat_leads"] = list(self.flat_leads)
        return data


@dataclass(frozen=True)
class SimulatedEcg:
    signals: np.ndarray  # (n_samples, 12), mV
    fs: int
    lead_names: tuple[str, ...]
    truth: GroundTruth


def _st_twelve(st8: Sequence[float]) -> dict[str, float]:
    twelve = morphology.derive_twelve(np.asarray(st8, dtype=float)[None, :])[0]
    return {name: round(float(v), 4) for name, v in zip(LEAD_NAMES, twelve, strict=True)}


def simulate(
    scenario: str,
    *,
    seed: int | None = None,
    duration_s: float = 10.0,
    fs: int = 500,
    noise: float = 1.0,
    heart_rate_bpm: float | None = None,
    mains_hz: float = 50.0,
) -> SimulatedEcg:
    """One 12-lead ECG of ``scenario`` at ``fs`` Hz for ``duration_s`` seconds, in mV.

    Raises ValueError for an unknown scenario. The same seed gives the same record.
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; valid: {', '.join(SCENARIOS)}")
    rng = np.random.default_rng(seed)
    plan = build(scenario, rng, duration_s, heart_rate_bpm)
    n = round(duration_s * fs)
    t = np.arange(n) / fs
    x = np.zeros((n, len(INDEPENDENT)))
    window = np.arange(int(-0.05 * fs), int(0.75 * fs))
    r_peaks: list[int] = []
    for onset, shape in zip(plan.qrs_onsets_s, plan.shapes, strict=True):
        start = round(onset * fs)
        idx = start + window
        keep = (idx >= 0) & (idx < n)
        x[idx[keep]] += morphology.render(shape, (idx[keep] - onset * fs) / fs)
        peak = round((onset + shape.r_centre_s) * fs)
        if 0 <= peak < n:
            r_peaks.append(peak)
    p_window = np.arange(int(-0.08 * fs), int(0.08 * fs))
    for centre in plan.p_centres_s:
        idx = round(centre * fs) + p_window
        keep = (idx >= 0) & (idx < n)
        x[idx[keep]] += morphology.p_wave((idx[keep] - centre * fs) / fs)
    for centre in plan.ectopic_p_centres_s:
        idx = round(centre * fs) + p_window
        keep = (idx >= 0) & (idx < n)
        x[idx[keep]] += morphology.p_wave(
            (idx[keep] - centre * fs) / fs, morphology.LOW_ATRIAL_P_AMPLITUDE
        )
    if plan.atrial is not None:
        x += plan.atrial(t)
    spike = morphology.pacing_spike(fs)
    for stimulus in plan.stimuli_s:
        k = round(stimulus * fs)
        if 0 <= k < n:
            x[k] += spike
    x = add_noise(x, fs, rng, level=noise * plan.noise_factor, mains_hz=mains_hz)
    signals = morphology.derive_twelve(x)
    if plan.arm_electrodes_swapped:
        signals = morphology.swap_arm_electrodes(signals, LEAD_NAMES)
    for lead in plan.flat_leads:
        # An electrode off: the amplifier reads ~0 with a few microvolts of noise.
        signals[:, LEAD_NAMES.index(lead)] = rng.normal(0.0, 0.002, n)
    hr = None
    if len(r_peaks) >= 2:
        hr = round(60.0 * fs / float(np.mean(np.diff(r_peaks))), 1)
    qrs_ms = plan.shapes[0].qrs_s * 1000 if plan.shapes else None
    qtc = None
    if plan.qt_ms is not None and hr:
        qtc = round(plan.qt_ms / np.sqrt(60.0 / hr), 1)
    truth = GroundTruth(
        scenario=scenario,
        rhythm=plan.rhythm,
        heart_rate_bpm=hr,
        r_peaks=tuple(r_peaks),
        pr_ms=plan.pr_ms,
        qrs_ms=qrs_ms,
        qt_ms=round(plan.qt_ms, 1) if plan.qt_ms else None,
        qtc_bazett_ms=qtc,
        st_j_mv=_st_twelve(plan.st_j_mv),
        expected_flags=plan.expected_flags,
        flat_leads=plan.flat_leads,
        seed=seed,
    )
    return SimulatedEcg(signals=signals, fs=fs, lead_names=LEAD_NAMES, truth=truth)


def write_record(
    ecg: SimulatedEcg, out_dir: Path, record_name: str, *, comments: Sequence[str] = ()
) -> list[Path]:
    """Write ``record_name``.hea/.dat (format 16, 1 uV/unit) and a ``.truth.json`` beside them.

    Returns the .hea and .dat paths: the files a cart would send.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    digital = np.round(ecg.signals * ADC_GAIN_PER_MV)
    digital = np.clip(digital, -32767, 32767).astype(np.int16)
    wfdb.wrsamp(
        record_name,
        fs=ecg.fs,
        units=["mV"] * len(ecg.lead_names),
        sig_name=list(ecg.lead_names),
        d_signal=digital,
        fmt=["16"] * len(ecg.lead_names),
        adc_gain=[ADC_GAIN_PER_MV] * len(ecg.lead_names),
        baseline=[0] * len(ecg.lead_names),
        comments=[f"simulated: {ecg.truth.scenario}", *comments],
        write_dir=str(out_dir),
    )
    (out_dir / f"{record_name}.truth.json").write_text(
        json.dumps(ecg.truth.to_dict(), ensure_ascii=False, indent=1)
    )
    return [out_dir / f"{record_name}.hea", out_dir / f"{record_name}.dat"]


__all__ = ["LEAD_NAMES", "SCENARIOS", "GroundTruth", "SimulatedEcg", "simulate", "write_record"]
