"""Home Assistant MQTT discovery: the retained config of each printer's entities, as pure functions.

Each printer is one device (identifiers from the base topic and its name) with sensors for state, progress,
temperatures and targets, current layer, last verdict and time left, and a camera showing the last layer photo.
Every config names `<base>/status` as its availability topic, so a printloop that dies shows its printers as
unavailable (the broker publishes the connection's last will there).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from controller.publish.mqtt_topics import OFFLINE, ONLINE, Message, Topics, encode, object_id


@dataclass(frozen=True)
class Sensor:
    """One sensor entity: its key, name, the topic part it reads and how."""

    key: str
    name: str
    topic: tuple[str, ...]
    template: str
    unit: str | None = None
    device_class: str | None = None
    state_class: str | None = None
    icon: str | None = None


SENSORS = (
    Sensor("state", "State", ("state",), "{{ value_json.state }}", icon="mdi:printer-3d"),
    Sensor("progress", "Progress", ("progress", "printing"), "{{ value_json.progress }}", "%",
           state_class="measurement", icon="mdi:progress-clock"),
    Sensor("tool0_temperature", "Nozzle temperature", ("temperature", "tool0"), "{{ value_json.actual }}",
           "°C", "temperature", "measurement"),
    Sensor("tool0_target", "Nozzle target", ("temperature", "tool0"), "{{ value_json.target }}", "°C",
           "temperature", "measurement"),
    Sensor("bed_temperature", "Bed temperature", ("temperature", "bed"), "{{ value_json.actual }}", "°C",
           "temperature", "measurement"),
    Sensor("bed_target", "Bed target", ("temperature", "bed"), "{{ value_json.target }}", "°C", "temperature",
           "measurement"),
    Sensor("current_layer", "Current layer", ("progress", "printing"), "{{ value_json.layer }}",
           state_class="measurement", icon="mdi:layers-triple"),
    Sensor("last_verdict", "Last layer verdict", ("layer",), "{{ value_json.verdict }}", icon="mdi:eye-check"),
    Sensor("time_left", "Time left", ("progress", "printing"), "{{ value_json.time_left_s }}", "s", "duration",
           icon="mdi:timer-sand"),
)
"""The sensors every printer gets."""
ORIGIN = {"name": "printloop"}
"""Home Assistant's `origin`: the software that published the discovery config."""


def device(topics: Topics, printer: str, model: str | None = None) -> dict[str, Any]:
    """The Home Assistant device of one printer (one per base topic and name, so two labs do not merge)."""
    return {"identifiers": [object_id("printloop", topics.base, printer)], "name": printer,
            "manufacturer": "printloop", "model": model or "FDM printer"}


def availability(topics: Topics) -> dict[str, Any]:
    """The keys every config carries: the service's status topic and its two payloads, and who sent it."""
    return {"availability_topic": topics.status, "payload_available": ONLINE, "payload_not_available": OFFLINE,
            "origin": ORIGIN}


def unique_id(topics: Topics, printer: str, key: str) -> str:
    """An entity's unique id (stable across restarts, distinct per base topic)."""
    return object_id("printloop", topics.base, printer, key)


def sensor_config(topics: Topics, printer: str, sensor: Sensor, model: str | None = None) -> dict[str, Any]:
    """The discovery config of one sensor."""
    uid = unique_id(topics, printer, sensor.key)
    config: dict[str, Any] = {"name": sensor.name, "unique_id": uid,
                              "state_topic": topics.printer(printer, *sensor.topic),
                              "value_template": sensor.template, "device": device(topics, printer, model),
                              **availability(topics)}
    for key, value in (("unit_of_measurement", sensor.unit), ("device_class", sensor.device_class),
                       ("state_class", sensor.state_class), ("icon", sensor.icon)):
        if value is not None:
            config[key] = value
    return config


def camera_config(topics: Topics, printer: str, model: str | None = None) -> dict[str, Any]:
    """The discovery config of the camera that shows the last layer's photo (JPEG bytes on `…/layer/photo`)."""
    uid = unique_id(topics, printer, "layer_photo")
    return {"name": "Last layer photo", "unique_id": uid,
            "topic": topics.printer(printer, "layer", "photo"), "device": device(topics, printer, model),
            **availability(topics)}


def discovery_messages(topics: Topics, printer: str, model: str | None = None) -> list[Message]:
    """Every retained discovery config of one printer."""
    out = [Message(topics.discovery("sensor", unique_id(topics, printer, s.key)),
                   encode(sensor_config(topics, printer, s, model)), retain=True, qos=1) for s in SENSORS]
    out.append(Message(topics.discovery("camera", unique_id(topics, printer, "layer_photo")),
                       encode(camera_config(topics, printer, model)), retain=True, qos=1))
    return out
