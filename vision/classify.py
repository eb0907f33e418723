"""Turn a layer's comparison figures into a verdict a technician can act on."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from vision.compare import Comparison
from vision.config import VisionConfig

STATUSES = ("ok", "layer_shift", "missing_layer", "under_extrusion", "spaghetti", "warping", "unseen")


@dataclass(frozen=True)
class Verdict:
    """The judgement of one layer with the figures it rests on."""

    layer: int
    status: str                  # one of STATUSES
    iou: float
    missing_area_mm2: float
    excess_area_mm2: float
    offset_mm: tuple[float, float]
    score: dict[str, float]
    message: str
    objects: tuple[dict[str, Any], ...] = field(default=())  # per copy: {"name", "status", "message", ...}

    @property
    def failed(self) -> bool:
        """True for every status but ok (the whole plate failed; see `failed_objects` for single copies)."""
        return self.status != "ok"

    @property
    def failed_objects(self) -> list[str]:
        """Names of the copies that failed this layer while the rest of the plate is sound."""
        return [str(o["name"]) for o in self.objects if o["status"] != "ok"] if not self.failed else []

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready form."""
        return {"layer": self.layer, "status": self.status, "iou": round(self.iou, 4),
                "missing_area_mm2": round(self.missing_area_mm2, 2), "excess_area_mm2": round(self.excess_area_mm2, 2),
                "offset_mm": [round(self.offset_mm[0], 3), round(self.offset_mm[1], 3)],
                "score": {k: round(v, 4) for k, v in self.score.items()}, "message": self.message,
                **({"objects": [dict(o) for o in self.objects]} if self.objects else {})}


def unseen(layer: int, reason: str) -> Verdict:
    """The verdict on a layer the camera could not show (no markers, no frame, a black frame): a failure, so the
    job's policy acts on it as on any other; a lab must never believe it is protected while nothing is checked."""
    return Verdict(layer, "unseen", 0.0, 0.0, 0.0, (0.0, 0.0), {}, f"layer {layer} was not checked: {reason}")


def _shift_text(dx: float, dy: float) -> str:
    """'2.4 mm in X' / '1.0 mm in Y' / '2.1 mm in X and 1.2 mm in Y' with signs."""
    parts = [f"{v:+.1f} mm in {axis}" for v, axis in ((dx, "X"), (dy, "Y")) if abs(v) >= 0.3]
    return " and ".join(parts) or f"{dx:+.1f} mm in X"


def classify(layer: int, c: Comparison, config: VisionConfig, corners_seen: bool = False) -> Verdict:
    """Rules in order: too small to judge, layer shift, spaghetti, warping, missing layer, under-extrusion, ok.

    A layer shift is a fresh layer that matches its reference once moved back: by overlap (IoU, or a clear
    phase-correlation peak on sparse layers), or by coverage that the move restores.

    A missing layer and under-extrusion differ only in how much of the layer's fresh material is there: a clog
    leaves next to none, low flow leaves thin beads along the whole path. A layer of single lines only (a
    vase's wall) is too narrow for the camera to measure how much of a bead is there, only whether it is.

    Warping (the corners' fresh material out of place, the middle's in place) is judged only when `corners_seen`:
    a camera at an angle, which sees a corner rise; seen from above the same figures are the finish's noise.
    """
    dx, dy = c.offset_mm
    offset = (dx * dx + dy * dy) ** 0.5
    score = {"coverage": c.coverage, "iou": c.iou, "shifted_iou": c.shifted_iou,
             "shifted_coverage": c.shifted_coverage, "offset": offset,
             "stray_area_mm2": c.stray_area_mm2, "layer_area_mm2": c.layer_area_mm2, "phase_response": c.response,
             **{k: v for k, v in (("rim_coverage", c.rim_coverage), ("body_coverage", c.body_coverage)) if not math.isnan(v)}}
    spaghetti_limit = max(config.spaghetti_area_mm2, config.spaghetti_fraction * c.layer_area_mm2)
    if c.layer_area_mm2 < config.min_area_mm2:
        status = "ok"
        msg = f"layer {layer} ok: too small to judge ({c.layer_area_mm2:.1f} mm²)"
    elif offset >= config.shift_mm and (
            (c.shifted_iou > c.iou + 0.1 and (c.shifted_iou >= config.shift_min_iou
                                              or c.response >= config.shift_min_response))
            or (c.shifted_coverage >= config.under_coverage
                and c.shifted_coverage >= c.coverage + config.shift_min_gain)):
        status = "layer_shift"
        msg = f"layer {layer} shifted {_shift_text(dx, dy)} (IoU {c.iou:.2f}, {c.shifted_iou:.2f} once moved back)"
    elif c.stray_area_mm2 >= spaghetti_limit:
        status = "spaghetti"
        msg = (f"layer {layer}: {c.stray_area_mm2:.0f} mm² of loose material outside the part and "
               f"{100 * c.coverage:.0f}% of the layer in place — part detached or spaghetti")
    elif (corners_seen and c.rim_coverage < config.warp_rim_coverage and c.body_coverage >= config.warp_body_coverage
          and c.rim_coverage < config.warp_ratio * c.body_coverage):
        status = "warping"
        msg = (f"layer {layer}: the corners are lifting off the bed (warping): {100 * c.rim_coverage:.0f}% of the "
               f"layer in place at its corners against {100 * c.body_coverage:.0f}% in its middle")
    elif c.coverage < config.missing_coverage:
        status = "missing_layer"
        msg = (f"layer {layer} is missing: {100 * c.coverage:.0f}% of it was printed "
               "(nozzle clogged or filament out?)")
    elif c.coverage < config.under_coverage and not c.thin:
        status = "under_extrusion"
        msg = (f"layer {layer} under-extruded: {100 * c.coverage:.0f}% of the expected material, "
               f"{c.missing_area_mm2:.0f} mm² missing")
    elif c.thin:
        status = "ok"
        msg = (f"layer {layer} ok: {100 * c.coverage:.0f}% of its lines seen fresh (single lines only: "
               "a missing layer is judged, under-extrusion is not)")
    else:
        status = "ok"
        msg = f"layer {layer} ok: IoU {c.iou:.2f}, {100 * c.coverage:.0f}% printed"
    return Verdict(layer, status, c.iou, c.missing_area_mm2, c.excess_area_mm2, (dx, dy), score, msg)


def by_object(layer: int, whole: Verdict, copies: list[tuple[str, Verdict]]) -> Verdict:
    """The layer's verdict from each copy's own: a layer shift (it moves every copy) or every copy failing fails
    the plate; some copies failing fail only those (`failed_objects`); the whole-plate figures are kept."""
    entries = tuple({"name": name, "status": v.status, "message": v.message,
                     "coverage": round(float(v.score.get("coverage", 1.0)), 4)} for name, v in copies)
    failed = [(name, v) for name, v in copies if v.failed]
    if whole.status == "layer_shift" or not copies:
        status, message = whole.status, whole.message
    elif failed and len(failed) == len(copies):
        status = failed[0][1].status
        message = f"layer {layer}: every copy failed: " + "; ".join(f"{n}: {v.message}" for n, v in failed)
    elif failed:
        status = "ok"
        message = (f"layer {layer}: {len(failed)} of {len(copies)} copies failed: "
                   + "; ".join(f"{n}: {v.message}" for n, v in failed))
    else:
        status, message = "ok", f"layer {layer} ok: all {len(copies)} copies in place"
    return Verdict(layer, status, whole.iou, whole.missing_area_mm2, whole.excess_area_mm2, whole.offset_mm,
                   whole.score, message, entries)
