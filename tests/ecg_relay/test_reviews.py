"""Per-flag PPV from cardiologists' reviews, on the real database and through the real server."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy.orm import Session

from ecg_relay.models import Analysis, Review
from ecg_relay.reviews import flag_performance
from tests import factories
from tests.conftest import LiveServer
from xinlian.db import utcnow
from xinlian.models import Organization, Role, User


def _analysed(s: Session, org: Organization, codes: list[str], version: str = "v-test") -> Analysis:
    rec = factories.ecg_record(s, org=org)
    analysis = Analysis(
        record_id=rec.id,
        algorithm_version=version,
        readable=True,
        acute=True,
        heart_rate_bpm=80.0,
        flag_codes=codes,
        result={},
        created_at=utcnow() - timedelta(hours=1),
    )
    s.add(analysis)
    s.flush()
    return analysis


def _review(s: Session, a: Analysis, who: User, code: str | None, verdict: str, age_s: int) -> None:
    s.add(
        Review(
            record_id=a.record_id,
            analysis_id=a.id,
            reviewer_id=who.id,
            verdict=verdict,
            flag_code=code,
            algorithm_version=a.algorithm_version,
            created_at=utcnow() - timedelta(seconds=age_s),
        )
    )


def _county(s: Session) -> tuple[Organization, Organization, Organization, User]:
    central, (town_a, town_b) = factories.county(s)
    return central, town_a, town_b, factories.user(s, role=Role.CARDIOLOGIST, org=central)


def test_latest_verdict_counts_per_flag_and_version(session: Session) -> None:
    """PPV = confirmed / reviewed by each flag's latest review; versions are counted apart."""
    _central, town, _other, cardio = _county(session)
    a1 = _analysed(session, town, ["STEMI_INFERIOR", "SINUS_BRADY"])
    a2 = _analysed(session, town, ["STEMI_INFERIOR"])
    a3 = _analysed(session, town, ["STEMI_INFERIOR"])
    old = _analysed(session, town, ["STEMI_INFERIOR"], version="v-old")
    _review(session, a1, cardio, "STEMI_INFERIOR", "rejected", age_s=60)
    _review(session, a1, cardio, "STEMI_INFERIOR", "confirmed", age_s=30)  # revised: counts
    _review(session, a2, cardio, "STEMI_INFERIOR", "rejected", age_s=30)
    _review(session, a3, cardio, None, "confirmed", age_s=30)  # whole-ECG verdict: no flag
    _review(session, old, cardio, "STEMI_INFERIOR", "confirmed", age_s=30)
    session.flush()

    rows = {
        (r.algorithm_version, r.flag_code): r
        for r in flag_performance(session, since=utcnow() - timedelta(days=1))
    }
    stemi = rows[("v-test", "STEMI_INFERIOR")]
    assert (stemi.raised, stemi.confirmed, stemi.rejected, stemi.reviewed) == (3, 1, 1, 2)
    assert stemi.ppv == 0.5
    lo, hi = stemi.ppv_ci95
    assert lo is not None and hi is not None and lo < 0.5 < hi
    brady = rows[("v-test", "SINUS_BRADY")]
    assert (brady.raised, brady.reviewed, brady.ppv) == (1, 0, None)
    assert rows[("v-old", "STEMI_INFERIOR")].ppv == 1.0
    # Newest analyses only: nothing before ``since``.
    assert flag_performance(session, since=utcnow()) == []


def test_organization_scope(session: Session) -> None:
    """With an organization given, only that organization's ECGs are counted."""
    _central, town_a, town_b, cardio = _county(session)
    a = _analysed(session, town_a, ["AF"])
    b = _analysed(session, town_b, ["AF"])
    _review(session, a, cardio, "AF", "confirmed", age_s=5)
    _review(session, b, cardio, "AF", "rejected", age_s=5)
    session.flush()
    since = utcnow() - timedelta(days=1)
    (only_a,) = flag_performance(session, since=since, organization_id=town_a.id)
    assert (only_a.raised, only_a.confirmed, only_a.rejected) == (1, 1, 0)
    (both,) = flag_performance(session, since=since)
    assert (both.raised, both.confirmed, both.rejected) == (2, 1, 1)


def test_flag_metrics_api_and_page(live_server: LiveServer) -> None:
    """Cardiologists and admins read the per-flag PPV; a township doctor is refused."""
    with live_server.sessions() as s:
        central, town, _other, cardio = _county(s)
        admin = factories.user(s, role=Role.ADMIN, org=central)
        doctor = factories.user(s, role=Role.TOWNSHIP_DOCTOR, org=town)
        a = _analysed(s, town, ["VT"])
        _review(s, a, cardio, "VT", "confirmed", age_s=5)
        s.commit()
        names = (cardio.username, admin.username, doctor.username)
    with httpx.Client(base_url=live_server.url) as client:

        def token(username: str) -> dict[str, str]:
            r = client.post(
                "/api/v1/auth/token", json={"username": username, "password": factories.PASSWORD}
            )
            assert r.status_code == 200, r.text
            return {"Authorization": f"Bearer {r.json()['access_token']}"}

        for username in names[:2]:
            r = client.get("/api/v1/metrics/flags", headers=token(username))
            assert r.status_code == 200, r.text
            (vt,) = [f for f in r.json()["flags"] if f["flag_code"] == "VT"]
            assert (vt["raised"], vt["confirmed"], vt["ppv"]) == (1, 1, 1.0)
        refused = client.get("/api/v1/metrics/flags", headers=token(names[2]))
        assert refused.status_code == 403

        login = client.post(
            "/login",
            data={"username": names[1], "password": factories.PASSWORD},
            follow_redirects=False,
        )
        assert login.status_code in (302, 303), login.text
        page = client.get("/audit/flags")
        assert page.status_code == 200
        assert 'data-flag="VT"' in page.text and "100%" in page.text
