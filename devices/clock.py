"""Cart clock offset and drift from four-timestamp exchanges (NTP's on-wire method), no I/O.

The server sends t1 (server clock); the cart notes t2 on receipt and t3 on reply (cart
clock); the server notes t4. offset = ((t2 - t1) + (t3 - t4)) / 2 is how far the cart
clock is ahead; delay = (t4 - t1) - (t3 - t2). Samples with the smallest delay carry
the least queueing error (the NTP clock filter, RFC 5905 §10), so the estimate is the
offset of the minimum-delay sample among the recent ones.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

WINDOW = 16


@dataclass(frozen=True)
class ClockSample:
    at_ms: float  # server time of the sample
    offset_ms: float  # cart clock minus server clock
    delay_ms: float  # round trip minus the cart's processing time


def sample(t1: float, t2: float, t3: float, t4: float) -> ClockSample:
    """One exchange (all in ms since the epoch; t1, t4 server clock; t2, t3 cart clock)."""
    return ClockSample(
        at_ms=t4, offset_ms=((t2 - t1) + (t3 - t4)) / 2.0, delay_ms=max(0.0, (t4 - t1) - (t3 - t2))
    )


class ClockEstimator:
    """Offset and drift of one cart's clock from its recent samples."""

    def __init__(self, window: int = WINDOW) -> None:
        self.samples: deque[ClockSample] = deque(maxlen=window)

    def add(self, s: ClockSample) -> None:
        self.samples.append(s)

    def offset_ms(self) -> float | None:
        if not self.samples:
            return None
        best = min(self.samples, key=lambda s: s.delay_ms)
        return best.offset_ms

    def delay_ms(self) -> float | None:
        return min((s.delay_ms for s in self.samples), default=None)

    def drift_ppm(self) -> float | None:
        """Slope of offset over time, in parts per million, from at least 4 samples an hour apart."""
        if len(self.samples) < 4:
            return None
        t = np.array([s.at_ms for s in self.samples])
        if t.max() - t.min() < 3_600_000:
            return None
        o = np.array([s.offset_ms for s in self.samples])
        slope = np.polyfit(t - t[0], o, 1)[0]
        return float(slope * 1e6)
