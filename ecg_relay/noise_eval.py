"""Flags on real records with noise added, against the same records clean (reads files).

A cart in a township health centre records through tremor, breathing, mains hum and moving
electrodes. Each labelled record of DIR/records.csv (its first 10 s; LUDB left out, as its
millivolts are not physical) is analysed clean and with each kind of noise below added at
a level seen in practice, with a seed fixed per record, and the flags that open a green
channel or ask for action (critical and urgent) are compared. A robust analysis keeps them;
what changes is listed so it can be looked at.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import butter, sosfiltfilt

from ecg_relay.analysis import Severity, analyze
from ecg_relay.evaluation import NON_PHYSICAL_AMPLITUDE_FOLDERS, WINDOW_S, labelled_records


def _wander(n: int, fs: float, leads: int, rng: np.random.Generator) -> np.ndarray:
    """Breathing: a 0.15-0.4 Hz sine of 0.4 mV, its phase different in each lead."""
    t = np.arange(n) / fs
    return 0.4 * np.sin(
        2 * np.pi * rng.uniform(0.15, 0.4) * t[:, None] + rng.uniform(0, 6.3, leads)
    )


def _tremor(n: int, fs: float, leads: int, rng: np.random.Generator) -> np.ndarray:
    """Muscle tremor: 20-150 Hz noise (up to 0.45 fs) of 0.04 mV RMS in every lead."""
    sos = butter(4, [20.0, min(150.0, 0.45 * fs)], btype="band", fs=fs, output="sos")
    w = sosfiltfilt(sos, rng.normal(0.0, 1.0, (n, leads)), axis=0)
    return 0.04 * w / w.std(axis=0)


def _mains(n: int, fs: float, leads: int, rng: np.random.Generator) -> np.ndarray:
    """Mains hum: 50 Hz of 0.15 mV, phase per lead (nothing below 110 Hz sampling)."""
    if fs <= 110:
        return np.zeros((n, leads))
    t = np.arange(n) / fs
    return 0.15 * np.sin(2 * np.pi * 50.0 * t[:, None] + rng.uniform(0, 6.3, leads))


def _motion(n: int, fs: float, leads: int, rng: np.random.Generator) -> np.ndarray:
    """An electrode moving: three steps of 0.5-1.5 mV decaying over 0.3 s, two leads each."""
    out = np.zeros((n, leads))
    for _ in range(3):
        start = int(rng.integers(0, n - 1))
        hit = rng.choice(leads, min(2, leads), replace=False)
        decay = np.exp(-np.arange(n - start) / (0.3 * fs))
        out[start:, hit] += rng.uniform(0.5, 1.5) * rng.choice([-1, 1]) * decay[:, None]
    return out


NOISES: dict[str, Callable[[int, float, int, np.random.Generator], np.ndarray]] = {
    "wander": _wander,
    "tremor": _tremor,
    "mains": _mains,
    "motion": _motion,
}


@dataclass
class NoiseReport:
    records: int = 0
    changes: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {kind: [] for kind in NOISES}
    )
    repeat_ecg: dict[str, int] = field(default_factory=lambda: {kind: 0 for kind in NOISES})
    skipped: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "kinds": {
                kind: {
                    "same": self.records - len(self.changes[kind]),
                    "critical_gained": sum(bool(c["critical_gained"]) for c in self.changes[kind]),
                    "critical_lost": sum(bool(c["critical_lost"]) for c in self.changes[kind]),
                    "repeat_ecg": self.repeat_ecg[kind],
                    "changes": self.changes[kind],
                }
                for kind in NOISES
            },
            "skipped": self.skipped,
            "failed": self.failed,
        }


def _action_flags(
    sig: np.ndarray, fs: float, names: list[str], sex: Any, age: Any
) -> dict[str, str]:
    """Critical and urgent flags (code -> severity) of one analysis."""
    result = analyze(sig, fs, names, sex=sex, age=age)
    return {
        f.code: f.severity.value
        for f in result.flags
        if f.severity in (Severity.CRITICAL, Severity.URGENT)
    }


def evaluate_noise(data_dir: Path, *, progress: Callable[[str], None] | None = None) -> NoiseReport:
    """Critical and urgent flags of each record's first 10 s, clean and with each noise."""
    report = NoiseReport()
    for _folder, ident, truth, rec in labelled_records(
        data_dir,
        report.skipped,
        report.failed,
        progress=progress,
        leave_out_folders=NON_PHYSICAL_AMPLITUDE_FOLDERS,
    ):
        sig = rec.signals[: int(WINDOW_S * rec.fs)]
        rng = np.random.default_rng(zlib.crc32(ident.encode()))
        try:
            clean = _action_flags(sig, rec.fs, rec.lead_names, rec.sex, rec.age)
            noisy = {
                kind: _action_flags(
                    sig + make(sig.shape[0], rec.fs, sig.shape[1], rng),
                    rec.fs,
                    rec.lead_names,
                    rec.sex,
                    rec.age,
                )
                for kind, make in NOISES.items()
            }
        except Exception as exc:
            report.failed.append(
                {"record": ident, "reason": f"analysis: {type(exc).__name__}: {exc}"[:300]}
            )
            continue
        report.records += 1
        for kind, flags in noisy.items():
            report.repeat_ecg[kind] += "REPEAT_ECG" in flags
            if flags.keys() == clean.keys():
                continue
            lost, gained = sorted(clean.keys() - flags.keys()), sorted(flags.keys() - clean.keys())
            report.changes[kind].append(
                {
                    "record": ident,
                    "truth": sorted(truth),
                    "lost": lost,
                    "gained": gained,
                    "critical_lost": [c for c in lost if clean[c] == Severity.CRITICAL.value],
                    "critical_gained": [c for c in gained if flags[c] == Severity.CRITICAL.value],
                }
            )
    return report
