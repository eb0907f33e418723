// printloop dashboard: one page, no build step. Live state arrives as server-sent events from /api/v1/stream.
"use strict";

const params = new URLSearchParams(location.search);
if (params.get("key")) localStorage.setItem("printloop-key", params.get("key"));
let KEY = localStorage.getItem("printloop-key") || "";
let CSRF = sessionStorage.getItem("printloop-csrf") || "";   // set by a sign-in; the session itself is a cookie
let shownJob = null;
const bedViews = {};   // printer -> the camera's latest opinion of its bed (GET /api/v1/printers/{name}/bed)
const upkeep = {};     // printer -> its counters and maintenance tasks (GET /api/v1/maintenance)
const spools = {};     // spool id -> the spool (GET /api/v1/spools): what each printer has loaded, how much is left
let lastSnap = null;
let shownTimelapses = "";

const $ = (sel) => document.querySelector(sel);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;",
  '"': "&quot;", "'": "&#39;"}[c]));
const withKey = (url) => KEY ? url + (url.includes("?") ? "&" : "?") + "api_key=" + encodeURIComponent(KEY) : url;

async function api(method, url, body) {
  const opts = {method, headers: KEY ? {"X-Api-Key": KEY} : {"X-CSRF-Token": CSRF}, credentials: "same-origin"};
  if (body instanceof FormData) opts.body = body;
  else if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers["Content-Type"] = "application/json"; }
  const r = await fetch(url, opts);
  const data = r.headers.get("content-type")?.includes("json") ? await r.json() : null;
  if (!r.ok) throw new Error((data && data.message) || r.statusText);
  return data;
}

function temps(t) {
  if (!t) return '<span class="muted">no temperatures yet</span>';
  return `hotend ${t.hotend.toFixed(1)} / ${t.hotend_target.toFixed(0)} °C · bed ${t.bed.toFixed(1)} / ` +
    `${t.bed_target.toFixed(0)} °C`;
}

function printerCard(p) {
  const run = p.current_run;
  const shown = run || p.last_run;
  const check = p.latest_check;
  let body = "";
  if (shown) {
    const pct = Math.max(0, Math.min(100, shown.percent || 0));
    body += `<div>${esc(p.job_name)} · copy ${shown.copy_index + 1} · layer ${shown.layer + 1}/${shown.layer_count}` +
      ` · <b class="run-state">${esc(shown.state)}</b></div>` +
      `<div class="bar"><div style="width:${pct}%"></div></div><div class="muted percent">${pct.toFixed(1)} %</div>`;
  }
  if (check) {
    const src = check.annotated_url || check.image_url;
    body += `<div class="photo">${src ? `<img alt="layer ${check.layer}" src="${esc(withKey(src))}">` : ""}` +
      `<span class="verdict ${check.ok ? "ok" : "bad"}">layer ${check.layer}: ${esc(check.verdict)}</span></div>`;
  }
  const b = [];
  // pause/resume this printer's copy, through its owner host when another host drives it (not the whole job)
  const at = `data-printer="${esc(p.name)}"`;
  if (run && run.state === "printing") b.push(`<button data-action="pause" ${at}>Pause</button>`);
  if (run && run.state === "paused") b.push(`<button data-action="resume" ${at}>Resume</button>`);
  if (run) b.push(`<button data-action="cancel" data-job="${run.job_id}">Cancel</button>`);
  const waiting = ["awaiting_clear", "needs_attention"].includes(p.state);
  if (waiting) {
    b.push(`<button data-action="clear-bed" data-printer="${esc(p.name)}">Bed is clear</button>`);
    b.push(`<button data-action="check-bed" data-printer="${esc(p.name)}">Look at the bed</button>`);
    lookOnce(p);
  }
  if (p.connected) b.push(`<button data-action="emergency-stop" data-printer="${esc(p.name)}">E-stop</button>`);
  return `<div class="card" data-printer="${esc(p.name)}"><h3>${esc(p.name)}` +
    `<span class="badge state s-${esc(p.state)}">${esc(p.state)}</span></h3>` +
    `<div class="muted">${esc(p.message)}</div><div class="temps">${temps(p.temperatures)}</div>${body}` +
    `${spoolView(p)}<div class="buttons">${b.join("")}</div>${waiting ? bedView(p.name) : ""}` +
    `${upkeepView(p.name)}</div>`;
}

// The spool loaded on a printer: material, colour, lot and the grams left (red when under 50 g).
function spoolView(p) {
  if (p.spool_id === null || p.spool_id === undefined) return '<div class="spool muted">no spool loaded</div>';
  const s = spools[p.spool_id];
  if (!s) return `<div class="spool muted">spool ${p.spool_id}</div>`;
  const low = s.remaining_g < 50 ? " low" : "";
  return `<div class="spool${low}" data-spool="${s.id}">spool ${s.id} · ${esc(s.material)} ${esc(s.colour)}` +
    `${s.lot ? ` · lot ${esc(s.lot)}` : ""} · <b>${s.remaining_g.toFixed(0)} g</b> left</div>`;
}

async function loadSpools() {
  try {
    for (const s of await api("GET", "/api/v1/spools")) spools[s.id] = s;
  } catch (err) {
    return;
  }
  if (lastSnap) render(lastSnap);
}

// Counters since the last service and each maintenance task, the due ones highlighted with a button to log it.
const COUNTER_WORDS = {hours: "h", metres: "m", jobs: "copies", failures: "failed"};
function upkeepView(name) {
  const u = upkeep[name];
  if (!u) return "";
  const c = u.usage;
  const since = u.last_service ? `since the service of ${new Date(u.last_service * 1000).toLocaleString()}`
    : "since first use";
  const canLog = ["admin", "operator"].includes(document.body.dataset.role);
  const tasks = u.tasks.map((t) => {
    const why = t.due ? "due: " + t.due_by.map((k) => `${t.used[k].toFixed(1)} of every ${t.every[k]} ` +
      COUNTER_WORDS[k]).join(", ") : `${Math.round(100 * t.fraction)} % of its interval`;
    const button = canLog ? ` <button data-action="log-service" data-printer="${esc(name)}" ` +
      `data-task="${esc(t.task)}">Log service</button>` : "";
    return `<li class="task${t.due ? " due" : ""}" data-task="${esc(t.task)}"><b>${esc(t.task)}</b> ` +
      `<span class="why">${esc(why)}</span>${button}</li>`;
  }).join("");
  return `<div class="upkeep" data-due="${esc(u.due.join(","))}"><div class="counters muted">` +
    `${c.hours.toFixed(1)} h · ${c.metres.toFixed(2)} m · ${c.jobs} ${c.jobs === 1 ? "copy" : "copies"} · ${c.failures} failed ${since}</div>` +
    `${tasks ? `<ul class="tasks">${tasks}</ul>` : ""}</div>`;
}

async function loadUpkeep() {
  try {
    for (const u of await api("GET", "/api/v1/maintenance")) upkeep[u.printer] = u;
  } catch (err) {
    return;
  }
  if (lastSnap) render(lastSnap);
}

async function logService(printer, task) {
  const note = prompt(`What was done (${task} on ${printer})?`);
  if (note === null) return;
  await api("POST", `/api/v1/printers/${encodeURIComponent(printer)}/maintenance/log`, {task, note});
  await loadUpkeep();
}

// The camera's opinion of the bed beside the "Bed is clear" button: the person decides, the page warns.
function bedView(name) {
  const v = bedViews[name];
  if (!v) return '<div class="bed muted">camera: looking at the bed…</div>';
  const words = {clear: "the camera sees a clear bed", not_clear: "the camera sees something on the bed",
    unknown: "the camera cannot tell"}[v.camera];
  const warn = v.camera === "not_clear" ? ' <b class="warn">— check before confirming</b>' : "";
  const img = v.image_url ? `<img alt="bed" src="${esc(withKey(v.image_url))}">` : "";
  return `<div class="bed cam-${esc(v.camera)}" data-camera="${esc(v.camera)}"><div>${words}${warn}</div>` +
    `<div class="muted">${esc(v.message)}</div>${img}</div>`;
}

async function lookAtBed(name) {
  try { bedViews[name] = await api("GET", `/api/v1/printers/${encodeURIComponent(name)}/bed`); }
  catch (err) { bedViews[name] = {camera: "unknown", message: err.message, image_url: null}; }
  refresh();
}

const bedKey = {};
function lookOnce(p) {  // one look per printer and finished run, when it starts waiting for a clear bed
  const key = `${p.last_run ? p.last_run.id : 0}:${p.state}`;
  if (bedKey[p.name] === key) return;
  bedKey[p.name] = key;
  delete bedViews[p.name];
  setTimeout(() => lookAtBed(p.name), 0);
}

function jobRow(j) {
  const c = j.counts || {};
  const state = j.state === "slicing" ? `slicing ${(100 * j.slice_progress).toFixed(0)} %` : j.state;
  return `<tr data-job="${j.id}"><td>${j.id}</td><td>${esc(j.name)}</td><td class="job-state">${esc(state)}</td>` +
    `<td>${j.copies}</td><td>${c.completed || 0}</td><td>${c.queued || 0}</td>` +
    `<td>${(c.printing || 0) + (c.paused || 0)}</td><td>${c.failed || 0}</td>` +
    `<td><button data-action="history" data-job="${j.id}">Layers</button>${approvalButtons(j)}` +
    ` <a class="report" href="${esc(withKey(`/api/v1/jobs/${j.id}/report.pdf`))}" target="_blank">Report</a></td></tr>`;
}

// Approve / Reject for a job waiting for an operator (the API refuses other roles anyway).
const approvalButtons = (j) => j.state !== "awaiting_approval" || !["admin", "operator"].includes(document.body.dataset.role)
  ? "" : ` <button data-action="approve" data-job="${j.id}">Approve</button>` +
    ` <button data-action="reject" data-job="${j.id}">Reject</button>`;

function render(snap) {
  lastSnap = snap;
  farmPrinters(snap.printers);
  $("#printers").innerHTML = snap.printers.map(printerCard).join("") || '<p class="muted">no printers</p>';
  $("#jobs tbody").innerHTML = snap.jobs.map(jobRow).join("");
  if (shownJob !== null) showHistory(shownJob);
}

async function showHistory(jobId) {
  shownJob = jobId;
  const [checks, job] = await Promise.all([api("GET", `/api/v1/jobs/${jobId}/layer-checks`),
    api("GET", `/api/v1/jobs/${jobId}`)]);
  $("#history").hidden = false;
  $("#history-job").textContent = jobId;
  showTimelapses(job);
  $("#strip").innerHTML = checks.map((c) => {
    const src = c.annotated_url || c.image_url;
    return `<figure class="${c.ok ? "" : "bad"}">${src ? `<img loading="lazy" src="${esc(withKey(src))}">` : ""}` +
      `<figcaption>run ${c.run_id} · layer ${c.layer} · ${esc(c.verdict)}</figcaption></figure>`;
  }).join("") || '<p class="muted">no layer checks yet</p>';
}

// One timelapse per copy that has started: played here when it has ended, made on request while it prints.
function showTimelapses(job) {
  const runs = job.runs.filter((r) => r.started_at);
  const key = job.id + ":" + runs.map((r) => `${r.id}/${r.finished_at ? "end" : "run"}`).join(",");
  if (key === shownTimelapses) return;  // re-rendering would restart a video someone is watching
  shownTimelapses = key;
  $("#timelapses").innerHTML = runs.map((r) => {
    const url = withKey(`/api/v1/runs/${r.id}/timelapse.mp4`);
    const web = withKey(`/api/v1/runs/${r.id}/timelapse.webm`);
    const video = r.finished_at ? `<video controls muted preload="metadata" src="${esc(web)}"></video>`
      : `<button data-action="timelapse" data-run="${r.id}">Timelapse so far</button>`;
    return `<figure class="timelapse" data-run="${r.id}">${video}<figcaption>run ${r.id} · ${esc(r.state)} · ` +
      `<a href="${esc(url)}" download>MP4</a>` + (r.finished_at ? ` · <a class="record" target="_blank" ` +
      `href="${esc(withKey(`/api/v1/runs/${r.id}/record.pdf`))}">build record</a>` : "") +
      ` <span class="muted tl-msg"></span></figcaption></figure>`;
  }).join("") || '<p class="muted">no copy has started yet</p>';
  for (const v of $("#timelapses").querySelectorAll("video")) {
    v.addEventListener("error", () => {
      v.closest("figure").querySelector(".tl-msg").textContent = "no timelapse: this copy has no layer photos";
    });
  }
}

async function timelapseSoFar(runId, btn) {
  const fig = btn.closest("figure");
  fig.querySelector(".tl-msg").textContent = "writing…";
  const made = await api("POST", `/api/v1/runs/${runId}/timelapse`);
  btn.outerHTML = `<video controls muted autoplay src="${esc(withKey(made.web_url || made.url))}&n=${made.frames}">` +
    "</video>";
  fig.querySelector(".tl-msg").textContent = `${made.frames} layers so far`;
}

// ---- farm view: hosts sharing the database (GET /api/v1/hosts), alive or silent, and each printer's host ----
const farm = {hosts: [], printers: [], timer: null};
const FARM_REFRESH_MS = 2000;   // heartbeats change nothing the live stream reports, so the hosts are asked for

function farmPrinters(printers) {
  farm.printers = printers.map((p) => ({name: p.name, host: p.host, state: p.state}));
  renderFarm();
}

async function loadHosts() {
  try { farm.hosts = await api("GET", "/api/v1/hosts"); } catch (err) { return; }
  renderFarm();
}

function startFarmView() {
  if (farm.timer === null) farm.timer = setInterval(loadHosts, FARM_REFRESH_MS);
  loadHosts();
}

function renderFarm() {
  const names = new Set([...farm.hosts.map((h) => h.name), ...farm.printers.map((p) => p.host).filter(Boolean)]);
  const now = Date.now() / 1000;
  $("#farm-hosts tbody").innerHTML = [...names].sort().map((name) => {
    const h = farm.hosts.find((x) => x.name === name);
    const state = !h ? "unknown" : h.alive ? "alive" : "silent";
    const beat = h ? `${new Date(h.last_heartbeat * 1000).toLocaleTimeString()} ` +
      `(${Math.max(0, now - h.last_heartbeat).toFixed(0)} s ago)` : "";
    const mine = farm.printers.filter((p) => p.host === name).map((p) =>
      `<span class="farm-printer" data-printer="${esc(p.name)}">${esc(p.name)} <span class="muted">${esc(p.state)}` +
      "</span></span>").join("") || '<span class="muted">none</span>';
    return `<tr data-host="${esc(name)}"><td>${esc(name)}</td><td class="host-state host-${state}">${state}</td>` +
      `<td class="host-beat">${beat}</td><td class="host-printers">${mine}</td></tr>`;
  }).join("") || '<tr><td colspan="4" class="muted">no hosts yet</td></tr>';
}

let lastEventId = 0;
const SPOOL_KINDS = ["spool", "completed", "failed", "cancelled"];   // a spool loaded, or filament used by a copy
const UPKEEP_KINDS = ["completed", "failed", "cancelled", "vision_failure", "maintenance_due", "maintenance_done"];
const eventLine = (e) => `${new Date(e.t * 1000).toLocaleTimeString()} ${e.printer ? "[" + e.printer + "] " : ""}` +
  `${e.message} — ${e.actor}`;

$("#audit").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const q = new URLSearchParams();
  for (const name of ["actor", "kind"]) { const v = $(`#audit [name=${name}]`).value.trim(); if (v) q.set(name, v); }
  q.set("limit", "500");
  try {
    const found = await api("GET", "/api/v1/events?" + q.toString());
    $("#audit-list").innerHTML = found.map((e) => `<li data-actor="${esc(e.actor)}" data-kind="${esc(e.kind)}">` +
      `${esc(eventLine(e))}</li>`).join("") || '<li class="muted">no events match</li>';
  } catch (err) {
    $("#audit-list").innerHTML = `<li class="muted">${esc(err.message)}</li>`;
  }
});

$("#notify-test").addEventListener("click", async () => {
  try {
    $("#notify-msg").textContent = (await api("POST", "/api/v1/notifications/test")).message;
  } catch (err) {
    $("#notify-msg").textContent = err.message;
  }
});

function addEvent(e) {
  if (e.id <= lastEventId) return;  // a new connection starts with recent events this page may already show
  lastEventId = e.id;
  const li = document.createElement("li");
  li.dataset.id = e.id;
  li.dataset.actor = e.actor;
  li.textContent = eventLine(e);
  $("#events").prepend(li);
  if (UPKEEP_KINDS.includes(e.kind)) loadUpkeep();
  if (SPOOL_KINDS.includes(e.kind)) loadSpools();
  while ($("#events").children.length > 200) $("#events").lastChild.remove();
}

document.addEventListener("click", async (ev) => {
  const btn = ev.target.closest("button[data-action]");
  if (!btn) return;
  const {action, job, printer, run} = btn.dataset;
  try {
    if (action === "history") return showHistory(Number(job));
    if (action === "check-bed") return lookAtBed(printer);
    if (action === "timelapse") return await timelapseSoFar(Number(run), btn);
    if (action === "log-service") return await logService(printer, btn.dataset.task);
    btn.disabled = true;
    if (action === "reject") {
      const reason = prompt("Why is this job rejected?");
      if (!reason) return;
      await api("POST", `/api/v1/jobs/${job}/reject`, {reason});
    } else if (job) await api("POST", `/api/v1/jobs/${job}/${action}`);
    else await api("POST", `/api/v1/printers/${encodeURIComponent(printer)}/${action}`);
    refresh();
  } catch (err) {
    alert(err.message);
  } finally {
    btn.disabled = false;
  }
});

$("#upload").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const job = await api("POST", "/api/v1/jobs", new FormData(ev.target));
    $("#upload-msg").textContent = `job ${job.id} ${job.state}`;
    refresh();
  } catch (err) {
    $("#upload-msg").textContent = err.message;
  }
});

$("#keyform").addEventListener("submit", (ev) => {
  ev.preventDefault();
  KEY = $("#keyinput").value.trim();
  localStorage.setItem("printloop-key", KEY);
  $("#keyform").hidden = true;
  connect();
});

async function refresh() {
  try { render(await api("GET", "/api/v1/snapshot")); } catch (err) { $("#live").textContent = err.message; }
}

function signedOut() {
  $("#loginform").hidden = false; $("#keyform").hidden = false; $("#whoami").hidden = true; $("#logout").hidden = true;
  $("#live").textContent = "sign in or give an API key";
}

$("#loginform").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const me = await api("POST", "/api/v1/login", {name: $("#login-name").value, password: $("#login-password").value});
    CSRF = me.csrf_token; sessionStorage.setItem("printloop-csrf", CSRF);
    KEY = ""; localStorage.removeItem("printloop-key");
    $("#login-password").value = ""; $("#login-msg").textContent = "";
    connect();
  } catch (err) {
    $("#login-msg").textContent = err.message;
  }
});

$("#logout").addEventListener("click", async () => {
  await fetch("/api/v1/logout", {method: "POST"});
  KEY = ""; CSRF = ""; localStorage.removeItem("printloop-key"); sessionStorage.removeItem("printloop-csrf");
  if (source) source.close();
  signedOut();
});

let source = null;
async function connect() {
  let me;
  try { me = await api("GET", "/api/v1/me"); } catch (err) { signedOut(); return; }
  $("#loginform").hidden = true; $("#keyform").hidden = true;
  $("#whoami").hidden = false; $("#whoami").textContent = `${me.name} (${me.role})`; $("#logout").hidden = false;
  document.body.dataset.role = me.role;
  if (source) source.close();
  startFarmView();
  source = new EventSource(withKey("/api/v1/stream"));
  source.addEventListener("snapshot", (m) => { $("#live").textContent = "live"; render(JSON.parse(m.data)); });
  source.addEventListener("event", (m) => addEvent(JSON.parse(m.data)));
  loadUpkeep();
  loadSpools();
  source.onerror = () => {
    $("#live").textContent = "reconnecting…";
    fetch(withKey("/api/v1/me")).then((r) => { if (r.status === 401) { source.close(); signedOut(); } });
  };
}

connect();
