"""A receiver that hangs (accepts, never answers) and one that refuses do not slow the print: a simulated printer
throttled to 115200 baud streams a job while the service is flooded with notices for both. The link's byte count
(Prometheus' printloop_link_sent_bytes, sampled four times a second) never stalls while the deliveries hang for
their 10 s timeout, and its utilisation (bytes/s ÷ baud/10) is printed with and without them: on a loaded
machine it wanders by itself, so only a gross fall (under half) fails the test; the figure is the report."""
from __future__ import annotations

import re
import socket
import threading
import time
from itertools import pairwise
from pathlib import Path

import httpx

from controller.api.app import create_app
from controller.api.live import LiveServer, free_port
from controller.config import parse_config
from controller.farm.service import LabService
from controller.publish.notify import Notifier
from controller.sim_procs import launch_sim
from tests.conftest import GCODE_SAMPLES
from tests.sim_rig import wait_for

KEY = "bad-receivers-key"
BAUD = 115200
WINDOW_S = 5.0


class HangingReceiver:
    """A loopback TCP server that accepts every connection, reads what comes and never answers."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


def _sent_bytes(api: httpx.Client) -> tuple[float, float]:
    text = api.get("/metrics").text
    m = re.search(r'^printloop_link_sent_bytes(?:_total)?\{printer="p"\} ([0-9.e+]+)$', text, re.MULTILINE)
    assert m, "no link byte count for printer p in /metrics"
    return float(m.group(1)), time.monotonic()


def _watch(api: httpx.Client, seconds: float) -> tuple[float, float]:
    """Utilisation of the link over `seconds`, and its longest stall (s without a byte written)."""
    samples = [_sent_bytes(api)]
    while samples[-1][1] - samples[0][1] < seconds:
        time.sleep(0.25)
        samples.append(_sent_bytes(api))
    stall, since = 0.0, samples[0][1]
    for (b0, _t0), (b1, t1) in pairwise(samples):
        if b1 > b0:
            since = t1
        stall = max(stall, t1 - since)
    (b_first, t_first), (b_last, t_last) = samples[0], samples[-1]
    return (b_last - b_first) / ((t_last - t_first) * BAUD / 10), stall


def test_a_hanging_and_a_refusing_receiver_do_not_slow_the_link(tmp_path: Path) -> None:
    hang, refused = HangingReceiver(), free_port()
    sim = launch_sim("--speed", "max", "--baud", str(BAUD), log=tmp_path / "sim.log")
    cfg = parse_config({
        "data_dir": str(tmp_path / "data"), "api_keys": [KEY],
        "printers": [{"name": "p", "port": sim.serial, "baud": BAUD}],
        "notify": [{"url": f"json://127.0.0.1:{hang.port}/", "events": ["*"]}],
        "webhooks": [{"url": f"http://127.0.0.1:{hang.port}/hook", "secret": "a webhook secret", "events": ["*"]},
                     {"url": f"http://127.0.0.1:{refused}/hook", "secret": "a webhook secret", "events": ["*"]}]})
    svc = LabService(cfg)
    svc.add_publisher("notify", Notifier(cfg, svc.bus, svc.store, svc.clock, backoff_s=(0.05, 0.1, 0.2)))
    server = LiveServer(create_app(svc)).start()
    api = httpx.Client(base_url=server.url, headers={"X-Api-Key": KEY}, timeout=30)
    try:
        data = (GCODE_SAMPLES / "cube.prusa.gcode").read_bytes()
        job = api.post("/api/v1/jobs", files={"file": ("cube.gcode", data)}).json()
        wait_for(lambda: _sent_bytes(api)[0] > 20_000, 60, "the job to stream")
        without, _ = _watch(api, WINDOW_S)

        for _ in range(20):     # 60 deliveries: every pool thread hangs, the refused ones are retried
            assert api.post("/api/v1/notifications/test").status_code == 200
        wait_for(lambda: len(hang.held) >= 4, 10, "the hanging receiver to hold every pool thread")
        with_them, stall = _watch(api, WINDOW_S)

        assert api.get(f"/api/v1/jobs/{job['id']}").json()["runs"][0]["state"] == "printing"
        assert without > 0.2, f"the link was not busy enough to tell ({100 * without:.1f} %)"
        print(f"link utilisation at {BAUD} baud: {100 * without:.1f} % without, {100 * with_them:.1f} % with "
              "a hanging and a refusing receiver")
        assert stall < 3.0, f"the link stalled {stall:.1f} s while deliveries hung"
        assert with_them > 0.5 * without, (without, with_them)
        assert all(not a["ok"] for a in api.get("/api/v1/notifications").json())   # none got through
        api.post(f"/api/v1/jobs/{job['id']}/cancel")
    finally:
        hang.close()
        api.close()
        server.stop()
        svc.stop()
        sim.stop()
