"""Transfer time metrics computed from a referral's timeline."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from referral_engine.states import Step

# China Chest Pain Center accreditation targets, in minutes: ECG within 10 min of first
# medical contact; door-to-balloon within 90 min. Door-to-admission is held to the
# same 90-minute budget here, from the township door (first medical contact).
TARGET_FMC_TO_ECG_MIN = 10.0
TARGET_DOOR_TO_ADMISSION_MIN = 90.0


@dataclass(frozen=True)
class TimelineEntry:
    step: str
    at: datetime


@dataclass(frozen=True)
class TransferTimes:
    """Minutes between the steps of one transfer; None where a step is not stamped yet."""

    door_at: datetime | None
    opened_at: datetime
    ecg_to_open_min: float | None
    open_to_confirm_min: float | None
    open_to_depart_min: float | None
    depart_to_arrive_min: float | None
    arrive_to_admit_min: float | None
    door_to_admission_min: float | None

    @property
    def within_target(self) -> bool | None:
        if self.door_to_admission_min is None:
            return None
        return self.door_to_admission_min <= TARGET_DOOR_TO_ADMISSION_MIN


def _minutes(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() / 60.0, 1)


def first_at(entries: Iterable[TimelineEntry], step: Step) -> datetime | None:
    times = [e.at for e in entries if e.step == step.value]
    return min(times) if times else None


def transfer_times(
    *,
    door_at: datetime | None,
    ecg_at: datetime | None,
    opened_at: datetime,
    entries: Sequence[TimelineEntry],
) -> TransferTimes:
    """Intervals of one transfer. ``door_at`` is first medical contact at the township."""
    confirm = first_at(entries, Step.CONFIRM)
    depart = first_at(entries, Step.DEPART)
    arrive = first_at(entries, Step.ARRIVE)
    admit = first_at(entries, Step.ADMIT)
    return TransferTimes(
        door_at=door_at,
        opened_at=opened_at,
        ecg_to_open_min=_minutes(ecg_at, opened_at),
        open_to_confirm_min=_minutes(opened_at, confirm),
        open_to_depart_min=_minutes(opened_at, depart),
        depart_to_arrive_min=_minutes(depart, arrive),
        arrive_to_admit_min=_minutes(arrive, admit),
        door_to_admission_min=_minutes(door_at or ecg_at or opened_at, admit),
    )


@dataclass(frozen=True)
class Summary:
    count: int
    completed: int
    median_door_to_admission_min: float | None
    p90_door_to_admission_min: float | None
    within_target: int


def summarize(times: Sequence[TransferTimes]) -> Summary:
    """Median and 90th percentile door-to-admission over completed transfers."""
    done = sorted(t.door_to_admission_min for t in times if t.door_to_admission_min is not None)

    def pct(p: float) -> float | None:
        if not done:
            return None
        # nearest-rank percentile: simple and what audit staff can check by hand
        k = max(0, min(len(done) - 1, round(p / 100 * len(done) + 0.5) - 1))
        return done[k]

    return Summary(
        count=len(times),
        completed=len(done),
        median_door_to_admission_min=pct(50),
        p90_door_to_admission_min=pct(90),
        within_target=sum(1 for d in done if d <= TARGET_DOOR_TO_ADMISSION_MIN),
    )
