"""Login, bearer tokens, roles and organization scope through a real server."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from tests import factories
from tests.conftest import LiveServer
from xinlian.models import AuditEntry, Role


def _seed(live: LiveServer) -> dict[str, str]:
    with live.sessions() as s:
        central, (town_a, town_b) = factories.county(s)
        users = {
            "doc_a": factories.user(s, role=Role.TOWNSHIP_DOCTOR, org=town_a),
            "doc_b": factories.user(s, role=Role.TOWNSHIP_DOCTOR, org=town_b),
            "cardio": factories.user(s, role=Role.CARDIOLOGIST, org=central),
            "coord": factories.user(s, role=Role.REFERRAL_COORDINATOR, org=central),
        }
        rec = factories.ecg_record(s, org=town_a)
        s.commit()
        out = {k: u.username for k, u in users.items()}
        out["record_id"] = rec.id
        return out


def _token(client: httpx.Client, username: str) -> dict[str, str]:
    r = client.post(
        "/api/v1/auth/token", json={"username": username, "password": factories.PASSWORD}
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_wrong_password_and_missing_token_are_refused(live_server: LiveServer) -> None:
    """A wrong password gets 401 with a bilingual message; the API refuses anonymous calls."""
    names = _seed(live_server)
    with httpx.Client(base_url=live_server.url) as client:
        r = client.post(
            "/api/v1/auth/token", json={"username": names["cardio"], "password": "nope"}
        )
        assert r.status_code == 401
        assert r.json()["code"] == "LOGIN_FAILED" and r.json()["message_zh"]
        assert client.get("/api/v1/ecgs").status_code == 401
        bad = client.get("/api/v1/ecgs", headers={"Authorization": "Bearer forged"})
        assert bad.status_code == 401


def test_township_doctor_sees_only_own_organization(live_server: LiveServer) -> None:
    """Doctor A sees the record of A; doctor B gets 404 for it and an empty list."""
    names = _seed(live_server)
    rid = names["record_id"]
    with httpx.Client(base_url=live_server.url) as client:
        a = _token(client, names["doc_a"])
        b = _token(client, names["doc_b"])
        cardio = _token(client, names["cardio"])
        assert [r["id"] for r in client.get("/api/v1/ecgs", headers=a).json()] == [rid]
        assert client.get("/api/v1/ecgs", headers=b).json() == []
        assert client.get(f"/api/v1/ecgs/{rid}", headers=b).status_code == 404
        assert client.get(f"/api/v1/ecgs/{rid}", headers=a).status_code == 200
        assert client.get(f"/api/v1/ecgs/{rid}", headers=cardio).status_code == 200


def test_roles_are_enforced(live_server: LiveServer) -> None:
    """Only cardiologists review; township doctors cannot read the county's transfer audit."""
    names = _seed(live_server)
    rid = names["record_id"]
    with httpx.Client(base_url=live_server.url) as client:
        a = _token(client, names["doc_a"])
        coord = _token(client, names["coord"])
        cardio = _token(client, names["cardio"])
        body = {"verdict": "confirmed"}
        assert client.post(f"/api/v1/ecgs/{rid}/reviews", json=body, headers=a).status_code == 403
        assert (
            client.post(f"/api/v1/ecgs/{rid}/reviews", json=body, headers=coord).status_code == 403
        )
        assert (
            client.post(f"/api/v1/ecgs/{rid}/reviews", json=body, headers=cardio).status_code == 201
        )
        assert client.get("/api/v1/metrics/transfers", headers=a).status_code == 403
        assert client.get("/api/v1/metrics/transfers", headers=coord).status_code == 200


def test_reads_of_patient_data_are_audited(live_server: LiveServer) -> None:
    """Viewing an ECG leaves an audit entry naming who, which record and from where."""
    names = _seed(live_server)
    rid = names["record_id"]
    with httpx.Client(base_url=live_server.url) as client:
        client.get(f"/api/v1/ecgs/{rid}", headers=_token(client, names["cardio"]))
    with live_server.sessions() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.target_id == rid)).one()
        assert entry.action == "ecg.view" and entry.actor_type == "user"
        assert entry.source_ip == "127.0.0.1" and entry.actor_id is not None
        assert s.scalar(select(func.count()).select_from(AuditEntry)) >= 1


def test_web_login_sets_session_cookie_and_redirects_by_role(live_server: LiveServer) -> None:
    """The login form sets an HttpOnly cookie and sends each role to its home page."""
    names = _seed(live_server)
    with httpx.Client(base_url=live_server.url, headers={"Accept": "text/html"}) as client:
        r = client.get("/worklist")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        r = client.post("/login", data={"username": names["coord"], "password": "wrong"})
        assert r.status_code == 401 and "用户名或密码错误" in r.text
        r = client.post("/login", data={"username": names["coord"], "password": factories.PASSWORD})
        assert r.status_code == 303 and r.headers["location"] == "/referrals"
        assert "httponly" in r.headers["set-cookie"].lower()
        assert client.get("/referrals").status_code == 200
        r = client.post(
            "/login",
            data={
                "username": names["coord"],
                "password": factories.PASSWORD,
                "next": "//evil.example",
            },
        )
        assert r.headers["location"] == "/referrals"
