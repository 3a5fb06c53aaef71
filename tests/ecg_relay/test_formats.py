"""WFDB validation of complete uploads and signal reading for the analysis."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import wfdb

from devices.simulator import simulate, write_record
from ecg_relay.errors import RelayError
from ecg_relay.formats import read_header, read_signals, validate_record

LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]


def write(
    folder: Path,
    name: str,
    signal: np.ndarray,
    *,
    fs: float = 500,
    fmt: str = "16",
    units: str = "mV",
    gain: float = 100.0,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    n = signal.shape[1]
    wfdb.wrsamp(
        name,
        fs=fs,
        units=[units] * n,
        sig_name=LEADS[:n] if n <= 12 else [f"S{i}" for i in range(n)],
        p_signal=signal,
        fmt=[fmt] * n,
        adc_gain=[gain] * n,
        baseline=[0] * n,
        write_dir=str(folder),
    )
    return folder


def sine(n_samples: int = 5000, leads: int = 12) -> np.ndarray:
    t = np.arange(n_samples) / 500
    return np.stack([np.sin(2 * np.pi * 1.2 * t + k) for k in range(leads)], axis=1)


def code_of(call: Callable[[], object]) -> str:
    with pytest.raises(RelayError) as info:
        call()
    return info.value.code


def test_simulated_cart_record_is_valid(tmp_path: Path) -> None:
    """A 12-lead 10 s 500 Hz record from the simulator passes with its facts."""
    write_record(simulate("normal", seed=1), tmp_path, "rec1")
    info = validate_record(tmp_path, "rec1", files={"rec1.hea", "rec1.dat"}, leads=12)
    assert info.fs == 500 and info.n_samples == 5000 and info.duration_s == pytest.approx(10.0)
    assert info.lead_names == tuple(LEADS)


@pytest.mark.parametrize("fmt", ["16", "212", "80", "24", "32"])
def test_each_storage_format_passes_and_its_length_is_checked(tmp_path: Path, fmt: str) -> None:
    """Format 16, 212 (1.5 B/sample), 80, 24, 32: the right length passes, one byte more fails."""
    write(tmp_path, "r", sine(4999), fmt=fmt)  # odd length exercises 212's padding rule
    assert validate_record(tmp_path, "r").n_samples == 4999
    dat = tmp_path / "r.dat"
    dat.write_bytes(dat.read_bytes() + b"\0")
    assert code_of(lambda: validate_record(tmp_path, "r")) == "DAT_SIZE_MISMATCH"


@pytest.mark.parametrize("delta", [-24, 24, -1])
def test_dat_shorter_or_longer_than_the_header_implies(tmp_path: Path, delta: int) -> None:
    """A whole frame missing or added, or a torn last sample: DAT_SIZE_MISMATCH."""
    write(tmp_path, "r", sine())
    dat = tmp_path / "r.dat"
    data = dat.read_bytes()
    dat.write_bytes(data[:delta] if delta < 0 else data + b"\0" * delta)
    assert code_of(lambda: validate_record(tmp_path, "r")) == "DAT_SIZE_MISMATCH"


def _edit_header(folder: Path, edit: Callable[[list[str]], list[str]]) -> None:
    hea = folder / "r.hea"
    hea.write_text("\n".join(edit(hea.read_text().splitlines())) + "\n")


@pytest.mark.parametrize(
    ("edit", "code"),
    [
        (lambda lines: ["this is not a header"], "BAD_HEADER"),
        (lambda lines: [], "BAD_HEADER"),
        (lambda lines: [lines[0].replace(" 5000", ""), *lines[1:]], "BAD_HEADER"),
        (lambda lines: lines[:-1], "LEAD_COUNT"),  # 12 signals announced, 11 described
        (lambda lines: [lines[0].replace("r 12 ", "r 0 ", 1)], "LEAD_COUNT"),
        (lambda lines: [lines[0].replace(" 500 ", " 50 ", 1), *lines[1:]], "SAMPLING_RATE"),
        (lambda lines: [lines[0].replace(" 500 ", " 5000 ", 1), *lines[1:]], "SAMPLING_RATE"),
        (
            lambda lines: [lines[0]] + [ln.replace("r.dat", "../r.dat") for ln in lines[1:]],
            "BAD_HEADER",
        ),
        (
            lambda lines: [lines[0]] + [ln.replace("r.dat", "other.dat") for ln in lines[1:]],
            "BAD_HEADER",
        ),
    ],
)
def test_bad_headers_are_refused_with_their_code(
    tmp_path: Path, edit: Callable[[list[str]], list[str]], code: str
) -> None:
    """Unparsable headers, missing lengths, lead-count and rate errors, foreign signal files."""
    write(tmp_path, "r", sine())
    _edit_header(tmp_path, edit)
    assert code_of(lambda: validate_record(tmp_path, "r", files={"r.hea", "r.dat"})) == code


def test_declared_lead_count_must_match_the_header(tmp_path: Path) -> None:
    """A cart that says 12 leads but sends 8: LEAD_COUNT; more than 16 signals: LEAD_COUNT."""
    write(tmp_path / "a", "r", sine(leads=8))
    assert code_of(lambda: validate_record(tmp_path / "a", "r", leads=12)) == "LEAD_COUNT"
    assert validate_record(tmp_path / "a", "r", leads=8).lead_names == tuple(LEADS[:8])
    write(tmp_path / "b", "r", sine(leads=17))
    assert code_of(lambda: validate_record(tmp_path / "b", "r")) == "LEAD_COUNT"


def test_signal_file_must_be_one_the_cart_offered(tmp_path: Path) -> None:
    """A header pointing at a file that exists on the server but was not uploaded: refused."""
    write(tmp_path, "r", sine())
    assert code_of(lambda: validate_record(tmp_path, "r", files={"r.hea"})) == "BAD_HEADER"


def test_flat_nan_and_clipped_signals_are_accepted(tmp_path: Path) -> None:
    """Validation is about the format: unreadable content is the analysis's call."""
    signal = sine()
    signal[:, 0] = 0.0  # lead off
    signal[:1000, 1] = np.nan  # missing samples
    signal[:, 2] = np.clip(signal[:, 2] * 100, -100, 100)  # saturated
    write(tmp_path, "r", signal)
    validate_record(tmp_path, "r")
    sig, fs, names, duration = read_signals(tmp_path, "r")
    assert np.isnan(sig[:1000, 1]).all() and np.all(sig[:, 0] == 0)
    assert (fs, names[0], duration) == (500.0, "I", 10.0)


def test_read_signals_returns_millivolts_whatever_the_header_unit(tmp_path: Path) -> None:
    """A header in uV is converted: the same 1 mV sine reads as 1 mV."""
    signal = sine()
    write(tmp_path / "mv", "r", signal)
    write(tmp_path / "uv", "r", signal * 1000, units="uV", gain=0.1)
    mv = read_signals(tmp_path / "mv", "r")[0]
    uv = read_signals(tmp_path / "uv", "r")[0]
    assert mv.shape == (5000, 12) and mv.dtype == np.float64
    np.testing.assert_allclose(uv, mv, atol=0.01)
    assert np.nanmax(mv) == pytest.approx(1.0, abs=0.01)


def _ecg_data() -> Path:
    root = Path(__file__).resolve().parents[2]
    return Path(os.environ.get("XINLIAN_ECG_DATA", root / ".." / "shared" / "ecg-data"))


@pytest.mark.realdata
def test_real_12_lead_records_pass_validation(tmp_path: Path) -> None:
    """Records from public databases (copied to tmp, never into the repo) validate as carts' would."""
    data = _ecg_data()
    if not data.is_dir():
        pytest.skip(f"no real ECG data at {data} (set XINLIAN_ECG_DATA)")
    headers = sorted(data.glob("ludb/**/*.hea"))[:3] + sorted(data.glob("cinc2021/*.hea"))[:3]
    if not headers:
        pytest.skip(f"no LUDB or CinC 2021 headers under {data}")
    for hea in headers:
        record = wfdb.rdheader(str(hea.with_suffix("")))
        names = [hea.name, *sorted(set(record.file_name))]
        folder = tmp_path / hea.stem
        folder.mkdir()
        for name in names:
            shutil.copyfile(hea.parent / name, folder / name)
        info = validate_record(folder, hea.stem, files=set(names))
        assert len(info.lead_names) == 12 and 100 <= info.fs <= 2000, hea


def test_fast_format16_reading_equals_wfdb(tmp_path: Path) -> None:
    """Our numpy reader of format 16 gives wfdb.rdrecord's physical signal, NaNs included."""
    write_record(simulate("inferior_stemi", seed=2), tmp_path / "sim", "s")
    signal = sine()
    signal[100:200, 3] = np.nan
    write(tmp_path / "nan", "n", signal)
    for folder, name in ((tmp_path / "sim", "s"), (tmp_path / "nan", "n")):
        ours, fs, names, _ = read_signals(folder, name)
        ref = wfdb.rdrecord(str(folder / name))
        np.testing.assert_array_equal(ours, ref.p_signal)
        assert (fs, list(names)) == (ref.fs, ref.sig_name)
    header = read_header(tmp_path / "nan" / "n.hea")
    assert header.n_sig == 12 and header.sig_len == 5000 and header.signals[0].adc_gain == 100.0


def test_other_formats_are_read_through_wfdb(tmp_path: Path) -> None:
    """Format 212 takes wfdb's path and still returns millivolts."""
    write(tmp_path, "r", sine(), fmt="212")
    ours = read_signals(tmp_path, "r")[0]
    np.testing.assert_array_equal(ours, wfdb.rdrecord(str(tmp_path / "r")).p_signal)
