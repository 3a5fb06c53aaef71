"""WFDB records: validation of a complete upload and reading signals for analysis."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import wfdb

from ecg_relay.errors import RelayError

MIN_FS_HZ = 100.0
MAX_FS_HZ = 2000.0
MAX_LEADS = 16
# Bytes per sample for the WFDB storage formats carts write (wfdb-python's table).
_BYTES_PER_SAMPLE = {
    "8": 1.0,
    "16": 2.0,
    "24": 3.0,
    "32": 4.0,
    "61": 2.0,
    "80": 1.0,
    "160": 2.0,
    "212": 1.5,
    "310": 4 / 3,
    "311": 4 / 3,
}


@dataclass(frozen=True)
class RecordInfo:
    record_name: str
    fs: float
    lead_names: tuple[str, ...]
    n_samples: int
    duration_s: float


def validate_record(
    directory: Path, record_name: str, *, upload_id: str | None = None
) -> RecordInfo:
    """Check a staged WFDB record: parsable header, signal files present and of the right size,
    1–16 leads, 100–2000 Hz, samples readable. Raises RelayError with a stable code."""
    base = str(directory / record_name)
    try:
        header = wfdb.rdheader(base)
    except Exception as exc:  # wfdb raises many exception types for malformed headers
        raise RelayError("BAD_HEADER", str(exc)[:200], upload_id=upload_id) from None
    n_sig = int(header.n_sig or 0)
    if not 1 <= n_sig <= MAX_LEADS:
        raise RelayError("LEAD_COUNT", f"{n_sig} signals", upload_id=upload_id)
    fs = float(header.fs or 0)
    if not MIN_FS_HZ <= fs <= MAX_FS_HZ:
        raise RelayError("SAMPLING_RATE", f"{fs} Hz", upload_id=upload_id)
    sig_len = int(header.sig_len or 0)
    if sig_len <= 0:
        raise RelayError("BAD_HEADER", "no signal length in header", upload_id=upload_id)
    names = header.sig_name or []
    if len(names) != n_sig:
        raise RelayError("LEAD_COUNT", "lead names do not match signal count", upload_id=upload_id)
    per_file: dict[str, list[str]] = {}
    for fname, fmt in zip(header.file_name, header.fmt, strict=True):
        if "/" in fname or ".." in fname:
            raise RelayError("BAD_HEADER", f"signal file {fname} has a path", upload_id=upload_id)
        per_file.setdefault(fname, []).append(str(fmt))
    for fname, fmts in per_file.items():
        path = directory / fname
        if not path.exists():
            raise RelayError(
                "BAD_HEADER", f"signal file {fname} not in the upload", upload_id=upload_id
            )
        if fname.endswith(".dat") and all(f in _BYTES_PER_SAMPLE for f in fmts):
            expected = math.ceil(sum(_BYTES_PER_SAMPLE[f] for f in fmts) * sig_len)
            actual = path.stat().st_size
            if actual != expected:
                raise RelayError(
                    "DAT_SIZE_MISMATCH",
                    f"{fname}: {actual} bytes, header implies {expected}",
                    upload_id=upload_id,
                )
    try:
        record = wfdb.rdrecord(base, physical=False)
    except Exception as exc:
        raise RelayError("BAD_SIGNAL", str(exc)[:200], upload_id=upload_id) from None
    if record.d_signal is None or record.d_signal.shape != (sig_len, n_sig):
        raise RelayError(
            "DAT_SIZE_MISMATCH", "signal shape differs from the header", upload_id=upload_id
        )
    return RecordInfo(
        record_name=record_name,
        fs=fs,
        lead_names=tuple(str(n) for n in names),
        n_samples=sig_len,
        duration_s=sig_len / fs,
    )


def read_signals(
    directory: Path, record_name: str
) -> tuple[np.ndarray, float, tuple[str, ...], float]:
    """Samples in physical units (n, leads), sampling rate (Hz), lead names, duration (s)."""
    record = wfdb.rdrecord(str(directory / record_name), physical=True)
    signals = np.asarray(record.p_signal, dtype=float)
    units = [str(u).strip().lower() for u in (record.units or [])]
    # Carts write mV; a header in uV (common for some exports) is converted here.
    for j, unit in enumerate(units):
        if unit in ("uv", "µv", "microvolt"):
            signals[:, j] /= 1000.0
    fs = float(record.fs)
    return signals, fs, tuple(str(n) for n in record.sig_name), signals.shape[0] / fs
