"""Welch power spectral density, the same numbers as ``scipy.signal.welch`` at its defaults.

SciPy >= 1.15 computes Welch's estimate through ``ShortTimeFFT``, which detrends and
transforms one segment at a time in Python; for a 10 s 12-lead record that loop cost more
than the transforms themselves (three estimates per record, ~3 ms each). Here all segments
are cut as one strided view, detrended, windowed and transformed in one call each. The
operations and their memory order are those of SciPy's path (the window and frequencies
are taken from the same ``ShortTimeFFT`` object, the segment means and the average over
segments run over the same axes in the same order), so the estimate is bit-for-bit the
same (tests/ecg_relay/test_fast_paths.py checks it against ``scipy.signal.welch``).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import fft
from scipy.signal import ShortTimeFFT, get_window


@lru_cache(maxsize=8)
def _psd_window(nperseg: int, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """The PSD-scaled periodic Hann window and the one-sided frequencies (Hz)."""
    hop = nperseg - nperseg // 2
    sft = ShortTimeFFT(
        get_window("hann_periodic", nperseg),
        hop,
        fs,
        fft_mode="onesided",
        mfft=nperseg,
        scale_to="psd",
        phase_shift=None,
    )
    return np.asarray(sft.win), np.asarray(sft.f)


def welch(x: np.ndarray, fs: float, nperseg: int) -> tuple[np.ndarray, np.ndarray]:
    """Welch PSD along axis 0, as ``scipy.signal.welch(x, fs=fs, nperseg=nperseg, axis=0)``.

    Parameters
    ----------
    x : (n,) or (n, leads) real signal; ``nperseg <= n``.
    fs : sampling rate, Hz.
    nperseg : segment length, samples (Hann window, 50% overlap, constant detrend).

    Returns
    -------
    freqs : (nperseg // 2 + 1,) Hz.
    psd : (freqs,) or (freqs, leads), units² / Hz.
    """
    n = x.shape[0]
    if not 1 <= nperseg <= n:
        raise ValueError(f"nperseg={nperseg} must lie in 1..{n}")
    win, freqs = _psd_window(nperseg, float(fs))
    noverlap = nperseg // 2
    hop = nperseg - noverlap
    n_seg = (n - noverlap) // hop
    # SciPy moves the time axis last and pads a copy that keeps the memory order (np.pad):
    # the per-segment means then add up in the same order as here.
    xt = np.moveaxis(np.asarray(x, dtype=float), 0, -1)
    xt = np.asarray(xt, order="F" if xt.flags.fnc else "C")
    segs = sliding_window_view(xt, nperseg, axis=-1)[..., ::hop, :][..., :n_seg, :]
    # The detrended copy is laid out with time last (contiguous) for the transform.
    detrended = np.subtract(segs, np.mean(segs, axis=-1, keepdims=True), order="C")
    detrended *= win
    spec = fft.rfft(detrended, n=nperseg, axis=-1)  # (..., segment, freq)
    power = spec.real**2 + spec.imag**2
    # SciPy averages a (..., freq, segment) array whose segment axis is contiguous.
    psd = np.ascontiguousarray(np.moveaxis(power, -2, -1)).mean(axis=-1)
    # One-sided: every bin but DC (and Nyquist for even lengths) counts twice; doubling is
    # exact in floating point, so it commutes with the average.
    psd[..., 1 : -1 if nperseg % 2 == 0 else None] *= 2
    return freqs, np.moveaxis(psd, -1, 0)
