"""The MTConnect agent fed by a real simulated printer over its pseudo-terminal: a copy printed through the API
shows up as the standard's observations (heating, execution, program, layers, part count and status), and the
whole buffer read page by page validates and holds every sequence number once."""
from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from lxml import etree

from controller.api.app import create_app
from controller.config import parse_config
from controller.farm.service import LabService
from controller.sim_procs import launch_sim
from tests.mtconnect_schemas import NS, valid
from tests.sim_rig import small_part_gcode, wait_for

KEY = "mtc-sim-key"
H = {"X-Api-Key": KEY}


def _values(observations: list[etree._Element], item: str) -> list[str]:
    return [str(o.text) for o in observations if o.get("dataItemId") == item]


def test_a_printed_copy_reads_as_mtconnect_observations(tmp_path: Path) -> None:
    gcode = small_part_gcode(tmp_path)
    sim = launch_sim("--speed", "max", "--seed", "5", log=tmp_path / "sim.log")
    svc = LabService(parse_config({"data_dir": str(tmp_path / "data"), "api_keys": [KEY],
                                   "mtconnect": {"enabled": True, "public": True},
                                   "printers": [{"name": "sim-a", "port": sim.serial}]}))
    try:
        with TestClient(create_app(svc)) as client:
            wait_for(lambda: client.get("/api/v1/printers/sim-a", headers=H).json()["state"] == "idle", 30,
                     "the printer to connect")
            r = client.post("/api/v1/jobs", headers=H, files={"file": (gcode.name, gcode.read_bytes())})
            assert r.status_code == 201, r.text
            layers = r.json()["layer_count"]
            wait_for(lambda: client.get("/api/v1/printers/sim-a", headers=H).json()["state"] == "awaiting_clear",
                     60, "the copy to finish")

            def finished() -> dict[str, etree._Element] | None:
                root = valid("Streams", client.get("/mtconnect/current").content)
                items = {o.get("dataItemId"): o for o in root.iter() if o.get("dataItemId")}
                return items if items["sim-a_parts_good"].text == "1" else None
            current = wait_for(finished, 10, "the agent to count the part", every=0.1)
            assert isinstance(current, dict)
            assert current["sim-a_execution"].text == "PROGRAM_COMPLETED"
            assert current["sim-a_part_status"].text == "PASS"
            assert current["sim-a_program"].text == gcode.name
            assert current["sim-a_layers"].text == str(layers)
            assert current["sim-a_layer"].text == str(layers - 1)
            assert current["sim-a_avail"].text == "AVAILABLE"
            assert current["sim-a_system"].tag == f"{{{NS['s']}}}Normal"
            float(current["sim-a_tool0_temp"].text or "")

            observations: list[etree._Element] = []
            start = 1
            while True:
                page = valid("Streams", client.get(f"/mtconnect/sample?from={start}&count=50").content)
                found = sorted((o for o in page.iter() if o.get("sequence")), key=lambda o: int(o.get("sequence")))
                if not found:
                    break
                observations += found
                header = page.find("s:Header", NS)
                assert header is not None
                start = int(header.get("nextSequence"))
            seqs = [int(o.get("sequence")) for o in observations]
            assert seqs == list(range(1, len(seqs) + 1))
            assert max(float(v) for v in _values(observations, "sim-a_tool0_temp") if v != "UNAVAILABLE") > 150
            execution = _values(observations, "sim-a_execution")
            assert "ACTIVE" in execution and execution[-1] == "PROGRAM_COMPLETED"
            printed = [int(v) for v in _values(observations, "sim-a_layer") if v != "UNAVAILABLE"]
            assert printed == sorted(set(printed)) and printed[-1] == layers - 1, "layers only go up"
            lines = [int(v) for v in _values(observations, "sim-a_line") if v != "UNAVAILABLE"]
            assert len(lines) > 2 and max(lines) > 100, "the line number follows the print"
    finally:
        svc.stop()
        sim.stop()


def test_a_heater_running_away_is_a_thermal_fault_condition(tmp_path: Path) -> None:
    gcode = tmp_path / "long.gcode"
    gcode.write_text("\n".join(["M104 S200", "M109 S200", "G28", "G92 E0"] + [
        f"G1 X{10 + (i % 50)} Y{20 + (i % 30)} E{i * 0.01:.3f} F600" for i in range(20000)]) + "\n")
    sim = launch_sim("--speed", "max", "--seed", "6", "--faults", "runaway@s=120", log=tmp_path / "sim.log")
    svc = LabService(parse_config({"data_dir": str(tmp_path / "data"), "api_keys": [KEY],
                                   "mtconnect": {"enabled": True},
                                   "printers": [{"name": "sim-hot", "port": sim.serial}]}))
    try:
        with TestClient(create_app(svc)) as client:
            wait_for(lambda: client.get("/api/v1/printers/sim-hot", headers=H).json()["state"] == "idle", 30,
                     "the printer to connect")
            r = client.post("/api/v1/jobs", headers=H, files={"file": (gcode.name, gcode.read_bytes())})
            assert r.status_code == 201, r.text

            def fault() -> dict[str, etree._Element] | None:
                root = valid("Streams", client.get("/mtconnect/sim-hot/current", headers=H).content)
                items = {o.get("dataItemId"): o for o in root.iter() if o.get("dataItemId")}
                return items if items["sim-hot_tool0_thermal"].tag.endswith("Fault") else None
            items = wait_for(fault, 60, "the runaway to show as a thermal fault", every=0.2)
            assert isinstance(items, dict)
            cond = items["sim-hot_tool0_thermal"]
            assert cond.get("type") == "TEMPERATURE" and cond.get("nativeCode") == "THERMAL_RUNAWAY"
            assert "Runaway" in (cond.text or "")
            assert items["sim-hot_bed_thermal"].tag.endswith("Normal")
            assert items["sim-hot_execution"].text in ("STOPPED", "INTERRUPTED")
    finally:
        svc.stop()
        sim.stop()
