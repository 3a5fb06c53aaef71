"""Rhythm features: RR irregularity, atrial activity after QRS-T cancellation, VF spectrum."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import detrend, find_peaks

from ecg_relay.analysis import criteria as c
from ecg_relay.analysis.beats import MEDIAN_POST_S, MEDIAN_PRE_S
from ecg_relay.analysis.delineation import Fiducials
from ecg_relay.analysis.spectral import welch

P_LOCK_CORRELATION = 0.6
# P waves march regularly: at least P_PP_SHARE of the P-P intervals within P_PP_TOLERANCE of
# their median (sinus arrhythmia stays within it over 10 s; AF residue does not).
P_PP_TOLERANCE = 0.15
P_PP_SHARE = 0.75


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
    freqs, psd = welch(res, fs, min(res.size, 4 * fs))
    band = (freqs >= 2) & (freqs <= 15)
    if not band.any() or psd[band].sum() <= 0:
        return AtrialActivity(None, 0.0, 0.0, None, False)
    fb, pb = freqs[band], psd[band]
    k = int(np.argmax(pb))
    dom = float(fb[k])
    conc = float(pb[np.abs(fb - dom) <= 0.5].sum() / pb.sum())
    p1, p99 = np.percentile(res, [1, 99])  # one partition for both
    amp = float(p99 - p1) / 2
    peaks, _ = find_peaks(res, distance=int(0.3 * fs), prominence=0.05, width=int(0.02 * fs))
    p_rate = None
    regular = False
    if peaks.size >= 4:
        pp = np.diff(peaks) / fs
        med_pp = float(np.median(pp))
        p_rate = 60.0 / med_pp
        # Regular when most P-P intervals lie near their median: one P wave lost in a QRS
        # or one T-wave residue taken for a P changes one or two intervals, not the rhythm
        # (the coefficient of variation let a single missed P make a march irregular).
        regular = bool(np.mean(np.abs(pp - med_pp) <= P_PP_TOLERANCE * med_pp) >= P_PP_SHARE)
    return AtrialActivity(dom, conc, amp, p_rate, regular)


def vf_spectrum_fraction(x: np.ndarray, fs: int) -> np.ndarray:
    """Per lead, the share of 1-30 Hz power that lies in 3-9 Hz: near 1 for VF.

    ``x`` is (n, leads) in mV (a 1-D lead counts as one); one Welch call for all leads.
    """
    x2 = x[:, None] if x.ndim == 1 else x
    if x2.shape[0] < fs:
        return np.zeros(x2.shape[1])
    freqs, psd = welch(x2, fs, min(x2.shape[0], 4 * fs))
    total = psd[(freqs >= 1) & (freqs <= 30)].sum(axis=0)
    vf = psd[(freqs >= 3) & (freqs <= 9)].sum(axis=0)
    return np.asarray(np.where(total > 0, vf / np.where(total > 0, total, 1.0), 0.0))


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


def rr_irregularity_robust(rr_s: np.ndarray) -> float:
    """Median absolute successive RR difference over the median RR (dimensionless).

    The ΔRR distribution is what separates AF from sinus rhythm (Tateno K, Glass L. Med Biol
    Eng Comput 2001;39:664-671); its median, unlike RMSSD, ignores the two large ΔRR that each
    isolated premature beat adds, so sinus rhythm with a few ectopics stays near sinus values.
    """
    if rr_s.size < 3:
        return 0.0
    return float(np.median(np.abs(np.diff(rr_s))) / np.median(rr_s))


def align_beats(
    x: np.ndarray, r_peaks: np.ndarray, template: np.ndarray, r_index: int, fs: int
) -> np.ndarray:
    """Each beat's fiducial moved (±40 ms) to best match the median QRS in lead ``x`` (1-D).

    The detector places R on the strongest lead's extreme, which can hop between the R and S
    of a beat; P-wave averaging needs every beat aligned on the same QRS point.
    """
    w0, w1, shift = int(0.04 * fs), int(0.06 * fs), int(0.04 * fs)
    tmpl = template[r_index - w0 : r_index + w1]
    tmpl = tmpl - tmpl.mean()
    norm_t = float(np.linalg.norm(tmpl)) + 1e-12
    out = r_peaks.copy()
    starts = r_peaks - w0 - shift
    inside = np.flatnonzero((starts >= 0) & (r_peaks + w1 + shift <= x.size))
    if inside.size == 0:
        return out
    # All beats at once: (beats, shifts, window) candidate windows around each R.
    segs = x[starts[inside, None] + np.arange(w0 + w1 + 2 * shift)]
    windows = np.lib.stride_tricks.sliding_window_view(segs, tmpl.size, axis=1)
    windows = windows - windows.mean(axis=2, keepdims=True)
    corr = windows @ tmpl / (np.linalg.norm(windows, axis=2) * norm_t + 1e-12)
    out[inside] = r_peaks[inside] - shift + np.argmax(corr, axis=1)
    return out


def p_wave_coherence(
    x: np.ndarray, fiducials: np.ndarray, onset_rel: int, rr_med_s: float, fs: int
) -> float | None:
    """How much of the pre-QRS signal repeats beat by beat at a fixed PR (0-1, None if unknown).

    The window before each QRS (up to 240 ms, never reaching back over the previous T wave) is
    detrended and averaged over beats: the energy of the average over the mean energy of the
    single windows. A P wave conducted at a fixed PR adds coherently (near 1); fibrillatory
    waves, independent of the QRS, average out (near 1/number of beats). PACs lower it only by
    their share of beats. This is the per-beat test of "a P wave before every QRS".
    """
    b = onset_rel - int(P_WINDOW_END_S * fs)
    a = max(onset_rel - int(P_WINDOW_S * fs), -int(P_WINDOW_MAX_RR * rr_med_s * fs))
    if b - a < int(0.06 * fs):
        return None
    starts = [f + a for f in fiducials if f + a >= 0 and f + b <= x.size]
    if len(starts) < 4:
        return None
    stack = detrend(x[np.asarray(starts)[:, None] + np.arange(b - a)[None, :]], axis=1)
    single = float(np.mean(np.sum(stack**2, axis=1)))
    if single <= 1e-12:
        return None
    return float(np.sum(stack.mean(axis=0) ** 2) / single)


P_WINDOW_S = 0.24  # PR up to 200 ms + half a P wave
P_WINDOW_END_S = 0.02  # stop short of the QRS onset
P_WINDOW_MAX_RR = 0.45  # the previous T wave ends by ~45% of the RR at any rate


MIN_OVERLAP = 0.25
ANALYSIS_FS = 250  # flutter analysis rate (Hz): enough for a 5-30 Hz band
# Around the steep core of the median QRS (spatial velocity above QRS_CORE_FRACTION of its
# peak: the QRS itself, never F waves, P or T, which are ten times slower) the signal is
# masked 10 ms either side (beat-to-beat jitter of the edges) plus the filter's reach.
QRS_CORE_FRACTION = 0.2
QRS_MASK_PRE_S = 0.01
QRS_MASK_POST_S = 0.01


def qrs_core(med: np.ndarray, r_index: int, fs: int) -> tuple[int, int]:
    """(start, end) of the steep QRS core relative to R, in samples, from median beats (w, leads)."""
    vel = np.sqrt(np.sum(np.gradient(med, axis=0) ** 2, axis=1))
    lo, hi = max(0, r_index - int(0.15 * fs)), min(vel.size, r_index + int(0.15 * fs))
    steep = np.flatnonzero(vel[lo:hi] > QRS_CORE_FRACTION * vel[lo:hi].max()) + lo
    if steep.size == 0:
        return 0, 0
    return int(steep[0]) - r_index, int(steep[-1]) - r_index


@dataclass(frozen=True)
class FlutterEvidence:
    atrial_hz: float | None
    periodicity: float  # masked autocorrelation at the F-wave period and its multiples


def _masked_acf(y: np.ndarray, m: np.ndarray, max_lag: int) -> np.ndarray:
    """Normalised autocorrelation over pairs of samples both unmasked, lags 0..max_lag.

    ``y`` is (n, leads), already zero where the mask ``m`` (n,) is 0; returns (max_lag + 1,
    leads). All lags at once by FFT: the numerator sums y[t]y[t+L], the energies y[t]^2 and
    y[t+L]^2 over the same pairs.
    """
    n = y.shape[0]
    size = 1 << int(np.ceil(np.log2(2 * n)))
    fy = np.fft.rfft(y, size, axis=0)
    fy2 = np.fft.rfft(y * y, size, axis=0)
    fm = np.fft.rfft(m, size)[:, None]

    def xcorr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        # sum_t a[t] b[t+L] for L >= 0
        return np.fft.irfft(np.conj(a) * b, size, axis=0)[: max_lag + 1]

    num = xcorr(fy, fy)
    den = np.sqrt(np.clip(xcorr(fy2, fm), 0, None) * np.clip(xcorr(fm, fy2), 0, None))
    pairs = xcorr(fm, fm)[:, 0]
    # Lags where a wide or fast QRS leaves too few unmasked pairs say nothing.
    enough = (pairs >= MIN_OVERLAP * (n - np.arange(max_lag + 1)))[:, None]
    ok = enough & (den > 1e-12)
    return np.where(ok, num / np.where(ok, den, 1.0), 0.0)


def _bridge_qrs(x: np.ndarray, r_peaks: np.ndarray, a0: int, b0: int) -> np.ndarray:
    """``x`` (n, leads) with each QRS core [r + a0, r + b0] replaced by a straight line.

    The line joins the samples at either end, so a filter applied afterwards sees no QRS and
    cannot spread it into the F waves next to it; only the kinks at the two ends remain.
    """
    n = x.shape[0]
    out = x.copy()
    w = np.linspace(0.0, 1.0, b0 - a0 + 1)[:, None]
    for r in r_peaks:
        s, e = int(r) + a0, int(r) + b0
        if s < 0 or e >= n or e <= s:
            continue
        out[s : e + 1] = out[s] * (1.0 - w) + out[e] * w
    return out


def flutter_periodicity(
    x: np.ndarray,
    r_peaks: np.ndarray,
    qrs_rel: tuple[int, int],
    rr_med_s: float,
    fs: int,
    *,
    t_waves_cancelled: bool = False,
) -> list[FlutterEvidence]:
    """Sawtooth periodicity at 230-390/min in each lead of ``x`` (n, leads), QRS removed only.

    F waves locked to the QRS (fixed 2:1 or 4:1 conduction) are part of any median beat, so
    they are not looked for in a QRS-T-cancelled residual. Instead the steep QRS core of each
    beat (plus the jitter of its edges) is bridged by a straight line, each lead is passed
    through a second difference over FLUTTER_DIFF_S (gain 4 sin^2(pi f d): about 5.5 times
    more at the 5 Hz F wave than at the 2 Hz T wave), and the bridged core is masked. As
    the QRS is bridged before filtering, the mask need not cover the filter's reach (the
    kinks at the bridge's ends are small beside a QRS), which leaves more F wave between
    the beats. The autocorrelation over the unmasked samples is read at the F period (the
    highest interior peak in 3.8-6.5 Hz) and at its multiples up to three periods that do
    not fall on a multiple of the RR interval (where any rhythm repeats). Flutter waves
    repeat through the whole cycle; P and T waves only with the RR.

    ``t_waves_cancelled``: the T waves are already out of ``x`` (flutter_2to1_periodicity),
    so a first difference over FLUTTER_DIFF_S serves instead (gain 2 |sin(2 pi f d)|): it
    keeps the sawtooth's slow ramp as a steady slope, where a second difference keeps only
    its corners, and both corners lie in or at the edge of the masked QRS when the steep
    limb does.
    """
    n, k_leads = x.shape
    d = max(1, int(c.FLUTTER_DIFF_S * fs))
    # The bridge covers the QRS core and the jitter of its edges; the mask adds the kinks.
    a0 = qrs_rel[0] - int(QRS_MASK_PRE_S * fs)
    b0 = qrs_rel[1] + int(QRS_MASK_POST_S * fs)
    xb = _bridge_qrs(x, r_peaks, a0, b0)
    y = np.zeros_like(x)
    if t_waves_cancelled:
        y[d:-d] = xb[2 * d :] - xb[: -2 * d]
    else:
        y[d:-d] = xb[2 * d :] - 2 * xb[d:-d] + xb[: -2 * d]
    m = np.ones(n)
    m[:d] = m[n - d :] = 0.0
    for r in r_peaks:
        m[max(0, r + a0) : max(0, min(n, r + b0 + 1))] = 0.0
    # F waves and their first harmonics need no more than 250 samples/s: halve the work.
    step = max(1, fs // ANALYSIS_FS)
    fs_d = fs // step
    y = y[::step] * m[::step, None]
    md = m[::step]
    lo, hi = c.FLUTTER_HZ
    lags = np.arange(int(fs_d / hi), int(fs_d / lo) + 1)
    tol = max(1, int(0.01 * fs_d))
    max_lag = 3 * int(lags[-1]) + tol
    if y.shape[0] <= max_lag + fs_d // 50:
        return [FlutterEvidence(None, 0.0)] * k_leads
    full = _masked_acf(y, md, max_lag)
    return [_flutter_lead(full[:, j], lags, tol, rr_med_s * fs_d, fs_d) for j in range(k_leads)]


def _flutter_lead(
    full: np.ndarray, lags: np.ndarray, tol: int, rr_samples: float, fs: int
) -> FlutterEvidence:
    acf = full[lags]
    interior = np.flatnonzero((acf[1:-1] >= acf[:-2]) & (acf[1:-1] >= acf[2:])) + 1
    if interior.size == 0:
        return FlutterEvidence(None, 0.0)
    period = int(lags[int(interior[np.argmax(acf[interior])])])
    values = []
    for k in (1, 2, 3):
        ratio = k * period / rr_samples
        if round(ratio) >= 1 and abs(ratio - round(ratio)) < c.FLUTTER_RR_MULTIPLE_TOLERANCE:
            continue
        values.append(float(full[k * period - tol : k * period + tol + 1].max()))
    if len(values) < 2:
        return FlutterEvidence(None, 0.0)
    return FlutterEvidence(fs / period, min(values))


# Spatial QRS-T cancellation for fixed 2:1 flutter (flutter_2to1_periodicity): the eight
# independent leads of a 12-lead ECG (the other four are sums of I and II), and the number
# of the strongest directions of the median QRS-T in them taken as ventricular: the QRS
# loop is nearly planar (two) and the T loop adds about one. A body-surface ECG is largely
# dipolar (three dimensions, Frank E, Circulation 1956;13:737), so the F waves keep only
# their share outside these directions; that share is still periodic, as scale does not
# enter a normalised autocorrelation (measured in docs/validation.md).
INDEPENDENT_LEADS = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
VENTRICULAR_DIRECTIONS = 3


def flutter_2to1_periodicity(
    diag: np.ndarray,
    med: np.ndarray,
    fid: Fiducials,
    idx: dict[str, int],
    ok: set[str],
    r_peaks: np.ndarray,
    qrs_rel: tuple[int, int],
    rr_med_s: float,
    fs: int,
) -> list[FlutterEvidence] | None:
    """Flutter periodicity in II, III, aVF, V1 after spatial QRS-T cancellation; None
    without all eight independent leads.

    In fixed 2:1 flutter every second F wave falls in the QRS-T, and the whole signal
    repeats every RR: in any one lead the T wave, locked to the QRS like the F waves, lies
    over the ramp of the F wave whose twin half an RR later is visible between the beats,
    so the two halves of the cycle do not look alike (and the F wave at mid-RR reads as a
    P wave). The T wave and the QRS are ventricular: they point in the directions of the
    lead space the median QRS-T spans, while the F waves (atrial) keep a share outside
    them. Removing those directions from every sample (each beat's QRS-T by the same
    projection, so nothing of a beat-to-beat subtraction is needed) leaves atrial activity
    that repeats each half RR through the cycle; the periodicity is then read as in
    flutter_periodicity (QRS core bridged and masked, as its residue is the least well
    cancelled).
    """
    if any(n not in ok for n in INDEPENDENT_LEADS):
        return None
    end = fid.t_end if fid.t_end is not None else fid.qrs_offset + int(0.25 * fs)
    cols = [idx[n] for n in INDEPENDENT_LEADS]
    window = med[fid.qrs_onset : min(end, med.shape[0]), cols]
    if window.shape[0] < int(0.1 * fs):
        return None
    _, _, vt = np.linalg.svd(window - window[0], full_matrices=False)
    ventricular = vt[:VENTRICULAR_DIRECTIONS]
    x = diag[:, cols]
    atrial = x - (x @ ventricular.T) @ ventricular
    i, ii = atrial[:, 0], atrial[:, 1]
    # III = II - I and aVF = II - I/2 (Einthoven, Goldberger), then V1.
    leads = np.stack([ii, ii - i, ii - i / 2, atrial[:, 2]], axis=1)
    return flutter_periodicity(leads, r_peaks, qrs_rel, rr_med_s, fs, t_waves_cancelled=True)


def flutter_from_leads(evidence: list[FlutterEvidence]) -> tuple[float | None, float]:
    """(F-wave rate in Hz or None, periodicity score) from the flutter leads.

    Flutter is one macro-reentrant circuit, so every lead that shows it shows the same
    rate: the call needs two leads periodic above FLUTTER_PERIODICITY at rates within
    FLUTTER_RATE_AGREEMENT_HZ. Periodicity that appears at different rates in different
    leads (tremor, noise, T-wave harmonics) is not flutter.
    """
    good = sorted(
        (e for e in evidence if e.atrial_hz is not None),
        key=lambda e: e.periodicity,
        reverse=True,
    )
    score = good[1].periodicity if len(good) > 1 else 0.0
    strong = [e for e in good if e.periodicity >= c.FLUTTER_PERIODICITY]
    for i, a in enumerate(strong):
        for b in strong[i + 1 :]:
            assert a.atrial_hz is not None and b.atrial_hz is not None
            if abs(a.atrial_hz - b.atrial_hz) <= c.FLUTTER_RATE_AGREEMENT_HZ:
                return (a.atrial_hz + b.atrial_hz) / 2, score
    return None, score


def qrs_widths_ms(diag: np.ndarray, r_peaks: np.ndarray, cols: np.ndarray, fs: int) -> np.ndarray:
    """Per-beat QRS duration (ms, NaN at the record edges) from the spatial velocity.

    The QRS is the block of samples around the beat's fastest point whose velocity over the
    leads ``cols`` exceeds QRS_WIDTH_VELOCITY_FRACTION of that peak, allowing gaps < 20 ms
    and ending at most 40 ms after its steep part (the edge rules of the median-beat
    delineation, applied to each beat).
    """
    half, gap = int(0.15 * fs), int(0.02 * fs)
    out = np.full(r_peaks.size, np.nan)
    for i, r in enumerate(r_peaks):
        if r - half < 0 or r + half > diag.shape[0]:
            continue
        seg = diag[r - half : r + half][:, cols]
        vel = np.sqrt(np.sum(np.gradient(seg - np.median(seg, axis=0), axis=0) ** 2, axis=1))
        active = np.flatnonzero(vel > QRS_WIDTH_VELOCITY_FRACTION * vel.max())
        k = int(np.argmax(vel))
        pos = int(np.searchsorted(active, k))
        lo = hi = pos
        while lo > 0 and active[lo] - active[lo - 1] < gap:
            lo -= 1
        while hi < active.size - 1 and active[hi + 1] - active[hi] < gap:
            hi += 1
        # As in the median-beat delineation: the QRS ends at most 40 ms after its steep
        # part, so a discordant ST-T slope is not counted as QRS.
        steep = np.flatnonzero(vel > QRS_STEEP_FRACTION * vel.max())
        end = min(int(active[hi]), int(steep[-1]) + int(0.04 * fs))
        out[i] = (end - active[lo]) / fs * 1000
    return out


def all_narrow(diag: np.ndarray, r_peaks: np.ndarray, cols: np.ndarray, fs: int) -> bool:
    """True when all but a few complexes (c.NARROW_SHARE) are narrow (< WIDE_QRS_MS):
    conducted beats through the whole strip.

    Waves of fibrillation read as broad complexes (160-300 ms on CUDB cu01), VT beats are
    wide by definition; a supraventricular rhythm at any rate keeps its QRS narrow. Not a
    median: where VF starts in the strip's second half, its narrow sinus beats before it
    are the majority of the detections.
    """
    widths = qrs_widths_ms(diag, r_peaks, cols, fs)
    measured = widths[np.isfinite(widths)]
    return bool(measured.size) and float(np.mean(measured < c.WIDE_QRS_MS)) >= c.NARROW_SHARE


QRS_WIDTH_VELOCITY_FRACTION = 0.12  # edge of the QRS, as delineation.VELOCITY_FRACTION
QRS_STEEP_FRACTION = 0.25  # steep part of the QRS, as delineation.STEEP_FRACTION


def ventricular_run(widths_ms: np.ndarray, dominant: np.ndarray, rr_s: np.ndarray) -> int:
    """Longest run of consecutive wide, non-dominant beats each faster than VT_MIN_BPM.

    Three or more ventricular beats in a row above 100/min are ventricular tachycardia
    (non-sustained when < 30 s; Zeppenfeld K et al., 2022 ESC guidelines, Eur Heart J
    2022;43:3997). Widths above VT_RUN_MAX_QRS_MS are artefact, not QRS.
    """
    rr_prev = np.concatenate(([np.inf], rr_s))
    wide = (widths_ms >= c.WIDE_QRS_MS) & (widths_ms <= c.VT_RUN_MAX_QRS_MS)
    fast = rr_prev < 60.0 / c.VT_MIN_BPM
    best = run = 0
    for hit in (~dominant) & wide & fast:
        run = run + 1 if hit else 0
        best = max(best, run)
    return best


def best_p_coherence(
    diag: np.ndarray,
    med: np.ndarray,
    r_peaks: np.ndarray,
    fid: Fiducials,
    idx: dict[str, int],
    ok: set[str],
    rr_med: float,
    fs: int,
) -> float | None:
    """P-wave coherence in the lead where P waves are clearest (II or V1), as readers look."""
    pre = int(MEDIAN_PRE_S * fs)
    best: float | None = None
    for name in ("II", "V1"):
        if name not in ok:
            continue
        j = idx[name]
        aligned = align_beats(diag[:, j], r_peaks, med[:, j], pre, fs)
        value = p_wave_coherence(diag[:, j], aligned, fid.qrs_onset - pre, rr_med, fs)
        if value is not None and (best is None or value > best):
            best = value
    return best
