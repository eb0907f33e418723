"""Maintenance counters and tasks over the real HTTP API, with the copies' ends written to the store as the fleet
writes them and a clock the test moves: print hours (less the time paused), filament metres (a finished PrusaSlicer
cube counts what its own header states), copies and failures since the last service; a task due by hours or by
failures is told once (`maintenance_due` in the history and at a signed webhook on loopback), and an operator's
service log resets only that task's counters and names who did it."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from controller.api.app import create_app
from controller.config import parse_config
from controller.errors import ConfigError
from controller.farm.service import LabService
from controller.store import history, jobs
from controller.store.extrusion import executed_filament_mm
from tests.conftest import GCODE_SAMPLES
from tests.sim_rig import wait_for
from tests.test_accounts import Clock
from tests.test_notify import Receiver

KEY = "maintenance-key"
ADMIN = {"X-Api-Key": KEY}
CUBE_MM = 1325.30       # "filament used [mm]" in the header of cube.prusa.gcode


@pytest.fixture()
def lab(tmp_path: Path) -> Iterator[tuple[TestClient, LabService, Clock, Receiver]]:
    hook, clock = Receiver(), Clock()
    cfg = parse_config({
        "data_dir": str(tmp_path / "data"), "api_keys": [KEY],
        "printers": [{"name": "mk3-a", "port": "/dev/null-a", "maintenance": [
            {"task": "nozzle", "every_hours": 2.5}, {"task": "belts", "every_failures": 2, "every_metres": 50}]},
            {"name": "mk3-b", "port": "/dev/null-b"}],
        "webhooks": [{"url": f"http://127.0.0.1:{hook.port}/hook", "secret": "maintenance secret",
                      "events": ["maintenance_due"]}]})
    svc = LabService(cfg, clock=clock)
    with TestClient(create_app(svc, run_fleet=False)) as client:
        for publisher in svc.publishers.values():
            publisher.start()
        yield client, svc, clock, hook
    svc.stop()
    hook.close()


def _print_copy(client: TestClient, svc: LabService, clock: Clock, hours: float, state: str = "completed",
                layer: int = 0, pauses: tuple[tuple[str, float], ...] = ()) -> None:
    """One copy of the cube on mk3-a, `hours` long, ended as the fleet ends it (run, then history event); each
    pause is (history kind, hours after the start): pause/paused pause it, resume/resumed resume it."""
    data = (GCODE_SAMPLES / "cube.prusa.gcode").read_bytes()
    assert client.post("/api/v1/jobs", headers=ADMIN, files={"file": ("cube.gcode", data)}).status_code == 201
    claimed = jobs.claim_next_run(svc.store, "mk3-a", clock())
    assert claimed is not None
    run, start = claimed[0], clock()
    jobs.update_run_progress(svc.store, run.id, layer, 100, layer, "printing")
    for kind, after_h in pauses:
        clock.t = start + after_h * 3600
        history.add_event(svc.store, kind, kind, clock(), job_id=run.job_id if kind in ("pause", "resume") else None,
                          run_id=run.id if kind in ("pause", "resume") else None, printer="mk3-a")
    clock.t = start + hours * 3600
    jobs.finish_run(svc.store, run.id, state, clock(), "", failed_layer=layer if state == "failed" else None)
    history.add_event(svc.store, state, f"copy 1 {state} on mk3-a", clock(), job_id=run.job_id, run_id=run.id,
                      printer="mk3-a", actor="printer:mk3-a")


def _due_events(client: TestClient) -> list[dict]:
    return client.get("/api/v1/events", headers=ADMIN, params={"kind": "maintenance_due"}).json()


def _tasks(client: TestClient) -> dict[str, dict]:
    body = client.get("/api/v1/printers/mk3-a/maintenance", headers=ADMIN).json()
    return {t["task"]: t for t in body["tasks"]}


def test_counters_count_hours_filament_copies_and_failures_since_the_last_service(lab) -> None:
    client, svc, clock, _hook = lab
    _print_copy(client, svc, clock, 1.5)
    _print_copy(client, svc, clock, 0.5, "failed", layer=9)
    body = client.get("/api/v1/printers/mk3-a/maintenance", headers=ADMIN).json()
    usage = body["usage"]
    assert body["last_service"] is None and usage["since"] is None
    assert usage["hours"] == pytest.approx(2.0) and usage["jobs"] == 2 and usage["failures"] == 1
    assert CUBE_MM / 1000 < usage["metres"] < 1.3 * CUBE_MM / 1000   # the whole cube and its first ten layers
    assert body["due"] == [] and _tasks(client)["nozzle"]["fraction"] == pytest.approx(2.0 / 2.5)
    assert client.get("/api/v1/printers/mk3-b/maintenance", headers=ADMIN).json()["tasks"] == []
    assert [p["printer"] for p in client.get("/api/v1/maintenance", headers=ADMIN).json()] == ["mk3-a", "mk3-b"]
    assert client.get("/api/v1/printers/nope/maintenance", headers=ADMIN).status_code == 404


def test_time_paused_is_not_print_time(lab) -> None:
    client, svc, clock, _hook = lab
    _print_copy(client, svc, clock, 10.0, pauses=(("pause", 1.0), ("resume", 8.0)))   # an operator's pause
    _print_copy(client, svc, clock, 5.0, "cancelled", pauses=(("paused", 2.0),))       # a runout, never resumed
    hours = client.get("/api/v1/printers/mk3-a/maintenance", headers=ADMIN).json()["usage"]["hours"]
    assert hours == pytest.approx(3.0 + 2.0)


def test_a_finished_copy_counts_the_filament_its_slicer_states(lab) -> None:
    client, svc, clock, _hook = lab
    _print_copy(client, svc, clock, 1.0)
    metres = client.get("/api/v1/printers/mk3-a/maintenance", headers=ADMIN).json()["usage"]["metres"]
    assert metres == pytest.approx(CUBE_MM / 1000, rel=1e-4)


def test_a_task_due_is_told_once_and_a_service_resets_only_that_task(lab) -> None:
    client, svc, clock, hook = lab
    olga = {"X-Api-Key": client.post("/api/v1/users", headers=ADMIN, json={
        "name": "olga", "role": "operator", "password": "a long password"}).json()["api_key"]}
    _print_copy(client, svc, clock, 2.0, "failed", layer=3)
    assert _due_events(client) == []
    _print_copy(client, svc, clock, 1.0, "failed", layer=3)      # 3 h and 2 failures: both tasks due
    wait_for(lambda: len(_due_events(client)) == 2, 10, "both tasks to be told due")
    told = {e["data"]["task"]: e for e in _due_events(client)}
    assert told["nozzle"]["actor"] == "service:maintenance" and told["nozzle"]["printer"] == "mk3-a"
    assert "3.0 of every 2.5 hours" in told["nozzle"]["message"] and told["belts"]["data"]["due_by"] == ["failures"]
    wait_for(lambda: len(hook.got) == 2, 10, "the webhook to hear of both")
    assert {json.loads(body)["event"] for _h, body in hook.got} == {"maintenance_due"}
    assert sorted(client.get("/api/v1/printers/mk3-a/maintenance", headers=ADMIN).json()["due"]) == ["belts",
                                                                                                    "nozzle"]

    _print_copy(client, svc, clock, 0.1)                          # still due: not told again
    clock.t += 60
    r = client.post("/api/v1/printers/mk3-a/maintenance/log", headers=olga,
                    json={"task": "nozzle", "note": "0.4 mm brass swapped"})
    assert r.status_code == 201 and r.json()["by"] == "olga" and r.json()["t"] == clock()
    assert client.post("/api/v1/printers/mk3-a/maintenance/log", headers=olga,
                       json={"task": "bed"}).status_code == 404
    tasks = _tasks(client)
    assert tasks["nozzle"]["due"] is False and tasks["nozzle"]["used"]["hours"] == 0.0
    assert tasks["nozzle"]["last_done"] == clock() and tasks["belts"]["due"] is True
    assert tasks["belts"]["used"]["failures"] == 2
    log = client.get("/api/v1/printers/mk3-a/maintenance/log", headers=ADMIN).json()
    assert [(e["task"], e["note"], e["by"]) for e in log] == [("nozzle", "0.4 mm brass swapped", "olga")]
    done = client.get("/api/v1/events", headers=ADMIN, params={"actor": "olga", "kind": "maintenance_done"}).json()
    assert len(done) == 1 and "nozzle" in done[0]["message"]

    _print_copy(client, svc, clock, 2.6)                          # the new nozzle's 2.5 h are up: told again
    wait_for(lambda: len(_due_events(client)) == 3, 10, "the nozzle to be told due again")
    assert [e["data"]["task"] for e in _due_events(client)][-1] == "nozzle"
    wait_for(lambda: len(hook.got) == 3, 10, "the webhook to hear of it")


def test_only_operators_log_a_service(lab) -> None:
    client, _svc, _clock, _hook = lab
    keys = {role: {"X-Api-Key": client.post("/api/v1/users", headers=ADMIN, json={
        "name": f"u-{role}", "role": role, "password": "a long password"}).json()["api_key"]}
        for role in ("operator", "submitter", "viewer")}
    for role, code in (("viewer", 403), ("submitter", 403), ("operator", 201)):
        r = client.post("/api/v1/printers/mk3-a/maintenance/log", headers=keys[role], json={"task": "belts"})
        assert r.status_code == code, role
        assert client.get("/api/v1/printers/mk3-a/maintenance", headers=keys[role]).status_code == 200


@pytest.mark.parametrize(("task", "words"), [
    ({"task": "nozzle"}, "needs at least one of every_hours"),
    ({"task": "nozzle", "every_hours": 0}, "greater than 0"),
    ({"task": "nozzle", "every_weeks": 2}, "unknown key"),
    ({"task": "no zzle", "every_hours": 2}, "letters, digits"),
])
def test_a_bad_maintenance_task_is_refused_naming_the_key(tmp_path: Path, task: dict, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as err:
        parse_config({"printers": [{"name": "mk3-a", "port": "/dev/x", "maintenance": [task]}]})
    assert "printers[0].maintenance[0]" in str(err.value)


def test_two_tasks_of_one_printer_cannot_share_a_name() -> None:
    with pytest.raises(ConfigError, match="repeated: nozzle"):
        parse_config({"printers": [{"name": "mk3-a", "port": "/dev/x", "maintenance": [
            {"task": "nozzle", "every_hours": 2}, {"task": "nozzle", "every_metres": 9}]}]})


def test_a_copy_counts_only_the_objects_it_printed_and_the_layers_it_reached(tmp_path: Path) -> None:
    import trimesh

    from slicing.slicer import slice_file

    mesh = tmp_path / "block.stl"
    trimesh.creation.box(extents=(12, 12, 2)).export(mesh)
    gcode = tmp_path / "plate.gcode"
    gcode.write_text(slice_file(mesh, copies=2).gcode)
    path = str(gcode)
    whole = executed_filament_mm(path, "completed", 0, [], [])
    first = executed_filament_mm(path, "completed", 0, ["block_0"], [])
    assert whole is not None and first is not None
    assert first == executed_filament_mm(path, "completed", 0, [], ["block_1"])
    assert 0.45 * whole < first < 0.6 * whole          # one of two blocks (and what belongs to neither)
    half_way = executed_filament_mm(path, "failed", 4, [], [])
    assert half_way is not None and 0.3 * whole < half_way < 0.7 * whole     # layers 0-4 of 10
    assert executed_filament_mm(path, "failed", -1, [], []) == 0.0
    assert executed_filament_mm(str(tmp_path / "gone.gcode"), "completed", 0, [], []) is None
