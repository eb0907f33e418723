"""OPC UA against a client nobody here wrote: node-opcua (tests/opcua_client) on a lab service printing on a real
simulated printer. It browses Objects/Machines, reads the nozzle temperature, sees it rise through a subscription
while the printer heats, gets an event naming the layer and verdict when the camera fails a layer (a clog), and
may pause only when signed in as a configured user. The tests follow one print, in the order written."""
from __future__ import annotations

import json
import shutil
import socket
import statistics
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from controller.config import parse_config
from controller.events import Event
from controller.farm.intake import count_layers
from controller.farm.service import LabService
from controller.publish.wiring import attach_publishers
from controller.sim_procs import SimProcess
from controller.store import jobs, printers
from tests.conftest import REPO
from tests.sim_rig import small_part_gcode, start_sims, wait_for

CLIENT = REPO / "tests" / "opcua_client"
PRINTER = "mk3"
USERS = {"tech": "layer-by-layer"}
FAULT_LAYER = 5


def _node_client() -> str:
    """node, with the client's packages installed (npm ci when they are missing)."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the OPC UA proof needs Node 20 and npm (Debian nodejs, npm)")
    if not (CLIENT / "node_modules" / "node-opcua-client").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail(f"node-opcua-client is missing and npm is not installed: run npm ci --prefix {CLIENT}")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--prefix", str(CLIENT)], check=True, timeout=300,
                       capture_output=True)
    return node


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Watcher:
    """`client.js watch`: its JSON lines as they arrive; method calls go through its stdin (one Node process:
    loading node-opcua takes seconds)."""

    proc: subprocess.Popen[str]
    lines: list[dict] = field(default_factory=list)
    calls: int = 0

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("{"):
                self.lines.append(json.loads(line))

    def of(self, key: str) -> list[dict]:
        return [x for x in list(self.lines) if key in x]

    def call(self, method: str, *login: str) -> dict:
        """Call a method of the printer's machine in a new session (anonymous, or USER PASSWORD); the answer."""
        return self._ask({"method": method, **dict(zip(("user", "password"), login, strict=False))})

    def read(self, *path: str) -> object:
        """The value of the variable at a browse path under the machine (read in the watching session)."""
        answer = self._ask({"path": list(path)})
        assert answer["status"] == "Good", answer
        return answer["value"]

    def _ask(self, request: dict) -> dict:
        assert self.proc.stdin is not None
        self.calls += 1
        request["id"] = self.calls
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        answer = wait_for(lambda: [x for x in self.of("id") if x["id"] == request["id"]], 30, f"{request} answered")
        return answer[0]  # type: ignore[index]

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@dataclass
class Lab:
    svc: LabService
    sim: SimProcess
    endpoint: str
    node: str
    watcher: Watcher
    job: int
    bus_temps: list[tuple[float, float]]

    def call(self, method: str, *login: str) -> dict:
        """Call a method of the printer's machine through the node-opcua client; its answer."""
        return self.watcher.call(method, *login)

    def state(self) -> str:
        return printers.get_printer(self.svc.store, PRINTER).state


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    node = _node_client()
    folder = tmp_path_factory.mktemp("opcua")
    gcode = small_part_gcode(folder)  # 10 layers
    sim = start_sims([f"clog@{FAULT_LAYER}"], folder, speed="10")[0]
    endpoint = f"opc.tcp://127.0.0.1:{_free_port()}"
    cfg = parse_config({"data_dir": str(folder / "data"), "api_keys": ["k"], "temperature_interval_s": 1.0,
                        "opcua": {"endpoint": endpoint, "users": USERS},
                        "printers": [{"name": PRINTER, "port": sim.serial, "camera": sim.camera}]})
    svc = attach_publishers(LabService(cfg))
    bus_temps: list[tuple[float, float]] = []

    def seen(event: Event) -> None:
        bus_temps.append((time.time(), float(event.data["tool0"]["actual"])))

    svc.bus.subscribe(seen, ["temperature"], name="test-clock")
    watcher = None
    try:
        svc.start(0.1)
        opcua = svc.publishers["opcua"]
        assert opcua.wait_ready(60), opcua.error
        wait_for(lambda: printers.get_printer(svc.store, PRINTER).state == "idle", 30, "the printer to connect")
        proc = subprocess.Popen([node, "client.js", "watch", endpoint, PRINTER], cwd=CLIENT, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        watcher = Watcher(proc)
        wait_for(lambda: watcher.of("ready") or watcher.of("fatal"), 30, "the node-opcua client to subscribe")
        assert not watcher.of("fatal"), watcher.of("fatal")
        f = jobs.add_file(svc.store, gcode.name, str(gcode), "gcode", gcode.stat().st_size, "0" * 64, svc.clock())
        job = jobs.create_job(svc.store, f.id, gcode.name, 1, 0, svc.clock(), gcode_path=str(gcode),
                              layer_count=count_layers(gcode)).id
        yield Lab(svc, sim, endpoint, node, watcher, job, bus_temps)
    finally:
        if watcher is not None:
            watcher.close()
        svc.stop()
        sim.stop()


def test_node_client_browses_the_machines_and_reads_the_nozzle_temperature(lab: Lab) -> None:
    assert lab.watcher.of("machines")[0]["machines"] == [PRINTER]
    read = lab.watcher.of("read")[0]
    assert read["status"] == "Good" and isinstance(read["read"], int | float) and 0 < read["read"] < 60
    assert read["am_technology"] == "MEX"
    report = lab.svc.publishers["opcua"].report   # every companion model, PADIM and IRDI from node-opcua's set
    assert report is not None and report.failed == {} and report.has("Machinery/ProcessValues"), report.summary()


def test_subscription_sees_the_nozzle_temperature_rise_while_the_printer_heats(lab: Lab) -> None:
    def risen() -> bool:
        values = [x["temperature"] for x in lab.watcher.of("temperature")]
        return len(values) >= 5 and max(values) - values[0] > 50
    wait_for(risen, 40, "the subscribed nozzle temperature to rise 50 °C")
    # latency: from the bus handing a new reading to its subscribers to the node client holding it (the first
    # notification is the value at subscription time, not a change)
    changes: list[tuple[float, float]] = []  # (time the bus first had it, value), for each change of value
    for t, value in list(lab.bus_temps):
        if not changes or changes[-1][1] != value:
            changes.append((t, value))
    lags = []
    for x in lab.watcher.of("temperature")[1:]:
        sent = [t for t, value in changes if value == x["temperature"] and t <= x["t"] / 1000]
        if sent:
            lags.append(x["t"] / 1000 - sent[-1])
    assert len(lags) >= 3  # temperature events are at most two a second per printer
    print(f"\nbus -> node-opcua subscriber: {len(lags)} readings, p50 {statistics.median(lags) * 1000:.0f} ms, "
          f"max {max(lags) * 1000:.0f} ms")


def test_anonymous_client_cannot_pause_and_a_signed_in_user_can(lab: Lab) -> None:
    wait_for(lambda: (r := jobs.list_runs(lab.svc.store, job_id=lab.job)) and r[0].layer >= 1, 60,
             "the first layer to print")
    anonymous = lab.call("Pause")
    assert anonymous["status"] == "BadUserAccessDenied", anonymous
    wrong = lab.call("Pause", "tech", "guess")
    assert wrong["status"] in ("BadUserAccessDenied", "BadIdentityTokenRejected"), wrong
    assert lab.state() == "printing"
    done = lab.call("Pause", "tech", USERS["tech"])
    assert done["status"] == "Good" and "pause" in done["output"][0], done
    wait_for(lambda: lab.state() == "paused", 30, "the printer to pause")
    resumed = lab.call("Resume", "tech", USERS["tech"])
    assert resumed["status"] == "Good", resumed
    wait_for(lambda: lab.state() == "printing", 30, "the printer to print again")
    again = lab.call("Resume", "tech", USERS["tech"])
    assert again["status"] == "BadInvalidState" and "cannot resume" in again["output"][0], again
    print(f"\npaused and resumed at layer {jobs.list_runs(lab.svc.store, job_id=lab.job)[0].layer}")


def test_a_failed_layer_raises_an_event_naming_the_printer_layer_and_verdict(lab: Lab) -> None:
    wait_for(lambda: lab.watcher.of("event"), 90, "the failed layer's event")
    event = lab.watcher.of("event")[0]["event"]
    assert event["SourceName"] == PRINTER
    assert "missing_layer" in event["Message"], event
    layer = int(event["Message"].split("layer ", 1)[1].split()[0])
    assert FAULT_LAYER <= layer <= FAULT_LAYER + 2, event
    assert int(event["Severity"]) >= 500
    wait_for(lambda: lab.watcher.of("server_event"), 10, "the same event through the Server object")
    assert lab.watcher.of("server_event")[0]["server_event"]["EventId"] == event["EventId"]


def test_the_machine_shows_its_program_plan_feedstock_and_identity(lab: Lab) -> None:
    read = lab.watcher.read
    wait_for(lambda: lab.state() == "needs_attention", 30, "the failed copy to be settled")
    assert read("Production", "ActiveProgram", "Name") == "block.gcode"
    assert read("Production", "ActiveProgram", "LayersPlanned") == 10
    assert FAULT_LAYER <= read("Production", "ActiveProgram", "CurrentLayer") <= 10  # type: ignore[operator]
    assert read("Production", "ActiveProgram", "State", "CurrentState") == "Interrupted"  # the camera paused it
    assert read("Production", "ProductionPlan", "RunsPlanned") == 1
    assert read("Production", "ProductionPlan", "GoodParts") == 0
    assert read("Monitoring", "MachineState") == "needs_attention"
    assert read("MachineryBuildingBlocks", "MachineryItemState", "CurrentState") == "OutOfService"
    assert read("Monitoring", "Process", "NozzleTemperature", "SetpointValue") == 200
    assert read("Equipment", "Materials", "Filament", "PlannedLength") > 100  # type: ignore[operator]
    assert "Marlin" in str(read("Identification", "SoftwareRevision"))
    assert read("Identification", "Model") == "printloop sim"
