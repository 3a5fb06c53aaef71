"""Fiducial points on median beats: QRS onset/offset (J point), T end, P wave, ST levels."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ecg_relay.analysis import filters
from ecg_relay.analysis.beats import median_of_stack

ONSET_SEARCH_S = 0.15
OFFSET_SEARCH_S = 0.20
LEAD_WEIGHT_FLOOR = 0.25  # a lead counts as if its QRS slope were >= 25% of the largest
VELOCITY_FRACTION = 0.08  # of the peak spatial velocity: end of the QRS
# The QRS starts slowly (small septal q): a lower fraction finds the first deflection, not
# the R upstroke (which put the onset 10-12 ms late on simulated beats of known onset).
ONSET_VELOCITY_FRACTION = 0.06
STEEP_FRACTION = 0.25
OFFSET_AFTER_STEEP_S = 0.04
QUIET_ONSET_S = 0.010
# An edge must also stand above the noise: twice the mean velocity, over the quietest 40 ms of
# the median beat, of its part above 15 Hz (muscle tremor; the P and T waves' slopes lie
# below, and at fast rates no stretch of the beat is free of them). Tremor that survives the
# median kept the velocity above 6% of its peak all through a low-voltage PR segment, and the
# QRS onset walked back to the search limit (a 200 ms "QRS" read as VT).
NOISE_FLOOR_FACTOR = 2.0
NOISE_FLOOR_WINDOW_S = 0.040
NOISE_FLOOR_HZ = 15.0
QUIET_OFFSET_S = 0.016
BASELINE_WINDOW_S = (0.035, 0.010)  # PR segment: 35 to 10 ms before QRS onset
BASELINE_DRIFT_MV = 0.05
ST_J_WINDOW_S = 0.008  # ST at J averaged over 8 ms
ST_60_S = 0.060  # J + 60 ms
JT_SEARCH_S = 0.040  # a J wave (notch or slur) ends within 40 ms of the QRS end
T_SEARCH_MAX_S = 0.60  # T end at most 600 ms after R
T_SEARCH_RR_FRACTION = 0.85
T_BEFORE_NEXT_P_S = 0.02  # stop the T search 20 ms before the next P onset
T_MIN_WINDOW_S = 0.08  # shorter than this: no T wave to measure
# The tangent is drawn on the beats below 20 Hz, where the T wave lies: muscle tremor left in
# the median beat made the steepest "descent" a noise spike and the T end 100 ms late.
T_SMOOTH_HZ = 20.0
T_LIMB_END_FRACTION = 0.1  # the descending limb ends where the T is back to 10% of its peak
T_MIN_MV = 0.10  # a T wave this tall has a usable down-slope for the tangent
# The standard takes the latest T end over the leads (Rautaharju 2009); the upper quartile of
# the per-lead ends keeps that intent without letting one noisy lead set the QT.
T_END_PERCENTILE = 75.0
P_MIN_MV = 0.04  # smallest P wave we call present in the median beat
P_HALF_MAX_S = 0.06  # P onset at most 60 ms before its peak (P duration < 120 ms)
P_EDGE_SAMPLES = 2  # a P extremum this close to the search window's start is a slope


@dataclass(frozen=True)
class Fiducials:
    r: int
    qrs_onset: int
    qrs_offset: int  # the J point
    t_end: int | None
    p_onset: int | None
    p_offset: int | None
    p_amplitude_mv: float | None
    baseline: np.ndarray  # per lead, mV
    st_j: np.ndarray  # per lead, mV relative to PR baseline
    st_jt: np.ndarray  # per lead, mV at the end of a J notch/slur (Jt), for ST elevation
    st_j60: np.ndarray
    t_amplitude: np.ndarray  # per lead, signed extreme after J + 60 ms, mV
    t_max: np.ndarray  # per lead, most positive value in the T window, mV
    t_min: np.ndarray  # per lead, most negative value in the T window, mV
    qrs_area: np.ndarray  # per lead, mV*s (net, baseline-corrected)
    qrs_ptp: np.ndarray  # per lead, mV
    r_amplitude: np.ndarray  # per lead, largest positive QRS deflection from baseline, mV
    s_amplitude: np.ndarray  # per lead, deepest negative QRS deflection from baseline, mV (<= 0)
    terminal_qrs: np.ndarray  # mean of the last 40 ms of QRS per lead, mV
    baseline_stable: np.ndarray  # bool per lead: the PR segment is a usable ST reference
    # The P wave's extremum lies inside its search window: a bump, not the slope of the
    # previous T wave running into the window (a P wave cut by the window start is measured
    # but not "distinct"). Judged in the lead the P wave is measured in (II where usable),
    # while P-wave coherence takes the better of II and V1.
    p_distinct: bool


def _quiet_run(mask: np.ndarray, start: int, step: int, need: int) -> int:
    """First index from ``start`` (moving by ``step``) where ``mask`` is False ``need`` times."""
    run = 0
    i = start
    while 0 <= i < mask.size:
        run = run + 1 if not mask[i] else 0
        if run >= need:
            return i - step * (need - 1)
        i += step
    return int(np.clip(i - step, 0, mask.size - 1))


def _quietest_mean(x: np.ndarray, width: int) -> float:
    """The lowest mean of ``x`` over any ``width`` consecutive samples."""
    if x.size <= width:
        return float(x.mean()) if x.size else 0.0
    c = np.concatenate(([0.0], np.cumsum(x)))
    return float((c[width:] - c[:-width]).min() / width)


def _lead_weights(good: np.ndarray, a: int, b: int) -> np.ndarray:
    """Each lead's weight in the spatial velocity: the inverse of its own QRS slope.

    Leads with large R waves (V2-V4) would otherwise dominate the sum, and the terminal S
    wave of a small limb lead (the true end of the QRS there) would fall below the edge
    threshold, putting the J point inside the QRS. A lead's weight is capped so a lead
    with a tiny QRS does not make its T wave look like QRS (CSE Working Party: the global
    QRS end is the latest end over all leads; Willems JL et al., J Am Coll Cardiol
    1985;5:1261).

    ``good`` holds the (window, leads) median beats in mV and ``a``, ``b`` the QRS search
    window; the velocity comes out in mV/sample of the strongest lead's scale.
    """
    d = np.gradient(good, axis=0)
    slope = np.abs(d[a:b]).max(axis=0) if b > a else np.abs(d).max(axis=0)
    floor = LEAD_WEIGHT_FLOOR * float(slope.max()) + 1e-12
    return float(slope.max()) / np.maximum(slope, floor)


def _weighted_velocity(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    return np.sqrt(np.sum((np.gradient(x, axis=0) * weight[None, :]) ** 2, axis=1))


def _velocity_noise_floor(good: np.ndarray, weight: np.ndarray, fs: int) -> float:
    """NOISE_FLOOR_FACTOR times the quietest mean velocity of the beats' part above 15 Hz."""
    # A high-pass is enough: the median beats are already below the 40 Hz measurement band.
    vel = _weighted_velocity(filters.band_pass(good, fs, NOISE_FLOOR_HZ, None), weight)
    return NOISE_FLOOR_FACTOR * _quietest_mean(vel, max(1, int(NOISE_FLOOR_WINDOW_S * fs)))


def _st_at_jt(
    rel: np.ndarray, offset: int, width: int, search: int, st_j: np.ndarray
) -> np.ndarray:
    """ST level at Jt, the end of a J wave, per lead (mV).

    Where the signal still falls after the global QRS end (a J notch or slur, or the last
    of an R wave), the ST elevation is read where the fall stops: early repolarisation
    consensus, Macfarlane PW et al., J Am Coll Cardiol 2015;66:470 (ST measured at Jt).
    Leads that are flat or rise after J keep their value at J, and so do leads still
    falling 40 ms after J (a coved, downsloping ST segment is ST elevation at J).
    """
    stop = min(rel.shape[0] - width, offset + search)
    if stop <= offset + 1:
        return st_j.copy()
    kernel = np.ones(width) / width
    out = st_j.copy()
    for lead in range(rel.shape[1]):
        seg = np.convolve(rel[offset : stop + width, lead], kernel, mode="valid")
        i = 0
        while i + 1 < seg.size and seg[i + 1] < seg[i]:
            i += 1
        # Still falling at the end of the search: a downsloping (coved) ST segment, not a
        # J wave; its elevation is read at J.
        if i + 1 < seg.size:
            out[lead] = min(float(seg[i]), float(st_j[lead]))
    return out


def _t_window(
    n: int, offset: int, r: int, p_onset: int | None, rr_s: float, fs: int
) -> tuple[int, int]:
    """Samples where the T wave is searched: from J + 60 ms to before the next P wave.

    At faster rates the next beat's P wave falls inside a fixed window and its end was
    taken for the T end (QTc > 600 ms at 100-115/min); the next P onset is this beat's P
    onset one RR later.
    """
    t_start = offset + int(0.06 * fs)
    t_stop = min(n, r + int(min(T_SEARCH_MAX_S, T_SEARCH_RR_FRACTION * rr_s) * fs))
    if p_onset is not None:
        next_p = p_onset + int(rr_s * fs) - int(T_BEFORE_NEXT_P_S * fs)
        if next_p - t_start > int(2 * T_MIN_WINDOW_S * fs):
            t_stop = min(t_stop, next_p)
    return t_start, t_stop


def _tangent_end(x: np.ndarray, peak: int, stop: int) -> int | None:
    """T end by the tangent method: the steepest point of the T wave's descending limb (from
    its peak until it has come back to T_LIMB_END_FRACTION of the peak), extended to the
    baseline.

    A steeper slope after the limb belongs to something else (a U wave, a flutter wave, the
    next P wave, a spike of noise) and does not set the T end.
    """
    seg = x[peak:stop]
    if seg.size < 3:
        return None
    slope = np.gradient(seg)
    sign = -np.sign(x[peak])
    back = np.flatnonzero(-sign * seg <= T_LIMB_END_FRACTION * abs(x[peak]))
    limb_end = int(back[0]) + 1 if back.size else seg.size
    steepest = int(np.argmax(slope[:limb_end] * sign))
    s = slope[steepest]
    if s * sign <= 1e-6:
        return None
    end = round(peak + steepest + (0.0 - x[peak + steepest]) / s)
    return int(np.clip(end, peak, stop - 1))


def _t_end(
    rel: np.ndarray, usable: np.ndarray, window: tuple[int, int], fs: int
) -> tuple[int | None, np.ndarray, np.ndarray, np.ndarray]:
    """T end (sample) and the T amplitudes per lead (signed extreme, max, min; mV).

    The tangent method (Lepeschkin E, Surawicz B, Circulation 1952;6:378) is applied in
    every usable lead whose T wave is well formed (>= T_MIN_MV and >= half the largest);
    the upper quartile of those ends is the T end: late as the standard asks (the latest
    end over simultaneous leads, Rautaharju 2009), but one lead with a noisy T, or a U
    wave, does not set the QT. The search stops before the next P wave.
    """
    n_leads = rel.shape[1]
    zeros = np.zeros(n_leads)
    t_start, t_stop = window
    if t_stop - t_start <= int(T_MIN_WINDOW_S * fs):
        return None, zeros, zeros, zeros
    seg = rel[t_start:t_stop]
    t_idx = np.argmax(np.abs(seg), axis=0)
    t_amp = seg[t_idx, np.arange(n_leads)]
    t_max, t_min = seg.max(axis=0), seg.min(axis=0)
    size = np.where(usable, np.abs(t_amp), 0.0)
    largest = float(size.max())
    if largest <= T_MIN_MV / 2:
        return None, t_amp, t_max, t_min
    leads = np.flatnonzero(size >= max(T_MIN_MV, 0.5 * largest))
    if leads.size == 0:
        leads = np.array([int(np.argmax(size))])
    smooth = filters.band_pass(rel[:, leads], fs, None, T_SMOOTH_HZ)
    peaks = t_start + np.argmax(np.abs(smooth[t_start:t_stop]), axis=0)
    ends = [
        e
        for k in range(leads.size)
        if (e := _tangent_end(smooth[:, k], int(peaks[k]), t_stop)) is not None
    ]
    if not ends:
        return None, t_amp, t_max, t_min
    return round(float(np.percentile(ends, T_END_PERCENTILE))), t_amp, t_max, t_min


def _st_levels(
    med: np.ndarray, onset: int, offset: int, fs: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """PR baseline, its stability, and ST at J, Jt and J+60 ms per lead (mV) of ``med``."""
    b0 = max(0, onset - int(BASELINE_WINDOW_S[0] * fs))
    b1 = max(b0 + 1, onset - int(BASELINE_WINDOW_S[1] * fs))
    baseline = median_of_stack(med[b0:b1])
    # A PR segment that slopes (flutter waves locked to the QRS, a P wave running into
    # the QRS) is no reference for ST: such leads are left out of the ST criteria.
    edge = max(1, (b1 - b0) // 4)
    drift = np.abs(median_of_stack(med[b1 - edge : b1]) - median_of_stack(med[b0 : b0 + edge]))
    rel = med - baseline
    j1 = min(rel.shape[0], offset + max(1, int(ST_J_WINDOW_S * fs)))
    st_j = rel[offset:j1].mean(axis=0)
    st_jt = _st_at_jt(rel, offset, j1 - offset, int(JT_SEARCH_S * fs), st_j)
    k = min(rel.shape[0] - 1, offset + int(ST_60_S * fs))
    st_j60 = rel[max(0, k - 2) : k + 3].mean(axis=0)
    return baseline, drift < BASELINE_DRIFT_MV, st_j, st_jt, st_j60


def delineate(
    med: np.ndarray,
    fs: int,
    r: int,
    usable: np.ndarray,
    rr_s: float,
    p_lead_idx: tuple[int, ...] = (),
) -> Fiducials:
    """Fiducials of the median beats ``med`` (window, leads) with R at index ``r``."""
    cols = np.flatnonzero(usable)
    good = med[:, cols] if cols.size else med
    a, b = (
        max(1, r - int(ONSET_SEARCH_S * fs)),
        min(med.shape[0] - 1, r + int(OFFSET_SEARCH_S * fs)),
    )
    weight = _lead_weights(good, a, b)
    vel = _weighted_velocity(good, weight)
    peak = float(vel[a:b].max()) if b > a else float(vel.max())
    # Capped at the steep fraction: a floor above the dip at the R apex (or in the notch of an
    # M-shaped QRS, ~35% of the peak) would stop the onset search at R itself.
    floor = min(_velocity_noise_floor(good, weight, fs), STEEP_FRACTION * peak)
    active = vel > max(VELOCITY_FRACTION * peak, floor)
    starting = vel > max(ONSET_VELOCITY_FRACTION * peak, floor)
    onset = _quiet_run(starting, r, -1, max(1, int(QUIET_ONSET_S * fs)))
    onset = max(onset, a)
    # The end of the steep part of the QRS bounds the search, so a sloping ST segment or
    # an early T wave (wide complexes, discordant ST-T) is not counted as QRS.
    steep = np.flatnonzero(vel[r:b] > STEEP_FRACTION * peak)
    last_steep = r + int(steep[-1]) if steep.size else r
    offset = _quiet_run(active, last_steep, +1, max(1, int(QUIET_OFFSET_S * fs)))
    offset = min(offset, b, last_steep + int(OFFSET_AFTER_STEEP_S * fs))

    baseline, baseline_stable, st_j, st_jt, st_j60 = _st_levels(med, onset, offset, fs)
    # The PR segment again, for the P wave's noise floor below.
    b0 = max(0, onset - int(BASELINE_WINDOW_S[0] * fs))
    b1 = max(b0 + 1, onset - int(BASELINE_WINDOW_S[1] * fs))
    rel = med - baseline

    qrs = rel[onset : offset + 1]
    qrs_area = qrs.sum(axis=0) / fs
    qrs_ptp = np.ptp(qrs, axis=0) if qrs.shape[0] > 1 else np.zeros(med.shape[1])
    r_amp = np.maximum(qrs.max(axis=0), 0.0) if qrs.shape[0] else np.zeros(med.shape[1])
    s_amp = np.minimum(qrs.min(axis=0), 0.0) if qrs.shape[0] else np.zeros(med.shape[1])
    tail = rel[max(onset, offset - int(0.04 * fs)) : offset + 1]
    terminal = tail.mean(axis=0)

    # P wave: the largest bump before the QRS in the lead where it is largest.
    p_onset = None
    p_offset = None
    p_amp = None
    p_distinct = False
    # Start after the previous beat's T wave: at fast rates it sits where a P would be.
    p0 = max(0, onset - int(0.30 * fs), r - int(0.45 * rr_s * fs))
    p1 = onset - int(0.04 * fs)
    if p1 - p0 > int(0.05 * fs):
        seg = rel[p0:p1]
        amp_idx = np.argmax(np.abs(seg), axis=0)
        amps = seg[amp_idx, np.arange(seg.shape[1])]
        p_leads = np.zeros(usable.size, dtype=bool)
        p_leads[[i for i in p_lead_idx if i < usable.size]] = True
        candidates = usable & p_leads if (usable & p_leads).any() else usable
        masked = np.where(candidates, np.abs(amps), 0.0)
        lead = int(np.argmax(masked))
        # P must stand clear of the PR-segment noise in this median beat.
        noise = float(np.std(rel[b0:b1, lead])) if b1 > b0 else 0.0
        if abs(amps[lead]) >= P_MIN_MV and abs(amps[lead]) > 4 * noise:
            p_amp = float(amps[lead])
            peak_i = p0 + int(amp_idx[lead])
            p_distinct = int(amp_idx[lead]) > P_EDGE_SAMPLES
            x = np.abs(rel[:, lead])
            i = peak_i
            # A P wave rises over at most ~60 ms (P duration < 120 ms): never walk further,
            # or noise and the previous T wave would be taken for the P onset.
            earliest = max(p0, peak_i - int(P_HALF_MAX_S * fs))
            while i > earliest and x[i] > 0.2 * abs(p_amp):
                i -= 1
            p_onset = i
            # The same 20% level on the way down, never into the PR segment's end (QRS
            # onset) nor further than the 60 ms half-duration bound.
            j = peak_i
            latest = min(onset - 1, peak_i + int(P_HALF_MAX_S * fs))
            while j < latest and x[j] > 0.2 * abs(p_amp):
                j += 1
            p_offset = j
    t_window = _t_window(rel.shape[0], offset, r, p_onset, rr_s, fs)
    t_end, t_amp, t_max, t_min = _t_end(rel, usable, t_window, fs)
    return Fiducials(
        r=r,
        qrs_onset=onset,
        qrs_offset=offset,
        t_end=t_end,
        p_onset=p_onset,
        p_offset=p_offset,
        p_amplitude_mv=p_amp,
        baseline=baseline,
        st_j=st_j,
        st_jt=st_jt,
        st_j60=st_j60,
        t_amplitude=t_amp,
        t_max=t_max,
        t_min=t_min,
        qrs_area=qrs_area,
        qrs_ptp=qrs_ptp,
        r_amplitude=r_amp,
        s_amplitude=s_amp,
        terminal_qrs=terminal,
        baseline_stable=baseline_stable,
        p_distinct=p_distinct,
    )


def pr_knot_offset(fid: Fiducials, fs: int) -> tuple[int, int]:
    """Where the PR-segment reference lies relative to R (samples), and its half width.

    The same window as the ST baseline of `delineate`, so a spline through these knots
    makes each beat's PR segment the zero that ST is read against.
    """
    a = fid.qrs_onset - int(BASELINE_WINDOW_S[0] * fs)
    b = fid.qrs_onset - int(BASELINE_WINDOW_S[1] * fs)
    return (a + b) // 2 - fid.r, max(1, (b - a) // 2)


def with_st_from(med_st: np.ndarray, fid: Fiducials, fs: int) -> Fiducials:
    """``fid`` with its PR baseline and ST levels read from other median beats ``med_st``.

    ``med_st`` are median beats of the isoelectric-corrected signal (same alignment as
    the ones ``fid`` was delineated on); the fiducial points stay where they were found, and
    so does ``fid.baseline``, the PR level of the median beats that QRS and T amplitudes are
    measured on.
    """
    _baseline, stable, st_j, st_jt, st_j60 = _st_levels(med_st, fid.qrs_onset, fid.qrs_offset, fs)
    return replace(fid, baseline_stable=stable, st_j=st_j, st_jt=st_jt, st_j60=st_j60)
