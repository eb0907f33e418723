// printloop dashboard: one page, no build step. Live state arrives as server-sent events from /api/v1/stream.
"use strict";

const params = new URLSearchParams(location.search);
if (params.get("key")) localStorage.setItem("printloop-key", params.get("key"));
let KEY = localStorage.getItem("printloop-key") || "";
let shownJob = null;

const $ = (sel) => document.querySelector(sel);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;",
  '"': "&quot;", "'": "&#39;"}[c]));
const withKey = (url) => url + (url.includes("?") ? "&" : "?") + "api_key=" + encodeURIComponent(KEY);

async function api(method, url, body) {
  const opts = {method, headers: {"X-Api-Key": KEY}};
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
  if (run && run.state === "printing") b.push(`<button data-action="pause" data-job="${run.job_id}">Pause</button>`);
  if (run && run.state === "paused") b.push(`<button data-action="resume" data-job="${run.job_id}">Resume</button>`);
  if (run) b.push(`<button data-action="cancel" data-job="${run.job_id}">Cancel</button>`);
  if (["awaiting_clear", "needs_attention"].includes(p.state))
    b.push(`<button data-action="clear-bed" data-printer="${esc(p.name)}">Bed is clear</button>`);
  if (p.connected) b.push(`<button data-action="emergency-stop" data-printer="${esc(p.name)}">E-stop</button>`);
  return `<div class="card" data-printer="${esc(p.name)}"><h3>${esc(p.name)}` +
    `<span class="badge state s-${esc(p.state)}">${esc(p.state)}</span></h3>` +
    `<div class="muted">${esc(p.message)}</div><div class="temps">${temps(p.temperatures)}</div>${body}` +
    `<div class="buttons">${b.join("")}</div></div>`;
}

function jobRow(j) {
  const c = j.counts || {};
  const state = j.state === "slicing" ? `slicing ${(100 * j.slice_progress).toFixed(0)} %` : j.state;
  return `<tr data-job="${j.id}"><td>${j.id}</td><td>${esc(j.name)}</td><td class="job-state">${esc(state)}</td>` +
    `<td>${j.copies}</td><td>${c.completed || 0}</td><td>${c.queued || 0}</td>` +
    `<td>${(c.printing || 0) + (c.paused || 0)}</td><td>${c.failed || 0}</td>` +
    `<td><button data-action="history" data-job="${j.id}">Layers</button></td></tr>`;
}

function render(snap) {
  $("#printers").innerHTML = snap.printers.map(printerCard).join("") || '<p class="muted">no printers</p>';
  $("#jobs tbody").innerHTML = snap.jobs.map(jobRow).join("");
  if (shownJob !== null) showHistory(shownJob);
}

async function showHistory(jobId) {
  shownJob = jobId;
  const checks = await api("GET", `/api/v1/jobs/${jobId}/layer-checks`);
  $("#history").hidden = false;
  $("#history-job").textContent = jobId;
  $("#strip").innerHTML = checks.map((c) => {
    const src = c.annotated_url || c.image_url;
    return `<figure class="${c.ok ? "" : "bad"}">${src ? `<img loading="lazy" src="${esc(withKey(src))}">` : ""}` +
      `<figcaption>run ${c.run_id} · layer ${c.layer} · ${esc(c.verdict)}</figcaption></figure>`;
  }).join("") || '<p class="muted">no layer checks yet</p>';
}

let lastEventId = 0;
function addEvent(e) {
  if (e.id <= lastEventId) return;  // a new connection starts with recent events this page may already show
  lastEventId = e.id;
  const li = document.createElement("li");
  li.dataset.id = e.id;
  li.textContent = `${new Date(e.t * 1000).toLocaleTimeString()} ${e.printer ? "[" + e.printer + "] " : ""}${e.message}`;
  $("#events").prepend(li);
  while ($("#events").children.length > 200) $("#events").lastChild.remove();
}

document.addEventListener("click", async (ev) => {
  const btn = ev.target.closest("button[data-action]");
  if (!btn) return;
  const {action, job, printer} = btn.dataset;
  try {
    if (action === "history") return showHistory(Number(job));
    btn.disabled = true;
    if (job) await api("POST", `/api/v1/jobs/${job}/${action}`);
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

let source = null;
function connect() {
  if (!KEY) { $("#keyform").hidden = false; $("#live").textContent = "API key needed"; return; }
  if (source) source.close();
  source = new EventSource(withKey("/api/v1/stream"));
  source.addEventListener("snapshot", (m) => { $("#live").textContent = "live"; render(JSON.parse(m.data)); });
  source.addEventListener("event", (m) => addEvent(JSON.parse(m.data)));
  source.onerror = () => {
    $("#live").textContent = "reconnecting…";
    fetch(withKey("/api/v1/queue")).then((r) => { if (r.status === 401) { source.close(); $("#keyform").hidden = false; } });
  };
}

connect();
