"""Which printer may make which copy: a job's requirements against a printer's capabilities and loaded spool, and
the filament a copy needs by its job plan. Pure functions (no store, no IO); units mm, g, g/cm³."""
from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from controller.store.records import Capabilities, Spool
from slicing.job_plan import JobPlan
from slicing.plan_filament import plan_filament

NOZZLE_TOLERANCE_MM = 1e-3
REACH_TOLERANCE_MM = 0.5   # a perimeter's half-width past the bed's nominal edge is still on the bed
NONE = ""                  # the key of filament no labelled object owns (purge line, skirt) in per-object figures


def grams(filament_mm: float, diameter_mm: float, density_g_cm3: float) -> float:
    """Grams of a length of filament: length × π(d/2)² (mm³, /1000 to cm³) × density."""
    return filament_mm * math.pi * (diameter_mm / 2.0) ** 2 / 1000.0 * density_g_cm3


def needs_of(job_plan: JobPlan) -> dict[str, Any]:
    """What a copy of the plan needs, as the store keeps it on the job: its filament `mm`, that of each object
    (`objects`, NONE for what none owns) and the farthest point it `reach`es [x, y, z] mm."""
    table = plan_filament(job_plan)
    per = table.by_object()
    by_object = {NONE: float(per[-1])} | {n: float(v) for n, v in zip(table.objects, per[:-1])}
    reach = [0.0, 0.0, 0.0]
    for layer in job_plan.layers:
        seg = layer.paths.segments
        if seg.shape[0]:
            reach = [max(reach[0], float(seg[:, [0, 2]].max())), max(reach[1], float(seg[:, [1, 3]].max())),
                     max(reach[2], float(layer.z))]
    return {"mm": float(per.sum()), "objects": by_object,
            "reach": [round(v, 3) for v in reach]}


def run_filament_mm(needs: dict[str, Any], objects: Iterable[str] = ()) -> float:
    """Filament (mm) of one run: the whole plate, or with `objects` only those plus what no object owns."""
    only = list(objects)
    if not only:
        return float(needs.get("mm", 0.0))
    per = needs.get("objects", {})
    return float(per.get(NONE, 0.0)) + sum(float(per.get(n, 0.0)) for n in only)


def parse_requirements(material: str | None, colour: str | None, nozzle: float | None,
                       tags: str | None) -> dict[str, Any]:
    """A job's requirements from its upload fields (blank ones left out; tags comma-separated, all required)."""
    out: dict[str, Any] = {}
    if material and material.strip():
        out["material"] = material.strip()
    if colour and colour.strip():
        out["colour"] = colour.strip()
    if nozzle is not None:
        out["nozzle"] = float(nozzle)
    wanted = [t.strip() for t in (tags or "").split(",") if t.strip()]
    if wanted:
        out["tags"] = wanted
    return out


def _same(a: str, b: str) -> bool:
    """Names of materials and colours compare without case, and colours with or without a leading '#'."""
    return a.strip().lower().removeprefix("#") == b.strip().lower().removeprefix("#")


def _capability_refusal(requires: dict[str, Any], caps: Capabilities, reach: list[float] | None) -> str | None:
    """Why the printer itself (not its spool) cannot make the job, or None."""
    material = requires.get("material")
    if material and caps.materials and not any(_same(m, material) for m in caps.materials):
        return f"does not print {material} (only {', '.join(caps.materials)})"
    nozzle = requires.get("nozzle")
    if nozzle is not None and (caps.nozzle is None or abs(caps.nozzle - float(nozzle)) > NOZZLE_TOLERANCE_MM):
        has = f"a {caps.nozzle:g} mm nozzle" if caps.nozzle is not None else "no nozzle size configured"
        return f"has {has}; the job needs {float(nozzle):g} mm"
    missing = [t for t in requires.get("tags", []) if not any(_same(t, c) for c in caps.tags)]
    if missing:
        return f"lacks the tag{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
    if caps.bed and reach and any(r > b + REACH_TOLERANCE_MM for r, b in zip(reach, caps.bed)):
        return (f"the part reaches {' × '.join(f'{r:g}' for r in reach)} mm, beyond its bed of "
                f"{' × '.join(f'{b:g}' for b in caps.bed)} mm")
    return None


def refusal(requires: dict[str, Any], caps: Capabilities, spool: Spool | None, needs: dict[str, Any],
            objects: Iterable[str] = ()) -> str | None:
    """Why a printer with these capabilities and this loaded spool may not start a copy (of `objects` of the
    plate, all when none), said for a technician; None when it may."""
    why = _capability_refusal(requires, caps, needs.get("reach"))
    if why:
        return why
    material, colour = requires.get("material"), requires.get("colour")
    if spool is None:
        if material or colour:
            wanted = " ".join(x for x in (colour, material) if x)
            return f"has no spool loaded; the job needs {wanted}"
        return None
    if material and not _same(spool.material, material):
        return f"has {spool.material} loaded (spool {spool.id}); the job needs {material}"
    if colour and not _same(spool.colour, colour):
        return f"has {spool.colour or 'an unnamed colour'} loaded (spool {spool.id}); the job needs {colour}"
    need = grams(run_filament_mm(needs, objects), spool.diameter, spool.density)
    if need > spool.remaining_g:
        return f"spool {spool.id} has {spool.remaining_g:.1f} g left; the copy needs {need:.1f} g"
    return None
