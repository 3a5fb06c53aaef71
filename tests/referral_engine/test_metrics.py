"""Transfer time metrics from timelines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from referral_engine.metrics import TimelineEntry, summarize, transfer_times

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_segments_and_door_to_admission() -> None:
    """Each segment is the minutes between its steps; door-to-admission starts at first contact."""
    times = transfer_times(
        door_at=T0,
        ecg_at=_at(6),
        opened_at=_at(7),
        entries=[
            TimelineEntry("open", _at(7)),
            TimelineEntry("confirm", _at(12)),
            TimelineEntry("depart", _at(20)),
            TimelineEntry("arrive", _at(55)),
            TimelineEntry("admit", _at(70)),
        ],
    )
    assert times.ecg_to_open_min == 1.0
    assert times.open_to_confirm_min == 5.0
    assert times.open_to_depart_min == 13.0
    assert times.depart_to_arrive_min == 35.0
    assert times.arrive_to_admit_min == 15.0
    assert times.door_to_admission_min == 70.0
    assert times.within_target is True


def test_unfinished_transfer_has_no_total() -> None:
    """Without an admission stamp there is no door-to-admission and no verdict."""
    times = transfer_times(
        door_at=None, ecg_at=_at(0), opened_at=_at(1), entries=[TimelineEntry("open", _at(1))]
    )
    assert times.door_to_admission_min is None
    assert times.within_target is None


def test_missing_first_contact_falls_back_to_ecg_time() -> None:
    """When the cart sent no first-contact time the ECG acquisition time is the door."""
    times = transfer_times(
        door_at=None, ecg_at=_at(0), opened_at=_at(1), entries=[TimelineEntry("admit", _at(100))]
    )
    assert times.door_to_admission_min == 100.0
    assert times.within_target is False


def test_summary_median_and_p90() -> None:
    """Median and nearest-rank 90th percentile over completed transfers only."""
    done = [
        transfer_times(
            door_at=T0, ecg_at=None, opened_at=T0, entries=[TimelineEntry("admit", _at(m))]
        )
        for m in (60, 70, 80, 95, 120)
    ]
    open_one = transfer_times(door_at=T0, ecg_at=None, opened_at=T0, entries=[])
    s = summarize([*done, open_one])
    assert s.count == 6 and s.completed == 5
    assert s.median_door_to_admission_min == 80.0
    assert s.p90_door_to_admission_min == 120.0
    assert s.within_target == 3
