"""Real browser (Debian's Chromium via Playwright): the cardiologist's live worklist."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from devices.simulator import simulate, write_record
from ecg_relay.client import RelayClient
from tests import factories
from tests.conftest import LiveServer
from xinlian.models import Role

pytestmark = pytest.mark.browser


def _login(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("button[type=submit]")


def test_acute_ecg_appears_live_and_transfer_is_stamped(
    live_server: LiveServer, browser_page: Any, tmp_path: Path
) -> None:
    """An acute ECG shows up red with its green channel without a reload; then it is stamped."""
    page = browser_page
    with live_server.sessions() as s:
        central, (town, _) = factories.county(s)
        cardio = factories.user(s, role=Role.CARDIOLOGIST, org=central).username
        coord = factories.user(s, role=Role.REFERRAL_COORDINATOR, org=central).username
        _device, credential = factories.device(s, org=town)
        s.commit()

    _login(page, live_server.url, cardio)
    page.wait_for_url("**/worklist")
    assert page.locator("#worklist-rows tr.acute").count() == 0
    page.wait_for_function("!document.getElementById('live').classList.contains('off')")

    files = write_record(simulate("anterior_stemi", seed=11), tmp_path, "ant11")

    async def push() -> str:
        client = RelayClient(live_server.ws_url, credential)
        stored = await client.upload(
            files, metadata={"patient": {"name": "浏览器患者", "sex": "F"}}, upload_id="browser-1"
        )
        await client.close()
        return stored.record_id

    # Playwright's sync API owns this thread's event loop: the cart runs in its own thread.
    with ThreadPoolExecutor(1) as pool:
        record_id = pool.submit(asyncio.run, push()).result(timeout=60)
    row = page.locator(f"#worklist-rows tr.acute[data-record='{record_id}']")
    row.wait_for(timeout=30_000)
    assert "疑似前壁" in row.inner_text()
    row.locator("a.gc").wait_for(timeout=10_000)
    assert "已开启" in row.inner_text()

    page.click(f"tr[data-record='{record_id}'] >> text=十二导联心电图")
    page.wait_for_function("document.getElementById('ecg').dataset.drawn === '1'", timeout=15_000)
    assert page.locator(".banner.acute").count() == 1

    page.click("form.logout-form button, .who button")
    _login(page, live_server.url, coord)
    page.wait_for_url("**/referrals")
    page.click("table.list a >> nth=0")
    for step_label in ("救护车出发", "到达总院", "收治入院"):
        page.click(f"button:has-text('{step_label}')")
        page.wait_for_load_state()
    assert page.locator("#state").inner_text().strip() == "已收治"
    assert page.locator("#d2a").inner_text().strip() != "—"
