"""The analysis' fast paths give bit-for-bit the numbers of the library calls they replace."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from devices.simulator import simulate
from ecg_relay.analysis import filters, spectral

FS = 500


def _inputs() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    ecg = simulate("af", seed=3).signals
    return [
        ecg,  # (n, leads), C order
        np.asfortranarray(ecg),  # F order: SciPy's segment means add up in another order
        ecg[:, 1],  # one lead
        ecg[:, [0, 6, 9]],  # a column selection
        rng.normal(size=(4321, 12)) * 3 + 100,  # odd length, DC offset
        rng.normal(size=1999),
    ]


@pytest.mark.parametrize("case", range(6))
@pytest.mark.parametrize("nperseg", [1000, 1999, 2000])
def test_welch_is_scipy_welch(case: int, nperseg: int) -> None:
    x = _inputs()[case]
    nperseg = min(nperseg, x.shape[0])
    f_ref, p_ref = scipy.signal.welch(x, fs=FS, nperseg=nperseg, axis=0)
    f, p = spectral.welch(x, FS, nperseg)
    assert p.shape == p_ref.shape
    assert np.array_equal(f, f_ref)
    assert np.array_equal(p, p_ref)


@pytest.mark.parametrize("case", range(6))
@pytest.mark.parametrize("design", ["notch", "low", "high", "band"])
def test_filtfilt_is_scipy_sosfiltfilt(case: int, design: str) -> None:
    sos = {
        "notch": filters._sos_notch(50.0, FS),
        "low": filters._sos_band(None, 40.0, FS, 4),
        "high": filters._sos_band(0.5, None, FS, 2),
        "band": filters._sos_band(5.0, 20.0, FS, 2),
    }[design]
    x = _inputs()[case]
    ref = scipy.signal.sosfiltfilt(sos, x, axis=0)
    out = filters._filtfilt(sos, x)
    assert np.array_equal(out, ref)
    # Later sums run in memory order: the layout must be SciPy's too.
    assert out.shape == ref.shape and out.strides == ref.strides


def test_filter_chain_is_scipy() -> None:
    """Chained filters (time-last views passed on) give SciPy's numbers and layout."""
    x = _inputs()[0]
    measured = filters.measurement_band(x, FS, 50.0)
    diag = filters.high_pass(measured, FS)
    ref_m = scipy.signal.sosfiltfilt(
        filters._sos_band(None, 40.0, FS, 4),
        scipy.signal.sosfiltfilt(filters._sos_notch(50.0, FS), x, axis=0),
        axis=0,
    )
    ref_d = scipy.signal.sosfiltfilt(filters._sos_band(0.5, None, FS, 2), ref_m, axis=0)
    for out, ref in ((measured, ref_m), (diag, ref_d)):
        assert np.array_equal(out, ref) and out.strides == ref.strides
