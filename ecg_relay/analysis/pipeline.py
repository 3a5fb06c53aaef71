"""The full analysis of one ECG: quality → beats → median beats → measurements → flags."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ecg_relay.analysis import criteria as c
from ecg_relay.analysis import filters
from ecg_relay.analysis.arrhythmia import (
    RhythmFeatures,
    af_flag,
    af_not_evaluated,
    afl_flag,
    avb3_flag,
    brady_severe_flag,
    flutter_rate_hz,
    paced_flag,
    rhythm_features,
    sinus_flags,
    tachy_severe_flag,
    ventricular_tachycardia,
)
from ecg_relay.analysis.beats import MEDIAN_PRE_S, detect_qrs, median_beats, type_beats
from ecg_relay.analysis.conduction import bundle_branch_block, bundle_branch_flags
from ecg_relay.analysis.delineation import Fiducials, delineate, pr_knot_offset, with_st_from
from ecg_relay.analysis.intervals import Intervals, intervals, qtc_flag
from ecg_relay.analysis.ischaemia import sgarbossa_flag, st_flags, st_levels
from ecg_relay.analysis.leads import CHEST_LEADS, LIMB_LEADS, is_ecg_lead, normalise_lead
from ecg_relay.analysis.pacing import Pacing, paced_beats, pacing_spikes, remove_spikes
from ecg_relay.analysis.pacing import searchable as pacing_searchable
from ecg_relay.analysis.quality import (
    QRS_HF_SHARE_MAX,
    lead_quality,
    poor_quality_flag,
    qrs_noise_readings,
    qrs_to_noise,
    requalified,
)
from ecg_relay.analysis.result import ALGORITHM_VERSION, AnalysisResult, Flag, Severity, rounded
from ecg_relay.analysis.rhythm import all_narrow, rr_irregularity, vf_spectrum_fraction

FS = filters.TARGET_FS
DETECTABLE = frozenset({"ok", "noise", "wander", "mains"})
MEASURABLE = frozenset({"ok", "mains"})


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
    # A monitor record can carry PLETH, RESP or ABP beside the ECG: those are no lead, and
    # read as leads they were taken for a wide, noisy "QRS" (a false VT on v102s).
    ecg = [is_ecg_lead(n) for n in lead_names]
    if all(ecg):
        return _analyze_leads(x, fs, list(lead_names), sex=sex, age=age, mains_hz=mains_hz)
    ignored = [n for n, keep in zip(lead_names, ecg, strict=True) if not keep]
    if not any(ecg):
        return _unreadable("no_ecg_lead", {}, {"ignored_channels": ignored})
    kept = [n for n, keep in zip(lead_names, ecg, strict=True) if keep]
    result = _analyze_leads(x[:, ecg], fs, kept, sex=sex, age=age, mains_hz=mains_hz)
    return replace(result, measurements={**result.measurements, "ignored_channels": ignored})


def _bridge_gaps(x: np.ndarray, finite: np.ndarray) -> np.ndarray:
    """Missing samples (WFDB's sentinel, NaN, inf) bridged by a straight line between the
    recorded samples on either side, per lead; a lead with nothing recorded reads 0.

    A constant fill (the lead's median) put a step at both ends of every gap wherever the
    baseline had wandered from the median: a step on every lead at once, which read as QRS
    complexes, ST shifts and pacing stimuli.
    """
    out = np.array(x, dtype=float)
    t = np.arange(x.shape[0])
    for j in np.flatnonzero(~finite.all(axis=0)):
        ok = finite[:, j]
        out[:, j] = np.interp(t, t[ok], x[ok, j]) if ok.any() else 0.0
    return out


def _analyze_leads(
    x: np.ndarray,
    fs: float,
    lead_names: Sequence[str],
    *,
    sex: str | None,
    age: float | None,
    mains_hz: float,
) -> AnalysisResult:
    """analyze() on ECG leads only: (n_samples, n_leads) mV, one name per column."""
    names = [normalise_lead(n) for n in lead_names]
    if fs <= 0 or x.shape[0] < 2 * fs:
        return _unreadable("too_short", dict.fromkeys(names, "missing"))

    finite = np.isfinite(x)
    all_finite = bool(finite.all())
    nan_frac = np.zeros(x.shape[1]) if all_finite else np.mean(~finite, axis=0)
    if not all_finite:
        x = _bridge_gaps(x, finite)
    # Pacing stimuli are found at the recorded rate, before resampling spreads them, and
    # bridged before anything else reads the signal: their energy is not muscle noise, not
    # QRS and not a wave for the filters.
    spikes = None
    live = np.ptp(x, axis=0) > 0
    if pacing_searchable(fs, int(live.sum())):
        rate = round(fs)
        found = pacing_spikes(x, rate, live, None if all_finite else finite)
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
    # Leads called noisy for their 40-150 Hz energy are judged again between the beats just
    # found: most such labels (95 of 117 on the development set) were the steep slopes of
    # tall QRS complexes themselves, and took those leads' ST and P waves out of the
    # criteria. The QRS edges are still found on the leads without that energy: a lead
    # this steep sets the spatial velocity's peak so high that a slurred terminal S falls
    # under the edge threshold (Q1805: the J point 30 ms early, inside the S wave).
    # With noise on every lead the record stays judged as a whole (all leads measured, and
    # the QRS must stand out of the noise, below): clearing some leads there would leave
    # fewer leads measured, and bursts of noise with nothing else could pass as beats.
    edges = measurable
    if "noise" in labels and not all_noisy and r_peaks.size >= 2:
        readings = qrs_noise_readings(x, FS, r_peaks, mains_hz)
        # Complexes whose energy lies above 40 Hz in every lead are bursts of noise that
        # the detector took for beats (no QRS keeps most of its energy there): no rhythm,
        # no VT, is read from them. (With noise on every lead, the QRS-to-noise test below
        # decides; below the asystole amplitude the asystole test does.)
        if amp >= c.ASYSTOLE_MAX_MV and float(np.min(readings[1][detectable])) >= QRS_HF_SHARE_MAX:
            peaks = [round(p * fs / FS) for p in r_peaks]
            return _unreadable("complexes_are_noise", quality, {"r_peaks": peaks})
        labels = requalified(labels, x, FS, mains_hz, readings)
        quality = dict(zip(names, labels, strict=True))
        measurable = np.array([lab in MEASURABLE for lab in labels])

    # Lethal rhythms first: no organised QRS complexes. Below 0.3 mV in every lead
    # there is no QRS to detect, whatever the detector found in the noise.
    # Fibrillation waves fool any QRS detector; what it finds on them has no consistent RR.
    chaotic = r_peaks.size >= 3 and rr_irregularity(np.diff(r_peaks) / FS) >= c.VF_RR_CHAOS
    # The VF spectrum (a Welch estimate over every lead) only decides records that already
    # look disorganised or flat; an organised record cannot meet the criteria below
    # whatever its spectrum, so it skips the estimate.
    suspect = r_peaks.size < 3 or dom_share < 0.5 or chaotic or amp < c.ASYSTOLE_MAX_MV
    vf_frac = 0.0
    narrow = False
    if suspect:
        cols = np.flatnonzero(detectable)
        vf_frac = float(np.median(vf_spectrum_fraction(diag[:, cols], FS)))
        # Narrow complexes are conducted through the His-Purkinje system: however fast and
        # irregular (a regular tachycardia at 230/min with a short wide run read as VF),
        # an organised rhythm, not fibrillation, whose waves read as broad complexes.
        if vf_frac >= c.VF_SPECTRAL_FRACTION and r_peaks.size >= 3:
            narrow = all_narrow(diag, r_peaks, cols, FS)
    vf_spectrum = vf_frac >= c.VF_SPECTRAL_FRACTION and not narrow
    if suspect and (
        r_peaks.size < 3
        # Mixed morphologies (paced and own beats, bigeminy) are no dominant majority but
        # still organised; only with chaotic RR or a VF spectrum do they mean fibrillation.
        or (dom_share < 0.5 and (chaotic or vf_spectrum))
        or amp < c.ASYSTOLE_MAX_MV
        or (chaotic and vf_spectrum)
    ):
        ev = {
            "spectral_3_9hz_fraction": round(vf_frac, 2),
            "amplitude_mv": round(amp, 2),
            "detected_complexes": int(r_peaks.size),
        }
        if vf_spectrum and amp >= c.VF_MIN_AMPLITUDE_MV:
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
    # The ventricular rate is beats per minute, 60 / mean RR (as a cart prints it): with
    # bigeminy or AF the median RR is one mode of a spread, not the rate.
    mean_rr = float(np.mean(rr))
    hr = 60.0 / mean_rr
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
    fid = delineate(med, FS, int(MEDIAN_PRE_S * FS), edges, float(np.median(rr)), p_leads)
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
        edges,
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
    edges: np.ndarray,
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
    """The flags in their reporting order, and the measurements, from the median beats."""
    idx = {n: i for i, n in reversed(list(enumerate(names)))}
    ok = {n for n, i in idx.items() if measurable[i]}
    iv = intervals(fid, float(np.median(rr)), FS)
    f = rhythm_features(diag, med, r_peaks, dominant, rr, hr, fid, idx, ok, FS)

    # Each step adds its flag (or None) in the order the flags are reported.
    flags: list[Flag | None] = []
    not_evaluated: list[str] = []
    paced = pacing is not None and pacing.rhythm_paced
    # Ventricular pacing makes the QRS wide by design: bundle branch block, VT and STEMI
    # criteria are criteria for the patient's own conduction and do not apply to it. A
    # stimulus an AV delay before the QRS paces the atria; the QRS that follows is the
    # patient's own and keeps every criterion.
    at_onset = pacing is not None and pacing.ventricular((fid.r - fid.qrs_onset) / FS * 1000)
    v_paced = paced and iv.wide and at_onset
    if pacing is None and iv.wide:
        not_evaluated.append("pacing: not looked for (below 500 Hz or fewer than 3 leads)")
    bbb = bundle_branch_block(med, fid, idx, FS) if iv.wide and not v_paced else None
    if v_paced:
        not_evaluated.append("bundle_branch_block, VT: ventricular paced rhythm")
    elif iv.wide and bbb is None:
        not_evaluated.append("bundle_branch_block: needs V1, I and V6")
    # A P wave before every QRS at a fixed PR with typical bundle-branch-block morphology is
    # supraventricular conduction with aberrancy, not VT (AV association and BBB morphology:
    # Brugada P et al., Circulation 1991;83:1649; Vereckei A et al., Heart Rhythm 2008;5:89).
    # A wide-complex tachycardia is presumed VT, so the P waves that overrule it must be seen:
    # a P wave in the median beat, not only something locked to every QRS before it (the
    # tail of a long T wave is locked too, and VT at 120-149/min read "P waves present").
    p_seen = f.p_present and fid.p_distinct
    aberrant = p_seen and bbb is not None and (bbb.rbbb or bbb.lbbb)
    vt_flag = ventricular_tachycardia(
        f,
        iv,
        diag,
        r_peaks,
        dominant,
        rr,
        edges,
        FS,
        v_paced=v_paced,
        p_seen=p_seen,
        aberrant=aberrant,
    )
    vt = vt_flag is not None
    flags.append(vt_flag)
    rbbb = False
    if bbb is not None and not vt:
        rbbb = bbb.rbbb
        flags.extend(bundle_branch_flags(bbb, iv.qrs_ms))

    afl = flutter_rate_hz(f, vt=vt)
    # Flutter waves run through the PR and ST segments and mimic ST elevation or depression
    # (locked 2:1 F waves did so in every simulated 2:1 flutter): no ST criteria in flutter.
    # The 4th UDMI (Thygesen K et al., Circulation 2018;138:e618) names LBBB and ventricular
    # pacing as the conduction that hides an infarct's ST elevation; RBBB and a nonspecific
    # intraventricular delay keep the ST criteria. Wider than IVCD_MAX_QRS_MS without a
    # bundle branch pattern, the complexes may be ventricular: no ST criteria there.
    ivcd = (
        bbb is not None and not (bbb.lbbb or bbb.rbbb) and not vt and iv.qrs_ms < c.IVCD_MAX_QRS_MS
    )
    st_applicable = (not iv.wide or rbbb or ivcd) and not afl and not v_paced
    st_ok = {n for n in ok if fid.baseline_stable[idx[n]]}
    # A QRS beyond any human ECG's size means a wrong gain (a recorder or a format that
    # takes 200 units for 1 mV where it wrote 1000): every millivolt criterion would be
    # read on a wrong scale, so the ST criteria are not applied and POOR_QUALITY says why.
    implausible = _implausible_qrs(fid, idx, ok, quality)
    if implausible is not None:
        lead, size = implausible
        not_evaluated.append(
            f"STEMI (territory and Sgarbossa criteria), ST depression: a {size:.1f} mV QRS "
            f"in {lead} is beyond a human ECG; check the recorder's gain (mV calibration)"
        )
    elif afl:
        not_evaluated.append("STEMI: atrial flutter waves distort the ST segment")
    elif v_paced or (bbb is not None and bbb.lbbb and not vt):
        # LBBB and ventricular pacing hide the infarct's ST elevation from the 4th UDMI
        # territory criteria; the Sgarbossa criteria were validated for both.
        conduction = "ventricular pacing" if v_paced else "LBBB"
        not_evaluated.append(
            f"STEMI: {conduction}, territory criteria do not apply "
            f"(concordant Sgarbossa criteria applied in {len(st_ok)} leads with a stable baseline)"
        )
        flags.append(sgarbossa_flag(st_ok, st_levels(fid, idx), conduction=conduction))
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
        # Wider than a nonspecific delay without a bundle branch pattern (or without the
        # leads to tell one): possibly ventricular, and neither rule set was validated for it.
        pattern = "without a bundle branch pattern" if bbb is not None else "(V1, I or V6 missing)"
        not_evaluated.append(f"STEMI: wide QRS {pattern}, not evaluated")

    flags.append(brady_severe_flag(f))
    avb3 = None
    if paced and pacing is not None:
        flags.append(paced_flag(pacing, f, ventricular=at_onset, carries_ventricles=v_paced))
    else:
        avb3 = avb3_flag(f)
        flags.append(avb3)
    af = af_flag(f, vt=vt, afl=bool(afl))
    af_note = af_not_evaluated(f)
    if af_note is not None:
        not_evaluated.append(af_note)
    flags += [afl_flag(f, afl), af, tachy_severe_flag(f)]
    if afl:
        # As the ST segment, the T wave's end lies under the F waves (locked 2:1 they are
        # taken for it): no QT is read against the QTc limits.
        not_evaluated.append("QTc: atrial flutter waves distort the end of the T wave")
    else:
        flags.append(qtc_flag(iv, hr, sex, regular=f.regular))
    # A paced rhythm is no sinus rhythm for the rate and PR statements (the PR of a
    # P-synchronous pacemaker is its programmed AV delay).
    flags += sinus_flags(f, iv, other_rhythm=bool(af or afl or avb3 or vt or paced))
    flags.append(_low_voltage_flag(fid, idx, ok))
    flags.append(poor_quality_flag(quality, med, fid, idx, implausible_qrs=implausible))

    measurements = _measurements(
        f, iv, fid, idx, r_peaks, dominant, rr, mean_rr, pacing, input_fs, not_evaluated
    )
    reported = tuple(flag for flag in flags if flag is not None)
    return AnalysisResult(ALGORITHM_VERSION, True, rounded(hr), measurements, quality, reported)


def _implausible_qrs(
    fid: Fiducials, idx: dict[str, int], ok: set[str], quality: dict[str, str]
) -> tuple[str, float] | None:
    """The lead with the largest median QRS when the QRS is beyond c.QRS_IMPLAUSIBLE_MV in a
    clean lead or in two leads with a signal, noisy ones included.

    Noise does not make a QRS ten times too large, and a wrong gain scales every lead, so
    the gain is also read off leads labelled noisy (HR20715 with mains interference had its
    12-13 mV leads labelled so, and read STEMI). In one noisy lead alone the size may be an
    artefact locked to the beats (a large pacing stimulus, a loose electrode tapping).
    """
    sizes = {n: float(fid.qrs_ptp[i]) for n, i in idx.items() if quality[n] in DETECTABLE}
    big = {n: v for n, v in sizes.items() if v > c.QRS_IMPLAUSIBLE_MV}
    if not (big.keys() & ok or len(big) >= 2):
        return None
    lead = max(big, key=lambda n: big[n])
    return lead, round(big[lead], 1)


def _low_voltage_flag(fid: Fiducials, idx: dict[str, int], ok: set[str]) -> Flag | None:
    """LOW_VOLTAGE when every limb lead, or every chest lead, has a small QRS."""
    groups = {
        "limb": ([n for n in LIMB_LEADS if n in ok], c.LOW_VOLTAGE_LIMB_MV),
        "chest": ([n for n in CHEST_LEADS if n in ok], c.LOW_VOLTAGE_CHEST_MV),
    }
    # The largest QRS of each complete group, so the evidence shows which criterion is met.
    largest = {
        name: max(fid.qrs_ptp[idx[n]] for n in leads)
        for name, (leads, _limit) in groups.items()
        if len(leads) == 6
    }
    if not any(largest[name] < groups[name][1] for name in largest):
        return None
    ev: dict[str, Any] = {f"{name}_max_mv": rounded(v, 2) for name, v in largest.items()}
    ev["thresholds"] = {f"{name}_mv": limit for name, (_leads, limit) in groups.items()}
    return Flag("LOW_VOLTAGE", Severity.INFO, ev)


def _measurements(
    f: RhythmFeatures,
    iv: Intervals,
    fid: Fiducials,
    idx: dict[str, int],
    r_peaks: np.ndarray,
    dominant: np.ndarray,
    rr: np.ndarray,
    mean_rr: float,
    pacing: Pacing | None,
    input_fs: float,
    not_evaluated: list[str],
) -> dict[str, Any]:
    """The measurements of a readable record; R peaks as input-rate sample indices."""
    axis = None
    if "I" in idx and "aVF" in idx:
        axis = float(np.degrees(np.arctan2(fid.qrs_area[idx["aVF"]], fid.qrs_area[idx["I"]])))
    atrial = f.atrial
    scale = input_fs / FS
    return {
        "heart_rate_bpm": rounded(f.hr),
        "rr_mean_ms": rounded(mean_rr * 1000),
        "rr_sd_ms": rounded(float(np.std(rr)) * 1000),
        "rr_irregularity": rounded(f.irregular, 3),
        "beats": f.beats,
        "dominant_beats": int(dominant.sum()),
        "p_ms": rounded(iv.p_ms),
        "pr_ms": rounded(iv.pr_ms),
        "qrs_ms": rounded(iv.qrs_ms),
        "qt_ms": rounded(iv.qt_ms),
        "qtc_bazett_ms": rounded(iv.qtc_bazett_ms),
        "qtc_fridericia_ms": rounded(iv.qtc_fridericia_ms),
        "axis_deg": rounded(axis, 0),
        "p_wave_present": f.p_present,
        "p_wave_coherence": rounded(f.coherence, 2),
        "flutter_periodicity": rounded(f.flutter_score, 2),
        "rr_irregularity_robust": rounded(f.drr, 3),
        "atrial_concentration": rounded(atrial.concentration, 2) if atrial else None,
        "atrial_dominant_hz": rounded(atrial.dominant_hz, 2) if atrial else None,
        "paced_beats": int(pacing.paced.sum()) if pacing is not None else None,
        "st_j_mv": {n: round(float(fid.st_j[i]), 3) for n, i in idx.items()},
        "st_j60_mv": {n: round(float(fid.st_j60[i]), 3) for n, i in idx.items()},
        "r_peaks": [round(p * scale) for p in r_peaks],
        "not_evaluated": not_evaluated,
    }
