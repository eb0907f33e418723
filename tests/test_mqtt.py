"""The MQTT publisher against a real Mosquitto broker (started here on a free loopback port) and Mosquitto's own
clients: `mosquitto_sub` sees every topic while a simulated printer prints, Home Assistant's discovery configs,
the retained state again after the broker restarts, the last will when the service is killed with SIGKILL, and
a command from `mosquitto_pub` pauses the print (a wrong key changes nothing)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from controller.config import parse_config
from controller.farm.intake import count_layers
from controller.farm.service import LabService
from controller.publish.wiring import attach_publishers
from controller.sim_procs import SimProcess
from controller.store import jobs, printers
from tests.conftest import REPO
from tests.mqtt_rig import Broker, Subscriber, free_port, publish, retained
from tests.sim_rig import cube_gcode, small_part_gcode, start_sims, take_part_off, wait_for

KEY = "mqtt-test-key"
BASE = "printloop"


@dataclass
class Lab:
    """The module's broker, simulator, service and a subscriber that was listening before the service began."""

    broker: Broker
    sim: SimProcess
    svc: LabService
    sub: Subscriber
    folder: Path


def _submit(svc: LabService, gcode: Path) -> int:
    f = jobs.add_file(svc.store, gcode.name, str(gcode), "gcode", gcode.stat().st_size, "0" * 64, svc.clock())
    return jobs.create_job(svc.store, f.id, gcode.name, 1, 0, svc.clock(), gcode_path=str(gcode),
                           layer_count=count_layers(gcode)).id


def _state(lab: Lab) -> str:
    return printers.get_printer(lab.svc.store, "p1").state


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    folder = tmp_path_factory.mktemp("mqtt")
    broker = Broker(folder).start()
    sub = Subscriber(broker.port, "#")
    sims = start_sims([""], folder)
    svc = None
    try:
        cfg = parse_config({"data_dir": str(folder / "data"), "api_keys": [KEY],
                            "mqtt": {"broker": broker.url, "public_url": "http://lab.example:8000"},
                            "printers": [{"name": "p1", "port": sims[0].serial, "camera": sims[0].camera}]})
        svc = attach_publishers(LabService(cfg))
        svc.start(0.1)
        yield Lab(broker, sims[0], svc, sub, folder)
    finally:
        if svc is not None:
            svc.stop()
        sims[0].stop()
        sub.stop()
        broker.stop()


def test_every_topic_is_seen_while_a_part_prints(lab: Lab) -> None:
    wait_for(lambda: _state(lab) == "idle", 30, "p1 connected and idle")
    _submit(lab.svc, small_part_gcode(lab.folder))
    wait_for(lambda: _state(lab) == "awaiting_clear", 60, "the part printed")
    s = lab.sub
    s.wait(lambda m: m.topic == f"{BASE}/p1/state" and json.loads(m.payload)["state"] == "awaiting_clear", 10,
           "the state awaiting_clear")
    seen = s.topics()
    for topic in ("status", "queue", "p1/state", "p1/job", "p1/layer", "p1/layer/photo", "p1/progress/printing",
                  "p1/temperature/tool0", "p1/temperature/bed", "p1/event/Connected", "p1/event/PrintStarted",
                  "p1/event/ZChange", "p1/event/PrintDone", "p1/event/PrinterStateChanged"):
        assert f"{BASE}/{topic}" in seen, topic
    assert s.messages(f"{BASE}/status")[0].text == "online"

    temps = [json.loads(m.payload) for m in s.messages(f"{BASE}/p1/temperature/tool0")]
    assert all(set(t) == {"actual", "target"} for t in temps) and any(t["target"] > 0 for t in temps)
    assert len(temps) < 40, "temperatures are rate-limited and sent on change only"

    layers = [json.loads(m.payload) for m in s.messages(f"{BASE}/p1/layer")]
    assert [x["layer"] for x in layers] == list(range(10))
    assert all(x["ok"] is True and x["verdict"] == "ok" for x in layers)
    assert layers[-1]["photo_url"] == f"http://lab.example:8000/api/v1/layer-checks/{layers[-1]['check_id']}" \
                                      "/image?kind=photo"
    assert s.messages(f"{BASE}/p1/layer/photo")[-1].payload[:3] == b"\xff\xd8\xff", "a JPEG for the camera"

    progress = [json.loads(m.payload) for m in s.messages(f"{BASE}/p1/progress/printing")]
    assert progress[-1]["progress"] == 100 and progress[-1]["state"] == "completed"
    assert [p["progress"] for p in progress] == sorted(p["progress"] for p in progress)
    started = json.loads(s.messages(f"{BASE}/p1/event/PrintStarted")[0].payload)
    assert started["_event"] == "PrintStarted" and abs(started["_timestamp"] - time.time()) < 120
    job = json.loads(s.messages(f"{BASE}/p1/job")[-1].payload)
    assert job["state"] == "completed" and job["name"] == "block.gcode"
    assert json.loads(s.messages(f"{BASE}/queue")[-1].payload) == {"printing": 0, "queued": 0, "runs": []}


def test_discovery_configs_hold_what_home_assistant_requires(lab: Lab) -> None:
    held = retained(lab.broker.port, "homeassistant/#")
    configs = {t: json.loads(m.payload) for t, m in held.items()}
    components = sorted(t.split("/")[1] for t in configs)
    assert components.count("camera") == 1 and components.count("sensor") == 9
    for topic, c in configs.items():
        assert topic == f"homeassistant/{topic.split('/')[1]}/{c['unique_id']}/config"
        assert c["availability_topic"] == f"{BASE}/status"
        assert c["device"]["identifiers"] == ["printloop_printloop_p1"] and c["device"]["name"] == "p1"
        state_topic = c.get("state_topic") or c["topic"]
        assert state_topic.startswith(f"{BASE}/p1/")
    assert len({c["unique_id"] for c in configs.values()}) == len(configs)
    names = {c["name"] for c in configs.values()}
    assert {"State", "Progress", "Nozzle temperature", "Bed temperature", "Current layer", "Last layer verdict",
            "Time left", "Last layer photo"} <= names


def _reply(lab: Lab, ident: str) -> dict:
    m = lab.sub.wait(lambda m: m.topic == f"{BASE}/p1/command/response" and json.loads(m.payload)["id"] == ident,
                     15, f"the reply to command {ident}")
    return json.loads(m.payload)


def _command(lab: Lab, command: str, ident: str, key: str = KEY) -> dict:
    publish(lab.broker.port, f"{BASE}/p1/command", json.dumps({"command": command, "key": key, "id": ident}))
    return _reply(lab, ident)


def test_commands_from_mosquitto_pub_pause_resume_cancel_and_clear_a_print(lab: Lab) -> None:
    take_part_off(lab.sim)
    assert _command(lab, "clear_bed", "clear-1")["ok"] is True
    wait_for(lambda: _state(lab) == "idle", 10, "p1 idle after clearing over MQTT")
    _submit(lab.svc, cube_gcode(lab.folder))
    wait_for(lambda: _state(lab) == "printing", 30, "the cube printing")

    wrong = _command(lab, "pause", "wrong-1", key="not-a-key")
    assert wrong == {"id": "wrong-1", "ok": False, "message": "wrong API key: nothing was done"}
    time.sleep(1.0)
    assert _state(lab) == "printing" and not lab.sub.messages(f"{BASE}/p1/event/PrintPaused")

    reply = _command(lab, "pause", "pause-1")
    assert reply["ok"] is True and reply["id"] == "pause-1", reply
    lab.sub.wait(lambda m: m.topic == f"{BASE}/p1/event/PrintPaused", 20, "PrintPaused")
    wait_for(lambda: _state(lab) == "paused", 20, "p1 paused")
    layer = json.loads(lab.sub.messages(f"{BASE}/p1/progress/printing")[-1].payload)["layer"]
    time.sleep(1.0)
    assert json.loads(lab.sub.messages(f"{BASE}/p1/progress/printing")[-1].payload)["layer"] == layer

    assert _command(lab, "resume", "resume-1")["ok"] is True
    lab.sub.wait(lambda m: m.topic == f"{BASE}/p1/event/PrintResumed", 20, "PrintResumed")
    assert _command(lab, "cancel", "cancel-1")["ok"] is True
    lab.sub.wait(lambda m: m.topic == f"{BASE}/p1/event/PrintCancelled", 20, "PrintCancelled")
    wait_for(lambda: _state(lab) == "awaiting_clear", 20, "p1 waiting for its bed after the cancel")
    again = _command(lab, "cancel", "cancel-2")
    assert again["ok"] is False and "not printing" in again["message"]
    take_part_off(lab.sim)
    assert _command(lab, "clear_bed", "clear-2")["ok"] is True
    wait_for(lambda: _state(lab) == "idle", 10, "p1 idle again")


def test_after_a_broker_restart_the_retained_state_is_back_and_nothing_is_queued(lab: Lab) -> None:
    lab.broker.stop()
    mqtt = lab.svc.publishers["mqtt"]
    dropped = mqtt.dropped
    for i in range(200):  # a ghost printer's temperatures and errors while the broker is away
        lab.svc.bus.emit("temperature", "", {"tool0": {"actual": 20.0 + i, "target": 210.0}}, printer="ghost")
        lab.svc.bus.emit("error", f"error {i} while away", printer="ghost")
    wait_for(lambda: mqtt.dropped >= dropped + 200, 10,
             "messages dropped while the broker is away")
    lab.broker.start()
    back = time.monotonic()
    after = Subscriber(lab.broker.port, "#")
    try:
        after.wait(lambda m: m.topic == f"{BASE}/status" and m.text == "online", 30, "online after the restart")
        took = time.monotonic() - back
        assert took < 30, f"reconnected {took:.1f} s after the broker came back"
        time.sleep(0.5)
        held = retained(lab.broker.port)
        for topic in ("status", "queue", "p1/state", "p1/job", "p1/layer", "p1/layer/photo",
                      "p1/progress/printing", "p1/temperature/tool0", "p1/temperature/bed"):
            assert f"{BASE}/{topic}" in held, topic
        assert held[f"{BASE}/status"].text == "online"
        assert json.loads(held[f"{BASE}/p1/state"].payload)["state"] == "idle"
        assert sum(t.startswith("homeassistant/") for t in held) == 10
        after.wait(lambda m: m.topic == f"{BASE}/ghost/temperature/tool0"
                   and json.loads(m.payload) == {"actual": 219.0, "target": 210.0}, 10, "the latest reading")
        assert len(after.messages(f"{BASE}/ghost/temperature/tool0")) <= 2, "the latest, not a backlog"
        assert not after.messages(f"{BASE}/ghost/event/Error"), "events from while it was away are dropped"
    finally:
        after.stop()


def test_the_last_will_says_offline_when_the_service_is_killed(lab: Lab, tmp_path: Path) -> None:
    cfg = tmp_path / "printloop.toml"
    cfg.write_text(f'data_dir = "data"\napi_keys = ["{KEY}"]\n\n[mqtt]\nbroker = "{lab.broker.url}"\n'
                   'base_topic = "lab2"\n')
    proc = subprocess.Popen([sys.executable, "-m", "controller", "serve", "--config", str(cfg), "--port",
                             str(free_port())], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    watcher = Subscriber(lab.broker.port, "lab2/status")
    try:
        watcher.wait(lambda m: m.text == "online", 30, "lab2/status online from the service")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        watcher.wait(lambda m: m.text == "offline", 10, "the last will lab2/status offline")
        assert retained(lab.broker.port, "lab2/status")["lab2/status"].text == "offline"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        watcher.stop()


def test_a_stalled_broker_never_holds_up_a_print(lab: Lab) -> None:
    wait_for(lambda: _state(lab) == "idle", 20, "p1 idle")
    assert lab.broker.proc is not None
    lab.broker.proc.send_signal(signal.SIGSTOP)  # accepts nothing, answers nothing: sockets fill up
    try:
        _submit(lab.svc, small_part_gcode(lab.folder))
        wait_for(lambda: _state(lab) == "awaiting_clear", 60, "the part printed while the broker was stalled")
        assert len(jobs.list_runs(lab.svc.store, states=("completed",))) == 2
    finally:
        lab.broker.proc.send_signal(signal.SIGCONT)


def test_a_printer_added_gets_its_device_and_a_removed_one_loses_it(lab: Lab) -> None:
    printers.add_printer(lab.svc.store, "spare", "/dev/ttyNOTHERE", 115200, None, None, "pause", time.time())
    wait_for(lambda: "homeassistant/sensor/printloop_printloop_spare_state/config" in retained(lab.broker.port,
             "homeassistant/#"), 15, "the new printer's discovery")
    printers.remove_printer(lab.svc.store, "spare")
    wait_for(lambda: not any("spare" in t for t in retained(lab.broker.port)), 15,
             "the removed printer's retained topics gone")
