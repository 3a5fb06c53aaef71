"""Zero-phase filters, and the spline baseline that ST levels are read after.

The high-pass corner is 0.5 Hz, below the 0.67 Hz limit that AHA/ACC/HRS allow for
zero-phase filtering of diagnostic ECGs (Kligfield et al., Circulation 2007;115:1306).
Even so it takes a little of a slow ST shift at low heart rates, so ST levels are read on
the measurement band with a cubic-spline PR-segment baseline removed instead
(`isoelectric_corrected`), which no high-pass touches.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.signal import butter, iirnotch, resample_poly, sosfilt, sosfilt_zi, tf2sos

TARGET_FS = 500
HIGHPASS_HZ = 0.5  # <= 0.67 Hz (AHA 2007) for zero-phase filtering
LOWPASS_DIAG_HZ = 40.0  # measurement bandwidth: keeps ST/T, removes most muscle noise
DETECT_BAND_HZ = (5.0, 20.0)  # QRS energy band (Pan & Tompkins 1985)


@lru_cache(maxsize=16)
def _sos_band(low: float | None, high: float | None, fs: int, order: int) -> np.ndarray:
    if low is not None and high is not None:
        return butter(order, [low, high], btype="band", fs=fs, output="sos")
    if low is not None:
        return butter(order, low, btype="high", fs=fs, output="sos")
    assert high is not None
    return butter(order, high, btype="low", fs=fs, output="sos")


@lru_cache(maxsize=8)
def _sos_notch(mains_hz: float, fs: int) -> np.ndarray:
    b, a = iirnotch(mains_hz, Q=30.0, fs=fs)
    return tf2sos(b, a)


@lru_cache(maxsize=16)
def _steady_state(sos_bytes: bytes, n_sections: int) -> tuple[np.ndarray, int]:
    """``sosfilt_zi`` of the cascade, (sections, 2), and sosfiltfilt's default pad length."""
    sos = np.frombuffer(sos_bytes).reshape(n_sections, 6)
    ntaps = 2 * n_sections + 1 - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    return sosfilt_zi(sos), 3 * ntaps


def _filtfilt(sos: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``scipy.signal.sosfiltfilt(sos, x, axis=0)`` (odd padding), bit-for-bit.

    SciPy's version recomputes the steady state (``sosfilt_zi``) on every call and copies
    the (n, leads) signal into time-last order twice; here the steady state is cached and
    the work runs on time-last arrays, so chained filters pass it on without a copy. The
    arithmetic is SciPy's, and so is the memory layout of the result (a reversed view of
    the time-last buffer), on which the order of later sums depends.
    """
    zi, edge = _steady_state(sos.tobytes(), sos.shape[0])
    xt = np.moveaxis(x, 0, -1)  # (..., n): a view
    n = xt.shape[-1]
    if n <= edge:
        raise ValueError(
            f"The length of the input vector x must be greater than padlen, which is {edge}."
        )
    first, last = xt[..., :1], xt[..., -1:]
    ext = np.concatenate(
        (2 * first - xt[..., edge:0:-1], xt, 2 * last - xt[..., -2 : -(edge + 2) : -1]), axis=-1
    )
    # Initial states (sections, ..., 2): the steady state scaled to each lead's end value.
    zi = zi.reshape((zi.shape[0],) + (1,) * (xt.ndim - 1) + (2,))
    fwd, _ = sosfilt(sos, ext, axis=-1, zi=zi * ext[..., :1])
    back, _ = sosfilt(sos, fwd[..., ::-1], axis=-1, zi=zi * fwd[..., -1:])
    return np.moveaxis(back[..., ::-1][..., edge:-edge], -1, 0)


def resample(signals: np.ndarray, fs: float, target: int = TARGET_FS) -> np.ndarray:
    """Polyphase resampling of (n, leads) from ``fs`` Hz to ``target`` Hz."""
    if abs(fs - target) < 1e-6:
        return signals
    ratio = target / fs
    up, down = _rational(ratio)
    # An ECG can carry a large DC offset (electrode half-cell potentials reach hundreds of
    # mV). The polyphase filter pads with zeros by default, so the offset makes a step at
    # both ends that rings through every later filter and reads as a QRS at the window
    # edges; and its branches differ in DC gain by ~1e-3, which turns the offset into a
    # ripple at the output rate. The offset is therefore taken out first (and put back),
    # and the ends are extended by their trend ('line').
    offset = np.median(signals, axis=0)
    out = resample_poly(signals - offset, up, down, axis=0, padtype="line")
    return np.asarray(out + offset)


def _rational(ratio: float, max_den: int = 1000) -> tuple[int, int]:
    from fractions import Fraction

    f = Fraction(ratio).limit_denominator(max_den)
    return f.numerator, f.denominator


def measurement_band(signals: np.ndarray, fs: int, mains_hz: float) -> np.ndarray:
    """Mains-notched, 40 Hz low-passed signals (n, leads), mV, with their baseline untouched.

    No offset is removed first: sosfiltfilt starts from the steady state of the first
    sample (odd extension), so a DC offset makes no edge transient.
    """
    x = notch(signals, fs, mains_hz) if mains_hz < fs / 2 else signals
    return _filtfilt(_sos_band(None, LOWPASS_DIAG_HZ, fs, 4), x)


def band_pass(signals: np.ndarray, fs: int, low: float | None, high: float | None) -> np.ndarray:
    """Zero-phase 4th-order Butterworth band-pass between ``low`` and ``high`` Hz (n, leads);
    without ``low`` a low-pass, without ``high`` a high-pass."""
    return _filtfilt(_sos_band(low, high, fs, 4), signals)


def notch(signals: np.ndarray, fs: int, hz: float) -> np.ndarray:
    """Zero-phase notch (Q 30) at ``hz`` (n, leads), as the measurement band's mains notch."""
    return _filtfilt(_sos_notch(hz, fs), signals)


def high_pass(signals: np.ndarray, fs: int) -> np.ndarray:
    """The zero-phase 0.5 Hz baseline high-pass (n, leads)."""
    return _filtfilt(_sos_band(HIGHPASS_HZ, None, fs, 2), signals)


def diagnostic(signals: np.ndarray, fs: int, mains_hz: float) -> np.ndarray:
    """Baseline-corrected, mains-notched, 40 Hz low-passed signals (n, leads), mV."""
    return high_pass(measurement_band(signals, fs, mains_hz), fs)


def detection(signals: np.ndarray, fs: int) -> np.ndarray:
    """Band-passed signals for QRS detection (n, leads)."""
    low, high = DETECT_BAND_HZ
    return _filtfilt(_sos_band(low, high, fs, 2), signals)


def isoelectric_corrected(band: np.ndarray, knots: np.ndarray, half_width: int) -> np.ndarray:
    """Signals (n, leads, mV) with the baseline removed by a cubic spline through PR segments.

    The ST level is read against the PR segment, and any high-pass filter, even zero-phase
    below 0.67 Hz, takes some of a slow ST shift with it (about 0.03 mV at 42/min with the
    0.5 Hz corner of `diagnostic`). A cubic spline through one isoelectric knot per beat
    removes wander without touching the ST segment (Meyer CR, Keiser HN, Comput Biomed Res
    1977;10:459; the approach of AHA 2007 for ST measurement). ``band`` is the output of
    `measurement_band` (n, leads), ``knots`` sample indices of PR-segment centres,
    ``half_width`` the samples averaged either side of each. With fewer than two knots
    there is no spline: ``band`` comes back with only its median removed.
    """
    n = band.shape[0]
    x = band
    knots = np.unique(knots[(knots >= half_width) & (knots < n - half_width)])
    if knots.size < 2:
        return np.asarray(x - np.median(x, axis=0))
    levels = np.stack([x[k - half_width : k + half_width + 1].mean(axis=0) for k in knots])
    # Held flat beyond the first and last knot: a cubic extrapolated past them would swing.
    t = np.clip(np.arange(n), knots[0], knots[-1])
    return x - CubicSpline(knots, levels, axis=0, bc_type="natural")(t)
