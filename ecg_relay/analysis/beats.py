"""QRS detection over all leads, beat typing, and median beats.

QRS detection follows Pan & Tompkins (IEEE Trans Biomed Eng 1985;32:230) with the decision
rules that Hamilton & Tompkins tested on the MIT-BIH database (IEEE Trans Biomed Eng
1986;33:1157) as in Hamilton's open-source detector (OSEA qrsdet.c, 2002): a slope
feature is integrated over a moving window, and each peak of the
integrated envelope is classified against a threshold that adapts beat by beat to running
estimates of the signal (QRS) and noise peak levels, with search-back for missed beats
and slope-based T-wave discrimination. Three changes for multi-lead 10 s windows:

- the feature is the RMS over leads of each lead's slope in units of that lead's typical
  QRS slope, weighted by the lead's signal-to-noise ratio and clipped at twice the typical
  slope: linear in amplitude (a beat of half the size gives half the envelope, not a quarter
  as the squared slope does), so large ectopics no longer hide small beats;
- the whole window is available, so the levels are learnt in a first pass and the decisions
  are taken in a second pass that starts from them (a running detector's steady state);
- search-back also covers the start and end of the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median

import numpy as np
from scipy.ndimage import maximum_filter1d, uniform_filter1d
from scipy.signal import find_peaks

# Two QRS complexes are at least 250 ms apart (240/min). Pan & Tompkins (1985) use the
# 200 ms absolute refractory period; organised ventricular rhythms above 240/min are
# ventricular flutter, whose waves EC57 leaves out of QRS detection, and the wider gap
# keeps P and T waves of fast sinus rhythms out of the candidates.
REFRACTORY_S = 0.25
# A fast organised rhythm (median detected RR under FAST_RR_S, 150/min) has RR close to that
# period, where the jitter of envelope peaks drops every other beat of a tachycardia at
# 220-240/min. It is detected again with Pan & Tompkins' own 200 ms, and a candidate within
# REFRACTORY_S of the last QRS must then have a slope like that QRS's (FAST_SLOPE_RATIO;
# T waves stay below T_WAVE_SLOPE_RATIO).
FAST_RR_S = 0.40
FAST_REFRACTORY_S = 0.20
FAST_SLOPE_RATIO = 0.8
# Moving-window integration: about the widest normal QRS (Pan & Tompkins 1985 use 150 ms).
INTEGRATION_S = 0.15
# Pan & Tompkins 1985: a peak within 360 ms of the previous QRS whose slope is below half
# that QRS's slope is a T wave.
T_WAVE_WINDOW_S = 0.36
T_WAVE_SLOPE_RATIO = 0.5
# Decision rules. Threshold = noise level + TH (QRS level - noise level), the levels being
# the medians of the last 8 QRS and noise peaks, the QRS buffer seeded with 1 s maxima
# (Hamilton & Tompkins 1986, as in Hamilton's OSEA qrsdet.c, 2002, whose feature is also
# an integrated |slope|, linear in amplitude). OSEA uses TH = 0.475; here TH must stay
# below 1 / LARGE_SLOPE_CLIP = 0.5 with room for the noise level, so that ordinary beats
# still cross the threshold when large ectopic beats hold the QRS buffer at the clip (the
# lock-in that read 23/min on CPSC 2019 strips): TH = 5/16 = 0.3125.
# Search-back at half the threshold when no QRS was found for 166% of the average of the
# last 8 RR intervals (Pan & Tompkins 1985).
THRESHOLD_FRACTION = 0.3125
SEARCHBACK_THRESHOLD_RATIO = 0.5
SEARCHBACK_RR_RATIO = 1.66
RR_AVERAGE_BEATS = 8
# The QRS level is seeded with the maxima of consecutive 1 s segments (Pan & Tompkins learn
# over the first 2 s; here the whole window is seen): above 60/min every segment holds a
# QRS, so the median of the seeds is an ordinary beat while fewer than half of the segments
# hold a large ectopic beat. Slower rhythms seed lower; the first pass then adapts.
LEARNING_S = 1.0
# Initial RR before any is measured: 1 s (60/min, the middle of the normal range).
DEFAULT_RR_S = 1.0
# Each lead's slope is scaled by its typical QRS slope (median of the 1 s segment maxima,
# see LEARNING_S) so leads of any size count alike, and weighted by the Wiener-type gain
# SNR^2 / (SNR0^2 + SNR^2), SNR = typical QRS slope / noise slope: near 1 for a clean lead,
# small for a lead that is mostly noise, and bounded, so a very smooth channel cannot take
# over. The noise slope is the median absolute slope / 0.6745 (normal-consistent MAD),
# taken over 0.5 s pieces: longer than a QRS with its refractory period, so the median
# stays on the baseline between complexes, and short enough to follow a burst of artefact.
# SNR0 = 10: on the normal 12-lead records of the development set the pieces' SNR has a
# median of about 30 and a 10th centile of about 15 (weights 0.9 and 0.7); a lead whose QRS
# slope stands only 4 times over its noise (muscle tremor on one lead of a Holter strip)
# weighs 0.14.
MAD_TO_SD = 0.6745
NOISE_SEGMENT_S = 0.5
REFERENCE_SNR = 10.0
# A slope over twice the lead's typical QRS slope is a QRS (or an artefact spike) whatever
# its size: clipping there keeps one large ectopic beat or one lead's electrode pop from
# dominating the envelope and the levels.
LARGE_SLOPE_CLIP = 2.0
# The R peak is the largest deflection within +-60 ms of the envelope peak (half a wide QRS).
REFINE_S = 0.06
MEDIAN_PRE_S = 0.40  # long enough for a PR of 300 ms (first-degree block) before R
MEDIAN_POST_S = 0.60
DOMINANT_CORRELATION = 0.85


@dataclass(frozen=True)
class Beats:
    r_peaks: np.ndarray  # sample indices at the analysis rate
    dominant: np.ndarray  # bool per beat
    rr_s: np.ndarray  # RR intervals in seconds


@dataclass(frozen=True)
class _Candidates:
    """Peaks of the integrated envelope: sample index, envelope height, maximal slope."""

    index: np.ndarray
    height: np.ndarray
    slope: np.ndarray


@dataclass(frozen=True)
class _Levels:
    """Recent QRS and noise peak heights and RR intervals (s), RR_AVERAGE_BEATS of each.

    The signal and noise levels are the medians of the recent peaks (Hamilton & Tompkins
    1986), so a few large ectopic beats do not raise the threshold over the ordinary beats.
    """

    qrs: tuple[float, ...]
    noise: tuple[float, ...]
    rr: tuple[float, ...]

    @property
    def threshold(self) -> float:
        # statistics.median: these hold at most 8 values, where numpy's overhead dominates.
        signal = median(self.qrs) if self.qrs else 0.0
        noise = median(self.noise) if self.noise else 0.0
        return noise + THRESHOLD_FRACTION * (signal - noise)

    @property
    def rr_average(self) -> float:
        return sum(self.rr) / len(self.rr) if self.rr else DEFAULT_RR_S


def slope_feature(band: np.ndarray, fs: int) -> np.ndarray:
    """Amplitude-linear multi-lead slope, in units of each lead's typical QRS slope.

    Parameters
    ----------
    band : (n, leads) band-passed signals, mV.
    fs : sampling rate, Hz.

    Returns
    -------
    (n,) weighted RMS over leads of |slope| / typical QRS slope, each lead clipped at
    LARGE_SLOPE_CLIP (dimensionless; about 1 on an ordinary QRS).
    """
    d = np.abs(np.diff(band, axis=0, prepend=band[:1])) * fs  # mV/s
    seg = max(1, int(LEARNING_S * fs))
    n_seg = max(1, d.shape[0] // seg)
    qrs = np.median(d[: n_seg * seg].reshape(n_seg, -1, d.shape[1]).max(axis=1), axis=0) + 1e-12
    # Noise per lead in NOISE_SEGMENT_S pieces: a burst of artefact in one lead weighs that
    # lead down while it lasts, and the other leads carry the beats through it.
    piece = max(1, int(NOISE_SEGMENT_S * fs))
    n_piece = max(1, d.shape[0] // piece)
    noise = np.median(d[: n_piece * piece].reshape(n_piece, -1, d.shape[1]), axis=1)
    noise = np.repeat(noise / MAD_TO_SD + 1e-12, piece, axis=0)
    if noise.shape[0] < d.shape[0]:  # the tail shorter than a piece takes the last piece's
        noise = np.vstack([noise, np.repeat(noise[-1:], d.shape[0] - noise.shape[0], axis=0)])
    snr2 = (qrs / noise[: d.shape[0]]) ** 2
    weight = snr2 / (REFERENCE_SNR**2 + snr2)
    z = np.minimum(d / qrs, LARGE_SLOPE_CLIP)
    return np.sqrt(np.einsum("ij,ij->i", z * z, weight) / weight.sum(axis=1))


def _candidates(
    feature: np.ndarray, fs: int, refractory_s: float = REFRACTORY_S
) -> tuple[np.ndarray, _Candidates]:
    """The integrated envelope and its peaks at least one refractory period apart."""
    width = max(1, int(INTEGRATION_S * fs))
    env = uniform_filter1d(feature, width)
    peaks, props = find_peaks(env, distance=max(1, int(refractory_s * fs)))
    slope = maximum_filter1d(feature, width)[peaks]
    return env, _Candidates(peaks, props.get("peak_heights", env[peaks]), slope)


def _seed_levels(env: np.ndarray, fs: int) -> _Levels:
    """Pan & Tompkins' learning phase over the whole window: QRS peaks seeded with the
    maxima of consecutive LEARNING_S segments, noise with half the mean envelope."""
    seg = max(1, int(LEARNING_S * fs))
    n = max(1, env.size // seg)
    maxima = tuple(float(env[k * seg : (k + 1) * seg].max()) for k in range(n))
    return _Levels(qrs=maxima, noise=(0.5 * float(np.mean(env)),), rr=())


def _update(levels: _Levels, height: float, *, qrs: bool) -> _Levels:
    if qrs:
        return _Levels((*levels.qrs, height)[-RR_AVERAGE_BEATS:], levels.noise, levels.rr)
    return _Levels(levels.qrs, (*levels.noise, height)[-RR_AVERAGE_BEATS:], levels.rr)


def _with_rr(levels: _Levels, rr_s: float) -> _Levels:
    return _Levels(levels.qrs, levels.noise, (*levels.rr, rr_s)[-RR_AVERAGE_BEATS:])


def _classify(
    c: _Candidates, levels: _Levels, fs: int, *, fast: bool = False
) -> tuple[list[int], _Levels]:
    """One Pan-Tompkins pass over the candidates; returns QRS candidate numbers and levels."""
    qrs: list[int] = []
    pending: list[int] = []  # candidates below threshold since the last QRS (search-back pool)
    for k in range(c.index.size):
        pos, height = int(c.index[k]), float(c.height[k])
        if qrs and (pos - c.index[qrs[-1]]) > SEARCHBACK_RR_RATIO * levels.rr_average * fs:
            found = _search_back(c, pending, levels, qrs[-1], fs)
            if found is not None:
                levels = _accept(c, qrs, found, levels, fs)
                pending = [p for p in pending if p > found]
        if height > levels.threshold and _not_t_wave(c, qrs, k, fs, fast=fast):
            levels = _accept(c, qrs, k, levels, fs)
            pending = []
        else:
            pending.append(k)
            levels = _update(levels, height, qrs=False)
    return qrs, levels


def _not_t_wave(c: _Candidates, qrs: list[int], k: int, fs: int, *, fast: bool = False) -> bool:
    """Pan & Tompkins' slope test: within T_WAVE_WINDOW_S of the last QRS, a peak whose
    slope is below T_WAVE_SLOPE_RATIO of that QRS's slope is a T wave. ``fast``: the
    candidates may lie closer than REFRACTORY_S, and there they need FAST_SLOPE_RATIO."""
    if not qrs or c.index[k] - c.index[qrs[-1]] >= T_WAVE_WINDOW_S * fs:
        return True
    if fast and c.index[k] - c.index[qrs[-1]] < REFRACTORY_S * fs:
        return bool(c.slope[k] >= FAST_SLOPE_RATIO * c.slope[qrs[-1]])
    return bool(c.slope[k] >= T_WAVE_SLOPE_RATIO * c.slope[qrs[-1]])


def _accept(c: _Candidates, qrs: list[int], k: int, levels: _Levels, fs: int) -> _Levels:
    """Append candidate k to ``qrs`` (in place) and update the levels and RR history.

    The same slope test read backwards: if the last QRS lies within T_WAVE_WINDOW_S before k
    and its slope is below T_WAVE_SLOPE_RATIO of k's, it was a P wave or an artefact ahead
    of this QRS, and k replaces it.
    """
    if (
        qrs
        and c.index[k] - c.index[qrs[-1]] < T_WAVE_WINDOW_S * fs
        and c.slope[qrs[-1]] < T_WAVE_SLOPE_RATIO * c.slope[k]
    ):
        qrs.pop()
    if qrs:
        levels = _with_rr(levels, (c.index[k] - c.index[qrs[-1]]) / fs)
    qrs.append(k)
    return _update(levels, float(c.height[k]), qrs=True)


def _search_back(
    c: _Candidates, pool: list[int], levels: _Levels, last: int, fs: int
) -> int | None:
    """The highest pooled candidate above the search-back threshold that is no T wave."""
    limit = SEARCHBACK_THRESHOLD_RATIO * levels.threshold
    above = [k for k in pool if c.height[k] > limit and _not_t_wave(c, [last], k, fs)]
    return max(above, key=lambda k: c.height[k]) if above else None


def _search_edges(c: _Candidates, qrs: list[int], levels: _Levels, n: int, fs: int) -> list[int]:
    """Search-back before the first and after the last QRS of the window, where the
    forward pass has no later beat to trigger it.

    A gap to the window edge longer than the average RR interval must hold a beat; the
    highest candidate there above the search-back threshold is taken, if it passes the
    slope test against its neighbouring QRS and lies at least half an integration window
    from the edge (closer, the envelope is built on padding, not on a recorded QRS).
    """
    if not qrs:
        return qrs
    out = list(qrs)
    limit = SEARCHBACK_THRESHOLD_RATIO * levels.threshold
    rr = levels.rr_average * fs
    margin = INTEGRATION_S * fs / 2
    refractory = REFRACTORY_S * fs
    t_window = T_WAVE_WINDOW_S * fs

    def plausible(k: int, neighbour: int) -> bool:
        gap = abs(int(c.index[k]) - int(c.index[neighbour]))
        return bool(
            c.height[k] > limit
            and margin <= c.index[k] < n - margin
            and gap >= refractory
            and (gap >= t_window or c.slope[k] >= T_WAVE_SLOPE_RATIO * c.slope[neighbour])
        )

    while c.index[out[0]] > rr:
        head = [k for k in range(out[0]) if plausible(k, out[0])]
        if not head:
            break
        out.insert(0, max(head, key=lambda k: c.height[k]))
    while n - c.index[out[-1]] > rr:
        tail = [k for k in range(out[-1] + 1, c.index.size) if plausible(k, out[-1])]
        if not tail:
            break
        out.append(max(tail, key=lambda k: c.height[k]))
    return out


def detect_qrs(band: np.ndarray, fs: int, usable: np.ndarray) -> np.ndarray:
    """R-peak sample indices from band-passed signals (n, leads), using the usable leads.

    Parameters
    ----------
    band : (n, leads) signals band-passed for detection (filters.detection), mV.
    fs : sampling rate, Hz.
    usable : (leads,) bool, the leads to detect on.

    Returns
    -------
    Sorted R-peak sample indices, at least REFRACTORY_S apart.
    """
    cols = np.flatnonzero(usable)
    if cols.size == 0 or band.shape[0] < 2:
        return np.array([], dtype=int)
    # Every lead usable (the usual case): no column copy; the features are the same.
    x = band if cols.size == band.shape[1] else band[:, cols]
    feature = slope_feature(x, fs)
    peaks = _detect(x, feature, fs, fast=False)
    if peaks.size >= 4 and np.median(np.diff(peaks)) < FAST_RR_S * fs:
        peaks = _detect(x, feature, fs, fast=True)
    return peaks


def _detect(x: np.ndarray, feature: np.ndarray, fs: int, *, fast: bool) -> np.ndarray:
    """Candidates, two classification passes, edge search-back and R refinement."""
    refractory_s = FAST_REFRACTORY_S if fast else REFRACTORY_S
    env, cand = _candidates(feature, fs, refractory_s)
    if cand.index.size == 0:
        return np.array([], dtype=int)
    # First pass learns the levels; the second decides from that steady state.
    _first, levels = _classify(cand, _seed_levels(env, fs), fs, fast=fast)
    qrs, levels = _classify(cand, levels, fs, fast=fast)
    qrs = _search_edges(cand, qrs, levels, env.size, fs)
    return _refine(x, cand.index[qrs], fs, refractory_s)


def _refine(
    x: np.ndarray, peaks: np.ndarray, fs: int, refractory_s: float = REFRACTORY_S
) -> np.ndarray:
    """Move each detection to the R peak: the extreme within REFINE_S of the lead with the
    largest deflections, taken with that lead's predominant QRS polarity.

    One polarity for all beats keeps the fiducial on the same wave of every complex; the
    largest absolute deflection would jump between R and S in small biphasic complexes and
    misalign the beats that type_beats and the median beat compare. The refractory period
    is re-applied afterwards.
    """
    if peaks.size == 0:
        return peaks.astype(int)
    # Order statistics are exact in any layout: taken over time-last (contiguous) rows.
    strongest = int(np.argmax(np.percentile(np.abs(x.T), 99, axis=1)))
    w = int(REFINE_S * fs)
    sig = x[:, strongest]
    spans = [(max(0, int(p) - w), min(len(sig), int(p) + w)) for p in peaks]
    up = median_of_stack(np.array([sig[a:b].max() for a, b in spans]))
    down = median_of_stack(np.array([-sig[a:b].min() for a, b in spans]))
    polarity = 1.0 if up >= down else -1.0
    refined = [a + int(np.argmax(polarity * sig[a:b])) for a, b in spans]
    out = np.unique(np.asarray(refined, dtype=int))
    keep = [int(out[0])]
    for p in out[1:]:
        if p - keep[-1] >= int(refractory_s * fs):
            keep.append(int(p))
    return np.asarray(keep, dtype=int)


def type_beats(diag: np.ndarray, r_peaks: np.ndarray, fs: int, usable: np.ndarray) -> np.ndarray:
    """True for dominant beats: QRS shape correlates with the median QRS across usable leads.

    Parameters
    ----------
    diag : (n, leads) diagnostic-band signals, mV.
    r_peaks : R-peak sample indices; fs : Hz; usable : (leads,) bool.

    Returns
    -------
    (beats,) bool; beats too close to the window edges count as not dominant.
    """
    if r_peaks.size < 3:
        return np.ones(r_peaks.size, dtype=bool)
    w0, w1 = int(0.06 * fs), int(0.10 * fs)
    cols = np.flatnonzero(usable)
    valid = (r_peaks - w0 >= 0) & (r_peaks + w1 <= diag.shape[0])
    if not valid.any() or cols.size == 0:
        return np.ones(r_peaks.size, dtype=bool)
    # (beats, time * leads): each beat's QRS window, time-major as ``ravel`` of the slice.
    window = r_peaks[valid, None] - w0 + np.arange(w0 + w1)
    stack = diag[window][:, :, cols].reshape(int(valid.sum()), -1)
    template = median_of_stack(stack)
    corr, amp = _shape_match(stack, template)
    out = np.zeros(r_peaks.size, dtype=bool)
    out[valid] = (corr >= DOMINANT_CORRELATION) & (amp > 0.5) & (amp < 2.0)
    if not out.any():
        out[:] = valid
    return out


# The batched correlations below differ from np.corrcoef in the last bits at most (~1e-15);
# within this distance of a decision limit a beat is recomputed exactly as np.corrcoef and
# np.linalg.norm do it, so the dominant/ectopic decisions are those of the per-beat loop.
_DECISION_GUARD = 1e-9


def _shape_match(stack: np.ndarray, template: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``stack`` (beats, samples): Pearson correlation with ``template`` and the
    ratio of their norms (the amplitude of the beat relative to the template).

    One matrix product for all beats instead of an ``np.corrcoef`` call per beat.
    """
    centred = stack - stack.mean(axis=1, keepdims=True)
    t_centred = template - template.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = (centred @ t_centred) / np.sqrt(
            np.einsum("ij,ij->i", centred, centred) * float(t_centred @ t_centred)
        )
    t_norm = np.linalg.norm(template) + 1e-9
    amp = np.sqrt(np.einsum("ij,ij->i", stack, stack)) / t_norm
    near = (np.abs(corr - DOMINANT_CORRELATION) < _DECISION_GUARD) | (
        np.minimum(np.abs(amp - 0.5), np.abs(amp - 2.0)) < _DECISION_GUARD
    )
    for i in np.flatnonzero(near):
        corr[i] = np.corrcoef(stack[i], template)[0, 1]
        amp[i] = np.linalg.norm(stack[i]) / t_norm
    return np.clip(corr, -1.0, 1.0), amp


def median_of_stack(stack: np.ndarray) -> np.ndarray:
    """The median over the first axis, as ``np.median(stack, axis=0)``.

    For the handful of beats in a 10 s record a full sort is several times faster than the
    partition numpy's median uses; the result is the same.
    """
    ordered = np.sort(stack, axis=0)
    k = ordered.shape[0]
    if k % 2:
        return ordered[k // 2]
    return 0.5 * (ordered[k // 2 - 1] + ordered[k // 2])


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
    return median_of_stack(stack)
