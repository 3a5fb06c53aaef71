"""Rhythm decisions: the rhythm features of one ECG, measured once, and the flags they make.

VT, atrial flutter and fibrillation, complete AV block, paced rhythm, severe bradycardia and
tachycardia, the sinus rate statements and first-degree AV block. The measurements they
read (RR irregularity, P-wave coherence, atrial activity, flutter periodicity, ventricular
runs) are in rhythm.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ecg_relay.analysis import criteria as c
from ecg_relay.analysis.beats import MEDIAN_PRE_S
from ecg_relay.analysis.delineation import Fiducials
from ecg_relay.analysis.intervals import Intervals
from ecg_relay.analysis.pacing import Pacing
from ecg_relay.analysis.result import Flag, Severity, rounded
from ecg_relay.analysis.rhythm import (
    AtrialActivity,
    atrial_activity,
    best_p_coherence,
    flutter_2to1_periodicity,
    flutter_from_leads,
    flutter_hz,
    flutter_periodicity,
    p_time_locked,
    qrs_core,
    qrs_widths_ms,
    residual,
    rr_irregularity,
    rr_irregularity_robust,
    ventricular_run,
)


@dataclass(frozen=True)
class RhythmFeatures:
    hr: float  # bpm, 60 / mean RR (the beats per minute)
    rr_med: float  # s
    longest_rr: float  # s; 0 with a single beat
    beats: int
    dominant_share: float  # share of beats of the dominant morphology
    irregular: float  # RR irregularity over all beats
    irregular_dominant: float  # the same between dominant beats when ectopics are isolated
    drr: float  # robust beat-to-beat RR irregularity (median |ΔRR|)
    coherence: float | None  # best P-wave coherence in II or V1; None without a clean lead
    p_present: bool
    flutter_rate: float | None  # Hz, agreed by two flutter leads
    flutter_score: float
    atrial: AtrialActivity | None
    # The flutter rate came from spatial QRS-T cancellation (fixed 2:1 conduction).
    flutter_cancelled: bool = False

    @property
    def regular(self) -> bool:
        return self.irregular < c.AF_IRREGULARITY

    @property
    def regular_underneath(self) -> bool:
        """Regular but for a few beats: one premature beat lifts the RMSSD over the AF
        line, not the median beat-to-beat change."""
        return self.regular or self.drr < c.AF_DRR_MEDIAN


def rhythm_features(
    diag: np.ndarray,
    med: np.ndarray,
    r_peaks: np.ndarray,
    dominant: np.ndarray,
    rr: np.ndarray,
    hr: float,
    fid: Fiducials,
    idx: dict[str, int],
    ok: set[str],
    fs: int,
) -> RhythmFeatures:
    """Everything the rhythm decisions read, from the beats and their median beats."""
    rr_med = float(np.median(rr))
    pre = int(MEDIAN_PRE_S * fs)
    # Ectopic (non-dominant) beats carry no sinus P wave and disturb the RR on both sides:
    # P waves are judged on dominant beats, AF irregularity on RR between two dominant
    # beats (ectopic-beat removal as in Dash S et al., Ann Biomed Eng 2009;37:1701).
    # Premature beats (PACs) have their own P wave at their own PR: judged on the others.
    on_time = np.concatenate(([True], rr >= c.PREMATURE_FRACTION * rr_med))
    sinus_candidates = dominant & on_time
    if sinus_candidates.sum() < 4:
        sinus_candidates = dominant
    coherence = best_p_coherence(diag, med, r_peaks[sinus_candidates], fid, idx, ok, rr_med, fs)
    grouped = _grouped_p_coherence(diag, med, r_peaks, dominant, rr, fid, idx, ok, fs)
    if coherence is not None and grouped is not None:
        coherence = max(coherence, grouped)
    # Ectopic removal only when ectopics are the exception (isolated beats).
    isolated = dominant.mean() >= c.DOMINANT_SHARE_FOR_ECTOPIC_REMOVAL
    rr_dominant = rr[dominant[1:] & dominant[:-1]] if isolated else rr
    if coherence is None:
        # No clean II or V1: fall back to the median-beat P wave and its beat-to-beat lock.
        p_present = fid.p_amplitude_mv is not None and p_time_locked(diag, r_peaks, fid, idx, fs)
    else:
        p_present = coherence >= c.P_COHERENCE_MIN
    drr = rr_irregularity_robust(rr_dominant if rr_dominant.size >= 5 else rr)
    flutter_cols = [idx[n] for n in c.FLUTTER_LEADS if n in ok]
    core = qrs_core(med[:, flutter_cols], pre, fs)
    flutter = flutter_periodicity(diag[:, flutter_cols], r_peaks, core, rr_med, fs)
    flutter_rate, flutter_score = flutter_from_leads(flutter)
    irregular = rr_irregularity(rr)
    # Fixed 2:1 conduction: a regular rhythm at half a flutter rate (115-195/min) whose
    # second F wave hides in the QRS-T. Looked for only there, and taken only at twice
    # the ventricular rate (two F periods make one RR, within the tolerance by which a
    # lag counts as an RR multiple): continuous atrial activity at exactly 2:1.
    lo, hi = c.FLUTTER_HZ
    cancelled = False
    # Regular but for a few beats (as RhythmFeatures.regular_underneath, not built yet).
    regular_underneath = irregular < c.AF_IRREGULARITY or drr < c.AF_DRR_MEDIAN
    if flutter_rate is None and regular_underneath and lo <= 2 / rr_med <= hi:
        ev = flutter_2to1_periodicity(diag, med, fid, idx, ok, r_peaks, core, rr_med, fs)
        if ev is not None:
            rate, score = flutter_from_leads(ev)
            if rate is not None and abs(2 / (rate * rr_med) - 1) < c.FLUTTER_RR_MULTIPLE_TOLERANCE:
                flutter_rate, flutter_score, cancelled = rate, score, True
    irregular_dominant = rr_irregularity(rr_dominant) if rr_dominant.size >= 5 else irregular
    atrial_lead = next((n for n in ("II", "V1", "III", "aVF") if n in ok), None)
    atrial = None
    if atrial_lead is not None:
        j = idx[atrial_lead]
        atrial = atrial_activity(residual(diag[:, [j]], med[:, [j]], r_peaks, fs)[:, 0], fs)
    return RhythmFeatures(
        hr=hr,
        rr_med=rr_med,
        longest_rr=float(rr.max()) if rr.size else 0.0,
        beats=int(r_peaks.size),
        dominant_share=float(dominant.mean()),
        irregular=irregular,
        irregular_dominant=irregular_dominant,
        drr=drr,
        coherence=coherence,
        p_present=p_present,
        flutter_rate=flutter_rate,
        flutter_score=flutter_score,
        atrial=atrial,
        flutter_cancelled=cancelled,
    )


def _grouped_p_coherence(
    diag: np.ndarray,
    med: np.ndarray,
    r_peaks: np.ndarray,
    dominant: np.ndarray,
    rr: np.ndarray,
    fid: Fiducials,
    idx: dict[str, int],
    ok: set[str],
    fs: int,
) -> float | None:
    """P-wave coherence with frequent PACs: the beat-weighted mean of two groups' own.

    With bigeminy or PAC couplets the median RR falls on the PACs' short intervals, so
    "premature" is judged against the upper quartile of the RR (the sinus RR while PACs
    are at most half the beats), and the on-time and the premature beats are each judged
    against their own P wave and PR: a P' from one focus is as coherent as the sinus P.
    Each group needs P_GROUP_MIN_BEATS beats (random atrial activity scores about 1/beats,
    and a 4-beat group scored 0.5 in AF). The mean, not the better group, counts: in a
    strip that is part sinus, part AF the AF beats are "premature", and their low
    coherence must pull the whole down. None when either group is too small.
    """
    sinus_rr = float(np.percentile(rr, 75))
    on_time = np.concatenate(([True], rr >= c.PREMATURE_FRACTION * sinus_rr))
    # Only beats with a whole P window in the strip count, for the sizes and the weights
    # (p_wave_coherence leaves the others out), and only beats with a preceding RR.
    inside = r_peaks >= int(MEDIAN_PRE_S * fs)
    inside[0] = False
    groups = [dominant & on_time & inside, dominant & ~on_time & inside]
    sizes = [int(g.sum()) for g in groups]
    if min(sizes) < c.P_GROUP_MIN_BEATS:
        return None
    values = []
    for g, size in zip(groups, sizes, strict=True):
        # Each group's P window is bounded by its own typical preceding RR. (The lower
        # quartile, which keeps the window off the previous T wave in the group's
        # shortest intervals, was tried: it took JS20010's bigeminy back to AF.)
        group_rr = float(np.median(rr[g[1:]]))
        value = best_p_coherence(diag, med, r_peaks[g], fid, idx, ok, group_rr, fs)
        if value is None:
            return None
        values.append(value * size)
    return sum(values) / sum(sizes)


def ventricular_tachycardia(
    f: RhythmFeatures,
    iv: Intervals,
    diag: np.ndarray,
    r_peaks: np.ndarray,
    dominant: np.ndarray,
    rr: np.ndarray,
    measurable: np.ndarray,
    fs: int,
    *,
    v_paced: bool,
    p_seen: bool,
    aberrant: bool,
) -> Flag | None:
    """VT, sustained or as a run of wide ectopic beats; None when neither.

    ``p_seen``: a P wave stands in the median beat and recurs before every QRS;
    ``aberrant``: that, with typical bundle branch block morphology.
    """
    # A wide-complex tachycardia is VT until proven otherwise (ESC 2022 ventricular
    # arrhythmia guideline): from WCT_PRESUMED_VT_BPM only a seen P wave (aberrant) overrules
    # it. Below, it takes absent P waves and a regular rhythm, so sinus rhythm with a bundle
    # branch block at 100-120/min, whose P wave a long PR can put on the T wave, is not VT.
    organised = f.dominant_share >= 0.5
    sustained_vt = (
        iv.wide
        and not v_paced
        and organised
        and not aberrant
        and (
            f.hr >= c.WCT_PRESUMED_VT_BPM
            or (f.hr >= c.VT_MIN_BPM and not f.p_present and f.regular and f.dominant_share >= 0.7)
        )
    )
    # A run of wide ectopic beats inside an otherwise narrow rhythm (non-sustained VT).
    run = 0
    if not sustained_vt and not v_paced and int((~dominant).sum()) >= c.VT_RUN_BEATS:
        widths = qrs_widths_ms(diag, r_peaks, np.flatnonzero(measurable), fs)
        run = ventricular_run(widths, dominant, rr)
    if not (sustained_vt or run >= c.VT_RUN_BEATS):
        return None
    return Flag(
        "VT",
        Severity.CRITICAL,
        {
            "heart_rate_bpm": rounded(f.hr),
            "qrs_ms": rounded(iv.qrs_ms),
            "p_waves": "present" if p_seen else "absent",
            "wide_beat_run": run if not sustained_vt else None,
            "thresholds": {
                "qrs_ms": c.WIDE_QRS_MS,
                "rate_bpm": c.VT_MIN_BPM,
                "run_beats": c.VT_RUN_BEATS,
            },
        },
    )


def flutter_rate_hz(f: RhythmFeatures, *, vt: bool) -> float | None:
    """The atrial flutter rate (Hz) when flutter is called, else None.

    A regular rhythm whose "F waves" come at three per RR interval is read as sinus (or
    atrial) tachycardia: at 120-140/min the P and T waves of sinus tachycardia split the
    cycle into thirds, which the periodicity path (QRS bridged) and, where the T waves
    cancel imperfectly, the spectral path both take for F waves, while flutter conducts
    2:1 or 4:1 far more often than with a fixed odd ratio. The price: a true fixed 3:1
    flutter is not called (rare), and its ST segment is then judged.
    """
    afl = flutter_hz(f.atrial)
    if afl and (vt or (f.regular_underneath and _twice_the_rate(afl, f.rr_med))):
        # The spectral path reads the QRS-T-cancelled residual, where F waves locked to the
        # QRS by fixed conduction cancel with the median beat (the periodicity paths find
        # those). In a regular rhythm its peak at twice the ventricular rate is what the
        # cancellation left of the QRS-T itself: at 175-195/min the residue of
        # sinus tachycardia with ST elevation read as "flutter", which switched the ST
        # criteria off and hid the STEMI. A VT's residue is no F wave either.
        afl = None
    if not afl and not vt and f.flutter_rate is not None:
        afl = f.flutter_rate
    if afl and f.regular and abs(afl * f.rr_med - 3) < c.FLUTTER_THIRD_TOLERANCE:
        return None
    return afl


def _twice_the_rate(atrial_hz: float, rr_s: float) -> bool:
    """The atrial rate is (nearly) twice the ventricular rate 1 / rr_s.

    Only twice: at four times (60-95/min) the spectral path found nothing in simulated
    sinus rhythm, while it is the only flutter evidence of a 4:1 record whose only flutter
    lead is II (LUDB 52 with III, aVF and V1 left out); three times is the 3:1 rule's.
    """
    return abs(atrial_hz * rr_s - 2) < c.FLUTTER_RR_MULTIPLE_TOLERANCE


def brady_severe_flag(f: RhythmFeatures) -> Flag | None:
    if not (f.hr < c.BRADY_SEVERE_BPM or f.longest_rr > c.PAUSE_S):
        return None
    return Flag(
        "BRADY_SEVERE",
        Severity.CRITICAL,
        {
            "heart_rate_bpm": rounded(f.hr),
            "longest_rr_s": rounded(f.longest_rr, 2),
            "thresholds": {"rate_bpm": c.BRADY_SEVERE_BPM, "pause_s": c.PAUSE_S},
        },
    )


def paced_flag(
    pacing: Pacing, f: RhythmFeatures, *, ventricular: bool, carries_ventricles: bool
) -> Flag:
    """PACED with its evidence. ``ventricular``: the stimulus starts the QRS;
    ``carries_ventricles``: and the paced QRS is wide. P waves at their own faster rate
    beside such a rhythm are the AV block the pacemaker treats, said here rather than as
    AVB3 (the pacemaker carries the ventricles: no green channel)."""
    ev: dict[str, Any] = {
        "pacing": "ventricular" if ventricular else "atrial",
        "paced_beats": int(pacing.paced.sum()),
        "beats": int(pacing.paced.size),
        "stimulus_to_r_ms": rounded(pacing.spike_to_r_ms),
        "stimuli": int(pacing.spikes.size),
    }
    atrial = f.atrial
    if (
        carries_ventricles
        and not f.p_present
        and atrial is not None
        and atrial.p_rate_bpm is not None
        and atrial.p_rate_bpm > c.AVB3_P_TO_QRS_RATIO_PACED * f.hr
    ):
        ev["atrial_rate_bpm"] = rounded(atrial.p_rate_bpm)
        ev["note"] = "P waves not conducted at their own rate: underlying AV block"
    return Flag("PACED", Severity.INFO, ev)


def avb3_flag(f: RhythmFeatures) -> Flag | None:
    """Complete AV block on the patient's own rhythm (a paced rhythm says it with PACED)."""
    atrial = f.atrial
    if atrial is None or atrial.p_rate_bpm is None or not atrial.p_regular:
        return None
    # AV dissociation: P waves at their own faster rate and not locked to the QRS.
    avb3 = (
        f.regular
        and not f.p_present
        and f.hr < c.AVB3_MAX_VENTRICULAR_BPM
        and atrial.p_rate_bpm > c.AVB3_P_TO_QRS_RATIO * f.hr
    )
    if not avb3:
        return None
    return Flag(
        "AVB3",
        Severity.CRITICAL,
        {
            "atrial_rate_bpm": rounded(atrial.p_rate_bpm),
            "ventricular_rate_bpm": rounded(f.hr),
            "p_wave_coherence": rounded(f.coherence, 2),
            "note": "P waves march through at their own rate (AV dissociation)",
        },
    )


def afl_flag(f: RhythmFeatures, rate_hz: float | None) -> Flag | None:
    """AFL at ``rate_hz``, the rate flutter_rate_hz called; None when it called none."""
    if not rate_hz:
        return None
    return Flag(
        "AFL",
        Severity.URGENT,
        {
            "ventricular_rate_bpm": rounded(f.hr),
            "atrial_rate_bpm": rounded(rate_hz * 60),
            "flutter_periodicity": rounded(f.flutter_score, 2),
            "threshold_periodicity": c.FLUTTER_PERIODICITY,
            **(
                {"f_waves": "2:1, seen after spatial QRS-T cancellation"}
                if f.flutter_cancelled and rate_hz == f.flutter_rate
                else {}
            ),
        },
    )


def af_flag(f: RhythmFeatures, *, vt: bool, afl: bool) -> Flag | None:
    # AF: irregular overall (RMSSD) and beat to beat (median ΔRR, not a few ectopics), with no
    # P wave locked to the QRS.
    af = (
        not vt
        and not afl
        and f.beats >= 6
        and f.irregular_dominant >= c.AF_IRREGULARITY
        and f.drr >= c.AF_DRR_MEDIAN
        and not f.p_present
        and f.coherence is not None
    )
    if not af:
        return None
    return Flag(
        "AF",
        Severity.URGENT,
        {
            "ventricular_rate_bpm": rounded(f.hr),
            "rr_irregularity": rounded(f.irregular_dominant, 3),
            "rr_median_abs_diff": rounded(f.drr, 3),
            "p_wave_coherence": rounded(f.coherence, 2),
            "atrial_dominant_hz": rounded(f.atrial.dominant_hz, 2) if f.atrial else None,
            "p_waves": "absent",
            "thresholds": {
                "rr_irregularity": c.AF_IRREGULARITY,
                "rr_median_abs_diff": c.AF_DRR_MEDIAN,
                "p_wave_coherence": c.P_COHERENCE_MIN,
            },
        },
    )


def af_not_evaluated(f: RhythmFeatures) -> str | None:
    """Why AF was not judged, or None when it was."""
    if f.coherence is None and not f.p_present and f.irregular_dominant >= c.AF_IRREGULARITY:
        # An irregular rhythm where no lead shows P waves well enough to judge: not called.
        return "AF: no measurable II or V1 to look for P waves"
    return None


def tachy_severe_flag(f: RhythmFeatures) -> Flag | None:
    if f.hr > c.TACHY_SEVERE_BPM:
        return Flag("TACHY_SEVERE", Severity.URGENT, {"heart_rate_bpm": rounded(f.hr)})
    return None


def sinus_flags(f: RhythmFeatures, iv: Intervals, *, other_rhythm: bool) -> list[Flag]:
    """SINUS_BRADY, SINUS_TACHY and AVB1; ``other_rhythm``: AF, AFL, AVB3 or VT was called."""
    # Sinus rhythm is a P wave before (nearly) every QRS at a fixed PR; premature beats make
    # it irregular but not less sinus, so regularity is not part of the call.
    sinus = f.p_present and not other_rhythm
    # A regular narrow-complex rhythm whose P merges into the T wave at fast rates is
    # still called sinus tachycardia (info only; never a green channel). At slow rates the
    # P wave has the whole diastole to itself: a slow rhythm without one is an escape
    # rhythm (junctional or ventricular), not sinus bradycardia.
    underlying_regular = f.drr < c.AF_DRR_MEDIAN
    rate_sinus = sinus or (underlying_regular and not iv.wide and not other_rhythm)
    rate_ev = {
        "heart_rate_bpm": rounded(f.hr),
        "p_wave_coherence": rounded(f.coherence, 2),
        "p_waves": "present" if f.p_present else "not seen (regular narrow rhythm)",
    }
    flags: list[Flag] = []
    if sinus and f.hr < c.SINUS_BRADY_BPM:
        flags.append(
            Flag("SINUS_BRADY", Severity.INFO, {**rate_ev, "threshold_bpm": c.SINUS_BRADY_BPM})
        )
    if rate_sinus and c.SINUS_TACHY_BPM < f.hr <= c.TACHY_SEVERE_BPM:
        flags.append(
            Flag("SINUS_TACHY", Severity.INFO, {**rate_ev, "threshold_bpm": c.SINUS_TACHY_BPM})
        )
    if sinus and iv.pr_ms is not None and iv.pr_ms > c.PR_LONG_MS:
        flags.append(
            Flag("AVB1", Severity.INFO, {"pr_ms": rounded(iv.pr_ms), "threshold_ms": c.PR_LONG_MS})
        )
    return flags
