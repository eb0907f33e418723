"""The MQTT publisher's pure parts: topics, the temperature rate limit, discovery configs, command parsing and
the `[mqtt]` config section (no broker, no threads)."""
from __future__ import annotations

import json

import pytest

from controller.config import parse_config
from controller.errors import ConfigError
from controller.publish.mqtt_commands import Command, Reply, key_accepted, parse_command
from controller.publish.mqtt_discovery import SENSORS, discovery_messages
from controller.publish.mqtt_topics import Mirror, Topics, object_id, photo_url, progress_payload

T = Topics("lab/floor1", "homeassistant")


def _temps(actual: float, target: float) -> dict:
    return {"tool0": {"actual": actual, "target": target}}


def test_temperatures_go_out_on_change_at_most_once_per_interval_and_the_held_back_one_later() -> None:
    m = Mirror(T, temperature_interval_s=1.0)
    assert [x.topic for x in m.temperatures("p", _temps(25.0, 0.0), 0.0)] == ["lab/floor1/p/temperature/tool0"]
    assert m.temperatures("p", _temps(25.04, 0.0), 0.1) == [], "within 0.1 °C is no change"
    assert m.temperatures("p", _temps(26.0, 0.0), 0.5) == [], "rate-limited"
    assert m.flush_temperatures(0.9) == [], "the interval has not passed"
    held = m.flush_temperatures(1.0)
    assert [json.loads(x.payload) for x in held] == [{"actual": 26.0, "target": 0.0}]
    assert held[0].retain
    assert m.flush_temperatures(5.0) == [], "sent once"
    moved = m.temperatures("p", _temps(26.0, 210.0), 1.1)
    assert [json.loads(x.payload) for x in moved] == [{"actual": 26.0, "target": 210.0}], "a new target at once"


def test_retained_state_is_sent_once_and_all_of_it_again_after_a_reconnect() -> None:
    m = Mirror(T)
    assert len(m.retain(T.progress("p"), {"progress": 1})) == 1
    assert m.retain(T.progress("p"), {"progress": 1}) == []
    m.retain(T.queue, {"printing": 0})
    assert {x.topic for x in m.retained()} == {T.progress("p"), T.queue}
    assert all(x.retain for x in m.retained())


@pytest.mark.parametrize(("topic", "printer"), [
    ("lab/floor1/p1/command", "p1"), ("lab/floor1/p.2/command", "p.2"), ("lab/floor1/command", None),
    ("lab/floor1/p1/command/response", None), ("other/p1/command", None), ("lab/floor1/a/b/command", None),
])
def test_command_topics_name_one_printer(topic: str, printer: str | None) -> None:
    assert T.command_printer(topic) == printer


def test_discovery_configs_carry_unique_ids_a_device_and_the_availability_topic() -> None:
    messages = discovery_messages(T, "mk3.left")
    assert len(messages) == len(SENSORS) + 1
    ids = set()
    for msg in messages:
        c = json.loads(msg.payload)
        assert msg.retain
        assert msg.topic == f"homeassistant/{msg.topic.split('/')[1]}/{c['unique_id']}/config"
        assert c["unique_id"].startswith(object_id("printloop", "lab/floor1", "mk3.left") + "_")
        assert c["unique_id"].startswith("printloop_lab_floor1_mk3_left_")
        assert c["device"]["identifiers"] == ["printloop_lab_floor1_mk3_left"]
        assert c["availability_topic"] == "lab/floor1/status"
        assert (c["payload_available"], c["payload_not_available"]) == ("online", "offline")
        ids.add(c["unique_id"])
    assert len(ids) == len(messages)
    camera = json.loads(messages[-1].payload)
    assert messages[-1].topic.startswith("homeassistant/camera/") and camera["topic"] == "lab/floor1/mk3.left/layer/photo"


def test_progress_and_photo_url_payloads() -> None:
    p = progress_payload("running", 42.7, 12, 100, "cube.gcode", 61.2, None)
    assert p["progress"] == 42 and p["layer"] == 12 and p["time_left_s"] is None and p["path"] == "cube.gcode"
    assert progress_payload("running", 100.4, 0, 1, None, None, 3.0)["progress"] == 100
    assert photo_url("http://lab:8000/", 7) == "http://lab:8000/api/v1/layer-checks/7/image?kind=photo"


@pytest.mark.parametrize(("payload", "expected"), [
    (b'{"command": "pause", "key": "k", "id": "a1"}', Command("pause", "k", "a1")),
    (b'{"command": "clear_bed", "key": "k", "id": 3}', Command("clear_bed", "k", 3)),
    (b'{"command": "explode", "key": "k", "id": "x"}', Reply("x", False, "unknown command 'explode'; one of "
                                                            "pause, resume, cancel, clear_bed")),
    (b'{"command": "pause", "id": "x"}', Reply("x", False, 'missing key: send an API key of the service in "key"')),
    (b'pause', Reply(None, False, 'the command must be JSON: {"command": "pause", "key": "<API key>", "id": "1"}')),
    (b'[1]', Reply(None, False, "the command must be a JSON object")),
    (b'\xff', Reply(None, False, 'the command must be JSON: {"command": "pause", "key": "<API key>", "id": "1"}')),
])
def test_commands_are_parsed_or_refused_with_a_reason(payload: bytes, expected: Command | Reply) -> None:
    assert parse_command(payload) == expected


def test_only_the_service_keys_are_accepted() -> None:
    assert key_accepted("k1", ["k0", "k1"])
    assert not key_accepted("k", ["k0", "k1"]) and not key_accepted("k1", [])


def test_mqtt_config_section_names_its_keys() -> None:
    cfg = parse_config({"mqtt": {"broker": "mqtts://broker.lab:8884", "username": "u", "password": "p"}})
    assert cfg.mqtt is not None and (cfg.mqtt.host, cfg.mqtt.port, cfg.mqtt.tls) == ("broker.lab", 8884, True)
    assert cfg.mqtt.base_topic == "printloop" and cfg.mqtt.discovery_prefix == "homeassistant"
    assert parse_config({"mqtt": {"broker": "mqtts://b"}}).mqtt.port == 8883  # type: ignore[union-attr]
    assert parse_config({}).mqtt is None
    with pytest.raises(ConfigError, match=r"^mqtt\.broker: must look like mqtt://host:1883"):
        parse_config({"mqtt": {"broker": "http://broker:1883"}})
    with pytest.raises(ConfigError, match=r"^mqtt\.base_topic: must be a topic without"):
        parse_config({"mqtt": {"base_topic": "lab/#"}})
    with pytest.raises(ConfigError, match=r"^mqtt\.tls: unknown key"):
        parse_config({"mqtt": {"tls": True}})
