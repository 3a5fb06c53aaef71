"""Relay persistence on the real database: one row per content, whoever races, and its status."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ecg_relay import service
from ecg_relay.models import Analysis, AnalysisJob, EcgRecord
from referral_engine.models import Referral
from tests import factories
from xinlian.db import utcnow

SHA = "e" * 64


def _record(org_id: str, sha: str = SHA) -> EcgRecord:
    return EcgRecord(
        content_sha256=sha,
        organization_id=org_id,
        record_name="r",
        format="wfdb",
        stored_path=f"/store/{sha}",
        files={"r.hea": {"size": 1, "sha256": "0" * 64}},
        sampling_rate_hz=500.0,
        lead_names=["I"],
        duration_s=10.0,
    )


def _org(sessions: sessionmaker[Session]) -> str:
    with sessions() as s:
        _central, (town, _other) = factories.county(s)
        s.commit()
        return town.id


def _count(s: Session, model: type) -> int:
    return s.scalar(select(func.count()).select_from(model)) or 0


def test_store_record_inserts_record_and_job_once(sessions: sessionmaker[Session]) -> None:
    """The first store creates both rows; the same content again returns the existing row."""
    org = _org(sessions)
    with sessions() as s:
        rec, created = service.store_record(s, _record(org), now=utcnow())
        s.commit()
        assert created and service.find_record_by_sha(s, SHA) is not None
    with sessions() as s:
        again, created = service.store_record(s, _record(org), now=utcnow())
        s.commit()
        assert not created and again.id == rec.id
        assert (_count(s, EcgRecord), _count(s, AnalysisJob)) == (1, 1)
        assert service.stored_hashes(s, [SHA, "f" * 64]) == {SHA}


def test_concurrent_stores_of_one_content_leave_one_row(sessions: sessionmaker[Session]) -> None:
    """Eight threads with their own sessions race on one content hash: one winner, one job."""
    org = _org(sessions)
    barrier = threading.Barrier(8)
    outcomes: list[tuple[str, bool]] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            with sessions() as s:
                barrier.wait()
                rec, created = service.store_record(s, _record(org), now=utcnow())
                s.commit()
                outcomes.append((rec.id, created))
        except BaseException as exc:  # collected and asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len({rid for rid, _ in outcomes}) == 1 and len(outcomes) == 8
    assert sum(created for _, created in outcomes) == 1
    with sessions() as s:
        assert (_count(s, EcgRecord), _count(s, AnalysisJob)) == (1, 1)


def test_record_status_reports_analysis_referral_and_finality(
    sessions: sessionmaker[Session],
) -> None:
    """Unknown → None; stored → not final; acute with open referral → not final; admitted → final."""
    org = _org(sessions)
    with sessions() as s:
        assert service.record_status(s, "nope") is None
        rec, _ = service.store_record(s, _record(org), now=utcnow())
        s.commit()
        status = service.record_status(s, rec.id)
        assert status is not None
        assert (status["analysis"], status["referral"], status["final"]) == (None, None, False)
        s.add(
            Analysis(
                record_id=rec.id,
                algorithm_version="test-1",
                readable=True,
                acute=True,
                heart_rate_bpm=88.0,
                flag_codes=["STEMI_INFERIOR"],
                result={},
                created_at=utcnow() - timedelta(seconds=5),
            )
        )
        referral = Referral(
            record_id=rec.id,
            from_organization_id=org,
            state="opened",
            trigger_codes=["STEMI_INFERIOR"],
        )
        s.add(referral)
        s.commit()
        status = service.record_status(s, rec.id)
        assert status is not None
        assert status["analysis"] == {
            "algorithm_version": "test-1",
            "readable": True,
            "acute": True,
            "heart_rate_bpm": 88.0,
            "flag_codes": ["STEMI_INFERIOR"],
        }
        assert status["referral"] == {"id": referral.id, "state": "opened"} and not status["final"]
        referral.state = "admitted"
        s.commit()
        assert service.record_status(s, rec.id)["final"] is True  # type: ignore[index]


def test_write_batcher_commits_together_and_undoes_only_the_failing_job(
    sessions: sessionmaker[Session],
) -> None:
    """Twenty concurrent writes, one failing: nineteen rows, the failure reaches its caller."""
    import asyncio

    from xinlian.relay_backend import WriteBatcher

    org = _org(sessions)
    batcher = WriteBatcher(sessions)

    def job(i: int) -> Callable[[Session], str]:
        def run(s: Session) -> str:
            rec, _ = service.store_record(s, _record(org, sha=f"{i:064x}"), now=utcnow())
            if i == 13:
                raise ValueError("refused")
            return rec.id

        return run

    async def go() -> list[object]:
        return await asyncio.gather(
            *(batcher.submit(job(i)) for i in range(20)), return_exceptions=True
        )

    outcomes = asyncio.run(go())
    assert isinstance(outcomes[13], ValueError)
    assert all(isinstance(o, str) for i, o in enumerate(outcomes) if i != 13)
    with sessions() as s:
        assert (_count(s, EcgRecord), _count(s, AnalysisJob)) == (19, 19)
        assert service.find_record_by_sha(s, f"{13:064x}") is None
