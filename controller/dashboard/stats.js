// printloop dashboard, the numbers: statistics of a period (GET /api/v1/stats) and a printer's temperature history
// (GET /api/v1/printers/{name}/temperatures), drawn as plain SVG by this file. Loaded after app.js (uses api, $, esc,
// withKey); shown to the roles that may read them (admin, operator, viewer).
"use strict";

const STATS_ROLES = ["admin", "operator", "viewer"];
const SVG_NS = "http://www.w3.org/2000/svg";
const UTIL_CATEGORIES = ["printing", "idle", "waiting_for_bed", "attention", "maintenance", "offline"];
const CHART = {w: 520, h: 200, left: 44, right: 10, top: 14, bottom: 46};

function svgNode(tag, attrs, text) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function clearChart(svg) {
  while (svg.firstChild) svg.firstChild.remove();
  svg.setAttribute("viewBox", `0 0 ${CHART.w} ${CHART.h}`);
}

// One bar per item ({label, value, text}); a missing value (no copy ended) is a bar of height 0 marked "none".
function barChart(svg, items, max) {
  clearChart(svg);
  const plotH = CHART.h - CHART.top - CHART.bottom, plotW = CHART.w - CHART.left - CHART.right;
  const top = max || Math.max(1e-9, ...items.map((i) => i.value || 0));
  const slot = plotW / Math.max(1, items.length);
  svg.append(svgNode("line", {x1: CHART.left, y1: CHART.top + plotH, x2: CHART.w - CHART.right,
    y2: CHART.top + plotH, class: "axis"}));
  svg.append(svgNode("text", {x: CHART.left - 4, y: CHART.top + 4, class: "tick", "text-anchor": "end"},
    items.length ? items[0].fmt(top) : ""));
  items.forEach((item, k) => {
    const h = item.value == null ? 0 : plotH * Math.min(1, item.value / top);
    const x = CHART.left + k * slot + slot * 0.15;
    const bar = svgNode("rect", {x, y: CHART.top + plotH - h, width: slot * 0.7, height: h,
      class: "col" + (item.value == null ? " none" : ""), "data-label": item.label, "data-value": item.value ?? ""});
    bar.append(svgNode("title", {}, `${item.label}: ${item.text}`));
    svg.append(bar);
    svg.append(svgNode("text", {x: x + slot * 0.35, y: CHART.top + plotH - h - 3, class: "value",
      "text-anchor": "middle"}, item.text));
    svg.append(svgNode("text", {x: x + slot * 0.35, y: CHART.h - CHART.bottom + 14, class: "label",
      "text-anchor": "middle"}, item.label));
  });
}

// One horizontal bar per printer, split by the share of time in each utilisation category.
function utilisationChart(svg, byPrinter) {
  clearChart(svg);
  const names = Object.keys(byPrinter);
  const rowH = (CHART.h - CHART.top - CHART.bottom) / Math.max(1, names.length);
  const plotW = CHART.w - 90 - CHART.right;
  names.forEach((name, k) => {
    const y = CHART.top + k * rowH + rowH * 0.15;
    svg.append(svgNode("text", {x: 86, y: y + rowH * 0.45, class: "label", "text-anchor": "end"}, name));
    let x = 90;
    for (const cat of UTIL_CATEGORIES) {
      const share = (byPrinter[name].utilisation || {})[cat] || 0;
      if (share <= 0) continue;
      const seg = svgNode("rect", {x, y, width: share * plotW, height: rowH * 0.7, class: `seg u-${cat}`,
        "data-printer": name, "data-category": cat, "data-value": share});
      seg.append(svgNode("title", {}, `${name} ${cat.replaceAll("_", " ")}: ${(100 * share).toFixed(1)} %`));
      svg.append(seg);
      x += share * plotW;
    }
  });
  let x = 10;
  for (const cat of UTIL_CATEGORIES) {
    const words = cat.replaceAll("_", " ");
    svg.append(svgNode("rect", {x, y: CHART.h - 22, width: 10, height: 10, class: `key u-${cat}`}));
    svg.append(svgNode("text", {x: x + 14, y: CHART.h - 13, class: "label"}, words));
    x += 26 + 5.5 * words.length;
  }
}

// One polyline per series ({name, points: [[t, value]]}), one vertex per sample, on shared axes.
function lineChart(svg, series) {
  clearChart(svg);
  const all = series.flatMap((s) => s.points);
  if (!all.length) {
    svg.append(svgNode("text", {x: CHART.w / 2, y: CHART.h / 2, class: "label", "text-anchor": "middle"},
      "no temperatures recorded"));
    return;
  }
  const [t0, t1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  const vmax = Math.max(1, ...all.map((p) => p[1]));
  const plotW = CHART.w - CHART.left - CHART.right, plotH = CHART.h - CHART.top - CHART.bottom;
  const X = (t) => CHART.left + (t1 > t0 ? (t - t0) / (t1 - t0) : 0.5) * plotW;
  const Y = (v) => CHART.top + plotH * (1 - v / vmax);
  svg.append(svgNode("line", {x1: CHART.left, y1: Y(0), x2: CHART.w - CHART.right, y2: Y(0), class: "axis"}));
  svg.append(svgNode("text", {x: CHART.left - 4, y: Y(vmax) + 4, class: "tick", "text-anchor": "end"},
    `${vmax.toFixed(0)} °C`));
  svg.append(svgNode("text", {x: CHART.left, y: Y(0) + 14, class: "tick"}, new Date(t0 * 1000).toLocaleTimeString()));
  svg.append(svgNode("text", {x: CHART.w - CHART.right, y: Y(0) + 14, class: "tick", "text-anchor": "end"},
    new Date(t1 * 1000).toLocaleTimeString()));
  series.forEach((s, k) => {
    const pts = s.points.map((p) => `${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(" ");
    svg.append(svgNode("polyline", {points: pts, class: `line t-${s.name}`, "data-series": s.name,
      "data-count": s.points.length}));
    svg.append(svgNode("text", {x: CHART.left + 8 + k * 110, y: CHART.h - 13, class: `label t-${s.name}`},
      s.name.replaceAll("_", " ")));
  });
}

const pct = (v) => v == null ? "–" : `${(100 * v).toFixed(1)} %`;
const money = (v, cur) => v == null ? "–" : `${v.toFixed(2)}${cur ? " " + cur : ""}`;

function statsQuery() {
  const q = new URLSearchParams();
  for (const name of ["from", "to"]) { const v = $(`#stats-form [name=${name}]`).value.trim(); if (v) q.set(name, v); }
  return q;
}

function showStats(s) {
  const cur = s.currency;
  $("#stats-summary").innerHTML =
    `<b>${pct(s.yield)}</b> yield (${s.good} good of ${s.started} started) · lost ${s.failure_grams.toFixed(0)} g ` +
    `and ${s.failure_hours.toFixed(1)} printer-h · mean queue wait ` +
    `${s.queue_wait_s == null ? "–" : (s.queue_wait_s / 60).toFixed(0) + " min"} · ` +
    `${money(s.cost_per_good_part, cur)} per good part · ${esc(s.from)} – ${esc(s.to)}`;
  const printers = Object.entries(s.by_printer);
  const share = (v) => pct(v);
  barChart($("#chart-yield"), printers.map(([n, f]) => ({label: n, value: f.yield, text: pct(f.yield), fmt: share})),
    1);
  barChart($("#chart-cost"), printers.map(([n, f]) => ({label: n, value: f.cost_per_good_part,
    text: money(f.cost_per_good_part, ""), fmt: (v) => money(v, cur)})));
  barChart($("#chart-lost"), printers.map(([n, f]) => ({label: n, value: f.failure_grams,
    text: `${f.failure_grams.toFixed(0)} g`, fmt: (v) => `${v.toFixed(0)} g`})));
  barChart($("#chart-period"), Object.entries(s.by_period).map(([p, f]) => ({label: p, value: f.yield,
    text: pct(f.yield), fmt: share})), 1);
  utilisationChart($("#chart-utilisation"), s.by_printer);
  $("#stats-csv").href = withKey("/api/v1/runs.csv?" + statsQuery().toString());
}

let statsAsked = 0;   // the newest request: an older answer arriving later is not shown over it
async function loadStats() {
  const q = statsQuery();
  q.set("period", $("#stats-form [name=period]").value);
  const mine = ++statsAsked;
  try {
    const answer = await api("GET", "/api/v1/stats?" + q.toString());
    if (mine !== statsAsked) return;
    showStats(answer);
    $("#stats-msg").textContent = "";
  } catch (err) {
    $("#stats-msg").textContent = err.message;
  }
}

async function loadTemperatures() {
  const name = $("#temp-printer").value;
  if (!name) return;
  try {
    const samples = await api("GET", `/api/v1/printers/${encodeURIComponent(name)}/temperatures?limit=720`);
    lineChart($("#chart-temps"), ["hotend", "hotend_target", "bed", "bed_target"].map((k) => ({name: k,
      points: samples.map((t) => [t.t, t[k]])})));
  } catch (err) {
    $("#stats-msg").textContent = err.message;
  }
}

async function showNumbers() {
  const allowed = STATS_ROLES.includes(document.body.dataset.role);
  $("#numbers").hidden = !allowed;
  if (!allowed) return;
  const names = (await api("GET", "/api/v1/printers")).map((p) => p.name);
  const pick = $("#temp-printer");
  const was = pick.value;
  pick.innerHTML = names.map((n) => `<option value="${esc(n)}">${esc(n)}</option>`).join("");
  if (names.includes(was)) pick.value = was;
  await Promise.all([loadStats(), loadTemperatures()]);
}

$("#stats-form").addEventListener("submit", (ev) => { ev.preventDefault(); loadStats(); loadTemperatures(); });
$("#temp-printer").addEventListener("change", loadTemperatures);
new MutationObserver(showNumbers).observe(document.body, {attributes: true, attributeFilter: ["data-role"]});
