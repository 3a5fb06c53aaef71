"""Proportions with confidence intervals, shared by the offline evaluation and the review audit."""

from __future__ import annotations

import math


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float | None, float | None]:
    """Wilson score 95% interval for k successes of n (Wilson 1927); (None, None) for n = 0.

    Chosen over the normal approximation because flag counts are small and proportions sit
    near 0 or 1, where the normal interval leaves [0, 1] or collapses to zero width.
    """
    if n == 0:
        return None, None
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)
