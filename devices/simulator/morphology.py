"""Per-lead wave shapes of one beat, as sums of Gaussians, for the eight independent leads.

Only I, II and V1–V6 are modelled; III, aVR, aVL and aVF are derived from I and II
(Einthoven and Goldberger), so the limb-lead relations hold exactly by construction.
Amplitudes in mV, times in seconds relative to QRS onset.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

# Independent leads in this order; the six derived limb leads are computed afterwards.
INDEPENDENT = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
LEAD_NAMES = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")


@dataclass(frozen=True)
class Wave:
    """A Gaussian component: centre (s from QRS onset), width sigma (s), amplitude per lead (mV)."""

    centre_s: float
    sigma_s: float
    amplitude: tuple[float, ...]  # one per INDEPENDENT lead


@dataclass(frozen=True)
class BeatShape:
    qrs_s: float
    qrs: tuple[Wave, ...]
    t_waves: tuple[Wave, ...]
    st_j_mv: tuple[float, ...] = field(default=(0.0,) * 8)  # ST shift at J, per independent lead
    r_centre_s: float = 0.040


# Repolarisation shortens with the heart rate as a whole: the T wave narrows with the QT as
# the ST segment shortens (at 150/min a T wave of resting width would start inside the QRS
# and lift the J point, which real tachycardias do not do). The shapes below are drawn for
# a QT of T_REFERENCE_QT_S and scaled in time with the QT, never stretched beyond 1.2.
T_REFERENCE_QT_S = 0.40


def t_wave(qt_s: float, before_end_s: float, sigma_s: float, amplitude: tuple[float, ...]) -> Wave:
    """A T wave whose end (about 2.4 sigma after its peak) lies at ``qt_s`` from QRS onset."""
    k = min(1.2, qt_s / T_REFERENCE_QT_S)
    return Wave(qt_s - before_end_s * k, sigma_s * k, amplitude)


P_AMPLITUDE = (0.08, 0.15, 0.06, 0.06, 0.05, 0.05, 0.05, 0.05)
# A low atrial focus depolarises the atria from below: P' negative in II, III and aVF.
LOW_ATRIAL_P_AMPLITUDE = (0.03, -0.10, 0.04, 0.03, -0.02, -0.03, -0.03, -0.03)


def normal_shape(*, qt_s: float, st_j_mv: tuple[float, ...] = (0.0,) * 8) -> BeatShape:
    """Narrow QRS (~90 ms), upright T; R/S progression across the chest leads."""
    q = Wave(0.015, 0.007, (-0.05, -0.08, 0.0, 0.0, 0.0, -0.05, -0.08, -0.08))
    r = Wave(0.040, 0.010, (0.70, 1.20, 0.20, 0.40, 0.70, 1.20, 1.30, 1.00))
    s = Wave(0.065, 0.010, (-0.10, -0.20, -1.00, -1.30, -0.80, -0.40, -0.20, -0.10))
    t = t_wave(qt_s, 0.110, 0.045, (0.20, 0.30, 0.10, 0.40, 0.45, 0.40, 0.30, 0.25))
    return BeatShape(qrs_s=0.090, qrs=(q, r, s), t_waves=(t,), st_j_mv=st_j_mv)


def lvh_shape(
    *, qt_s: float, st_j_mv: tuple[float, ...], t_amplitude: tuple[float, ...]
) -> BeatShape:
    """Left ventricular hypertrophy voltage (QRS ~88 ms) with the given ST shift and T waves.

    S(V1) + R(V5) = 4.6 mV (Sokolow-Lyon >= 3.5) and R(aVL) + S(V3) = 2.9 mV (Cornell > 2.8).
    """
    q = Wave(0.015, 0.007, (-0.05, -0.08, 0.0, 0.0, 0.0, -0.05, -0.10, -0.10))
    # Narrow enough that the deep S has returned to baseline by the J point (88 ms).
    r = Wave(0.040, 0.010, (1.20, 1.00, 0.20, 0.30, 0.50, 1.60, 2.60, 2.20))
    s = Wave(0.062, 0.008, (-0.10, -0.20, -2.00, -3.00, -2.20, -0.80, -0.20, -0.10))
    t = t_wave(qt_s, 0.110, 0.050, t_amplitude)
    return BeatShape(qrs_s=0.088, qrs=(q, r, s), t_waves=(t,), st_j_mv=st_j_mv)


def lbbb_shape(*, qt_s: float, infarct_st_mv: tuple[float, ...] = (0.0,) * 8) -> BeatShape:
    """Broad notched R in I/aVL/V5/V6, QS in V1–V2, discordant ST-T (QRS ~150 ms);
    ``infarct_st_mv`` (I, II, V1–V6) adds an infarct's ST shift to the secondary one."""
    r1 = Wave(0.050, 0.020, (0.60, 0.50, 0.00, 0.00, 0.10, 0.60, 0.90, 0.90))
    r2 = Wave(0.105, 0.022, (0.70, 0.50, 0.00, 0.00, 0.10, 0.70, 1.00, 1.00))
    qs = Wave(0.075, 0.035, (0.00, 0.00, -1.40, -1.80, -1.20, -0.30, 0.00, 0.00))
    t = t_wave(qt_s, 0.120, 0.055, (-0.25, -0.15, 0.35, 0.45, 0.35, 0.00, -0.25, -0.30))
    secondary = (-0.08, -0.05, 0.15, 0.20, 0.15, 0.0, -0.10, -0.10)
    st = tuple(a + b for a, b in zip(secondary, infarct_st_mv, strict=True))
    return BeatShape(qrs_s=0.150, qrs=(r1, r2, qs), t_waves=(t,), st_j_mv=st, r_centre_s=0.105)


def rbbb_shape(*, qt_s: float) -> BeatShape:
    """rsR' in V1, wide late S in I and V6 (QRS ~130 ms)."""
    q = Wave(0.015, 0.007, (-0.05, -0.06, 0.0, 0.0, 0.0, -0.05, -0.08, -0.08))
    r = Wave(0.035, 0.010, (0.65, 1.00, 0.25, 0.40, 0.60, 1.10, 1.20, 0.95))
    s = Wave(0.070, 0.014, (-0.10, -0.15, -0.60, -0.90, -0.60, -0.40, -0.30, -0.25))
    late = Wave(0.105, 0.016, (-0.30, -0.15, 0.80, 0.55, 0.20, -0.20, -0.30, -0.35))
    t = t_wave(qt_s, 0.110, 0.045, (0.20, 0.25, -0.20, 0.10, 0.35, 0.35, 0.30, 0.25))
    return BeatShape(qrs_s=0.130, qrs=(q, r, s, late), t_waves=(t,), st_j_mv=(0.0,) * 8)


def vt_shape() -> BeatShape:
    """Monomorphic wide-complex beat (~160 ms), T opposite to the QRS."""
    r = Wave(0.070, 0.030, (1.10, 1.50, -1.20, -1.00, 0.60, 1.40, 1.50, 1.20))
    t = Wave(0.260, 0.050, (-0.35, -0.45, 0.35, 0.30, -0.20, -0.40, -0.45, -0.35))
    return BeatShape(qrs_s=0.160, qrs=(r,), t_waves=(t,), st_j_mv=(0.0,) * 8, r_centre_s=0.070)


def paced_shape(*, qt_s: float) -> BeatShape:
    """Right-ventricular apical pacing: wide QRS (~160 ms) of LBBB type with a superior axis
    (negative II, III, aVF; broad R in I and aVL), QS in V1-V4, discordant ST-T."""
    r = Wave(0.080, 0.030, (0.80, -0.90, -1.30, -1.60, -1.40, -0.90, 0.30, 0.70))
    late = Wave(0.130, 0.020, (0.30, -0.20, -0.20, -0.30, -0.30, -0.20, 0.30, 0.40))
    t = t_wave(qt_s, 0.120, 0.055, (-0.25, 0.25, 0.35, 0.45, 0.40, 0.25, -0.10, -0.25))
    return BeatShape(qrs_s=0.160, qrs=(r, late), t_waves=(t,), st_j_mv=(0.0,) * 8, r_centre_s=0.080)


# A unipolar pacing stimulus seen by each independent lead (mV; a few mV at the skin) and
# its width: it lasts 0.5 ms, so a sample of a 500 Hz electrocardiograph holds a quarter.
PACING_SPIKE_MV = (6.0, -8.0, 10.0, 9.0, 7.0, 5.0, 4.0, 3.0)
PACING_PULSE_S = 0.0005


def pacing_spike(fs: int) -> np.ndarray:
    """The stimulus as one sample per independent lead at ``fs`` Hz: (8,) mV."""
    return np.asarray(PACING_SPIKE_MV) * min(1.0, PACING_PULSE_S * fs)


def render(shape: BeatShape, t_s: np.ndarray, *, amplitude_scale: float = 1.0) -> np.ndarray:
    """Samples of one beat for times ``t_s`` (s from QRS onset): shape (len(t_s), 8), mV."""
    out = np.zeros((t_s.size, len(INDEPENDENT)))
    for wave in (*shape.qrs, *shape.t_waves):
        g = np.exp(-0.5 * ((t_s - wave.centre_s) / wave.sigma_s) ** 2)
        out += g[:, None] * np.asarray(wave.amplitude)[None, :]
    st = np.asarray(shape.st_j_mv)
    if np.any(st):
        # A plateau from the J point that blends into the T wave: the ST segment is
        # shifted as a whole (what the 4th UDMI measures at J), not just the T wave.
        t_peak = shape.t_waves[0].centre_s
        rise = 1.0 / (1.0 + np.exp(-(t_s - shape.qrs_s + 0.004) / 0.003))
        fall = 1.0 / (1.0 + np.exp((t_s - t_peak - 0.03) / 0.025))
        out += (rise * fall)[:, None] * st[None, :]
    return out * amplitude_scale


def p_wave(t_s: np.ndarray, amplitude: tuple[float, ...] = P_AMPLITUDE) -> np.ndarray:
    """A P wave centred at 0 s: (len(t_s), 8) mV."""
    g = np.exp(-0.5 * (t_s / 0.022) ** 2)
    return g[:, None] * np.asarray(amplitude)[None, :]


def derive_twelve(independent: np.ndarray) -> np.ndarray:
    """(n, 8) I, II, V1–V6 → (n, 12) in LEAD_NAMES order, limb leads by Einthoven/Goldberger."""
    lead_i = independent[:, 0]
    lead_ii = independent[:, 1]
    iii = lead_ii - lead_i
    avr = -(lead_i + lead_ii) / 2.0
    avl = lead_i - lead_ii / 2.0
    avf = lead_ii - lead_i / 2.0
    return np.column_stack([lead_i, lead_ii, iii, avr, avl, avf, independent[:, 2:]])


def swap_arm_electrodes(signals: np.ndarray, lead_names: Sequence[str]) -> np.ndarray:
    """The same ECG as recorded with the left and right arm electrodes exchanged: lead I
    inverted, II and III exchanged, aVR and aVL exchanged, the chest leads as they were
    (Wilson's terminal averages the two arms either way). (n, leads) mV, any lead order;
    ``lead_names`` in the standard spelling."""
    i = {name: k for k, name in enumerate(lead_names)}
    out = signals.copy()
    out[:, i["I"]] = -signals[:, i["I"]]
    for a, b in (("II", "III"), ("aVR", "aVL")):
        out[:, i[a]], out[:, i[b]] = signals[:, i[b]], signals[:, i[a]]
    return out
