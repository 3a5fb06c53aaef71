"""The end-to-end skeleton: a cart pushes an acute ECG, the green channel runs to admission."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from devices.simulator import simulate, write_record
from ecg_relay.client import RelayClient
from tests import factories
from tests.conftest import LiveServer
from xinlian.db import utcnow
from xinlian.models import Role


def _seed(live: LiveServer) -> dict[str, str]:
    with live.sessions() as s:
        central, (town, _other) = factories.county(s)
        names = {
            "cardio": factories.user(s, role=Role.CARDIOLOGIST, org=central).username,
            "coord": factories.user(s, role=Role.REFERRAL_COORDINATOR, org=central).username,
            "admin": factories.user(s, role=Role.ADMIN, org=central).username,
            "doctor": factories.user(s, role=Role.TOWNSHIP_DOCTOR, org=town).username,
        }
        _device, credential = factories.device(s, org=town)
        s.commit()
    names["credential"] = credential
    return names


def _auth(client: httpx.Client, username: str) -> dict[str, str]:
    r = client.post(
        "/api/v1/auth/token", json={"username": username, "password": factories.PASSWORD}
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _wait_for(fn: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_acute_ecg_opens_green_channel_and_times_are_audited(
    live_server: LiveServer, tmp_path: Path
) -> None:
    """Inferior STEMI over the relay → stored → analysed → referral → stamped → audited."""
    names = _seed(live_server)
    files = write_record(simulate("inferior_stemi", seed=7), tmp_path, "stemi7")
    fmc = utcnow() - timedelta(minutes=12)
    metadata = {
        "patient": {"name": "测试患者", "sex": "M", "birth_date": "1961-05-02"},
        "acquired_at": (utcnow() - timedelta(minutes=1)).isoformat(),
        "first_medical_contact_at": fmc.isoformat(),
        "symptom_onset_at": (fmc - timedelta(minutes=50)).isoformat(),
        "chest_pain": True,
        "preliminary_read": "II、III、aVF ST 抬高",
    }
    results: list[dict[str, Any]] = []

    async def push() -> str:
        client = RelayClient(live_server.ws_url, names["credential"])
        stored = await client.upload(files, metadata=metadata, upload_id="e2e-1")
        # The cart hears back: analysis and the green-channel state for its record.
        results.extend(await client.wait_results([stored.record_id], timeout=30.0))
        await client.close()
        return stored.record_id

    record_id = asyncio.run(push())
    assert results and results[-1]["record_id"] == record_id
    assert results[-1]["referral"]["state"] == "opened"

    with httpx.Client(base_url=live_server.url) as http:
        cardio = _auth(http, names["cardio"])
        ecg = _wait_for(
            lambda: (lambda e: e if e["referral"] else None)(
                http.get(f"/api/v1/ecgs/{record_id}", headers=cardio).json()
            )
        )
        codes = [f["code"] for f in ecg["analysis"]["flags"]]
        assert "STEMI_INFERIOR" in codes
        assert ecg["patient"]["name"] == "测试患者"
        assert 40 <= ecg["analysis"]["heart_rate_bpm"] <= 120
        # The cardiologist's view: the flag's evidence as text and the ST level of each lead.
        html = http.get(f"/ecgs/{record_id}", headers={**cardio, "Accept": "text/html"}).text
        assert "第四版心肌梗死通用定义" in html and "J 点 ST" in html
        assert html.count('class="st-up"') >= 3 and '"st_j_mv"' not in html
        referral_id = ecg["referral"]["id"]

        coord = _auth(http, names["coord"])
        for step in ("depart", "arrive", "admit"):
            r = http.post(
                f"/api/v1/referrals/{referral_id}/steps", json={"step": step}, headers=coord
            )
            assert r.status_code == 201, r.text
        again = http.post(
            f"/api/v1/referrals/{referral_id}/steps", json={"step": "admit"}, headers=coord
        )
        assert again.status_code == 409 and again.json()["code"] == "INVALID_TRANSITION"

        admin = _auth(http, names["admin"])
        metrics = http.get("/api/v1/metrics/transfers", headers=admin).json()
        transfer = next(t for t in metrics["transfers"] if t["id"] == referral_id)
        assert transfer["state"] == "admitted"
        # Door = first medical contact 12 minutes ago; admission was just stamped.
        assert 11.5 <= transfer["times"]["door_to_admission_min"] <= 14.0
        assert metrics["completed"] == 1 and metrics["within_target"] == 1
        page = http.get("/audit/transfers", headers={**admin, "Accept": "text/html"})
        assert page.status_code == 200 and referral_id in page.text


def test_normal_ecg_opens_no_referral(live_server: LiveServer, tmp_path: Path) -> None:
    """A normal sinus ECG is analysed and opens nothing."""
    names = _seed(live_server)
    files = write_record(simulate("normal", seed=3), tmp_path, "normal3")

    async def push() -> str:
        client = RelayClient(live_server.ws_url, names["credential"])
        stored = await client.upload(
            files, metadata={"patient": {"name": "普通患者"}}, upload_id="e2e-normal"
        )
        await client.close()
        return stored.record_id

    record_id = asyncio.run(push())
    with httpx.Client(base_url=live_server.url) as http:
        cardio = _auth(http, names["cardio"])
        ecg = _wait_for(
            lambda: (lambda e: e if e["analysis"] else None)(
                http.get(f"/api/v1/ecgs/{record_id}", headers=cardio).json()
            )
        )
        assert ecg["referral"] is None
        assert not any(f["severity"] == "critical" for f in ecg["analysis"]["flags"])
        assert http.get("/api/v1/referrals", headers=cardio).json() == []
