"""Per-lead signal quality: lead off, clipping, baseline wander, mains and muscle noise.

Also the POOR_QUALITY statement: leads not ok and a suspected LA/RA reversal.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ecg_relay.analysis import filters
from ecg_relay.analysis.beats import MEDIAN_PRE_S
from ecg_relay.analysis.delineation import Fiducials
from ecg_relay.analysis.result import Flag, Severity
from ecg_relay.analysis.spectral import welch

FLAT_PTP_MV = 0.05  # a connected electrode shows at least QRS or noise above 50 uV
CLIP_FRACTION = 0.02  # >2% of samples stuck at the extreme value = amplifier saturation
WANDER_MV = 1.5  # baseline excursion below 0.5 Hz that hides the ST segment
# Absolute limits: small leads (aVL often) must not be called noisy for their size.
NOISE_RMS_MV = 0.03  # 40-150 Hz muscle noise above 30 uV RMS obscures small waves
MAINS_RMS_MV = 0.05  # mains interference large enough to survive the notch
# The QRS's own steep slopes fill the 40-150 Hz band: tall, sharp chest QRS complexes alone
# reach 30-80 uV RMS there. Once the beats are found, a lead called noisy is measured again
# between them, leaving out QRS_HALF_S either side of each R (a wide QRS included), and is
# cleared only where the noise there is under half the limit: the QRS made most of the
# band's energy, not a noise near the limit that the gaps between detections sample low.
QRS_HALF_S = 0.10
QUIET_FRACTION = 0.5
# ...and only where the "beats" are QRS complexes, whose energy lies mostly below 40 Hz (in
# the QRS windows 40-150 Hz RMS / 5-40 Hz RMS: 0.13 median, 0.75 at most on the development
# set's cleared leads), not bursts of muscle noise that the detector took for beats (2-3).
QRS_HF_SHARE_MAX = 1.0


def lead_quality(raw: np.ndarray, fs: int, mains_hz: float) -> list[str]:
    """One label per lead: 'ok', 'flat', 'clipped', 'wander', 'noise', 'mains' or 'missing'.

    ``raw`` is (n, leads) in mV, unfiltered, NaN where samples are missing.
    """
    n, n_leads = raw.shape
    finite = np.isfinite(raw)
    if finite.all():
        x = raw
    else:
        fill = np.nanmedian(np.where(finite, raw, np.nan), axis=0) if finite.any() else 0.0
        x = np.where(finite, raw, np.nan_to_num(fill))
    # Extremes, and the share of samples stuck at them, on a time-last copy: reductions over
    # the long contiguous axis are several times faster, and min, max and counts are exact
    # in any order.
    xt = np.ascontiguousarray(x.T)
    lowest, highest = xt.min(axis=1), xt.max(axis=1)
    ptp = highest - lowest
    stuck = np.maximum(
        np.count_nonzero(xt == lowest[:, None], axis=1),
        np.count_nonzero(xt == highest[:, None], axis=1),
    ) / max(n, 1)
    # One Welch estimate for all leads: per-lead calls cost more than the transform itself.
    freqs, psd = welch(x, fs, min(n, 2 * fs))
    df = float(freqs[1] - freqs[0])

    def band(a: float, b: float) -> np.ndarray:
        """RMS (mV) per lead of the signal between a and b Hz."""
        return np.sqrt(np.sum(psd[(freqs >= a) & (freqs < b)], axis=0) * df)

    wander = 2 * np.sqrt(2) * band(0, 0.5)
    mains = band(mains_hz - 1, mains_hz + 1)
    # Muscle and electrode noise is broadband; the mains line and its first harmonic are
    # taken out of the band, as the notch takes them out of the signal, so broadband noise
    # is not passed off as (notchable) mains interference.
    hum = mains**2 + band(2 * mains_hz - 1, 2 * mains_hz + 1) ** 2
    noise = np.sqrt(np.maximum(band(40, min(150, fs / 2 - 1)) ** 2 - hum, 0.0))
    present = np.count_nonzero(finite, axis=0) / n  # share of recorded samples per lead
    labels: list[str] = []
    for j in range(n_leads):
        if present[j] < 0.9:
            labels.append("missing")
        elif ptp[j] < FLAT_PTP_MV:
            labels.append("flat")
        elif stuck[j] > CLIP_FRACTION and ptp[j] > 0.5:
            labels.append("clipped")
        elif wander[j] > WANDER_MV:
            labels.append("wander")
        elif noise[j] > NOISE_RMS_MV:
            labels.append("noise")
        elif mains[j] > MAINS_RMS_MV:
            labels.append("mains")
        else:
            labels.append("ok")
    return labels


def qrs_noise_readings(
    raw: np.ndarray, fs: int, r_peaks: np.ndarray, mains_hz: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per lead of ``raw`` (n, leads) mV, with the QRS windows at ``r_peaks`` (QRS_HALF_S
    either side of each R): the 40-150 Hz RMS outside them (mV; the mains line and its
    first harmonic notched out as in lead_quality), and inside them that band's RMS over
    the 5-40 Hz RMS (a QRS keeps most of its energy below 40 Hz, a burst of muscle noise
    not)."""
    hf = filters.band_pass(raw, fs, 40.0, min(150.0, fs / 2 - 1))
    for line in (mains_hz, 2 * mains_hz):
        if line < fs / 2 - 1:
            hf = filters.notch(hf, fs, line)
    lo = filters.band_pass(raw, fs, 5.0, 40.0)
    inside = np.zeros(raw.shape[0], dtype=bool)
    half = int(QRS_HALF_S * fs)
    for r in r_peaks:
        inside[max(0, int(r) - half) : int(r) + half] = True
    # Too fast to see between the beats: the whole record, as the first reading.
    between = ~inside if (~inside).sum() >= fs // 2 else np.ones_like(inside)
    quiet = np.sqrt(np.mean(hf[between] ** 2, axis=0))
    if not inside.any():
        return quiet, np.full(raw.shape[1], np.inf)
    share = np.sqrt(np.mean(hf[inside] ** 2, axis=0)) / (
        np.sqrt(np.mean(lo[inside] ** 2, axis=0)) + 1e-12
    )
    return np.asarray(quiet), np.asarray(share)


def requalified(
    labels: list[str],
    raw: np.ndarray,
    fs: int,
    mains_hz: float,
    readings: tuple[np.ndarray, np.ndarray],
) -> list[str]:
    """``labels`` with each 'noise' lead judged again from its ``readings`` between and
    within the QRS complexes (qrs_noise_readings over every lead of ``raw``): 'ok' (or
    'mains') where the noise was the QRS itself."""
    noisy = [j for j, label in enumerate(labels) if label == "noise"]
    if not noisy:
        return labels
    quiet, share = readings
    freqs, psd = welch(raw[:, noisy], fs, min(raw.shape[0], 2 * fs))
    line = (freqs >= mains_hz - 1) & (freqs < mains_hz + 1)
    mains = np.sqrt(np.sum(psd[line], axis=0) * float(freqs[1] - freqs[0]))
    out = list(labels)
    for k, j in enumerate(noisy):
        if quiet[j] <= QUIET_FRACTION * NOISE_RMS_MV and share[j] < QRS_HF_SHARE_MAX:
            out[j] = "mains" if mains[k] > MAINS_RMS_MV else "ok"
    return out


# LA/RA reversal (the arm electrodes swapped) inverts lead I, exchanges II with III and aVR
# with aVL, and leaves the chest leads as they are. Lead I and V5-V6 look at the heart from
# the left, so their QRS complexes are alike; swapped, lead I runs against both (the median
# QRS's correlation, as inter-lead correlation criteria for electrode interchange use it:
# Kors JA, van Herpen G, Am J Cardiol 2001;88:396). A right axis or a paced QRS can also set
# I against V6, but a sinus P wave in I stays upright: where a P wave is measured it must
# point rightward, beyond +100 deg (the sinus P axis lies between 0 and +75 deg; an inverted
# P in I is the classic sign, Batchvarov VN et al., Europace 2007;9:1081); where none is
# (AF), only a narrow QRS is judged.
REVERSAL_QRS_CORRELATION = -0.5
REVERSAL_P_AXIS_DEG = 100.0
REVERSAL_MAX_QRS_S = 0.12


def limb_reversal_suspected(
    med: np.ndarray, fid: Fiducials, idx: dict[str, int], quality: dict[str, str]
) -> bool:
    """LA/RA reversal: lead I's QRS runs against V5 and V6, and the P wave in I points
    rightward (or, without a P wave, the QRS is narrow). ``med``: median beats at 500 Hz."""
    lateral = [n for n in ("V5", "V6") if quality.get(n) == "ok" and n in idx]
    if quality.get("I") != "ok" or "I" not in idx or not lateral:
        return False
    qrs = med[fid.qrs_onset : fid.qrs_offset]
    lead_i = qrs[:, idx["I"]]
    for n in lateral:
        other = qrs[:, idx[n]]
        if lead_i.size < 3 or lead_i.std() == 0 or other.std() == 0:
            return False
        # Written so that a NaN correlation (a gap in the median beat) counts as no reversal.
        if not np.corrcoef(lead_i, other)[0, 1] <= REVERSAL_QRS_CORRELATION:
            return False
    p_means = _p_in_i_and_avf(med, fid, idx)
    if p_means is None:
        width_s = (fid.qrs_offset - fid.qrs_onset) / filters.TARGET_FS
        return width_s < REVERSAL_MAX_QRS_S
    p_i, p_avf = p_means
    # Frontal P axis from I and aVF (aVF's axis is orthogonal to I's; its gain is sqrt(3)/2).
    axis = np.degrees(np.arctan2(p_avf * 2 / np.sqrt(3), p_i))
    return bool(abs(axis) > REVERSAL_P_AXIS_DEG)


def _p_in_i_and_avf(
    med: np.ndarray, fid: Fiducials, idx: dict[str, int]
) -> tuple[float, float] | None:
    """The mean P wave in I and in aVF (mV), aVF from II and I by Goldberger's
    aVF = II - I/2 for a record without aVF; None without a delineated P wave."""
    if fid.p_onset is None or fid.p_offset is None:
        return None
    p = med[fid.p_onset : fid.p_offset] - fid.baseline
    if p.shape[0] == 0:
        return None
    p_i = float(p[:, idx["I"]].mean())
    if "aVF" in idx:
        return p_i, float(p[:, idx["aVF"]].mean())
    if "II" in idx:
        return p_i, float(p[:, idx["II"]].mean()) - p_i / 2
    return None


def poor_quality_flag(
    quality: dict[str, str],
    med: np.ndarray,
    fid: Fiducials,
    idx: dict[str, int],
    *,
    implausible_qrs: tuple[str, float] | None = None,
) -> Flag | None:
    """POOR_QUALITY naming the leads that are not ok, a suspected LA/RA reversal and a QRS
    too large for a human ECG (``implausible_qrs``: lead, mV; a wrong gain)."""
    bad = {n: q for n, q in quality.items() if q != "ok"}
    reversal = limb_reversal_suspected(med, fid, idx, quality)
    if not (bad or reversal or implausible_qrs):
        return None
    ev: dict[str, Any] = {"leads": bad}
    if reversal:
        ev["suspected_limb_lead_reversal"] = "LA/RA"
    if implausible_qrs:
        ev["implausible_qrs_mv"] = {implausible_qrs[0]: implausible_qrs[1]}
        ev["check"] = "recorder gain (mV calibration)"
    return Flag("POOR_QUALITY", Severity.INFO, ev)


def qrs_to_noise(
    x: np.ndarray, measured: np.ndarray, med: np.ndarray, leads: np.ndarray, fs: int
) -> float:
    """Largest ratio over ``leads`` of the median beat's QRS size to the lead's noise RMS.

    QRS size: peak-to-peak within 60 ms of R in the median beat (mV); noise: RMS of what the
    40 Hz measurement band removed (muscle and electrode noise above 40 Hz, mV).
    """
    r = int(MEDIAN_PRE_S * fs)
    w = int(0.06 * fs)
    cols = np.flatnonzero(leads)
    qrs = np.ptp(med[r - w : r + w, cols], axis=0)
    noise = np.std(x[:, cols] - measured[:, cols], axis=0) + 1e-9
    return float(np.max(qrs / noise))
