"""The cart agent: durable outbox, complete-record detection, uploads through a real server."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from devices.agent import config as agent_config
from devices.agent.outbox import Outbox
from devices.agent.runner import Agent
from devices.agent.watcher import FolderWatcher
from devices.simulator import simulate, write_record
from devices.simulator.cases import make_case, write_case
from tests.conftest import Cart, LiveServer


def test_outbox_survives_a_reboot(tmp_path: Path) -> None:
    """Queued items are still there after the outbox file is closed and opened again."""
    path = tmp_path / "outbox.sqlite3"
    box = Outbox(path)
    assert box.add(
        directory=tmp_path,
        record_name="a",
        files=["a.hea", "a.dat"],
        metadata={"patient": {"name": "x"}},
        upload_id="a-1",
    )
    assert not box.add(
        directory=tmp_path, record_name="a", files=["a.hea", "a.dat"], metadata={}, upload_id="a-1"
    )
    box.mark(box.pending()[0].id, "uploading")
    box.close()
    again = Outbox(path)
    (item,) = again.pending()
    assert item.record_name == "a" and item.state == "uploading" and item.attempts == 1
    assert item.metadata == {"patient": {"name": "x"}}
    assert again.depth() == 1
    again.close()


def test_watcher_waits_for_complete_stable_records(tmp_path: Path) -> None:
    """Header without data, growing data: not queued; complete and unchanged: queued once."""
    src = tmp_path / "src"
    hea, dat = write_record(simulate("normal", seed=1), src, "rec")
    watch = tmp_path / "export"
    watch.mkdir()
    watcher = FolderWatcher(watch)
    never = lambda d, n: False  # noqa: E731
    (watch / "rec.hea").write_bytes(hea.read_bytes())
    assert watcher.scan(never) == []
    data = dat.read_bytes()
    (watch / "rec.dat").write_bytes(data[: len(data) // 2])
    assert watcher.scan(never) == []
    (watch / "rec.dat").write_bytes(data)
    assert watcher.scan(never) == []  # size changed since the last scan
    (found,) = watcher.scan(never)
    assert found.files == ["rec.hea", "rec.dat"] and found.record_name == "rec"
    assert watcher.scan(lambda d, n: n == "rec") == []


def test_config_is_private(tmp_path: Path) -> None:
    """The credential file is written with mode 0600; the relay URL is derived from http(s)."""
    path = tmp_path / "cfg" / "config.json"
    cfg = agent_config.AgentConfig(
        server="https://x.example.cn/xl", credential="s3cret", device_id="d1"
    )
    agent_config.save(cfg, path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert agent_config.load(path) == cfg
    assert cfg.relay_url == "wss://x.example.cn/xl/relay/v1"
    assert agent_config.relay_url("http://127.0.0.1:8000") == "ws://127.0.0.1:8000/relay/v1"


def test_agent_uploads_everything_and_hears_results(
    live_server: LiveServer, cart: Cart, tmp_path: Path
) -> None:
    """Three exported records (one acute) are stored once each; results come back to the cart."""
    from datetime import UTC, datetime

    import numpy as np

    watch = tmp_path / "export"
    rng = np.random.default_rng(3)
    for i, scenario in enumerate(("normal", "inferior_stemi", "af")):
        write_case(
            make_case(rng, now=datetime.now(UTC), scenario=scenario, number=i), watch, f"case{i}"
        )
    box = Outbox(tmp_path / "outbox.sqlite3")
    events: list[tuple[str, dict[str, object]]] = []
    agent = Agent(
        relay_url=live_server.ws_url,
        credential=cart.credential,
        watch=watch,
        outbox=box,
        on_event=lambda k, d: events.append((k, d)),
        scan_s=0.1,
    )

    async def go() -> None:
        await agent.run(until_empty=True)
        stored = [i.record_id for i in box.all() if i.record_id]
        await agent.client.wait_results(stored, timeout=30)
        await agent.client.close()

    asyncio.run(go())
    items = box.all()
    assert [i.state for i in items] == ["stored"] * 3
    results = {e[1]["record_id"]: e[1] for e in events if e[0] == "result"}
    acute = [r for r in results.values() if r["referral"]]
    assert len(acute) == 1 and acute[0]["referral"]["state"] == "opened"
    assert "STEMI_INFERIOR" in acute[0]["analysis"]["flag_codes"]
    box.close()


def test_refused_record_is_not_retried(live_server: LiveServer, cart: Cart, tmp_path: Path) -> None:
    """A record the centre refuses for good (bad header) is marked refused with its code."""
    watch = tmp_path / "export"
    _hea, dat = write_record(simulate("normal", seed=2), watch, "bad")
    dat.write_bytes(dat.read_bytes()[:-100])
    box = Outbox(tmp_path / "outbox.sqlite3")
    agent = Agent(
        relay_url=live_server.ws_url,
        credential=cart.credential,
        watch=watch,
        outbox=box,
        scan_s=0.1,
    )
    asyncio.run(agent.run(until_empty=True))
    (item,) = box.all()
    assert item.state == "refused" and item.last_error and "DAT_SIZE_MISMATCH" in item.last_error
    box.close()
