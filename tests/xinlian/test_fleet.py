"""Fleet administration through the real server: register, enroll, move, rotate, retire."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from typer.testing import CliRunner

from devices.agent import config as agent_config
from ecg_relay.client import AuthRefused, RelayClient
from tests import factories
from tests.conftest import LiveServer
from xinlian.cli import app as cli
from xinlian.models import Role


def test_fleet_lifecycle(live_server: LiveServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """An admin registers a cart; `xinlian cart enroll` gets a credential; rotate and retire cut it off."""
    with live_server.sessions() as s:
        central, (town_a, town_b) = factories.county(s)
        admin = factories.user(s, role=Role.ADMIN, org=central).username
        doctor = factories.user(s, role=Role.TOWNSHIP_DOCTOR, org=town_a).username
        s.commit()
        codes = {"a": town_a.code, "b": town_b.code}
    with httpx.Client(base_url=live_server.url) as http:
        token = http.post(
            "/api/v1/auth/token", json={"username": admin, "password": factories.PASSWORD}
        ).json()
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        doc = http.post(
            "/api/v1/auth/token", json={"username": doctor, "password": factories.PASSWORD}
        ).json()
        assert (
            http.get(
                "/api/v1/devices", headers={"Authorization": f"Bearer {doc['access_token']}"}
            ).status_code
            == 403
        )
        r = http.post(
            "/api/v1/devices",
            json={
                "serial_number": "EDAN-0001",
                "vendor": "Edan",
                "model": "SE-1200",
                "organization_code": codes["a"],
            },
            headers=auth,
        )
        assert r.status_code == 201, r.text
        device_id = r.json()["id"]
        dup = http.post(
            "/api/v1/devices",
            json={
                "serial_number": "EDAN-0001",
                "vendor": "Edan",
                "model": "SE-1200",
                "organization_code": codes["a"],
            },
            headers=auth,
        )
        assert dup.status_code == 409 and dup.json()["code"] == "SERIAL_EXISTS"
        code = http.post(f"/api/v1/devices/{device_id}/enrollment-code", headers=auth).json()[
            "code"
        ]

        cfg_path = tmp_path / "cart" / "config.json"
        result = CliRunner().invoke(
            cli,
            [
                "cart",
                "enroll",
                "--server",
                live_server.url,
                "--code",
                code,
                "--config",
                str(cfg_path),
            ],
        )
        assert result.exit_code == 0, result.output
        cfg = agent_config.load(cfg_path)
        assert cfg.device_id == device_id
        again = CliRunner().invoke(
            cli,
            [
                "cart",
                "enroll",
                "--server",
                live_server.url,
                "--code",
                code,
                "--config",
                str(tmp_path / "x.json"),
            ],
        )
        assert again.exit_code == 2 and "CODE_USED" in again.output

        async def connects(credential: str) -> bool:
            client = RelayClient(live_server.ws_url, credential)
            try:
                await client.connect()
                return True
            except AuthRefused:
                return False
            finally:
                await client.close()

        assert asyncio.run(connects(cfg.credential))
        moved = http.post(
            f"/api/v1/devices/{device_id}/move",
            json={"organization_code": codes["b"]},
            headers=auth,
        ).json()
        assert moved["serial_number"] == "EDAN-0001"
        rotated = http.post(f"/api/v1/devices/{device_id}/rotate", headers=auth)
        assert rotated.status_code == 201
        assert not asyncio.run(connects(cfg.credential))
        new = http.post("/api/v1/devices/enroll", json={"code": rotated.json()["code"]}).json()
        assert asyncio.run(connects(new["credential"]))
        retired = http.post(
            f"/api/v1/devices/{device_id}/status", json={"status": "retired"}, headers=auth
        )
        assert retired.json()["status"] == "retired"
        assert not asyncio.run(connects(new["credential"]))
        fleet = http.get("/api/v1/devices", headers=auth).json()
        assert [d["serial_number"] for d in fleet] == ["EDAN-0001"]
        page = http.get("/admin/fleet", headers={**auth, "Accept": "text/html"})
        assert page.status_code == 200 and "EDAN-0001" in page.text


@pytest.mark.parametrize("bad", ["", "nope-nope", "ABCDEFGHJK"])
def test_enroll_with_a_bad_code_is_refused(live_server: LiveServer, bad: str) -> None:
    """Unknown or malformed codes get a clear error, never a credential."""
    with httpx.Client(base_url=live_server.url) as http:
        r = http.post("/api/v1/devices/enroll", json={"code": bad})
        assert r.status_code in (404, 422)
        assert "credential" not in r.json()
