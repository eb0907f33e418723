"""The address space of one printer: a machine under Objects/Machines modelled on OPC 40540 "OPC UA for Additive
Manufacturing" as far as its public draft's names go (not a conformant implementation of it).

The machine is an instance of MachineTool's MachineToolType when that NodeSet loaded (plain objects otherwise),
with Identification (AMTechnologyIdentifier "MEX"), Monitoring/Process/NozzleTemperature and BedTemperature
(analog items in °C with their SetpointValue), Monitoring/MachineState, Machinery's MachineryItemState,
Production/ActiveProgram (file, state, CurrentLayer of LayersPlanned), Production/ProductionPlan (RunsPlanned,
RunsCompleted, GoodParts), Equipment/Materials/Filament (feedstock), and the methods Pause, Resume and Cancel.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from asyncua import Node, Server, ua
from asyncua.common.instantiate_util import instantiate

from controller.publish.opcua_nodesets import BASE_URI, LoadReport

NAMESPACE = "urn:printloop:opcua"
"""printloop's own namespace: the machines and the names the AM draft gives that no loaded NodeSet has."""
CELSIUS = ua.EUInformation(NamespaceUri="http://www.opcfoundation.org/UA/units/un/cefact", UnitId=4408652,
                           DisplayName=ua.LocalizedText("°C"), Description=ua.LocalizedText("degree Celsius"))
"""UNECE code CEL, as OPC UA Part 8 gives it."""
Vt = ua.VariantType
MethodHandler = Callable[[str, str], Awaitable[tuple[bool, str]]]
"""(printer, action) -> (done, message); a refusal is answered with BadInvalidState and the message."""


def nid(identifier: int | str, ns: int = 0) -> ua.NodeId:
    """A NodeId (asyncua types its fields as its own int and str subclasses)."""
    return ua.NodeId(identifier, ns)  # type: ignore[arg-type]


@dataclass
class Namespaces:
    """Namespace indexes: ours, and those of the companion models that loaded (None when not loaded)."""

    own: int
    di: int | None = None
    machinery: int | None = None
    machine_tool: int | None = None

    def of(self, preferred: int | None) -> int:
        """The preferred model's index, or ours when that model is not loaded."""
        return self.own if preferred is None else preferred


@dataclass
class Machine:
    """One printer's nodes: a variable per key of `opcua_state`, state machines, and its event generators."""

    name: str
    node: Node
    variables: dict[str, list[tuple[Node, ua.VariantType]]] = field(default_factory=dict)
    state_ids: dict[str, dict[str, ua.NodeId]] = field(default_factory=dict)
    alarm: Any = None

    def bind(self, key: str, node: Node, vtype: ua.VariantType) -> None:
        """Write this key's values to that node too."""
        self.variables.setdefault(key, []).append((node, vtype))


async def namespaces(server: Server, report: LoadReport) -> Namespaces:
    """Register our namespace and look up the loaded models' indexes."""
    own = await server.register_namespace(NAMESPACE)

    async def index(tail: str) -> int | None:
        return await server.get_namespace_index(f"{BASE_URI}{tail}/") if report.has(tail) else None

    return Namespaces(own, await index("DI"), await index("Machinery"), await index("MachineTool"))


async def machines_folder(server: Server, ns: Namespaces) -> Node:
    """Machinery's Objects/Machines folder, or one of ours by that name when Machinery is not loaded."""
    if ns.machinery is not None:
        return server.get_node(nid(1001, ns.machinery))
    return await server.nodes.objects.add_folder(nid("Machines", ns.own), ua.QualifiedName("Machines", ns.own))


async def layer_failed_event_type(server: Server, ns: Namespaces) -> Node:
    """Our event type for a failed layer: BaseEventType with Layer and Verdict."""
    return await server.create_custom_event_type(ns.own, "LayerFailedEventType", ua.ObjectIds.BaseEventType,
                                                 [("Layer", Vt.UInt32), ("Verdict", Vt.String)])


async def _child(node: Node, name: str) -> Node | None:
    """A child (by browse name, whatever its namespace) or None."""
    for ref in await node.get_references(ua.ObjectIds.HierarchicalReferences, ua.BrowseDirection.Forward):
        if ref.BrowseName.Name == name:
            return Node(node.session, ref.NodeId)
    return None


async def _object(parent: Node, name: str, ns: int, own: int, path: str) -> Node:
    """The child object of that name, made if the type did not instantiate it."""
    found = await _child(parent, name)
    if found is not None:
        return found
    return await parent.add_object(nid(path, own), ua.QualifiedName(name, ns))


async def _variable(machine: Machine, key: str, parent: Node, name: str, ns: int, value: Any,
                    vtype: ua.VariantType, path: str, own: int) -> Node:
    """The child variable of that name (made if missing), bound to a key of the machine's values."""
    node = await _child(parent, name)
    if node is None:
        node = await parent.add_variable(nid(path, own), ua.QualifiedName(name, ns), ua.Variant(value, vtype))
    else:
        await node.write_value(ua.Variant(value, vtype))
    machine.bind(key, node, vtype)
    return node


async def _analog(server: Server, machine: Machine, key: str, parent: Node, name: str, path: str, own: int,
                  high: float) -> None:
    """An AnalogItemType variable in °C with its EURange, and a SetpointValue beside it (key + "_target")."""
    made = await instantiate(parent, server.get_node(ua.ObjectIds.AnalogItemType), nodeid=nid(path, own),
                             bname=ua.QualifiedName(name, own), dname=ua.LocalizedText(name),
                             instantiate_optional=False)
    node = server.get_node(made[0])
    await node.write_attribute(ua.AttributeIds.DataType, ua.DataValue(ua.Variant(nid(ua.ObjectIds.Double), Vt.NodeId)))
    await node.write_value(ua.Variant(0.0, Vt.Double))
    eu_range = await _child(node, "EURange")
    if eu_range is not None:
        await eu_range.write_value(ua.Variant(ua.Range(0.0, high), Vt.ExtensionObject))
    await node.add_property(nid(f"{path}.EngineeringUnits", own), "EngineeringUnits",
                            ua.Variant(CELSIUS, Vt.ExtensionObject))
    machine.bind(key, node, Vt.Double)
    target = await node.add_variable(nid(f"{path}.SetpointValue", own), ua.QualifiedName("SetpointValue", own),
                                     ua.Variant(0.0, Vt.Double))
    machine.bind(f"{key}_target", target, Vt.Double)


async def _state_machine(machine: Machine, key: str, sm: Node, own: int, path: str) -> None:
    """Bind a state machine's CurrentState to a key; remember the ids of its type's states."""
    current = await _child(sm, "CurrentState")
    if current is None:
        current = await sm.add_variable(nid(f"{path}.CurrentState", own), "CurrentState",
                                        ua.Variant(ua.LocalizedText(""), Vt.LocalizedText))
    machine.bind(key, current, Vt.LocalizedText)
    ids: dict[str, ua.NodeId] = {}
    type_id = await sm.read_type_definition()
    if type_id is None:
        return
    type_node = Node(sm.session, type_id)
    for ref in await type_node.get_references(ua.ObjectIds.HasComponent, ua.BrowseDirection.Forward):
        if ref.TypeDefinition in (nid(ua.ObjectIds.StateType), nid(ua.ObjectIds.InitialStateType)):
            ids[ref.BrowseName.Name] = ref.NodeId
    machine.state_ids[key] = ids
    id_node = await _child(current, "Id")
    if id_node is not None:
        machine.bind(f"{key}.Id", id_node, Vt.NodeId)


async def build_machine(server: Server, ns: Namespaces, folder: Node, name: str, event_type: Node,
                        on_method: MethodHandler) -> Machine:
    """Add one printer's machine under the Machines folder (see module docstring)."""
    own, mt, di = ns.own, ns.of(ns.machine_tool), ns.of(ns.di)
    base = f"Machines/{name}"
    node_id, qname = nid(base, own), ua.QualifiedName(name, own)
    if ns.machine_tool is not None:
        node = await folder.add_object(node_id, qname, objecttype=nid(13, ns.machine_tool))
    else:
        node = await folder.add_object(node_id, qname)
    machine = Machine(name, node)

    ident = await _object(node, "Identification", di, own, f"{base}.Identification")
    for key, bname, bns, value, vt in (
        ("manufacturer", "Manufacturer", di, ua.LocalizedText("unknown"), Vt.LocalizedText),
        ("model", "Model", di, ua.LocalizedText("FDM printer"), Vt.LocalizedText),
        ("serial_number", "SerialNumber", di, name, Vt.String),
        ("product_instance_uri", "ProductInstanceUri", di, f"{NAMESPACE}:machine:{name}", Vt.String),
        ("software_revision", "SoftwareRevision", di, "", Vt.String),
        ("am_technology", "AMTechnologyIdentifier", own, "MEX", Vt.String),
    ):
        await _variable(machine, key, ident, bname, bns, value, vt, f"{base}.Identification.{bname}", own)

    monitoring = await _object(node, "Monitoring", mt, own, f"{base}.Monitoring")
    process = await _object(monitoring, "Process", own, own, f"{base}.Monitoring.Process")
    await _analog(server, machine, "nozzle", process, "NozzleTemperature",
                  f"{base}.Monitoring.Process.NozzleTemperature", own, 300.0)
    await _analog(server, machine, "bed", process, "BedTemperature", f"{base}.Monitoring.Process.BedTemperature",
                  own, 120.0)
    await _variable(machine, "state", monitoring, "MachineState", own, "offline", Vt.String,
                    f"{base}.Monitoring.MachineState", own)
    await _variable(machine, "state_message", monitoring, "StateMessage", own, "", Vt.String,
                    f"{base}.Monitoring.StateMessage", own)
    for where, holder in (("MachineryBuildingBlocks", await _child(node, "MachineryBuildingBlocks")),
                          ("Monitoring.MachineTool", await _child(monitoring, "MachineTool"))):
        item_state = await _child(holder, "MachineryItemState") if holder is not None else None
        if item_state is not None:
            await _state_machine(machine, "item_state", item_state, own, f"{base}.{where}.MachineryItemState")

    production = await _object(node, "Production", mt, own, f"{base}.Production")
    program = await _object(production, "ActiveProgram", mt, own, f"{base}.Production.ActiveProgram")
    await _variable(machine, "program", program, "Name", mt, "", Vt.String, f"{base}.Production.ActiveProgram.Name",
                    own)
    await _variable(machine, "layer", program, "CurrentLayer", own, 0, Vt.UInt32,
                    f"{base}.Production.ActiveProgram.CurrentLayer", own)
    await _variable(machine, "layers", program, "LayersPlanned", own, 0, Vt.UInt32,
                    f"{base}.Production.ActiveProgram.LayersPlanned", own)
    program_state = await _object(program, "State", mt, own, f"{base}.Production.ActiveProgram.State")
    await _state_machine(machine, "program_state", program_state, own, f"{base}.Production.ActiveProgram.State")
    plan = await _object(production, "ProductionPlan", mt, own, f"{base}.Production.ProductionPlan")
    counters: tuple[tuple[str, str, int, Any, ua.VariantType], ...] = (("job", "Identifier", mt, "", Vt.String),
                                       ("runs_planned", "RunsPlanned", mt, 0, Vt.UInt32),
                                       ("runs_completed", "RunsCompleted", mt, 0, Vt.UInt32),
                                       ("good_parts", "GoodParts", own, 0, Vt.UInt32))
    for key, bname, bns, value, vt in counters:
        await _variable(machine, key, plan, bname, bns, value, vt, f"{base}.Production.ProductionPlan.{bname}", own)

    equipment = await _object(node, "Equipment", mt, own, f"{base}.Equipment")
    materials = await _object(equipment, "Materials", own, own, f"{base}.Equipment.Materials")
    filament = await _object(materials, "Filament", own, own, f"{base}.Equipment.Materials.Filament")
    await _variable(machine, "material", filament, "Name", own, "unknown", Vt.String,
                    f"{base}.Equipment.Materials.Filament.Name", own)
    await _variable(machine, "filament_mm", filament, "PlannedLength", own, 0.0, Vt.Double,
                    f"{base}.Equipment.Materials.Filament.PlannedLength", own)

    for action in ("Pause", "Resume", "Cancel"):
        await _method(node, name, action, on_method, f"{base}.{action}", own)
    machine.alarm = await server.get_event_generator(event_type, node.nodeid)
    return machine


async def _method(node: Node, printer: str, action: str, on_method: MethodHandler, path: str, own: int) -> None:
    """A method without inputs that answers with a message (the outcome in words)."""
    async def call(_parent: ua.NodeId) -> ua.CallMethodResult:
        done, message = await on_method(printer, action.lower())
        result = ua.CallMethodResult(OutputArguments=[ua.Variant(message, Vt.String)])
        if not done:
            result.StatusCode = ua.StatusCode(ua.UInt32(ua.StatusCodes.BadInvalidState))
        return result

    result = ua.Argument(Name="Message", DataType=nid(ua.ObjectIds.String), ValueRank=-1,
                         Description=ua.LocalizedText("what was done"))
    await node.add_method(nid(path, own), ua.QualifiedName(action, own), call, [], [result])


async def write_values(server: Server, machine: Machine, values: dict[str, Any]) -> None:
    """Write changed values to a machine's variables (keys it has no variable for are skipped)."""
    now = datetime.now(UTC)
    for key, value in values.items():
        for node, vtype in machine.variables.get(key, []):
            await server.write_attribute_value(node.nodeid, _dv(_as(value, vtype), vtype, now))
        if key in machine.state_ids:
            state_id = machine.state_ids[key].get(str(value))
            for id_node, _vt in machine.variables.get(f"{key}.Id", []) if state_id is not None else []:
                await server.write_attribute_value(id_node.nodeid, _dv(state_id, Vt.NodeId, now))


def _as(value: Any, vtype: ua.VariantType) -> Any:
    """A plain value as the variable's type wants it."""
    if vtype is Vt.LocalizedText:
        return ua.LocalizedText(str(value))
    if vtype is Vt.UInt32:
        return max(0, int(value))
    if vtype is Vt.Double:
        return float(value)
    if vtype is Vt.String:
        return str(value)
    return value


def _dv(value: Any, vtype: ua.VariantType, now: datetime) -> ua.DataValue:
    """A good DataValue stamped now."""
    return ua.DataValue(ua.Variant(value, vtype), SourceTimestamp=now, ServerTimestamp=now)  # type: ignore[arg-type]


async def raise_alarm(server: Server, machine: Machine, layer: int, verdict: str, message: str,
                      when: datetime) -> None:
    """Fire the machine's LayerFailedEventType event (SourceName the printer, Message naming layer and verdict),
    seen by subscribers of the machine and, as the same event (one EventId), of the Server object."""
    event = machine.alarm.event
    event.SourceName = machine.name
    event.SourceNode = machine.node.nodeid
    event.Severity = 700
    event.Layer = ua.Variant(max(0, layer), Vt.UInt32)
    event.Verdict = ua.Variant(verdict, Vt.String)
    await machine.alarm.trigger(time_attr=when, message=message)
    event.emitting_node = nid(ua.ObjectIds.Server)
    try:
        await server.iserver.isession.subscription_service.trigger_event(event)
    finally:
        event.emitting_node = machine.node.nodeid
