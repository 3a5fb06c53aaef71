"""Analysis speed: median and p99 per 10 s 12-lead 500 Hz record on one core, against peers.

Run: `make bench` or `.venv/bin/python bench/analysis.py [--records N]`. neurokit2 is an
optional peer (`pip install neurokit2`); it is skipped with a message when absent.
"""

from __future__ import annotations

import argparse
import os
import time

# One core, as the issue asks: BLAS threads would blur the per-record figure.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from devices.simulator import SCENARIOS, simulate
from ecg_relay.analysis import analyze


def timings(fn, records) -> np.ndarray:  # type: ignore[no-untyped-def]
    out = []
    for rec in records:
        t = time.perf_counter()
        fn(rec)
        out.append((time.perf_counter() - t) * 1000)
    return np.asarray(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=200)
    args = parser.parse_args()
    records = [simulate(SCENARIOS[i % len(SCENARIOS)], seed=i) for i in range(args.records)]
    analyze(records[0].signals, 500, records[0].lead_names)  # warm caches
    ours = timings(lambda r: analyze(r.signals, r.fs, r.lead_names), records)
    print(
        f"xinlian analyze: median {np.median(ours):.1f} ms, p99 {np.percentile(ours, 99):.1f} ms "
        f"per 10 s 12-lead record ({len(records)} records)"
    )

    from wfdb.processing import xqrs_detect

    lead_ii = records[0].lead_names.index("II")
    xq = timings(lambda r: xqrs_detect(r.signals[:, lead_ii], fs=r.fs, verbose=False), records[:50])
    print(
        f"wfdb xqrs_detect (lead II only): median {np.median(xq):.1f} ms "
        f"→ ratio xqrs/xinlian {np.median(xq) / np.median(ours):.2f}"
    )
    try:
        import neurokit2 as nk  # type: ignore[import-not-found]
    except ImportError:
        print("neurokit2 not installed: `pip install neurokit2` to compare with ecg_process")
        return

    def nk_all(r) -> None:  # type: ignore[no-untyped-def]
        for j in range(r.signals.shape[1]):
            nk.ecg_process(r.signals[:, j], sampling_rate=r.fs)

    # neurokit2 fails on records without beats (asystole), so peers get sinus records.
    sinus = [simulate("normal", seed=i) for i in range(20)]
    nkt = timings(nk_all, sinus)
    print(
        f"neurokit2 ecg_process x12 leads: median {np.median(nkt):.1f} ms "
        f"→ ratio neurokit2/xinlian {np.median(nkt) / np.median(ours):.1f}x"
    )


if __name__ == "__main__":
    main()
