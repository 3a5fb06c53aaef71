"""QRS detection over all leads, beat typing, and median beats."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.signal import find_peaks

REFRACTORY_S = 0.25  # no two QRS complexes within 250 ms (max 240/min)
INTEGRATION_S = 0.10  # moving-window integration (Pan & Tompkins 1985)
MEDIAN_PRE_S = 0.30
MEDIAN_POST_S = 0.60
DOMINANT_CORRELATION = 0.85


@dataclass(frozen=True)
class Beats:
    r_peaks: np.ndarray  # sample indices at the analysis rate
    dominant: np.ndarray  # bool per beat
    rr_s: np.ndarray  # RR intervals in seconds


def detect_qrs(band: np.ndarray, fs: int, usable: np.ndarray) -> np.ndarray:
    """R-peak sample indices from band-passed signals (n, leads), using the usable leads.

    Energy of the derivative summed over leads, integrated over 100 ms, with an
    adaptive threshold from the envelope's robust range; then each detection is moved
    to the largest absolute deflection nearby in the strongest lead.
    """
    cols = np.flatnonzero(usable)
    if cols.size == 0:
        return np.array([], dtype=int)
    x = band[:, cols]
    d = np.diff(x, axis=0, prepend=x[:1])
    # Normalise each lead so one large lead does not drown the others.
    scale = np.percentile(np.abs(d), 99, axis=0) + 1e-9
    energy = np.sum((d / scale) ** 2, axis=1)
    env = uniform_filter1d(energy, max(1, int(INTEGRATION_S * fs)))
    hi = np.percentile(env, 98)
    lo = np.percentile(env, 30)
    if hi <= 0:
        return np.array([], dtype=int)
    threshold = lo + 0.25 * (hi - lo)
    peaks, props = find_peaks(env, height=threshold, distance=int(REFRACTORY_S * fs))
    if peaks.size == 0:
        return peaks
    # Drop small bumps (T waves) far below their neighbours' height.
    heights = props["peak_heights"]
    ref = np.median(heights)
    peaks = peaks[heights > 0.3 * ref]
    # Refine to the extreme of the strongest lead within ±60 ms.
    strongest = int(np.argmax(np.percentile(np.abs(x), 99, axis=0)))
    w = int(0.06 * fs)
    sig = x[:, strongest]
    refined = []
    for p in peaks:
        a, b = max(0, p - w), min(len(sig), p + w)
        refined.append(a + int(np.argmax(np.abs(sig[a:b]))))
    out = np.unique(np.asarray(refined, dtype=int))
    # Re-apply the refractory period after refinement.
    keep = [out[0]] if out.size else []
    for p in out[1:]:
        if p - keep[-1] >= int(REFRACTORY_S * fs):
            keep.append(p)
    return np.asarray(keep, dtype=int)


def type_beats(diag: np.ndarray, r_peaks: np.ndarray, fs: int, usable: np.ndarray) -> np.ndarray:
    """True for dominant beats: QRS shape correlates with the median QRS across usable leads."""
    if r_peaks.size < 3:
        return np.ones(r_peaks.size, dtype=bool)
    w0, w1 = int(0.06 * fs), int(0.10 * fs)
    cols = np.flatnonzero(usable)
    segs: list[np.ndarray | None] = []
    valid = []
    for r in r_peaks:
        if r - w0 < 0 or r + w1 > diag.shape[0]:
            segs.append(None)
            valid.append(False)
            continue
        segs.append(diag[r - w0 : r + w1, cols].ravel())
        valid.append(True)
    stack = np.array([s for s in segs if s is not None])
    if stack.size == 0:
        return np.ones(r_peaks.size, dtype=bool)
    template = np.median(stack, axis=0)
    out = np.zeros(r_peaks.size, dtype=bool)
    for i, s in enumerate(segs):
        if s is None:
            continue
        c = np.corrcoef(s, template)[0, 1]
        amp = np.linalg.norm(s) / (np.linalg.norm(template) + 1e-9)
        out[i] = bool(c >= DOMINANT_CORRELATION and 0.5 < amp < 2.0)
    if not out.any():
        out[:] = np.asarray(valid)
    return out


def median_beats(
    diag: np.ndarray, r_peaks: np.ndarray, dominant: np.ndarray, fs: int
) -> np.ndarray | None:
    """Median beat per lead, (window, leads), aligned on R at index MEDIAN_PRE_S * fs."""
    pre, post = int(MEDIAN_PRE_S * fs), int(MEDIAN_POST_S * fs)
    picks = [
        r
        for r, d in zip(r_peaks, dominant, strict=True)
        if d and r - pre >= 0 and r + post <= diag.shape[0]
    ]
    if len(picks) < 2:
        picks = [r for r in r_peaks if r - pre >= 0 and r + post <= diag.shape[0]]
    if not picks:
        return None
    stack = np.stack([diag[r - pre : r + post] for r in picks])
    return np.median(stack, axis=0)
