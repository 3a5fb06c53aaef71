"""Rhythm features: RR irregularity, atrial activity after QRS-T cancellation, VF spectrum."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import detrend, find_peaks, welch

from ecg_relay.analysis import criteria as c
from ecg_relay.analysis.beats import MEDIAN_POST_S, MEDIAN_PRE_S
from ecg_relay.analysis.delineation import Fiducials

P_LOCK_CORRELATION = 0.6


def rr_irregularity(rr_s: np.ndarray) -> float:
    """Normalised RMSSD of RR intervals (RMSSD / mean RR); ~0.02-0.06 in sinus rhythm."""
    if rr_s.size < 3:
        return 0.0
    return float(np.sqrt(np.mean(np.diff(rr_s) ** 2)) / np.mean(rr_s))


@dataclass(frozen=True)
class AtrialActivity:
    dominant_hz: float | None
    concentration: float  # share of 2-15 Hz power within ±0.5 Hz of the dominant peak
    amplitude_mv: float
    p_rate_bpm: float | None  # organised, separately detected P waves (AV dissociation)
    p_regular: bool


def residual(diag: np.ndarray, med: np.ndarray, r_peaks: np.ndarray, fs: int) -> np.ndarray:
    """The signal with each beat's median QRS-T subtracted: what the atria do on their own."""
    pre, post = int(MEDIAN_PRE_S * fs), int(MEDIAN_POST_S * fs)
    out = diag.copy()
    for r in r_peaks:
        a, b = r - pre, r + post
        ma, mb = 0, med.shape[0]
        if a < 0:
            ma, a = -a, 0
        if b > diag.shape[0]:
            mb -= b - diag.shape[0]
            b = diag.shape[0]
        out[a:b] -= med[ma:mb]
        # QRS residue is large even after subtraction; blank ±60 ms around R.
        w = int(0.06 * fs)
        out[max(0, r - w) : r + w] = 0.0
    return out


def atrial_activity(res: np.ndarray, fs: int) -> AtrialActivity:
    """Spectral and P-wave features of the QRS-T-cancelled lead (1-D, mV)."""
    if res.size < fs * 2:
        return AtrialActivity(None, 0.0, 0.0, None, False)
    freqs, psd = welch(res, fs=fs, nperseg=min(res.size, 4 * fs))
    band = (freqs >= 2) & (freqs <= 15)
    if not band.any() or psd[band].sum() <= 0:
        return AtrialActivity(None, 0.0, 0.0, None, False)
    fb, pb = freqs[band], psd[band]
    k = int(np.argmax(pb))
    dom = float(fb[k])
    conc = float(pb[np.abs(fb - dom) <= 0.5].sum() / pb.sum())
    amp = float(np.percentile(res, 99) - np.percentile(res, 1)) / 2
    peaks, _ = find_peaks(res, distance=int(0.3 * fs), prominence=0.05, width=int(0.02 * fs))
    p_rate = None
    regular = False
    if peaks.size >= 4:
        pp = np.diff(peaks) / fs
        p_rate = float(60.0 / np.median(pp))
        regular = bool(np.std(pp) / np.mean(pp) < 0.15)
    return AtrialActivity(dom, conc, amp, p_rate, regular)


def vf_spectrum_fraction(x: np.ndarray, fs: int) -> float:
    """Share of 1-30 Hz power that lies in 3-9 Hz: near 1 for ventricular fibrillation."""
    if x.size < fs:
        return 0.0
    freqs, psd = welch(x, fs=fs, nperseg=min(x.size, 4 * fs))
    total = psd[(freqs >= 1) & (freqs <= 30)].sum()
    if total <= 0:
        return 0.0
    return float(psd[(freqs >= 3) & (freqs <= 9)].sum() / total)


def flutter_hz(atrial: AtrialActivity | None) -> float | None:
    """Atrial flutter rate in Hz from the QRS-T-cancelled signal.

    Flutter waves locked to the QRS by fixed 2:1 or 4:1 conduction cancel with the median
    beat and are missed here (a known limitation, see docs/validation.md).
    """
    lo, hi = c.FLUTTER_HZ
    if (
        atrial is not None
        and atrial.dominant_hz is not None
        and lo <= atrial.dominant_hz <= hi
        and atrial.concentration >= c.FLUTTER_CONCENTRATION
        and atrial.amplitude_mv >= c.FLUTTER_AMPLITUDE_MV
    ):
        return float(atrial.dominant_hz)
    return None


def p_time_locked(
    diag: np.ndarray, r_peaks: np.ndarray, fid: Fiducials, idx: dict[str, int], fs: int
) -> bool:
    """True when the median beat's P wave recurs beat by beat at the same place.

    Fibrillation and flutter waves leave a bump in a median of a few beats too; a real P
    wave is locked to its QRS, so each beat's PR window resembles the median's.
    """
    if fid.p_onset is None:
        return False
    lead = idx.get("II", idx.get("V1"))
    if lead is None:
        return True
    pre = int(MEDIAN_PRE_S * fs)
    a = fid.p_onset - pre
    b = min(fid.qrs_onset - int(0.02 * fs), fid.p_onset + int(0.10 * fs)) - pre
    if b - a < int(0.04 * fs):
        return False
    segs = []
    for r in r_peaks:
        if r + a >= 0 and r + b <= diag.shape[0]:
            # Detrended: a sloping T-wave tail correlates with anything sloping; a P is a bump.
            segs.append(detrend(diag[r + a : r + b, lead]))
    if len(segs) < 3:
        return True
    stack = np.array(segs)
    template = np.median(stack, axis=0)
    corr = [np.corrcoef(sg, template)[0, 1] for sg in stack if np.std(sg) > 1e-9]
    return bool(corr) and float(np.median(corr)) >= P_LOCK_CORRELATION
