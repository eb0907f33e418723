"""The printable build report: one page per part (its facts, the verdict strip of its layers, its failed and a
few sampled layer photos, its pauses), and a batch page summing a job's copies; as HTML with the photos inside
(data: URLs), and as PDF through WeasyPrint."""
from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any

import cv2
import numpy as np

PhotoSource = Callable[[dict[str, Any], str], Path | None]
"""Where the file a record names (a photo) is: (record, file name) -> path, or None."""

COLOURS = {"ok": "#2ca02c", "failed": "#d62728", "unchecked": "#d9d9d9"}
PHOTOS_PER_PART = 6        # failed layers first, then sampled ones (first, middle, last)
THUMB_WIDTH = 720          # px: sharp enough at 58 mm, small enough for a batch of many parts
EVENTS_PER_PART = 8

CSS = """
@page { size: A4; margin: 12mm; }
body { font-family: 'DejaVu Sans', sans-serif; font-size: 8.5pt; color: #222; }
section { page-break-after: always; }
section:last-child { page-break-after: auto; }
h1 { font-size: 14pt; margin: 0 0 2mm; } h2 { font-size: 10pt; margin: 3mm 0 1mm; }
table { border-collapse: collapse; width: 100%; }
td, th { border-bottom: 0.2mm solid #ddd; padding: 0.6mm 1.5mm; text-align: left; vertical-align: top; }
th { width: 32mm; color: #555; font-weight: normal; }
.mono { font-family: 'DejaVu Sans Mono', monospace; font-size: 7pt; word-break: break-all; }
.strip { width: 186mm; height: 9mm; display: block; }
.photos { display: flex; flex-wrap: wrap; gap: 2mm; }
figure { margin: 0; width: 58mm; } figure img { width: 58mm; display: block; }
figcaption { font-size: 7pt; } .failed { color: #d62728; font-weight: bold; }
"""


def _verdicts(record: dict[str, Any]) -> list[str]:
    """Per layer of the copy (0 .. layer count - 1): ok, failed or unchecked (the newest check of a layer)."""
    count = max([int((record.get("outcome") or {}).get("layer_count") or 0)]
                + [int(la["layer"]) + 1 for la in record.get("layers") or []])
    out = ["unchecked"] * count
    for la in record.get("layers") or []:
        out[int(la["layer"])] = "ok" if la.get("ok") else "failed"
    return out


def strip_svg(record: dict[str, Any]) -> str:
    """The verdict strip: one bar per layer, green ok, red failed, grey unchecked, as SVG."""
    cells = _verdicts(record) or ["unchecked"]
    w = 1000 / len(cells)
    bars = "".join(f'<rect x="{i * w:.3f}" y="0" width="{w + 0.05:.3f}" height="60" fill="{COLOURS[v]}"/>'
                   for i, v in enumerate(cells))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1000 60" preserveAspectRatio="none">{bars}'
            '</svg>')


def _data_url(mime: str, data: bytes) -> str:
    """A data: URL."""
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def thumbnail(path: Path) -> str | None:
    """A photo scaled to THUMB_WIDTH as a JPEG data: URL, or None when it cannot be read."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        return None
    h, w = image.shape[:2]
    if w > THUMB_WIDTH:
        image = cv2.resize(image, (THUMB_WIDTH, max(1, round(h * THUMB_WIDTH / w))), interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return _data_url("image/jpeg", np.asarray(jpeg).tobytes()) if ok else None


def chosen_layers(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The layers whose photos the page shows: every failed one first, then the first, middle and last checked."""
    with_photo = [la for la in record.get("layers") or [] if la.get("photo")]
    failed = [la for la in with_photo if not la.get("ok")]
    passed = [la for la in with_photo if la.get("ok")]
    sampled = [passed[i] for i in sorted({0, len(passed) // 2, len(passed) - 1})] if passed else []
    return (failed + [la for la in sampled if la not in failed])[:PHOTOS_PER_PART]


def _figure(record: dict[str, Any], layer: dict[str, Any], source: PhotoSource) -> str:
    """One photo with its layer, verdict and main figures."""
    name = layer.get("annotated") if not layer.get("ok") and layer.get("annotated") else layer.get("photo")
    path = source(record, str(name)) if name else None
    url = thumbnail(path) if path is not None else None
    fig = layer.get("figures") or {}
    cls = "" if layer.get("ok") else ' class="failed"'
    note = f"IoU {fig['iou']:.3f}" if isinstance(fig.get("iou"), int | float) else ""
    img = f'<img src="{url}" alt="layer {int(layer["layer"]) + 1}">' if url else "<p>(photo missing)</p>"
    return (f"<figure>{img}<figcaption><span{cls}>layer {int(layer['layer']) + 1}: {escape(str(layer['verdict']))}"
            f"</span> {escape(note)} <span class=\"mono\">{escape(str(layer.get('photo_sha256') or '')[:16])}</span>"
            f"</figcaption></figure>")


def _row(label: str, value: Any, mono: bool = False) -> str:
    """One fact of the part."""
    text = "—" if value in (None, "", [], {}) else escape(str(value))
    cls = ' class="mono"' if mono else ""
    return f"<tr><th>{escape(label)}</th><td{cls}>{text}</td></tr>"


def _facts(r: dict[str, Any]) -> str:
    """The part's facts as a table."""
    g, p, who = r.get("gcode") or {}, r.get("printer") or {}, r.get("people") or {}
    spool, out, d = r.get("spool") or {}, r.get("outcome") or {}, r.get("disposition")
    slicer = " ".join(str(x) for x in (g.get("slicer"), g.get("slicer_version")) if x)
    rows = [
        _row("Job", f"{r['job']['id']} {r['job']['name']} (copy {r['job']['copy']} of {r['job']['copies']})"),
        _row("Design", f"{r['design']['name']} ({r['design']['kind']})"),
        _row("Design SHA-256", r["design"]["sha256"], True),
        _row("G-code", f"{g.get('name')}: {g.get('layers')} layers, sliced by {slicer or 'unknown'}"
                       + (f", profile {g['profile']}" if g.get("profile") else "")),
        _row("G-code SHA-256", g.get("sha256"), True),
        _row("Printer", f"{p.get('name')} — {p.get('firmware') or 'firmware unknown'}, nozzle "
                        f"{p.get('nozzle') or '?'} mm"),
        _row("Spool", ", ".join(f"{k} {v}" for k, v in spool.items()) if spool else "not recorded"),
        _row("People", ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in who.items() if v)),
        _row("Printed", f"{r.get('start')} → {r.get('end')} ({r.get('duration_s')} s)"),
        _row("Outcome", f"{out.get('state')}" + (f": {out['message']}" if out.get("message") else "")),
        _row("Disposition", f"{d['decision']} by {d['by']}: {d['reason']}" if d else "pending"),
        _row("Record", f"seq {r.get('seq')}, sealed {r.get('sealed_at')}" if r.get("hash") else "not sealed yet"),
        _row("Record SHA-256", r.get("hash"), True), _row("Previous record", r.get("prev_hash"), True)]
    return f"<table>{''.join(rows)}</table>"


def _events(r: dict[str, Any]) -> str:
    """The pauses and interruptions, the first EVENTS_PER_PART of them."""
    shown = (r.get("interruptions") or [])[:EVENTS_PER_PART]
    if not shown:
        return "<p>No pause or interruption.</p>"
    more = len(r.get("interruptions") or []) - len(shown)
    rows = "".join(f"<tr><td>{escape(str(e['at']))}</td><td>{escape(e['kind'])}</td><td>{escape(e['message'])}</td>"
                   f"<td>{escape(e['actor'])}</td></tr>" for e in shown)
    return f"<table>{rows}</table>" + (f"<p>… and {more} more in the record.</p>" if more > 0 else "")


def part_section(record: dict[str, Any], source: PhotoSource) -> str:
    """One part's page."""
    verdicts = Counter(_verdicts(record))
    figures = "".join(_figure(record, la, source) for la in chosen_layers(record))
    strip = _data_url("image/svg+xml", strip_svg(record).encode())
    return (f"<section class=\"part\"><h1>Part {escape(record['serial'])}</h1>{_facts(record)}"
            f"<h2>Layers: {verdicts['ok']} ok, {verdicts['failed']} failed, {verdicts['unchecked']} unchecked</h2>"
            f'<img class="strip" src="{strip}" alt="verdict strip">'
            f"<h2>Pauses and interruptions</h2>{_events(record)}"
            f"<h2>Layer photos</h2><div class=\"photos\">{figures or '<p>No photos.</p>'}</div></section>")


def batch_section(job: dict[str, Any], records: list[dict[str, Any]]) -> str:
    """The batch page: the job's copies summed, and a line per part."""
    states = Counter((r.get("outcome") or {}).get("state") for r in records)
    decided = Counter((r.get("disposition") or {}).get("decision", "pending") for r in records)
    checked = sum(len(r.get("layers") or []) for r in records)
    failed = sum(1 for r in records for la in r.get("layers") or [] if not la.get("ok"))
    seconds = round(sum(float(r.get("duration_s") or 0) for r in records))
    good = sum(1 for r in records if (r.get("outcome") or {}).get("state") == "completed"
               and (r.get("disposition") or {}).get("decision") != "rejected")
    rows = "".join(
        f"<tr><td class=\"mono\">{escape(r['serial'])}</td><td>{escape(str((r.get('printer') or {}).get('name')))}"
        f"</td><td>{escape(str((r.get('outcome') or {}).get('state')))}</td>"
        f"<td>{escape((r.get('disposition') or {}).get('decision', 'pending'))}</td>"
        f"<td>{sum(1 for la in r.get('layers') or [] if not la.get('ok'))}/{len(r.get('layers') or [])}</td>"
        f"<td class=\"mono\">{escape(str(r.get('hash') or 'not sealed')[:16])}</td></tr>" for r in records)
    facts = [_row("Copies ordered", job["copies"]), _row("Copies printed (runs)", len(records)),
             _row("By outcome", ", ".join(f"{k} {v}" for k, v in sorted(states.items()))),
             _row("Good parts", f"{good} (completed and not rejected)"),
             _row("Dispositions", ", ".join(f"{k} {v}" for k, v in sorted(decided.items()))),
             _row("Layers checked", f"{checked}, {failed} failed"), _row("Printer time", f"{seconds // 3600} h {seconds // 60 % 60} min {seconds % 60} s")]
    return (f"<section class=\"batch\"><h1>Batch: job {job['id']} {escape(job['name'])}</h1>"
            f"<table>{''.join(facts)}</table><h2>Parts</h2><table><tr><th>serial</th><th>printer</th><th>outcome"
            f"</th><th>disposition</th><th>failed/checked</th><th>record</th></tr>{rows}</table></section>")


def report_html(records: list[dict[str, Any]], source: PhotoSource, job: dict[str, Any] | None = None) -> str:
    """The whole report: the batch page when a job is given, then a page per part."""
    pages = ([batch_section(job, records)] if job is not None else []) + [part_section(r, source) for r in records]
    title = f"job {job['id']}" if job is not None else ", ".join(r["serial"] for r in records)
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>Build report {escape(title)}</title>"
            f"<style>{CSS}</style></head><body>{''.join(pages)}</body></html>")


def report_pdf(html: str) -> bytes:
    """The report as PDF (WeasyPrint); everything it shows is inside the HTML, so only data: URLs are read."""
    from weasyprint import HTML, URLFetcher

    return bytes(HTML(string=html, url_fetcher=URLFetcher(allowed_protocols=["data"])).write_pdf())
