"""Realistic recording noise: baseline wander, mains interference, muscle (EMG) noise."""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfilt


def add_noise(
    signals: np.ndarray, fs: int, rng: np.random.Generator, *, level: float, mains_hz: float
) -> np.ndarray:
    """Return ``signals`` (n, 8 independent leads, mV) with noise scaled by ``level`` (1 = typical).

    Noise is added to the independent leads before the limb leads are derived, so the
    derived leads carry it consistently, as they would from real electrodes.
    """
    if level <= 0:
        return signals
    n, leads = signals.shape
    t = np.arange(n) / fs
    out = signals.copy()
    # Respiration-driven wander, 0.15-0.3 Hz, ~0.05-0.1 mV at level 1.
    resp = rng.uniform(0.15, 0.3)
    wander_amp = 0.06 * level * rng.uniform(0.5, 1.5, leads)
    out += np.sin(2 * np.pi * resp * t + rng.uniform(0, 2 * np.pi))[:, None] * wander_amp
    # Mains hum at a few microvolts to tens of microvolts.
    hum = 0.01 * level * rng.uniform(0.3, 1.0, leads)
    out += np.sin(2 * np.pi * mains_hz * t + rng.uniform(0, 2 * np.pi))[:, None] * hum
    # Muscle noise: broadband 20-150 Hz, ~10 uV RMS at level 1.
    sos = butter(4, [20.0, min(150.0, fs / 2 - 1)], btype="band", fs=fs, output="sos")
    emg = sosfilt(sos, rng.standard_normal((n, leads)), axis=0)
    emg /= np.maximum(emg.std(axis=0), 1e-12)
    out += emg * 0.01 * level
    return out
