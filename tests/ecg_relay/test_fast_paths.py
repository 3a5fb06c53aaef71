"""The analysis' fast paths give bit-for-bit the numbers of the library calls they replace."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from devices.simulator import simulate
from ecg_relay.analysis import spectral

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
