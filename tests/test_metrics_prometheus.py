"""A real Prometheus server scrapes `printloop serve` while a simulated printer heats and prints: its query API
returns the nozzle's temperature series, a scrape without the API key is refused; `promtool check metrics` passes
on the live /metrics output."""
from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from controller.sim_procs import launch_sim
from tests.metrics_rig import prometheus, promtool_check, query, serving, targets
from tests.sim_rig import small_part_gcode, wait_for

KEY = "prom-key-42"
pytestmark = pytest.mark.timeout(120)


def _config(folder: Path, port: str) -> Path:
    """A serve config with one printer on the simulator's pty; /metrics needs the key."""
    path = folder / "printloop.toml"
    path.write_text(f'data_dir = "{folder / "data"}"\napi_keys = ["{KEY}"]\n'
                    f'[[printers]]\nname = "sim-a"\nport = "{port}"\n[metrics]\npublic = false\n')
    return path


def test_prometheus_scrapes_a_printing_simulator_and_returns_its_temperature_series(tmp_path: Path) -> None:
    gcode = small_part_gcode(tmp_path)
    sim = launch_sim("--speed", "20", "--seed", "3", log=tmp_path / "sim.log")
    try:
        with serving(_config(tmp_path, sim.serial), tmp_path / "serve.log") as base:
            host = base.removeprefix("http://")
            with prometheus(host, tmp_path / "prom", {"printloop": {"api_key": KEY}, "keyless": {}}) as prom:
                h = {"X-Api-Key": KEY}
                wait_for(lambda: httpx.get(f"{base}/api/v1/printers/sim-a", headers=h).json()["state"] == "idle",
                         30, "the printer to connect")
                r = httpx.post(f"{base}/api/v1/jobs", headers=h, files={"file": (gcode.name, gcode.read_bytes())})
                assert r.status_code == 201, r.text

                # the live output, mid-print, passes Prometheus' own linter
                wait_for(lambda: "printloop_print_progress_ratio{" in httpx.get(f"{base}/metrics", headers=h).text,
                         30, "the copy to start")
                text = httpx.get(f"{base}/metrics", headers=h).text
                lint = promtool_check(text)
                assert lint.returncode == 0, lint.stdout + lint.stderr

                nozzle = 'printloop_temperature_celsius{printer="sim-a",heater="tool0",kind="actual"}'
                hot = wait_for(lambda: query(prom, f"max_over_time({nozzle}[5m]) > 150"), 40,
                               "Prometheus to see the nozzle above 150 °C")
                assert isinstance(hot, list) and len(hot) == 1
                assert hot[0]["metric"] == {"printer": "sim-a", "heater": "tool0", "kind": "actual",
                                            "instance": host, "job": "printloop"}
                series = query(prom, f"{nozzle}[5m]")[0]["values"]
                temps = [float(v) for _t, v in series]
                assert len(temps) >= 3 and min(temps) < max(temps), "the series follows the heating"
                target = query(prom, 'max_over_time(printloop_temperature_celsius{printer="sim-a",'
                                     'heater="tool0",kind="target"}[5m])')
                assert float(target[0]["value"][1]) >= 150
                assert float(query(prom, 'up{job="printloop"}')[0]["value"][1]) == 1.0
                keyless = targets(prom)["keyless"]
                assert keyless["health"] == "down" and "401" in keyless["lastError"], keyless
                wait_for(lambda: query(prom, 'printloop_link_sent_bytes_total{printer="sim-a"} > 2000'), 30,
                         "Prometheus to see the G-code streaming (bytes written)")
                wait_for(lambda: query(prom, 'max_over_time(printloop_link_sent_bytes_per_second{printer="sim-a"}[5m])'
                                             ' > 100'), 20, "a link rate while streaming")
    finally:
        sim.stop()
