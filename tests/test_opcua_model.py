"""OPC UA without a client: the `[opcua]` config, the NodeSets' load order from their RequiredModel entries,
what each bus event changes on a machine, and the server's own load of the shared NodeSets."""
from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from controller.config import parse_config
from controller.errors import ConfigError
from controller.events import Event
from controller.publish.opcua_nodesets import (
    BASE_URI,
    PACKAGED_DIR,
    find_nodesets,
    load_nodesets,
    load_order,
)
from controller.publish.opcua_state import MachineValues, layer_alarm, values_from_event
from tests.conftest import SHARED

NODESETS = SHARED / "standards" / "opcua"


def test_opcua_config_defaults_and_its_mistakes_name_the_key(tmp_path: Path) -> None:
    cfg = parse_config({"opcua": {"users": {"tech": "pw"}, "nodesets": "ua"}}, base_dir=tmp_path)
    assert cfg.opcua is not None
    assert (cfg.opcua.endpoint, cfg.opcua.anonymous) == ("opc.tcp://127.0.0.1:4840", "read")
    assert cfg.opcua.nodesets == tmp_path / "ua"
    assert parse_config({}).opcua is None
    for bad, needle in [({"endpoint": "opc.tcp://0.0.0.0:4840"}, "opcua.endpoint: SecurityPolicy None is only"),
                        ({"endpoint": "http://127.0.0.1"}, "opcua.endpoint: must be an opc.tcp:// URL"),
                        ({"users": {"tech": ""}}, "opcua.users: every user needs a password; empty for: tech"),
                        ({"anonymous": "write"}, "opcua.anonymous"),
                        ({"security": "x"}, "opcua.security: unknown key")]:
        with pytest.raises(ConfigError, match=needle):
            parse_config({"opcua": bad})


def test_nodesets_are_ordered_after_the_models_they_require_and_missing_ones_say_why() -> None:
    order, failed = load_order(find_nodesets(NODESETS))
    uris = [f.uri.removeprefix(BASE_URI).rstrip("/") for f in order]
    assert uris[0] == "DI" and set(uris) == {"DI", "IA", "Machinery", "ISA95-JOBCONTROL_V2", "Machinery/Jobs",
                                             "MachineTool"}
    for f in order:
        assert all(uris.index(r.removeprefix(BASE_URI).rstrip("/")) < uris.index(f.uri.removeprefix(BASE_URI)
                                                                                 .rstrip("/"))
                   for r in f.requires)
    why = failed[f"{BASE_URI}Machinery/ProcessValues/"]
    assert "PADIM" in why and "IRDI" in why
    assert failed[f"{BASE_URI}PADIM/"] == "no NodeSet file for this model in the folder"


def test_a_missing_nodeset_folder_is_reported_naming_the_option(tmp_path: Path) -> None:
    report = asyncio.run(load_nodesets(object(), tmp_path / "nowhere"))
    assert not report.loaded
    assert all("[opcua] nodesets" in why and "nowhere" in why for why in report.failed.values())


def test_the_shared_nodesets_and_the_packaged_padim_and_irdi_import_into_an_asyncua_server() -> None:
    from asyncua import Server

    async def load() -> tuple[list[str], list[str], dict[str, str]]:
        server = Server()
        await server.init()
        report = await load_nodesets(server, NODESETS, fallback=(PACKAGED_DIR,))
        return report.loaded, await server.get_namespace_array(), report.failed

    loaded, namespaces, failed = asyncio.run(load())
    assert failed == {}, failed
    for tail in ("DI", "IA", "Machinery", "ISA95-JOBCONTROL_V2", "Machinery/Jobs", "MachineTool", "PADIM",
                 "Machinery/ProcessValues"):
        assert f"{BASE_URI}{tail}/" in loaded and f"{BASE_URI}{tail}/" in namespaces
    assert loaded.index(f"{BASE_URI}PADIM/") < loaded.index(f"{BASE_URI}Machinery/ProcessValues/")


def _event(kind: str, data: dict, printer: str = "mk3") -> Event:
    return Event(kind, kind, 1.0, data, printer)


def test_bus_events_become_machine_values() -> None:
    temps = {"tool0": {"actual": 180.5, "target": 215.0}, "bed": {"actual": 58.0, "target": 60.0}}
    assert values_from_event(_event("temperature", temps)) == {"nozzle": 180.5, "nozzle_target": 215.0,
                                                               "bed": 58.0, "bed_target": 60.0}
    assert values_from_event(_event("job_started", {"lines": 10})) == {"program_state": "Running", "layer": 0}
    assert values_from_event(_event("layer", {"layer": 7, "z": 1.4})) == {"layer": 7}
    assert values_from_event(_event("paused", {}))["program_state"] == "Interrupted"
    assert values_from_event(_event("cancelled", {}))["program_state"] == "Aborted"
    firmware = {"FIRMWARE_NAME": "Marlin 2.1", "MACHINE_TYPE": "sim", "UUID": "u-1"}
    assert values_from_event(_event("connected", {"firmware": firmware})) == {
        "model": "sim", "software_revision": "Marlin 2.1", "serial_number": "u-1"}
    assert values_from_event(_event("resend", {"line": 3})) == {}


def test_only_failed_layer_verdicts_raise_alarms_naming_layer_and_verdict() -> None:
    assert layer_alarm(_event("verdict", {"layer": 3, "ok": True, "verdict": "ok"})) is None
    alarm = layer_alarm(_event("verdict", {"layer": 4, "ok": False, "verdict": "missing_layer",
                                           "message": "layer 4 is missing"}))
    assert alarm is not None and (alarm.printer, alarm.layer, alarm.verdict) == ("mk3", 4, "missing_layer")
    assert "layer 4" in alarm.message and "missing_layer" in alarm.message


def test_machine_values_hand_over_only_what_changed_newest_first_seen() -> None:
    values = MachineValues(max_alarms=2)
    assert values.update("a", {"nozzle": 20.0})
    assert not values.update("a", {"nozzle": 20.0})
    values.update("a", {"nozzle": 21.0, "bed": 20.0})
    values.update("a", {"nozzle": 22.0})
    changed, alarms = values.take()
    assert changed == {"a": {"nozzle": 22.0, "bed": 20.0}} and alarms == []
    assert values.take() == ({}, [])
    for layer in (1, 2, 3):
        alarm = layer_alarm(_event("verdict", {"layer": layer, "ok": False, "verdict": "spaghetti"}, "b"))
        assert alarm is not None
        values.alarm(alarm)
    changed, alarms = values.take()
    assert [a.layer for a in alarms] == [2, 3] and changed == {"b": {}}
    assert values.printers() == ["a", "b"]


def test_without_nodesets_or_anonymous_access_the_machines_still_serve_signed_in_users(tmp_path: Path) -> None:
    from asyncua import Client
    from asyncua.ua.uaerrors import UaError

    from controller.farm.service import LabService
    from controller.publish.wiring import attach_publishers

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        endpoint = f"opc.tcp://127.0.0.1:{s.getsockname()[1]}"
    cfg = parse_config({"data_dir": str(tmp_path / "data"), "api_keys": ["k"],
                        "opcua": {"endpoint": endpoint, "users": {"tech": "pw"}, "anonymous": "off",
                                  "nodesets": str(tmp_path / "no-nodesets")},
                        "printers": [{"name": "unplugged", "port": str(tmp_path / "no-such-port")}]})
    svc = attach_publishers(LabService(cfg))

    async def browse() -> tuple[str, float]:
        with pytest.raises(UaError):
            async with Client(endpoint):
                pass
        client = Client(endpoint)
        client.set_user("tech")
        client.set_password("pw")
        async with client:
            idx = await client.get_namespace_index("urn:printloop:opcua")
            machine = await client.nodes.objects.get_child([f"{idx}:Machines", f"{idx}:unplugged"])
            state = await (await machine.get_child([f"{idx}:Monitoring", f"{idx}:MachineState"])).read_value()
            nozzle = await machine.get_child([f"{idx}:Monitoring", f"{idx}:Process", f"{idx}:NozzleTemperature"])
            return state, await nozzle.read_value()

    try:
        svc.start(0.2)
        opcua = svc.publishers["opcua"]
        assert opcua.wait_ready(60), opcua.error
        assert opcua.report is not None and not opcua.report.loaded
        assert "no-nodesets not found" in opcua.report.summary()
        state, nozzle = asyncio.run(browse())
        assert state == "offline" and nozzle == 0.0
    finally:
        svc.stop()
