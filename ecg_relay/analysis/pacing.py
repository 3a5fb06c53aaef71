"""Pacemaker spikes and paced beats.

A pacing stimulus is a pulse of 0.1-1 ms, far shorter than any cardiac wave. What a record
sampled at 500 Hz or more keeps of it is a step of one or two samples, many times steeper
than the steepest QRS slope, on most leads at the same instant; it then returns (the
pulse) or stays (where the electrocardiograph's own pulse blanking leaves a step, as in
the bipolar-paced LUDB records). Below 500 Hz the cart's filtering has removed it, so
pacing is only looked for at 500 Hz or more (the AHA/ACCF/HRS recommendations, Kligfield P
et al., Circulation 2007;115:1306, ask for 500 Hz and note that pacemaker pulses need
more).

A beat is paced when a spike precedes its R peak within SPIKE_TO_R_S; a record is a paced
rhythm when most beats are (the reader then reports "paced rhythm", and bundle branch
block, VT and the STEMI territory criteria do not apply to the paced complexes; the
concordant Sgarbossa criteria do, see ischaemia.sgarbossa_flag).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecg_relay.analysis import criteria as c

# Scale of a lead's ordinary steep slopes: the 98th centile of |first difference| lies on
# QRS upstrokes (the QRS takes about 10% of a record, a spike one or two samples per beat).
SLOPE_SCALE_CENTILE = 98.0
# A stimulus is a step of at least SPIKE_SLOPE_RATIO times the lead's QRS slope scale in one
# sample, from a signal that moved less than ABRUPT_FRACTION of that in the sample before.
# Whether it then returns (the pulse) or stays (the cart's blanking leaves a step, seen in
# bipolar pacing) depends on the electrocardiograph, so the return is not required.
SPIKE_SLOPE_RATIO = 6.0
ABRUPT_FRACTION = 0.5
# In the QUIET_BEFORE_S before a stimulus the leads move less than QUIET_RATIO of their QRS
# slope scale (median over leads): the stimulus comes before the complex it starts.
QUIET_BEFORE_S = 0.04
QUIET_RATIO = 0.8
# Steps on different leads within COINCIDENCE_S are one stimulus; it takes SPIKE_MIN_LEADS
# leads (a chest electrode's pop is on one lead). A limb electrode's pop steps every lead
# that uses it, but comes once, not before most beats: paced_beats and PACED_BEAT_SHARE
# keep it from making a paced rhythm.
COINCIDENCE_S = 0.004
SPIKE_MIN_LEADS = 3
# A stimulus counts for the beat whose R peak follows within SPIKE_TO_R_S: a ventricular
# stimulus starts the paced QRS (R within 200 ms of it), an atrial one comes 120-250 ms
# before the QRS onset (AV delay), so up to about 300 ms before R.
SPIKE_TO_R_S = 0.30
# A ventricular stimulus is at the QRS onset: no more than this before it (the paced QRS
# starts after a short latency, and the onset is read on the median beat).
VENTRICULAR_STIMULUS_BEFORE_ONSET_S = 0.04
MIN_FS = 500
MIN_PACED_BEATS = 3  # one or two paced beats in 10 s are no paced rhythm
# Samples bridged after a stimulus: the pulse (<= 1 ms) and the amplifier's first recovery.
BLANK_S = 0.004


@dataclass(frozen=True)
class Pacing:
    spikes: np.ndarray  # sample indices (the last sample before each stimulus's step)
    paced: np.ndarray  # (beats,) bool: a stimulus precedes the beat's R peak
    spike_to_r_ms: float | None  # median stimulus-to-R interval of the paced beats

    @property
    def paced_share(self) -> float:
        return float(self.paced.mean()) if self.paced.size else 0.0

    def ventricular(self, onset_to_r_ms: float) -> bool:
        """The stimulus starts the QRS (ventricular pacing), rather than coming an AV delay
        before it (atrial pacing): ``onset_to_r_ms`` is the median beat's QRS onset to R."""
        if self.spike_to_r_ms is None:
            return False
        return self.spike_to_r_ms <= onset_to_r_ms + VENTRICULAR_STIMULUS_BEFORE_ONSET_S * 1000

    @property
    def rhythm_paced(self) -> bool:
        return int(self.paced.sum()) >= MIN_PACED_BEATS and self.paced_share >= c.PACED_BEAT_SHARE


def searchable(fs: float, n_leads: int) -> bool:
    """Whether stimuli can be looked for: 500 Hz or more and at least SPIKE_MIN_LEADS leads."""
    return fs >= MIN_FS and n_leads >= SPIKE_MIN_LEADS


def pacing_spikes(
    x: np.ndarray, fs: int, leads: np.ndarray, recorded: np.ndarray | None = None
) -> np.ndarray:
    """Stimuli in ``x`` (n, leads), mV at ``fs`` Hz, on ``leads``: for each, the index of the
    last sample before its step.

    ``recorded`` (n, leads) marks the samples that were recorded; a step into or out of a
    bridged gap (missing samples are bridged by a line, which can end on a step) is no
    stimulus.
    """
    cols = np.flatnonzero(leads)
    if not searchable(fs, cols.size) or x.shape[0] < 3:
        return np.array([], dtype=int)
    # Time-last layout: the per-lead order statistic and the masks run over contiguous rows.
    d = np.diff(np.ascontiguousarray(x[:, cols].T), axis=1)
    a = np.abs(d)
    k = int(SLOPE_SCALE_CENTILE / 100 * (a.shape[1] - 1))
    scale = np.partition(a, k, axis=1)[:, k : k + 1]
    # A lead that is still most of the time (a long filled gap, a quantised flat line) has
    # no QRS scale of its own: it takes a tenth of the other leads' typical scale.
    scale = np.maximum(scale, 0.1 * float(np.median(scale))) + 1e-9
    big = a >= SPIKE_SLOPE_RATIO * scale
    if recorded is not None and not recorded.all():
        rec = np.ascontiguousarray(recorded[:, cols].T)
        big &= rec[:, 1:] & rec[:, :-1]
    if not big.any():  # the usual case: nothing steeper than ordinary QRS slopes
        return np.array([], dtype=int)
    # Abrupt: the sample before the step moved less than ABRUPT_FRACTION of it (a QRS
    # upstroke is a ramp of steps of similar size; a stimulus starts from a still signal).
    prev = np.zeros_like(a)
    prev[:, 1:] = a[:, :-1]
    hits = big & (prev <= ABRUPT_FRACTION * a)
    w = max(1, round(COINCIDENCE_S * fs))
    quiet = max(1, round(QUIET_BEFORE_S * fs))
    spikes: list[int] = []
    for i in np.flatnonzero(hits.any(axis=0)):
        if spikes and i - spikes[-1] <= 2 * w:
            continue
        # Leads that stepped within +-w samples: one stimulus, one count per lead.
        if int(hits[:, max(0, i - w) : i + w + 1].any(axis=1).sum()) < SPIKE_MIN_LEADS:
            continue
        # A stimulus starts the beat: the signal before it is still. A step inside a QRS
        # (an amplifier recovering from a clipped R wave) follows the QRS upstroke.
        before = a[:, max(0, i - quiet) : max(0, i - 1)] / scale
        if before.shape[1] == 0 or float(np.median(before.max(axis=1))) > QUIET_RATIO:
            continue
        spikes.append(int(i))
    return np.asarray(spikes, dtype=int)


def remove_spikes(x: np.ndarray, spikes: np.ndarray, fs: int) -> np.ndarray:
    """``x`` with BLANK_S after each stimulus bridged by a straight line, as pacemaker-pulse
    blanking in electrocardiographs does: the pulse's energy is no QRS, no noise and no wave
    for the filters to spread over its neighbours."""
    if spikes.size == 0:
        return x
    out = x.copy()
    width = max(1, int(np.ceil(BLANK_S * fs)))
    n = x.shape[0]
    for s in spikes:
        a, b = int(s), min(n - 1, int(s) + 1 + width)  # d[s] = x[s+1] - x[s]: x[s] is clean
        if b - a < 2:
            continue
        frac = (np.arange(1, b - a) / (b - a))[:, None]
        out[a + 1 : b] = out[a] + frac * (out[b] - out[a])
    return out


def paced_beats(spikes: np.ndarray, r_peaks: np.ndarray, fs: int) -> Pacing:
    """Which beats follow a stimulus within SPIKE_TO_R_S before their R peak."""
    paced = np.zeros(r_peaks.size, dtype=bool)
    lags: list[float] = []
    limit = SPIKE_TO_R_S * fs
    for k, r in enumerate(r_peaks):
        before = spikes[(spikes <= r) & (spikes >= r - limit)]
        if before.size:
            paced[k] = True
            lags.append(float(r - before[-1]) / fs * 1000)
    return Pacing(spikes, paced, float(np.median(lags)) if lags else None)
