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
