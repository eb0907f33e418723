// An OPC UA client built on node-opcua (a code base independent of asyncua), used by printloop's tests.
// Every result is one JSON object per line on stdout.
//
//   node client.js watch ENDPOINT PRINTER   browse Objects/Machines, read the nozzle temperature, then subscribe
//                                           to it and to the machine's events until stdin closes; meanwhile each
//                                           line {"id", "method", "user"?, "password"?} on stdin calls that method
//                                           in a session of its own and answers {"id", "status", "output"}, and
//                                           {"id", "path": [browse names under the machine]} reads that variable
//   node client.js call ENDPOINT PRINTER METHOD [USER PASSWORD]
//                                           call Pause/Resume/Cancel on the machine, anonymously or as USER
"use strict";
const {
  OPCUAClient, MessageSecurityMode, SecurityPolicy, AttributeIds, TimestampsToReturn, ClientSubscription,
  ClientMonitoredItem, BrowseDirection, UserTokenType, constructEventFilter,
} = require("node-opcua-client");

const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

async function connect(endpoint, user, password) {
  const client = OPCUAClient.create({
    applicationName: "printloop-test-client",
    endpointMustExist: false,
    securityMode: MessageSecurityMode.None,
    securityPolicy: SecurityPolicy.None,
    connectionStrategy: { maxRetry: 5, initialDelay: 200, maxDelay: 1000 },
  });
  await client.connect(endpoint);
  const identity = user ? { type: UserTokenType.UserName, userName: user, password } : undefined;
  const session = await client.createSession(identity);
  return { client, session };
}

// Children of a node through hierarchical references: [{name, nodeId, nodeClass}].
async function children(session, nodeId) {
  const result = await session.browse({
    nodeId, browseDirection: BrowseDirection.Forward, referenceTypeId: "HierarchicalReferences",
    includeSubtypes: true, nodeClassMask: 0, resultMask: 63,
  });
  return (result.references || []).map((r) => ({
    name: r.browseName.name, nodeId: r.nodeId.toString(), nodeClass: r.nodeClass,
  }));
}

// Follow browse names (namespace left aside) from a node; fails naming the step that is missing.
async function resolve(session, start, names) {
  let nodeId = start;
  for (const name of names) {
    const next = (await children(session, nodeId)).find((c) => c.name === name);
    if (!next) throw new Error(`no ${name} under ${nodeId} (path ${names.join("/")})`);
    nodeId = next.nodeId;
  }
  return nodeId;
}

async function machine(session, printer) {
  const machinesId = await resolve(session, "ns=0;i=85", ["Machines"]);
  const machines = (await children(session, machinesId)).map((c) => c.name);
  const machineId = await resolve(session, machinesId, [printer]);
  return { machines, machineId };
}

async function watch(endpoint, printer) {
  const { client, session } = await connect(endpoint);
  const { machines, machineId } = await machine(session, printer);
  out({ machines });
  const nozzleId = await resolve(session, machineId, ["Monitoring", "Process", "NozzleTemperature"]);
  const read = await session.read({ nodeId: nozzleId, attributeId: AttributeIds.Value });
  const tech = await resolve(session, machineId, ["Identification", "AMTechnologyIdentifier"]);
  const techValue = await session.read({ nodeId: tech, attributeId: AttributeIds.Value });
  out({ read: read.value.value, status: read.statusCode.name, am_technology: techValue.value.value });

  const subscription = ClientSubscription.create(session, {
    requestedPublishingInterval: 50, requestedLifetimeCount: 1000, requestedMaxKeepAliveCount: 20,
    maxNotificationsPerPublish: 1000, publishingEnabled: true, priority: 10,
  });
  await new Promise((ok) => subscription.on("started", ok));
  const temp = ClientMonitoredItem.create(subscription, { nodeId: nozzleId, attributeId: AttributeIds.Value },
    { samplingInterval: 0, discardOldest: true, queueSize: 100 }, TimestampsToReturn.Both);
  temp.on("changed", (dv) => out({ temperature: dv.value.value, t: Date.now() }));
  const fields = ["EventId", "SourceName", "Message", "Severity", "EventType", "Time"];
  const notifiers = { event: machineId, server_event: "ns=0;i=2253" };  // the machine, and the Server object
  const items = [temp];
  for (const [key, nodeId] of Object.entries(notifiers)) {
    const item = ClientMonitoredItem.create(subscription, { nodeId, attributeId: AttributeIds.EventNotifier },
      { samplingInterval: 0, discardOldest: true, queueSize: 100, filter: constructEventFilter(fields) },
      TimestampsToReturn.Both);
    item.on("changed", (values) => {
      const event = {};
      fields.forEach((f, i) => {
        const v = values[i] && values[i].value;
        event[f] = v && v.text !== undefined ? v.text : (Buffer.isBuffer(v) ? v.toString("hex") : String(v));
      });
      out({ [key]: event, t: Date.now() });
    });
    items.push(item);
  }
  await Promise.all(items.map((item) => new Promise((ok) => item.on("initialized", ok))));
  out({ ready: true });

  const calls = [];
  const lines = require("readline").createInterface({ input: process.stdin });
  lines.on("line", (line) => {
    if (!line.trim()) return;
    const req = JSON.parse(line);
    if (req.path) calls.push(readPath(session, machineId, req.path, req.id));
    else calls.push(call(endpoint, printer, req.method, req.user, req.password, req.id));
  });
  await new Promise((ok) => lines.on("close", ok));
  await Promise.allSettled(calls);
  await subscription.terminate();
  await session.close();
  await client.disconnect();
}

async function readPath(session, machineId, path, id) {
  try {
    const nodeId = await resolve(session, machineId, path);
    const dv = await session.read({ nodeId, attributeId: AttributeIds.Value });
    const v = dv.value.value;
    out({ id, status: dv.statusCode.name, value: v && v.text !== undefined ? v.text : v });
  } catch (err) {
    out({ id, status: "Error", error: String(err.message) });
  }
}

async function call(endpoint, printer, method, user, password, id) {
  let client, session;
  try {
    ({ client, session } = await connect(endpoint, user, password));
    const { machineId } = await machine(session, printer);
    const methodId = await resolve(session, machineId, [method]);
    const result = await session.call({ objectId: machineId, methodId, inputArguments: [] });
    out({ id, status: result.statusCode.name, output: (result.outputArguments || []).map((a) => a.value) });
  } catch (err) {
    const code = (String(err.message).match(/\b(Bad[A-Za-z]+)\b/) || [])[1];
    out({ id, status: code || "Error", error: String(err.message) });
  } finally {
    if (session) await session.close();
    if (client) await client.disconnect();
  }
}

async function main() {
  const [cmd, endpoint, printer, ...rest] = process.argv.slice(2);
  if (cmd === "watch") await watch(endpoint, printer);
  else if (cmd === "call") await call(endpoint, printer, rest[0], rest[1], rest[2]);
  else throw new Error(`unknown command ${cmd}: use watch or call`);
}

main().then(() => process.exit(0), (err) => { out({ fatal: String(err && err.stack || err) }); process.exit(2); });
