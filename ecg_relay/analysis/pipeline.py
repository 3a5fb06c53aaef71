"""The full analysis of one ECG: quality → beats → median beats → measurements → flags."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ecg_relay.analysis import criteria as c
from ecg_relay.analysis import filters
from ecg_relay.analysis.beats import MEDIAN_PRE_S, detect_qrs, median_beats, type_beats
from ecg_relay.analysis.conduction import bundle_branch_block
from ecg_relay.analysis.delineation import Fiducials, delineate, pr_knot_offset, with_st_from
from ecg_relay.analysis.ischaemia import st_flags, st_levels
from ecg_relay.analysis.leads import (
    CHEST_LEADS,
    LIMB_LEADS,
    normalise_lead,
)
from ecg_relay.analysis.pacing import MIN_FS as PACING_MIN_FS
from ecg_relay.analysis.pacing import Pacing, paced_beats, pacing_spikes, remove_spikes
from ecg_relay.analysis.quality import lead_quality, limb_reversal_suspected, qrs_to_noise
from ecg_relay.analysis.result import ALGORITHM_VERSION, AnalysisResult, Flag, Severity
from ecg_relay.analysis.rhythm import (
    atrial_activity,
    best_p_coherence,
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
    vf_spectrum_fraction,
)

FS = filters.TARGET_FS
DETECTABLE = frozenset({"ok", "noise", "wander", "mains"})
MEASURABLE = frozenset({"ok", "mains"})


def _r(value: float | None, nd: int = 1) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), nd)


def _unreadable(
    reason: str, quality: dict[str, str], extra: dict[str, Any] | None = None
) -> AnalysisResult:
    return AnalysisResult(
        algorithm_version=ALGORITHM_VERSION,
        readable=False,
        heart_rate_bpm=None,
        measurements={"unreadable_reason": reason, **(extra or {})},
        lead_quality=quality,
        flags=(Flag("REPEAT_ECG", Severity.URGENT, {"reason": reason}),),
    )


def analyze(
    signals: np.ndarray,
    fs: float,
    lead_names: Sequence[str],
    *,
    sex: str | None = None,
    age: float | None = None,
    mains_hz: float = 50.0,
) -> AnalysisResult:
    """Measure one ECG and flag acute patterns.

    Parameters
    ----------
    signals : (n_samples, n_leads) array in physical units (mV).
    fs : sampling rate in Hz.
    lead_names : one name per column; common spellings are normalised ('ii', 'AVF', 'MLII').
    sex : 'M', 'F' or None; age : years or None. Unknown sex or age makes the V2-V3
        ST-elevation threshold the most sensitive one (4th UDMI).
    mains_hz : mains frequency for the notch filter (50 Hz in China).
    """
    x = np.asarray(signals, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] != len(lead_names):
        raise ValueError(f"signals shape {x.shape} does not match {len(lead_names)} lead names")
    names = [normalise_lead(n) for n in lead_names]
    if fs <= 0 or x.shape[0] < 2 * fs:
        return _unreadable("too_short", dict.fromkeys(names, "missing"))

    finite = np.isfinite(x)
    all_finite = bool(finite.all())
    nan_frac = np.zeros(x.shape[1]) if all_finite else np.mean(~finite, axis=0)
    if not all_finite:
        # Missing samples (WFDB's sentinel, NaN, inf) take the lead's median value.
        fill = np.zeros(x.shape[1])
        some = finite.any(axis=0)
        fill[some] = np.nanmedian(np.where(finite[:, some], x[:, some], np.nan), axis=0)
        x = np.where(finite, x, fill)
    # Pacing stimuli are found at the recorded rate, before resampling spreads them, and
    # bridged before anything else reads the signal: their energy is not muscle noise, not
    # QRS and not a wave for the filters.
    spikes = None
    if fs >= PACING_MIN_FS:
        rate = round(fs)
        found = pacing_spikes(x, rate, np.ptp(x, axis=0) > 0)
        x = remove_spikes(x, found, rate)
        spikes = np.round(found * (FS / fs)).astype(int)
    x = filters.resample(x, fs)
    labels = lead_quality(x, FS, mains_hz)
    labels = ["missing" if nan_frac[j] > 0.1 else lab for j, lab in enumerate(labels)]
    quality = dict(zip(names, labels, strict=True))
    detectable = np.array([lab in DETECTABLE for lab in labels])
    measurable = np.array([lab in MEASURABLE for lab in labels])
    if not detectable.any():
        return _unreadable("all_leads_flat_or_missing", quality)
    if detectable.sum() < max(1, int(np.ceil(0.5 * len(names)))):
        return _unreadable("too_many_bad_leads", quality)
    all_noisy = not measurable.any()
    if all_noisy:
        measurable = detectable

    measured = filters.measurement_band(x, FS, mains_hz)
    diag = filters.high_pass(measured, FS)
    band = filters.detection(x, FS)
    r_peaks = detect_qrs(band, FS, detectable)
    dominant = type_beats(diag, r_peaks, FS, detectable)
    amp = float(max(np.ptp(diag[:, j]) for j in np.flatnonzero(detectable)))
    dom_share = float(dominant.mean()) if r_peaks.size else 0.0

    # Lethal rhythms first: no organised QRS complexes. Below 0.3 mV in every lead
    # there is no QRS to detect, whatever the detector found in the noise.
    # Fibrillation waves fool any QRS detector; what it finds on them has no consistent RR.
    chaotic = r_peaks.size >= 3 and rr_irregularity(np.diff(r_peaks) / FS) >= c.VF_RR_CHAOS
    # The VF spectrum (a Welch estimate over every lead) only decides records that already
    # look disorganised or flat; an organised record cannot meet the criteria below
    # whatever its spectrum, so it skips the estimate.
    suspect = r_peaks.size < 3 or dom_share < 0.5 or chaotic or amp < c.ASYSTOLE_MAX_MV
    vf_frac = (
        float(np.median(vf_spectrum_fraction(diag[:, np.flatnonzero(detectable)], FS)))
        if suspect
        else 0.0
    )
    if suspect and (
        r_peaks.size < 3
        # Mixed morphologies (paced and own beats, bigeminy) are no dominant majority but
        # still organised; only with chaotic RR or a VF spectrum do they mean fibrillation.
        or (dom_share < 0.5 and (chaotic or vf_frac >= c.VF_SPECTRAL_FRACTION))
        or amp < c.ASYSTOLE_MAX_MV
        or (chaotic and vf_frac >= c.VF_SPECTRAL_FRACTION)
    ):
        ev = {
            "spectral_3_9hz_fraction": round(vf_frac, 2),
            "amplitude_mv": round(amp, 2),
            "detected_complexes": int(r_peaks.size),
        }
        if vf_frac >= c.VF_SPECTRAL_FRACTION and amp >= c.VF_MIN_AMPLITUDE_MV:
            flag = Flag(
                "VF_ASYSTOLE", Severity.CRITICAL, {"rhythm": "ventricular_fibrillation", **ev}
            )
        elif amp < c.ASYSTOLE_MAX_MV:
            flag = Flag("VF_ASYSTOLE", Severity.CRITICAL, {"rhythm": "asystole", **ev})
        else:
            # Unreadable, so no rate or measurement; the complexes the detector found are
            # still reported (input-rate samples) so a display can mark them on the trace.
            # VF and asystole report none: fibrillation waves are not QRS complexes.
            peaks = [round(p * fs / FS) for p in r_peaks]
            return _unreadable("no_organised_qrs", quality, {**ev, "r_peaks": peaks})
        return AnalysisResult(
            ALGORITHM_VERSION, True, None, {"beats": int(r_peaks.size), **ev}, quality, (flag,)
        )

    rr = np.diff(r_peaks) / FS
    hr = 60.0 / float(np.median(rr))
    mean_rr = float(np.mean(rr))
    med = median_beats(diag, r_peaks, dominant, FS)
    if med is None:
        return _unreadable("no_complete_beat", quality)
    if all_noisy and qrs_to_noise(x, measured, med, detectable, FS) < c.MIN_QRS_TO_NOISE:
        # Noise on every lead and no QRS standing out of it in the median beat: what the
        # detector found is the noise itself (white noise read as VT before). Muscle tremor
        # over a real ECG leaves the QRS far above the noise and is analysed.
        peaks = [round(p * fs / FS) for p in r_peaks]
        return _unreadable("all_leads_noisy", quality, {"r_peaks": peaks})
    # P waves are judged in the leads where they are clearest (II, V1), as readers do.
    p_leads = tuple(i for i, n in enumerate(names) if n == "II") or tuple(
        i for i, n in enumerate(names) if n == "V1"
    )
    fid = delineate(med, FS, int(MEDIAN_PRE_S * FS), measurable, float(np.median(rr)), p_leads)
    # ST is read on median beats of the spline-corrected signal: no high-pass touches it.
    knot, half = pr_knot_offset(fid, FS)
    st_signal = filters.isoelectric_corrected(measured, r_peaks[dominant] + knot, half)
    med_st = median_beats(st_signal, r_peaks, dominant, FS)
    if med_st is not None:
        fid = with_st_from(med_st, fid, FS)
    return _assess(
        names,
        quality,
        measurable,
        diag,
        med,
        r_peaks,
        dominant,
        rr,
        hr,
        mean_rr,
        fid,
        fs,
        paced_beats(spikes, r_peaks, FS) if spikes is not None else None,
        sex=sex,
        age=age,
    )


def _assess(
    names: list[str],
    quality: dict[str, str],
    measurable: np.ndarray,
    diag: np.ndarray,
    med: np.ndarray,
    r_peaks: np.ndarray,
    dominant: np.ndarray,
    rr: np.ndarray,
    hr: float,
    mean_rr: float,
    fid: Fiducials,
    input_fs: float,
    pacing: Pacing | None,
    *,
    sex: str | None,
    age: float | None,
) -> AnalysisResult:
    idx = {n: i for i, n in reversed(list(enumerate(names)))}
    ok = {n for n, i in idx.items() if measurable[i]}
    st_ok = {n for n in ok if fid.baseline_stable[idx[n]]}
    st_j = {n: float(fid.st_j[i]) for n, i in idx.items()}
    st_60 = {n: float(fid.st_j60[i]) for n, i in idx.items()}
    qrs_ms = (fid.qrs_offset - fid.qrs_onset) / FS * 1000
    qt_ms = (fid.t_end - fid.qrs_onset) / FS * 1000 if fid.t_end is not None else None
    rr_med = float(np.median(rr))
    qtc_b = qt_ms / np.sqrt(rr_med) if qt_ms else None
    qtc_f = qt_ms / np.cbrt(rr_med) if qt_ms else None
    pre = int(MEDIAN_PRE_S * FS)
    # Ectopic (non-dominant) beats carry no sinus P wave and disturb the RR on both sides:
    # P waves are judged on dominant beats, AF irregularity on RR between two dominant
    # beats (ectopic-beat removal as in Dash S et al., Ann Biomed Eng 2009;37:1701).
    # Premature beats (PACs) have their own P wave at their own PR: judged on the others.
    on_time = np.concatenate(([True], rr >= c.PREMATURE_FRACTION * rr_med))
    sinus_candidates = dominant & on_time
    if sinus_candidates.sum() < 4:
        sinus_candidates = dominant
    coherence = best_p_coherence(diag, med, r_peaks[sinus_candidates], fid, idx, ok, rr_med, FS)
    # Ectopic removal only when ectopics are the exception (isolated beats).
    isolated = dominant.mean() >= c.DOMINANT_SHARE_FOR_ECTOPIC_REMOVAL
    rr_dominant = rr[dominant[1:] & dominant[:-1]] if isolated else rr
    if coherence is None:
        # No clean II or V1: fall back to the median-beat P wave and its beat-to-beat lock.
        p_present = fid.p_amplitude_mv is not None and p_time_locked(diag, r_peaks, fid, idx, FS)
    else:
        p_present = coherence >= c.P_COHERENCE_MIN
    drr = rr_irregularity_robust(rr_dominant if rr_dominant.size >= 5 else rr)
    flutter_cols = [idx[n] for n in c.FLUTTER_LEADS if n in ok]
    flutter = flutter_periodicity(
        diag[:, flutter_cols], r_peaks, qrs_core(med[:, flutter_cols], pre, FS), rr_med, FS
    )
    flutter_rate, flutter_score = flutter_from_leads(flutter)
    pr_ms = (fid.qrs_onset - fid.p_onset) / FS * 1000 if fid.p_onset is not None else None
    p_ms = (
        (fid.p_offset - fid.p_onset) / FS * 1000
        if fid.p_onset is not None and fid.p_offset is not None
        else None
    )
    axis = None
    if "I" in idx and "aVF" in idx:
        axis = float(np.degrees(np.arctan2(fid.qrs_area[idx["aVF"]], fid.qrs_area[idx["I"]])))
    irregular = rr_irregularity(rr)
    irregular_dominant = rr_irregularity(rr_dominant) if rr_dominant.size >= 5 else irregular
    atrial_lead = next((n for n in ("II", "V1", "III", "aVF") if n in ok), None)
    atrial = None
    if atrial_lead is not None:
        j = idx[atrial_lead]
        atrial = atrial_activity(residual(diag[:, [j]], med[:, [j]], r_peaks, FS)[:, 0], FS)

    flags: list[Flag] = []
    not_evaluated: list[str] = []
    wide = qrs_ms >= c.WIDE_QRS_MS
    regular = irregular < c.AF_IRREGULARITY
    n_beats = int(r_peaks.size)
    paced = pacing is not None and pacing.rhythm_paced
    # Ventricular pacing makes the QRS wide by design: bundle branch block, VT and STEMI
    # criteria are criteria for the patient's own conduction and do not apply to it.
    v_paced = paced and wide
    bbb = bundle_branch_block(med, fid, idx, FS) if wide and not v_paced else None
    if v_paced:
        not_evaluated.append("bundle_branch_block, VT: ventricular paced rhythm")
    elif wide and bbb is None:
        not_evaluated.append("bundle_branch_block: needs V1, I and V6")
    # A P wave before every QRS at a fixed PR with typical bundle-branch-block morphology is
    # supraventricular conduction with aberrancy, not VT (AV association and BBB morphology:
    # Brugada P et al., Circulation 1991;83:1649; Vereckei A et al., Heart Rhythm 2008;5:89).
    aberrant = p_present and bbb is not None and (bbb.rbbb or bbb.lbbb)

    # A wide-complex tachycardia is VT until proven otherwise (ESC 2022 ventricular
    # arrhythmia guideline); below WCT_PRESUMED_VT_BPM it takes absent P waves and a regular
    # rhythm, so sinus rhythm with a bundle branch block at 100-120/min is not called VT.
    organised = float(dominant.mean()) >= 0.5
    sustained_vt = (
        wide
        and not v_paced
        and organised
        and not aberrant
        and (
            hr >= c.WCT_PRESUMED_VT_BPM
            or (hr >= c.VT_MIN_BPM and not p_present and regular and float(dominant.mean()) >= 0.7)
        )
    )
    # A run of wide ectopic beats inside an otherwise narrow rhythm (non-sustained VT).
    run = 0
    if not sustained_vt and not v_paced and int((~dominant).sum()) >= c.VT_RUN_BEATS:
        widths = qrs_widths_ms(diag, r_peaks, np.flatnonzero(measurable), FS)
        run = ventricular_run(widths, dominant, rr)
    vt = sustained_vt or run >= c.VT_RUN_BEATS
    if vt:
        flags.append(
            Flag(
                "VT",
                Severity.CRITICAL,
                {
                    "heart_rate_bpm": _r(hr),
                    "qrs_ms": _r(qrs_ms),
                    "p_waves": "present" if p_present else "absent",
                    "wide_beat_run": run if not sustained_vt else None,
                    "thresholds": {
                        "qrs_ms": c.WIDE_QRS_MS,
                        "rate_bpm": c.VT_MIN_BPM,
                        "run_beats": c.VT_RUN_BEATS,
                    },
                },
            )
        )
    lbbb = rbbb = False
    bbb_evidence: dict[str, Any] = {}
    if bbb is not None and not vt:
        lbbb, rbbb, bbb_evidence = bbb.lbbb, bbb.rbbb, bbb.evidence
    if lbbb:
        flags.append(
            Flag(
                "LBBB",
                Severity.URGENT,
                {
                    "qrs_ms": _r(qrs_ms),
                    **bbb_evidence,
                    "note": "STEMI criteria do not apply (apply Sgarbossa by a cardiologist)",
                },
            )
        )
    if rbbb:
        flags.append(Flag("RBBB", Severity.INFO, {"qrs_ms": _r(qrs_ms), **bbb_evidence}))

    afl = flutter_hz(atrial)
    if not afl and not vt and flutter_rate is not None:
        afl = flutter_rate
    # Flutter waves run through the PR and ST segments and mimic ST elevation or depression
    # (locked 2:1 F waves did so in every simulated 2:1 flutter): no ST criteria in flutter.
    st_applicable = (not wide or rbbb) and not afl and not v_paced
    if v_paced:
        not_evaluated.append(
            "STEMI: ventricular paced rhythm, ST criteria do not apply "
            "(Sgarbossa criteria by a cardiologist)"
        )
    elif afl:
        not_evaluated.append("STEMI: atrial flutter waves distort the ST segment")
    elif st_applicable:
        flags.extend(
            st_flags(
                st_ok,
                st_levels(fid, idx),
                sex=sex,
                age=age,
                rbbb=rbbb,
                not_evaluated=not_evaluated,
            )
        )
    elif not vt:
        not_evaluated.append("STEMI: wide QRS, ST criteria do not apply")

    # Rhythm.
    max_rr = float(rr.max()) if rr.size else 0.0
    if hr < c.BRADY_SEVERE_BPM or max_rr > c.PAUSE_S:
        flags.append(
            Flag(
                "BRADY_SEVERE",
                Severity.CRITICAL,
                {
                    "heart_rate_bpm": _r(hr),
                    "longest_rr_s": _r(max_rr, 2),
                    "thresholds": {"rate_bpm": c.BRADY_SEVERE_BPM, "pause_s": c.PAUSE_S},
                },
            )
        )
    avb3 = False
    if paced and pacing is not None:
        flags.append(_paced_flag(pacing, v_paced, p_present, atrial, hr))
    elif atrial is not None and atrial.p_rate_bpm is not None and atrial.p_regular:
        # AV dissociation: P waves at their own faster rate and not locked to the QRS.
        avb3 = (
            regular
            and not p_present
            and hr < c.AVB3_MAX_VENTRICULAR_BPM
            and atrial.p_rate_bpm > c.AVB3_P_TO_QRS_RATIO * hr
        )
        if avb3:
            flags.append(
                Flag(
                    "AVB3",
                    Severity.CRITICAL,
                    {
                        "atrial_rate_bpm": _r(atrial.p_rate_bpm),
                        "ventricular_rate_bpm": _r(hr),
                        "p_wave_coherence": _r(coherence, 2),
                        "note": "P waves march through at their own rate (AV dissociation)",
                    },
                )
            )
    # AF: irregular overall (RMSSD) and beat to beat (median ΔRR, not a few ectopics), with no
    # P wave locked to the QRS.
    af = (
        not vt
        and not afl
        and n_beats >= 6
        and irregular_dominant >= c.AF_IRREGULARITY
        and drr >= c.AF_DRR_MEDIAN
        and not p_present
        and coherence is not None
    )
    if coherence is None and not p_present and irregular_dominant >= c.AF_IRREGULARITY:
        # An irregular rhythm where no lead shows P waves well enough to judge: not called.
        not_evaluated.append("AF: no measurable II or V1 to look for P waves")
    if afl:
        flags.append(
            Flag(
                "AFL",
                Severity.URGENT,
                {
                    "ventricular_rate_bpm": _r(hr),
                    "atrial_rate_bpm": _r(afl * 60),
                    "flutter_periodicity": _r(flutter_score, 2),
                    "threshold_periodicity": c.FLUTTER_PERIODICITY,
                },
            )
        )
    if af:
        flags.append(
            Flag(
                "AF",
                Severity.URGENT,
                {
                    "ventricular_rate_bpm": _r(hr),
                    "rr_irregularity": _r(irregular_dominant, 3),
                    "rr_median_abs_diff": _r(drr, 3),
                    "p_wave_coherence": _r(coherence, 2),
                    "atrial_dominant_hz": _r(atrial.dominant_hz, 2) if atrial else None,
                    "p_waves": "absent",
                    "thresholds": {
                        "rr_irregularity": c.AF_IRREGULARITY,
                        "rr_median_abs_diff": c.AF_DRR_MEDIAN,
                        "p_wave_coherence": c.P_COHERENCE_MIN,
                    },
                },
            )
        )
    if hr > c.TACHY_SEVERE_BPM:
        flags.append(Flag("TACHY_SEVERE", Severity.URGENT, {"heart_rate_bpm": _r(hr)}))
    # Bazett over-corrects above 100/min (Rautaharju 2009); Fridericia is used there.
    formula = "bazett" if hr <= c.BAZETT_MAX_BPM else "fridericia"
    qtc_flag = qtc_b if formula == "bazett" else qtc_f
    prolonged_ms = c.qtc_prolonged_ms(sex)
    if qtc_flag is not None and qtc_flag > prolonged_ms and not wide and regular:
        # Above 500 ms the torsades risk makes it urgent; between the sex-specific limit of
        # a prolonged QTc and 500 ms it is a statement for the reader.
        urgent = qtc_flag > c.QTC_LONG_MS
        flags.append(
            Flag(
                "QTC_LONG" if urgent else "QTC_PROLONGED",
                Severity.URGENT if urgent else Severity.INFO,
                {
                    "qtc_ms": _r(qtc_flag),
                    "formula": formula,
                    "qt_ms": _r(qt_ms),
                    "threshold_ms": c.QTC_LONG_MS if urgent else prolonged_ms,
                },
            )
        )
    # Sinus rhythm is a P wave before (nearly) every QRS at a fixed PR; premature beats make
    # it irregular but not less sinus, so regularity is not part of the call.
    sinus = p_present and not (af or afl or avb3 or vt)
    # A regular narrow-complex rhythm whose P merges into the T wave at fast rates is
    # still called sinus for the rate statements (info only; never a green channel).
    underlying_regular = drr < c.AF_DRR_MEDIAN
    rate_sinus = sinus or (underlying_regular and not wide and not (af or afl or avb3 or vt))
    rate_ev = {
        "heart_rate_bpm": _r(hr),
        "p_wave_coherence": _r(coherence, 2),
        "p_waves": "present" if p_present else "not seen (regular narrow rhythm)",
    }
    if rate_sinus and hr < c.SINUS_BRADY_BPM:
        flags.append(
            Flag("SINUS_BRADY", Severity.INFO, {**rate_ev, "threshold_bpm": c.SINUS_BRADY_BPM})
        )
    if rate_sinus and c.SINUS_TACHY_BPM < hr <= c.TACHY_SEVERE_BPM:
        flags.append(
            Flag("SINUS_TACHY", Severity.INFO, {**rate_ev, "threshold_bpm": c.SINUS_TACHY_BPM})
        )
    if sinus and pr_ms is not None and pr_ms > c.PR_LONG_MS:
        flags.append(
            Flag("AVB1", Severity.INFO, {"pr_ms": _r(pr_ms), "threshold_ms": c.PR_LONG_MS})
        )
    limb = [n for n in LIMB_LEADS if n in ok]
    chest = [n for n in CHEST_LEADS if n in ok]
    if (len(limb) == 6 and all(fid.qrs_ptp[idx[n]] < c.LOW_VOLTAGE_LIMB_MV for n in limb)) or (
        len(chest) == 6 and all(fid.qrs_ptp[idx[n]] < c.LOW_VOLTAGE_CHEST_MV for n in chest)
    ):
        flags.append(
            Flag(
                "LOW_VOLTAGE",
                Severity.INFO,
                {"limb_max_mv": _r(max((fid.qrs_ptp[idx[n]] for n in limb), default=0.0), 2)},
            )
        )
    bad = {n: q for n, q in quality.items() if q != "ok"}
    reversal = limb_reversal_suspected(
        {n: float(fid.qrs_area[i]) for n, i in idx.items()},
        {
            "I": float(
                med[max(0, fid.p_onset or 0) : fid.qrs_onset, idx["I"]].mean()
                - fid.baseline[idx["I"]]
            )
            if "I" in idx and fid.p_onset is not None
            else 0.0
        },
    )
    if bad or reversal:
        ev: dict[str, Any] = {"leads": bad}
        if reversal:
            ev["suspected_limb_lead_reversal"] = "LA/RA"
        flags.append(Flag("POOR_QUALITY", Severity.INFO, ev))

    scale = input_fs / FS
    measurements: dict[str, Any] = {
        "heart_rate_bpm": _r(hr),
        "rr_mean_ms": _r(mean_rr * 1000),
        "rr_sd_ms": _r(float(np.std(rr)) * 1000),
        "rr_irregularity": _r(irregular, 3),
        "beats": n_beats,
        "dominant_beats": int(dominant.sum()),
        "p_ms": _r(p_ms),
        "pr_ms": _r(pr_ms),
        "qrs_ms": _r(qrs_ms),
        "qt_ms": _r(qt_ms),
        "qtc_bazett_ms": _r(qtc_b),
        "qtc_fridericia_ms": _r(qtc_f),
        "axis_deg": _r(axis, 0),
        "p_wave_present": p_present,
        "p_wave_coherence": _r(coherence, 2),
        "flutter_periodicity": _r(flutter_score, 2),
        "rr_irregularity_robust": _r(drr, 3),
        "atrial_concentration": _r(atrial.concentration, 2) if atrial else None,
        "atrial_dominant_hz": _r(atrial.dominant_hz, 2) if atrial else None,
        "paced_beats": int(pacing.paced.sum()) if pacing is not None else None,
        "st_j_mv": {n: round(v, 3) for n, v in st_j.items()},
        "st_j60_mv": {n: round(v, 3) for n, v in st_60.items()},
        "r_peaks": [round(p * scale) for p in r_peaks],
        "not_evaluated": not_evaluated,
    }
    return AnalysisResult(ALGORITHM_VERSION, True, _r(hr), measurements, quality, tuple(flags))


def _paced_flag(pacing: Pacing, ventricular: bool, p_present: bool, atrial: Any, hr: float) -> Flag:
    """PACED with its evidence; P waves at their own faster rate beside a ventricular paced
    rhythm are the AV block the pacemaker treats, said here rather than as AVB3 (the
    pacemaker carries the ventricles: no green channel)."""
    ev: dict[str, Any] = {
        "pacing": "ventricular" if ventricular else "atrial",
        "paced_beats": int(pacing.paced.sum()),
        "beats": int(pacing.paced.size),
        "stimulus_to_r_ms": _r(pacing.spike_to_r_ms),
        "stimuli": int(pacing.spikes.size),
    }
    if (
        ventricular
        and not p_present
        and atrial is not None
        and atrial.p_rate_bpm is not None
        and atrial.p_rate_bpm > c.AVB3_P_TO_QRS_RATIO_PACED * hr
    ):
        ev["atrial_rate_bpm"] = _r(atrial.p_rate_bpm)
        ev["note"] = "P waves not conducted at their own rate: underlying AV block"
    return Flag("PACED", Severity.INFO, ev)
