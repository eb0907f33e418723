"""GET /metrics over Starlette's client: the key rules, Prometheus' linter on the output, the history counted from
the store, counters fed from the bus, and request latency labelled by route template."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from controller.api.app import create_app
from controller.config import parse_config
from controller.events import Event
from controller.farm.service import LabService
from controller.store import history, jobs
from tests.metrics_rig import promtool_check
from tests.sim_rig import wait_for

KEY = "metrics-key-7"
H = {"X-Api-Key": KEY}


def _service(tmp_path: Path, public: bool = False) -> LabService:
    cfg = parse_config({"data_dir": str(tmp_path / "data"), "api_keys": [KEY], "metrics": {"public": public},
                        "printers": [{"name": "mk3-a", "port": "/dev/null-a"}, {"name": "mk3-b", "port": "/dev/nb"}]})
    return LabService(cfg)


@pytest.fixture()
def svc(tmp_path: Path) -> LabService:
    service = _service(tmp_path)
    yield service
    service.stop()


@pytest.fixture()
def client(svc: LabService) -> TestClient:
    with TestClient(create_app(svc, run_fleet=False)) as c:
        yield c


def _value(text: str, series: str) -> float | None:
    """The value of one exposed series (name and labels exactly as printed), or None."""
    m = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    return float(m.group(1)) if m else None


def test_metrics_need_the_api_key_unless_public(client: TestClient, tmp_path: Path) -> None:
    r = client.get("/metrics")
    assert r.status_code == 401 and "X-Api-Key" in r.json()["message"]
    assert client.get("/metrics", headers={"X-Api-Key": "wrong"}).status_code == 401
    assert client.get("/metrics", headers=H).status_code == 200
    assert client.get(f"/metrics?api_key={KEY}").status_code == 200
    public = _service(tmp_path / "public", public=True)
    try:
        with TestClient(create_app(public, run_fleet=False)) as c:
            r = c.get("/metrics")
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
            assert c.get("/api/v1/printers").status_code == 401, "only /metrics becomes public"
    finally:
        public.stop()


def test_openmetrics_is_served_when_the_scraper_asks_for_it(client: TestClient) -> None:
    r = client.get("/metrics", headers={**H, "Accept": "application/openmetrics-text; version=1.0.0"})
    assert r.headers["content-type"].startswith("application/openmetrics-text")
    assert r.text.rstrip().endswith("# EOF")


def _history(svc: LabService) -> None:
    """Three copies on mk3-a: one completed with two good layers, one failed by vision, one left queued."""
    t = time.time()
    f = jobs.add_file(svc.store, "cube.gcode", "/tmp/cube.gcode", "gcode", 10, "0" * 64, t)
    job = jobs.create_job(svc.store, f.id, "cube.gcode", 3, 0, t, gcode_path="/tmp/cube.gcode", layer_count=5)
    for outcome in ("completed", "failed"):
        claimed = jobs.claim_next_run(svc.store, "mk3-a", t)
        assert claimed is not None
        run = claimed[0]
        verdicts = ["ok", "ok"] if outcome == "completed" else ["ok", "spaghetti"]
        for layer, verdict in enumerate(verdicts):
            history.add_layer_check(svc.store, run.id, layer, verdict == "ok", verdict, t)
        jobs.finish_run(svc.store, run.id, outcome, t)
    assert len(jobs.list_runs(svc.store, job_id=job.id, states=("queued",))) == 1


def test_promtool_accepts_the_output_and_the_history_is_counted_from_the_store(svc: LabService,
                                                                               client: TestClient) -> None:
    _history(svc)
    text = client.get("/metrics", headers=H).text
    lint = promtool_check(text)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert _value(text, 'printloop_copies_finished_total{outcome="completed",printer="mk3-a"}') == 1
    assert _value(text, 'printloop_copies_finished_total{outcome="failed",printer="mk3-a"}') == 1
    assert _value(text, 'printloop_layer_verdicts_total{printer="mk3-a",verdict="ok"}') == 3
    assert _value(text, 'printloop_layer_verdicts_total{printer="mk3-a",verdict="spaghetti"}') == 1
    assert _value(text, "printloop_queue_copies") == 1
    assert sum(float(v) for v in re.findall(r"^printloop_jobs\{.*\} (\S+)$", text, re.MULTILINE)) == 1
    assert _value(text, 'printloop_printer_state{printer="mk3-b",state="offline"}') == 1
    assert _value(text, 'printloop_printer_state{printer="mk3-b",state="idle"}') == 0
    assert _value(text, 'printloop_printer_connected{printer="mk3-a"}') == 0


def test_printer_events_on_the_bus_are_counted(svc: LabService, client: TestClient) -> None:
    for kind in ("resend", "resend", "error", "layer"):
        svc.bus.publish(Event(kind, kind, time.time(), {"line": 3}, "mk3-b"))

    def counted() -> str | None:
        text = client.get("/metrics", headers=H).text
        return text if _value(text, 'printloop_printer_events_total{kind="layer",printer="mk3-b"}') else None
    text = str(wait_for(counted, 10, "the bus events to be counted", every=0.05))
    assert _value(text, 'printloop_link_resends_total{printer="mk3-b"}') == 2
    assert _value(text, 'printloop_printer_events_total{kind="error",printer="mk3-b"}') == 1


def test_request_latency_is_labelled_by_route_template_not_by_id(client: TestClient) -> None:
    for job_id in (101, 102, 103):
        assert client.get(f"/api/v1/jobs/{job_id}", headers=H).status_code == 404
    text = client.get("/metrics", headers=H).text
    count = 'printloop_http_request_duration_seconds_count{method="GET",route="/api/v1/jobs/{job_id}",status="404"}'
    assert _value(text, count) == 3
    assert "/api/v1/jobs/101" not in text
    assert _value(text, 'printloop_http_request_duration_seconds_count{method="GET",route="unmatched",'
                        'status="404"}') is None
    client.get("/no/such/page")
    text = client.get("/metrics", headers=H).text
    assert _value(text, 'printloop_http_request_duration_seconds_count{method="GET",route="unmatched",'
                        'status="404"}') == 1


def test_config_sections_refuse_unknown_keys_and_bad_sizes_naming_them() -> None:
    from controller.errors import ConfigError

    with pytest.raises(ConfigError, match=r"metrics\.publik: unknown key"):
        parse_config({"metrics": {"publik": True}})
    with pytest.raises(ConfigError, match=r"mtconnect\.buffer_size: Input should be greater than or equal to 16"):
        parse_config({"mtconnect": {"enabled": True, "buffer_size": 0}})
    cfg = parse_config({})
    assert (cfg.metrics.public, cfg.mtconnect.enabled, cfg.mtconnect.public) == (False, False, False)


def test_link_rate_is_bytes_per_second_over_the_window_and_restarts_after_a_reconnect() -> None:
    from controller.publish.metrics import LinkRates

    rates = LinkRates(window_s=10.0)
    assert rates.rate("a") == 0.0
    for t in range(31):
        rates.add("a", float(t), 1000 * t if t < 20 else 500 * (t - 20))
        if t == 19:
            assert rates.rate("a") == pytest.approx(1000.0), "10 s of 1000 bytes/s"
    assert rates.rate("a") == pytest.approx(500.0), "a smaller count is a new link: old samples forgotten"
