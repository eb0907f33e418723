"""MTConnect 2.5 documents of printloop's printers, built with lxml: pure functions, no IO and no clock.

Each printer is one Device named after it:

    Device <name>                 AVAILABILITY, ASSET_CHANGED, ASSET_REMOVED
      Axes / Linear X, Y, Z       POSITION (ACTUAL, mm; Z from each layer's height)
      Controllers / Controller    EMERGENCY_STOP; SYSTEM and COMMUNICATIONS conditions
        Path                      EXECUTION, PROGRAM, LINE_NUMBER, PART_COUNT (GOOD, BAD), MATERIAL_LAYER
                                  (ACTUAL, TARGET), PART_STATUS
      ExtrusionUnit tool0         TEMPERATURE (ACTUAL, COMMANDED) in °C; TEMPERATURE condition (thermal faults)
      Table bed                   TEMPERATURE (ACTUAL, COMMANDED) in °C; TEMPERATURE condition
      Sensor camera               SYSTEM condition: the layer check's vision faults (nativeCode = verdict class)
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lxml import etree

from controller.publish.mtconnect_buffer import UNAVAILABLE, Observation, Window

VERSION = "2.5.0.0"
NS_DEVICES = "urn:mtconnect.org:MTConnectDevices:2.5"
NS_STREAMS = "urn:mtconnect.org:MTConnectStreams:2.5"
NS_ERROR = "urn:mtconnect.org:MTConnectError:2.5"
NS_ASSETS = "urn:mtconnect.org:MTConnectAssets:2.5"


@dataclass(frozen=True)
class DataItem:
    """One data item: its key inside the device (`role`), category, MTConnect type and sub-type, units."""

    role: str
    category: str  # SAMPLE | EVENT | CONDITION
    type: str
    sub_type: str | None = None
    units: str | None = None


@dataclass(frozen=True)
class Component:
    """A component (MTConnect element name, id suffix, name) with its data items and sub-components."""

    element: str
    key: str
    name: str | None
    items: tuple[DataItem, ...] = ()
    parts: tuple[Component, ...] = ()


def _linear(axis: str) -> Component:
    """A linear axis with its actual position."""
    return Component("Linear", axis.lower(), axis,
                     (DataItem(f"{axis.lower()}_pos", "SAMPLE", "POSITION", "ACTUAL", "MILLIMETER"),))


def _heater(element: str, key: str, name: str) -> Component:
    """A heated part: actual and commanded temperature, and a thermal condition."""
    return Component(element, key, name, (
        DataItem(f"{key}_temp", "SAMPLE", "TEMPERATURE", "ACTUAL", "CELSIUS"),
        DataItem(f"{key}_target", "SAMPLE", "TEMPERATURE", "COMMANDED", "CELSIUS"),
        DataItem(f"{key}_thermal", "CONDITION", "TEMPERATURE"),
    ))


DEVICE_ITEMS = (DataItem("avail", "EVENT", "AVAILABILITY"), DataItem("asset_chg", "EVENT", "ASSET_CHANGED"),
                DataItem("asset_rem", "EVENT", "ASSET_REMOVED"))
PRINTER_PARTS = (
    Component("Axes", "axes", None, parts=(_linear("X"), _linear("Y"), _linear("Z"))),
    Component("Controllers", "controllers", None, parts=(
        Component("Controller", "controller", "controller", (
            DataItem("estop", "EVENT", "EMERGENCY_STOP"),
            DataItem("system", "CONDITION", "SYSTEM"),
            DataItem("comms", "CONDITION", "COMMUNICATIONS"),
        ), parts=(
            Component("Path", "path", "path", (
                DataItem("execution", "EVENT", "EXECUTION"),
                DataItem("program", "EVENT", "PROGRAM"),
                DataItem("line", "EVENT", "LINE_NUMBER", "ABSOLUTE"),
                DataItem("parts_good", "EVENT", "PART_COUNT", "GOOD"),
                DataItem("parts_bad", "EVENT", "PART_COUNT", "BAD"),
                DataItem("layer", "EVENT", "MATERIAL_LAYER", "ACTUAL"),
                DataItem("layers", "EVENT", "MATERIAL_LAYER", "TARGET"),
                DataItem("part_status", "EVENT", "PART_STATUS"),
            )),
        )),
    )),
    _heater("ExtrusionUnit", "tool0", "tool0"),
    _heater("Table", "bed", "bed"),
    Component("Sensor", "camera", "camera", (DataItem("vision", "CONDITION", "SYSTEM"),)),
)


def device_id(printer: str) -> str:
    """An XML id for a printer (ids may not start with a digit; printer names may)."""
    return printer if printer[0].isalpha() else f"_{printer}"


def item_id(printer: str, role: str) -> str:
    """The id of one of a printer's data items."""
    return f"{device_id(printer)}_{role}"


@dataclass(frozen=True)
class ItemPlace:
    """Where a data item's observations go in a Streams document."""

    printer: str
    component: str      # element name, e.g. Controller
    component_id: str
    component_name: str | None
    item: DataItem


def _walk(printer: str, comp: Component) -> Iterable[ItemPlace]:
    """Every data item of a component and its sub-components."""
    cid = item_id(printer, comp.key)
    for item in comp.items:
        yield ItemPlace(printer, comp.element, cid, comp.name, item)
    for part in comp.parts:
        yield from _walk(printer, part)


def places(printer: str) -> dict[str, ItemPlace]:
    """Data item id -> its place, for every data item of a printer's device."""
    found = {item_id(printer, i.role): ItemPlace(printer, "Device", device_id(printer), printer, i)
             for i in DEVICE_ITEMS}
    for comp in PRINTER_PARTS:
        found.update({item_id(printer, p.item.role): p for p in _walk(printer, comp)})
    return found


def _iso(t: float) -> str:
    """An MTConnect timestamp (UTC, microseconds, Z)."""
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class AgentInfo:
    """What every header says about the agent."""

    instance_id: int
    sender: str
    buffer_size: int
    model_changed: float


def _header(root: etree._Element, ns: str, info: AgentInfo, now: float, **extra: object) -> etree._Element:
    """The Header element every response document starts with."""
    attrs = {"creationTime": _iso(now), "sender": info.sender, "instanceId": str(info.instance_id),
             "version": VERSION}
    attrs.update({k: str(v) for k, v in extra.items()})
    return etree.SubElement(root, f"{{{ns}}}Header", attrs)


def _tostring(root: etree._Element) -> bytes:
    """Serialise with the XML declaration."""
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _component_xml(parent: etree._Element, printer: str, comp: Component) -> None:
    """A component, its data items and its sub-components."""
    attrs = {"id": item_id(printer, comp.key)}
    if comp.name:
        attrs["name"] = comp.name
    el = etree.SubElement(parent, f"{{{NS_DEVICES}}}{comp.element}", attrs)
    _items_xml(el, printer, comp.items)
    if comp.parts:
        parts = etree.SubElement(el, f"{{{NS_DEVICES}}}Components")
        for part in comp.parts:
            _component_xml(parts, printer, part)


def _items_xml(parent: etree._Element, printer: str, items: Sequence[DataItem]) -> None:
    """A DataItems element, when there are any."""
    if not items:
        return
    box = etree.SubElement(parent, f"{{{NS_DEVICES}}}DataItems")
    for i in items:
        attrs = {"id": item_id(printer, i.role), "category": i.category, "type": i.type}
        if i.sub_type:
            attrs["subType"] = i.sub_type
        if i.units:
            attrs["units"] = i.units
        etree.SubElement(box, f"{{{NS_DEVICES}}}DataItem", attrs)


def devices_document(printers: Sequence[str], info: AgentInfo, now: float) -> bytes:
    """The probe response: one Device per printer."""
    root = etree.Element(f"{{{NS_DEVICES}}}MTConnectDevices", nsmap={None: NS_DEVICES})
    _header(root, NS_DEVICES, info, now, bufferSize=info.buffer_size, assetBufferSize=1, assetCount=0,
            deviceModelChangeTime=_iso(info.model_changed))
    devices = etree.SubElement(root, f"{{{NS_DEVICES}}}Devices")
    for name in printers:
        dev = etree.SubElement(devices, f"{{{NS_DEVICES}}}Device",
                               {"id": device_id(name), "name": name, "uuid": f"printloop-{name}"})
        etree.SubElement(dev, f"{{{NS_DEVICES}}}Description", {"manufacturer": "printloop"}).text = \
            f"FDM printer {name} driven by printloop"
        _items_xml(dev, name, DEVICE_ITEMS)
        comps = etree.SubElement(dev, f"{{{NS_DEVICES}}}Components")
        for comp in PRINTER_PARTS:
            _component_xml(comps, name, comp)
    return _tostring(root)


def element_name(data_type: str) -> str:
    """MTConnect's element name for a data item type: LINE_NUMBER -> LineNumber."""
    return "".join(w.capitalize() for w in data_type.split("_"))


def _observation_xml(parent: etree._Element, obs: Observation, place: ItemPlace) -> None:
    """One Sample, Event or Condition element."""
    item = place.item
    attrs = {"dataItemId": obs.item, "timestamp": _iso(obs.timestamp), "sequence": str(obs.sequence)}
    if item.sub_type:
        attrs["subType"] = item.sub_type
    if item.category == "CONDITION":
        level = obs.level or UNAVAILABLE
        attrs["type"] = item.type
        if level in ("WARNING", "FAULT"):
            attrs["conditionId"] = obs.native_code or item.type
        if obs.native_code:
            attrs["nativeCode"] = obs.native_code
        el = etree.SubElement(parent, f"{{{NS_STREAMS}}}{level.capitalize()}", attrs)
        if obs.value and level in ("WARNING", "FAULT"):
            el.text = obs.value
        return
    if item.type in ("ASSET_CHANGED", "ASSET_REMOVED"):
        attrs["assetType"] = "UNAVAILABLE" if obs.value == UNAVAILABLE else "Part"
    etree.SubElement(parent, f"{{{NS_STREAMS}}}{element_name(item.type)}", attrs).text = obs.value


_SECTIONS = {"SAMPLE": "Samples", "EVENT": "Events", "CONDITION": "Condition"}


def streams_document(observations: Sequence[Observation], where: dict[str, ItemPlace], printers: Sequence[str],
                     window: Window, info: AgentInfo, now: float, next_sequence: int | None = None) -> bytes:
    """A current or sample response: the observations grouped by device, component and category."""
    root = etree.Element(f"{{{NS_STREAMS}}}MTConnectStreams", nsmap={None: NS_STREAMS})
    _header(root, NS_STREAMS, info, now, bufferSize=info.buffer_size, firstSequence=window.first,
            lastSequence=window.last, nextSequence=window.next if next_sequence is None else next_sequence,
            deviceModelChangeTime=_iso(info.model_changed))
    streams = etree.SubElement(root, f"{{{NS_STREAMS}}}Streams")
    grouped: dict[str, dict[str, dict[str, list[Observation]]]] = {p: {} for p in printers}
    for obs in observations:
        place = where.get(obs.item)
        if place is None or place.printer not in grouped:
            continue
        comps = grouped[place.printer].setdefault(place.component_id, {})
        comps.setdefault(place.item.category, []).append(obs)
    for printer in printers:
        dev = etree.SubElement(streams, f"{{{NS_STREAMS}}}DeviceStream",
                               {"name": printer, "uuid": f"printloop-{printer}"})
        for cid, by_category in grouped[printer].items():
            first = by_category[next(iter(by_category))][0]
            place = where[first.item]
            attrs = {"componentId": cid, "component": place.component}
            if place.component_name:
                attrs["name"] = place.component_name
            comp = etree.SubElement(dev, f"{{{NS_STREAMS}}}ComponentStream", attrs)
            for category in ("SAMPLE", "EVENT", "CONDITION"):
                if category in by_category:
                    box = etree.SubElement(comp, f"{{{NS_STREAMS}}}{_SECTIONS[category]}")
                    for obs in by_category[category]:
                        _observation_xml(box, obs, where[obs.item])
    return _tostring(root)


def error_document(code: str, message: str, info: AgentInfo, now: float) -> bytes:
    """An MTConnectError response (OUT_OF_RANGE, INVALID_REQUEST, UNAUTHORIZED, …)."""
    root = etree.Element(f"{{{NS_ERROR}}}MTConnectError", nsmap={None: NS_ERROR})
    _header(root, NS_ERROR, info, now, bufferSize=info.buffer_size)
    errors = etree.SubElement(root, f"{{{NS_ERROR}}}Errors")
    etree.SubElement(errors, f"{{{NS_ERROR}}}Error", {"errorCode": code}).text = message
    return _tostring(root)


def assets_document(info: AgentInfo, now: float) -> bytes:
    """The assets response; printloop keeps no MTConnect assets (tools, materials) yet, so it is empty."""
    root = etree.Element(f"{{{NS_ASSETS}}}MTConnectAssets", nsmap={None: NS_ASSETS})
    _header(root, NS_ASSETS, info, now, assetBufferSize=1, assetCount=0, deviceModelChangeTime=_iso(
        info.model_changed))
    etree.SubElement(root, f"{{{NS_ASSETS}}}Assets")
    return _tostring(root)
