"""The MTConnect agent over Starlette's client: probe, current, sample and assets validate against the 2.5
schemas, each printer is a Device named after it, bus events become observations, sample pages never skip or
repeat a sequence number, OUT_OF_RANGE and UNAUTHORIZED come back as the standard's error documents."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from lxml import etree

from controller.api.app import create_app
from controller.config import parse_config
from controller.events import Event
from controller.farm.service import LabService
from controller.store import history
from tests.mtconnect_schemas import NS, valid
from tests.sim_rig import wait_for

KEY = "mtc-key-9"
H = {"X-Api-Key": KEY}
PRINTERS = ["mk3-a", "2nd-mini"]


def _service(tmp_path: Path, **mtconnect: object) -> LabService:
    cfg = parse_config({"data_dir": str(tmp_path / "data"), "api_keys": [KEY],
                        "mtconnect": {"enabled": True, **mtconnect},
                        "printers": [{"name": n, "port": f"/dev/null-{n}"} for n in PRINTERS]})
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


def _get(client: TestClient, path: str, status: int = 200) -> bytes:
    r = client.get(path, headers=H)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/xml")
    return r.content


def test_probe_has_a_valid_device_per_printer_named_after_it(client: TestClient) -> None:
    root = valid("Devices", _get(client, "/mtconnect/probe"))
    devices = root.findall("d:Devices/d:Device", NS)
    assert sorted(d.get("name") for d in devices) == sorted(PRINTERS)
    assert {d.get("name"): d.get("id") for d in devices}["2nd-mini"] == "_2nd-mini", "ids may not start with a digit"
    dev = next(d for d in devices if d.get("name") == "mk3-a")
    types = {(i.get("type"), i.get("subType"), i.get("category"))
             for i in dev.iterfind(".//d:ExtrusionUnit/d:DataItems/d:DataItem", NS)}
    assert types == {("TEMPERATURE", "ACTUAL", "SAMPLE"), ("TEMPERATURE", "COMMANDED", "SAMPLE"),
                     ("TEMPERATURE", None, "CONDITION")}
    path_types = {i.get("type") for i in dev.iterfind(".//d:Controller//d:Path/d:DataItems/d:DataItem", NS)}
    assert {"EXECUTION", "PROGRAM", "LINE_NUMBER", "PART_COUNT", "MATERIAL_LAYER", "PART_STATUS"} <= path_types
    assert [a.get("name") for a in dev.iterfind(".//d:Axes//d:Linear", NS)] == ["X", "Y", "Z"]
    assert dev.find(".//d:Sensor/d:DataItems/d:DataItem[@category='CONDITION']", NS) is not None
    assert {i.get("type") for i in dev.findall("d:DataItems/d:DataItem", NS)} == {
        "AVAILABILITY", "ASSET_CHANGED", "ASSET_REMOVED"}
    valid("Assets", _get(client, "/mtconnect/assets"))


def _stream(root: etree._Element, printer: str) -> dict[str, etree._Element]:
    """dataItemId -> element, for one DeviceStream."""
    dev = root.find(f"s:Streams/s:DeviceStream[@name='{printer}']", NS)
    assert dev is not None
    return {el.get("dataItemId"): el for el in dev.iter() if el.get("dataItemId")}


def test_current_follows_what_the_printer_publishes(svc: LabService, client: TestClient) -> None:
    root = valid("Streams", _get(client, "/mtconnect/current"))
    items = _stream(root, "mk3-a")
    assert items["mk3-a_avail"].text == "UNAVAILABLE" and items["mk3-a_tool0_temp"].text == "UNAVAILABLE"
    assert "_2nd-mini_avail" in _stream(root, "2nd-mini")

    t = time.time()
    for kind, data in [("connected", {}), ("temperature", {"tool0": {"actual": 201.46, "target": 210.0},
                                                            "bed": {"actual": 59.9, "target": 60.0}}),
                       ("job_started", {"lines": 900}), ("layer", {"layer": 4, "z": 1.0, "command": 321}),
                       ("error", {})]:
        message = "firmware halted: Error:Thermal Runaway, system stopped! Heater_ID: bed" if kind == "error" else kind
        svc.bus.publish(Event(kind, message, t, data, "mk3-a"))
    history.add_event(svc.store, "vision_failure", "vision caught spaghetti at layer 4", t, printer="mk3-a",
                      data={"layer": 4, "verdict": "spaghetti"})

    def settled() -> dict[str, etree._Element] | None:
        found = _stream(valid("Streams", _get(client, "/mtconnect/current")), "mk3-a")
        return found if found["mk3-a_vision"].tag.endswith("Fault") else None
    items = wait_for(settled, 10, "the events to reach the agent", every=0.05)
    assert isinstance(items, dict)
    assert items["mk3-a_avail"].text == "AVAILABLE"
    assert items["mk3-a_tool0_temp"].text == "201.5" and items["mk3-a_tool0_target"].text == "210.0"
    assert items["mk3-a_layer"].text == "4" and items["mk3-a_line"].text == "321"
    assert items["mk3-a_z_pos"].text == "1.0"
    assert items["mk3-a_execution"].text == "STOPPED"
    bed = items["mk3-a_bed_thermal"]
    assert bed.tag == f"{{{NS['s']}}}Fault" and bed.get("nativeCode") == "THERMAL_RUNAWAY"
    assert items["mk3-a_tool0_thermal"].tag.endswith("Normal")
    vision = items["mk3-a_vision"]
    assert vision.get("nativeCode") == "SPAGHETTI" and "layer 4" in (vision.text or "")
    assert items["mk3-a_part_status"].text == "FAIL"
    assert _stream(valid("Streams", _get(client, "/mtconnect/current")), "2nd-mini")[
        "_2nd-mini_execution"].text == "UNAVAILABLE"


def test_sample_pages_have_no_gaps_or_repeats_while_observations_arrive(svc: LabService,
                                                                        client: TestClient) -> None:
    stop = threading.Event()

    def heat() -> None:
        t = 20.0
        while not stop.is_set():
            t += 0.5
            svc.bus.publish(Event("temperature", "", time.time(), {"tool0": {"actual": t, "target": 215.0},
                                                                    "bed": {"actual": t / 3, "target": 60.0}},
                                  PRINTERS[len(str(t)) % 2]))
            time.sleep(0.002)

    writer = threading.Thread(target=heat)
    writer.start()
    seen: list[int] = []
    try:
        start: int | None = None
        for _ in range(40):
            query = "count=7" if start is None else f"from={start}&count=7"
            root = valid("Streams", _get(client, f"/mtconnect/sample?{query}"))
            seqs = sorted(int(el.get("sequence")) for el in root.iter() if el.get("sequence"))
            header = root.find("s:Header", NS)
            assert header is not None
            assert len(seqs) <= 7 and int(header.get("nextSequence")) == (seqs[-1] + 1 if seqs else start)
            seen += seqs
            start = int(header.get("nextSequence"))
    finally:
        stop.set()
        writer.join()
    assert len(seen) > 100
    assert seen == list(range(1, len(seen) + 1)), "every sequence number exactly once, in order"


def test_from_outside_the_buffer_gives_out_of_range_and_bad_numbers_invalid_request(tmp_path: Path) -> None:
    svc = _service(tmp_path, buffer_size=16)
    try:
        with TestClient(create_app(svc, run_fleet=False)) as client:
            for i in range(40):
                svc.bus.publish(Event("temperature", "", time.time(), {"tool0": {"actual": 20.0 + i}}, "mk3-a"))
            wait_for(lambda: _stream(valid("Streams", _get(client, "/mtconnect/current")), "mk3-a")[
                "mk3-a_tool0_temp"].text == "59.0", 10, "the last reading to arrive", every=0.05)
            header = valid("Streams", _get(client, "/mtconnect/sample")).find("s:Header", NS)
            first, nxt = int(header.get("firstSequence")), int(header.get("nextSequence"))
            assert nxt - first == 16 and header.get("bufferSize") == "16"
            for bad in (first - 1, nxt + 1):
                err = valid("Error", _get(client, f"/mtconnect/sample?from={bad}", 400))
                assert err.find("e:Errors/e:Error", NS).get("errorCode") == "OUT_OF_RANGE"
            err = valid("Error", _get(client, "/mtconnect/sample?count=lots", 400))
            assert err.find("e:Errors/e:Error", NS).get("errorCode") == "INVALID_REQUEST"
            valid("Streams", _get(client, f"/mtconnect/sample?from={first}&count=16"))
    finally:
        svc.stop()


def test_the_agent_needs_the_key_unless_public_and_is_off_unless_enabled(client: TestClient,
                                                                        tmp_path: Path) -> None:
    for path in ("/mtconnect/probe", "/mtconnect/current", "/mtconnect/sample", "/mtconnect/assets"):
        r = client.get(path)
        assert r.status_code == 401, path
        err = valid("Error", r.content)
        assert err.find("e:Errors/e:Error", NS).get("errorCode") == "UNAUTHORIZED"
        assert client.get(f"{path}?api_key={KEY}").status_code == 200
    public = _service(tmp_path / "public", public=True)
    off = LabService(parse_config({"data_dir": str(tmp_path / "off"), "api_keys": [KEY]}))
    try:
        with TestClient(create_app(public, run_fleet=False)) as c:
            valid("Devices", c.get("/mtconnect/probe").content)
            assert c.get("/metrics").status_code == 401, "only the agent becomes public"
        with TestClient(create_app(off, run_fleet=False)) as c:
            assert c.get("/mtconnect/probe", headers=H).status_code == 404
    finally:
        public.stop()
        off.stop()


def test_one_device_by_name_and_no_device_for_an_unknown_one(svc: LabService, client: TestClient) -> None:
    for i in range(30):
        svc.bus.publish(Event("temperature", "", time.time(), {"tool0": {"actual": 20.0 + i}}, PRINTERS[i % 2]))
    wait_for(lambda: _stream(valid("Streams", _get(client, "/mtconnect/current")), "2nd-mini")[
        "_2nd-mini_tool0_temp"].text == "49.0", 10, "the readings to arrive", every=0.05)
    probe = valid("Devices", _get(client, "/mtconnect/mk3-a/probe"))
    assert [d.get("name") for d in probe.findall("d:Devices/d:Device", NS)] == ["mk3-a"]
    current = valid("Streams", _get(client, "/mtconnect/2nd-mini/current"))
    assert [d.get("name") for d in current.findall("s:Streams/s:DeviceStream", NS)] == ["2nd-mini"]

    def seqs(root: etree._Element) -> list[int]:
        return sorted(int(el.get("sequence")) for el in root.iter() if el.get("sequence"))
    everything = valid("Streams", _get(client, "/mtconnect/sample?count=1000"))
    mine = [int(el.get("sequence")) for el in everything.iter()
            if el.get("sequence") and str(el.get("dataItemId")).startswith("mk3-a_")]
    paged: list[int] = []
    start = 1
    while True:
        page = valid("Streams", _get(client, f"/mtconnect/mk3-a/sample?from={start}&count=5"))
        assert {d.get("name") for d in page.findall("s:Streams/s:DeviceStream", NS)} == {"mk3-a"}
        if not seqs(page):
            break
        paged += seqs(page)
        start = int(page.find("s:Header", NS).get("nextSequence"))
    assert paged == sorted(mine) and len(paged) > 20
    err = valid("Error", _get(client, "/mtconnect/no-such-printer/current", 404))
    assert err.find("e:Errors/e:Error", NS).get("errorCode") == "NO_DEVICE"


def test_a_printer_added_through_the_api_gets_a_device_and_a_new_model_time(client: TestClient) -> None:
    before = valid("Devices", _get(client, "/mtconnect/probe")).find("d:Header", NS)
    time.sleep(0.01)
    r = client.post("/api/v1/printers", headers=H, json={"name": "mini-c", "port": "socket://127.0.0.1:5555"})
    assert r.status_code == 201
    root = valid("Devices", _get(client, "/mtconnect/probe"))
    assert "mini-c" in [d.get("name") for d in root.findall("d:Devices/d:Device", NS)]
    assert root.find("d:Header", NS).get("deviceModelChangeTime") > before.get("deviceModelChangeTime")
    items = _stream(valid("Streams", _get(client, "/mtconnect/current")), "mini-c")
    assert items["mini-c_execution"].text == "UNAVAILABLE" and items["mini-c_avail"].text == "UNAVAILABLE"
    assert client.delete("/api/v1/printers/mini-c", headers=H).status_code == 200
    root = valid("Devices", _get(client, "/mtconnect/probe"))
    assert "mini-c" not in [d.get("name") for d in root.findall("d:Devices/d:Device", NS)]
