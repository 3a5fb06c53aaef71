"""WFDB records: validation of a complete upload and reading signals for analysis.

The header is read with wfdb's own grammar (``wfdb.io.header``: the line splitter and the
record-line and signal-line regular expressions) and wfdb's field defaults, but without
``wfdb.rdheader``'s per-field pandas lookups, which cost ~7 ms per header: at 100 records/s
that alone would take most of a core. Sizes come from wfdb's bytes-per-sample rules.
Format 16 signals, what carts write, are decoded with numpy; everything else through
``wfdb.rdrecord``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import wfdb
from wfdb.io import _signal as wfdb_signal
from wfdb.io import header as wfdb_header

from ecg_relay.errors import RelayError
from ecg_relay.frames import MAX_LEADS, safe_name

# Carts record 250–1000 Hz; the range leaves room for Holter exports (100 Hz) and
# high-resolution research carts (2000 Hz) while refusing headers that are plainly wrong.
MIN_FS_HZ = 100.0
MAX_FS_HZ = 2000.0
# WFDB's defaults for fields a header may leave out (wfdb.io._header RECORD/SIGNAL_SPECS).
DEFAULT_FS_HZ = 250.0
DEFAULT_ADC_GAIN = 200.0
# Compressed formats (FLAC) have no fixed size per sample: their length is checked by reading.
_VARIABLE_SIZE_FORMATS = frozenset({"508", "516", "524"})
# Amplitude units a header may declare, as the factor that turns them into millivolts.
_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "microvolt": 1e-3, "v": 1e3}
_FMT16_INVALID = -32768  # WFDB's "no sample" value in format 16


@dataclass(frozen=True)
class RecordInfo:
    """What the relay stores about a validated record (sampling rate in Hz, duration in s)."""

    record_name: str
    fs: float
    lead_names: tuple[str, ...]
    n_samples: int
    duration_s: float


@dataclass(frozen=True)
class SignalSpec:
    """One signal line of a WFDB header (gain in ADC units per ``units``)."""

    file_name: str
    fmt: str
    samps_per_frame: int
    skew: int
    byte_offset: int
    adc_gain: float
    baseline: int
    units: str
    name: str


@dataclass(frozen=True)
class Header:
    record_name: str
    n_sig: int
    fs: float
    sig_len: int | None
    multi_segment: bool
    signals: tuple[SignalSpec, ...]


def _int(text: str, default: int) -> int:
    return int(text) if text else default


def read_header(path: Path) -> Header:
    """Parse a ``.hea`` file with wfdb's grammar; ValueError when it does not follow it."""
    content = path.read_text(encoding="ascii", errors="ignore")
    lines, _comments = wfdb_header.parse_header_content(content)
    if not lines:
        raise ValueError("no record line")
    rec = wfdb_header.rx_record.match(lines[0])
    if rec is None:
        raise ValueError("invalid syntax in record line")
    signals = []
    for line in lines[1:]:
        sig = wfdb_header.rx_signal.match(line)
        if sig is None:
            raise ValueError("invalid syntax in signal line")
        gain = float(sig["adc_gain"]) if sig["adc_gain"] else DEFAULT_ADC_GAIN
        signals.append(
            SignalSpec(
                file_name=sig["file_name"],
                fmt=sig["fmt"],
                samps_per_frame=_int(sig["samps_per_frame"], 1),
                skew=_int(sig["skew"], 0),
                byte_offset=_int(sig["byte_offset"], 0),
                adc_gain=gain or DEFAULT_ADC_GAIN,  # a gain of 0 means 200 in WFDB
                baseline=_int(sig["baseline"], _int(sig["adc_zero"], 0)),
                units=sig["units"] or "mV",
                name=sig["sig_name"].strip(),
            )
        )
    return Header(
        record_name=rec["record_name"],
        n_sig=int(rec["n_sig"]),
        fs=float(rec["fs"]) if rec["fs"] not in ("", ".") else DEFAULT_FS_HZ,
        sig_len=int(rec["sig_len"]) if rec["sig_len"] else None,
        multi_segment=bool(rec["n_seg"]),
        signals=tuple(signals),
    )


def _expected_sizes(fmt: str, n_samples: int, byte_offset: int) -> set[int]:
    """Byte sizes a signal file of ``n_samples`` samples in ``fmt`` may have (wfdb's rule)."""
    # Format 311 with two samples left over is one word longer when written than the
    # reader needs; both lengths occur in the wild.
    return {
        byte_offset + wfdb_signal._required_byte_num(mode, fmt, n_samples)
        for mode in ("read", "write")
    }


def validate_record(
    directory: Path,
    record_name: str,
    *,
    upload_id: str | None = None,
    files: Collection[str] | None = None,
    leads: int | None = None,
) -> RecordInfo:
    """Check a staged WFDB record completely; raise RelayError with a stable code.

    Parameters
    ----------
    directory : Path
        Folder holding ``record_name``.hea and its signal files.
    record_name : str
        WFDB record name (header file name without ``.hea``).
    upload_id : str, optional
        Carried into the error so the cart knows which upload was refused.
    files : collection of str, optional
        Names the cart offered; the header may refer only to these.
    leads : int, optional
        Lead count the cart declared; the header must agree.

    Returns
    -------
    RecordInfo
        Sampling rate (Hz), lead names, samples per lead and duration (s).

    Notes
    -----
    Checks, in order: the header parses as a single-segment record with a signal length
    (BAD_HEADER); 1–16 signals, one named description line each, and the declared count
    (LEAD_COUNT); 100–2000 Hz (SAMPLING_RATE); every signal file is a plain name present
    in the upload and exactly as long as the header implies (DAT_SIZE_MISMATCH); compressed
    signals can be decoded (BAD_SIGNAL). With fixed-size formats every byte pattern is a
    sample, so a file of the right length is readable. Flat, clipped or NaN signals pass:
    the analysis flags them unreadable.
    """
    uid = upload_id
    try:
        header = read_header(directory / f"{record_name}.hea")
    except (OSError, ValueError) as exc:
        raise RelayError("BAD_HEADER", str(exc)[:200], upload_id=uid) from None
    if header.multi_segment:
        raise RelayError("BAD_HEADER", "multi-segment records are not accepted", upload_id=uid)
    n_sig = header.n_sig
    if not 1 <= n_sig <= MAX_LEADS:
        raise RelayError("LEAD_COUNT", f"{n_sig} signals (1–{MAX_LEADS})", upload_id=uid)
    if len(header.signals) != n_sig:
        raise RelayError(
            "LEAD_COUNT", f"{len(header.signals)} signal lines for {n_sig} signals", upload_id=uid
        )
    if leads is not None and leads != n_sig:
        raise RelayError("LEAD_COUNT", f"offer says {leads}, header {n_sig}", upload_id=uid)
    fs = header.fs
    if not MIN_FS_HZ <= fs <= MAX_FS_HZ:
        raise RelayError("SAMPLING_RATE", f"{fs:g} Hz", upload_id=uid)
    if not header.sig_len:
        raise RelayError("BAD_HEADER", "the header gives no signal length", upload_id=uid)
    sig_len = header.sig_len
    if not all(s.name for s in header.signals):
        raise RelayError("BAD_HEADER", "a signal has no description (lead name)", upload_id=uid)

    per_file: dict[str, list[SignalSpec]] = {}
    for sig in header.signals:
        if not safe_name(sig.file_name):
            raise RelayError(
                "BAD_HEADER", f"signal file {sig.file_name!r} is not a plain name", upload_id=uid
            )
        if (files is not None and sig.file_name not in files) or not (
            directory / sig.file_name
        ).is_file():
            raise RelayError(
                "BAD_HEADER", f"signal file {sig.file_name} not in the upload", upload_id=uid
            )
        per_file.setdefault(sig.file_name, []).append(sig)
    variable = False
    for fname, sigs in per_file.items():
        fmts = {s.fmt for s in sigs}
        if len(fmts) != 1:
            raise RelayError("BAD_HEADER", f"{fname}: mixed formats", upload_id=uid)
        (fmt,) = fmts
        if fmt in _VARIABLE_SIZE_FORMATS:
            variable = True
            continue
        if fmt not in wfdb_signal.BYTES_PER_SAMPLE:
            raise RelayError("BAD_HEADER", f"{fname}: unknown format {fmt}", upload_id=uid)
        n_samples = sig_len * sum(s.samps_per_frame for s in sigs)
        expected = _expected_sizes(fmt, n_samples, sigs[0].byte_offset)
        actual = (directory / fname).stat().st_size
        if actual not in expected:
            raise RelayError(
                "DAT_SIZE_MISMATCH",
                f"{fname}: {actual} bytes, the header implies {min(expected)}",
                upload_id=uid,
            )
    if variable:
        _check_decodes(directory, record_name, (sig_len, n_sig), uid)
    return RecordInfo(
        record_name=record_name,
        fs=fs,
        lead_names=tuple(s.name for s in header.signals),
        n_samples=sig_len,
        duration_s=sig_len / fs,
    )


def _check_decodes(
    directory: Path, record_name: str, shape: tuple[int, int], upload_id: str | None
) -> None:
    try:
        record = wfdb.rdrecord(str(directory / record_name), physical=False)
    except Exception as exc:  # wfdb raises many exception types for undecodable data
        raise RelayError("BAD_SIGNAL", str(exc)[:200], upload_id=upload_id) from None
    got = None if record.d_signal is None else record.d_signal.shape
    if got != shape:
        raise RelayError(
            "DAT_SIZE_MISMATCH", f"decoded {got}, header says {shape}", upload_id=upload_id
        )


def _fast_fmt16(directory: Path, header: Header) -> np.ndarray | None:
    """Physical signals of a plain format-16 record (one file, one sample per frame), else None."""
    sigs = header.signals
    plain = (
        header.sig_len is not None
        and len({s.file_name for s in sigs}) == 1
        and all(s.fmt == "16" and s.samps_per_frame == 1 and s.skew == 0 for s in sigs)
        and len({s.byte_offset for s in sigs}) == 1
    )
    if not plain or header.sig_len is None:
        return None
    n = header.sig_len * len(sigs)
    raw = np.fromfile(
        directory / sigs[0].file_name, dtype="<i2", count=n, offset=sigs[0].byte_offset
    )
    if raw.size != n:
        return None
    digital = raw.reshape(header.sig_len, len(sigs))
    gain = np.array([s.adc_gain for s in sigs])
    baseline = np.array([s.baseline for s in sigs], dtype=np.float64)
    signals = (digital - baseline) / gain
    signals[digital == _FMT16_INVALID] = np.nan
    return signals


def read_signals(
    directory: Path, record_name: str
) -> tuple[np.ndarray, float, tuple[str, ...], float]:
    """Read a stored record for analysis.

    Parameters
    ----------
    directory : Path
        Folder holding the record's files.
    record_name : str
        WFDB record name.

    Returns
    -------
    signals : ndarray, shape (n_samples, n_leads), float64
        Amplitudes in mV (headers in uV or V are converted); missing samples are NaN.
    fs : float
        Sampling rate in Hz.
    lead_names : tuple of str
        One name per column.
    duration_s : float
        ``n_samples / fs`` in seconds.
    """
    header = read_header(directory / f"{record_name}.hea")
    fast = _fast_fmt16(directory, header)
    if fast is not None:
        signals, fs = fast, header.fs
        units = [s.units for s in header.signals]
        names = tuple(s.name for s in header.signals)
    else:
        record = wfdb.rdrecord(str(directory / record_name), physical=True)
        signals = np.array(record.p_signal, dtype=np.float64)
        fs = float(record.fs)
        units = [str(u) for u in (record.units or [])]
        names = tuple(str(n) for n in record.sig_name)
    for j, unit in enumerate(units):
        factor = _TO_MV.get(unit.strip().lower())
        if factor is not None and factor != 1.0:
            signals[:, j] *= factor
    return signals, fs, names, signals.shape[0] / fs
