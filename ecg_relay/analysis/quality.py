"""Per-lead signal quality: lead off, clipping, baseline wander, mains and muscle noise."""

from __future__ import annotations

import numpy as np
from scipy.signal import welch

FLAT_PTP_MV = 0.05  # a connected electrode shows at least QRS or noise above 50 uV
CLIP_FRACTION = 0.02  # >2% of samples stuck at the extreme value = amplifier saturation
WANDER_MV = 1.5  # baseline excursion below 0.5 Hz that hides the ST segment
# Absolute limits: small leads (aVL often) must not be called noisy for their size.
NOISE_RMS_MV = 0.03  # 40-150 Hz muscle noise above 30 uV RMS obscures small waves
MAINS_RMS_MV = 0.05  # mains interference large enough to survive the notch


def lead_quality(raw: np.ndarray, fs: int, mains_hz: float) -> list[str]:
    """One label per lead: 'ok', 'flat', 'clipped', 'wander', 'noise', 'mains' or 'missing'.

    ``raw`` is (n, leads) in mV, unfiltered, NaN where samples are missing.
    """
    labels: list[str] = []
    n = raw.shape[0]
    for j in range(raw.shape[1]):
        x = raw[:, j]
        finite = np.isfinite(x)
        if finite.mean() < 0.9:
            labels.append("missing")
            continue
        x = np.where(finite, x, np.nanmedian(x))
        ptp = float(np.ptp(x))
        if ptp < FLAT_PTP_MV:
            labels.append("flat")
            continue
        lo, hi = x.min(), x.max()
        stuck = max(np.mean(x == lo), np.mean(x == hi))
        if stuck > CLIP_FRACTION and ptp > 0.5:
            labels.append("clipped")
            continue
        freqs, psd = welch(x - x.mean(), fs=fs, nperseg=min(n, 2 * fs))
        df = float(freqs[1] - freqs[0])

        def band(
            a: float, b: float, freqs: np.ndarray = freqs, psd: np.ndarray = psd, df: float = df
        ) -> float:
            """RMS (mV) of the signal between a and b Hz."""
            return float(np.sqrt(np.sum(psd[(freqs >= a) & (freqs < b)]) * df))

        if 2 * np.sqrt(2) * band(0, 0.5) > WANDER_MV:
            labels.append("wander")
        elif band(mains_hz - 1, mains_hz + 1) > MAINS_RMS_MV:
            labels.append("mains")
        elif band(40, min(150, fs / 2 - 1)) > NOISE_RMS_MV:
            labels.append("noise")
        else:
            labels.append("ok")
    return labels


def limb_reversal_suspected(qrs_area: dict[str, float], p_amp: dict[str, float]) -> bool:
    """LA/RA reversal: lead I with negative P and negative QRS while aVR is positive."""
    if not {"I", "aVR"} <= qrs_area.keys():
        return False
    return qrs_area["I"] < 0 and p_amp.get("I", 0.0) < -0.03 and qrs_area["aVR"] > 0
