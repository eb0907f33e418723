"""Marlin G-code text from ordered layer paths, built in bulk: one %-format per layer over numpy columns.

Extrusion: E = line width × layer height × length ÷ filament cross-section, absolute (M82) or relative (M83).
Each copy on the plate is a labelled object (slicing/labels.py: `M486`, `; printing object`, `EXCLUDE_OBJECT_DEFINE`;
the skirt and brim belong to none), as Marlin's cancel-objects and every host that skips a failed copy read them.
Alongside the text the writer returns the machine state after every move, for the time estimate.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from slicing.cooling import layer_fans, overhang_speeds, slow_for_layer_time
from slicing.labels import Outlines, header_lines, object_names, switch_text
from slicing.profile import Profile
from slicing.toolpath import Feature
from slicing.transfer import transfer

TYPE_NAMES = {
    Feature.WALL_OUTER: "WALL-OUTER",
    Feature.WALL_INNER: "WALL-INNER",
    Feature.SKIN: "SKIN",
    Feature.FILL: "FILL",
    Feature.SKIRT: "SKIRT",
    Feature.BRIM: "BRIM",
    Feature.SUPPORT: "SUPPORT",
    Feature.SUPPORT_INTERFACE: "SUPPORT-INTERFACE",
    Feature.BRIDGE: "BRIDGE",
    Feature.OTHER: "OTHER",
}

# row kinds of one layer's text; the value columns are F (mm/min), X, Y, Z, E
_RETRACT, _HOP_UP, _TRAVEL, _HOP_DOWN, _UNRETRACT, _FIRST, _EXTRUDE, _TRAVEL_Z = range(8)
_TYPE0 = 8  # + Feature code: a ;TYPE: comment
_OBJECT = _TYPE0 + len(Feature)  # a label switch: the paths that follow belong to another copy (or none)
_FAN, _FAN_OFF = _OBJECT + 1, _OBJECT + 2  # the part fan set (S 0..255) or turned off before a path
_TEMPLATES = [
    "G1 F%d E%.5f",
    "G0 F%d Z%.3f",
    "G0 F%d X%.3f Y%.3f",
    "G0 F%d Z%.3f",
    "G1 F%d E%.5f",
    "G1 F%d X%.3f Y%.3f E%.5f",
    "G1 X%.3f Y%.3f E%.5f",
    "G0 F%d X%.3f Y%.3f Z%.3f",
] + [f";TYPE:{TYPE_NAMES[Feature(i)]}" for i in range(len(Feature))] + ["M486 S-1", "M106 S%d", "M107"]
_TEMPLATE_ARR = np.array(_TEMPLATES, dtype=object)
# which of the columns F, X, Y, Z, E each kind prints
_USES = np.zeros((len(_TEMPLATES), 5), dtype=bool)
_USES[_RETRACT] = _USES[_UNRETRACT] = [1, 0, 0, 0, 1]
_USES[_HOP_UP] = _USES[_HOP_DOWN] = [1, 0, 0, 1, 0]
_USES[_TRAVEL] = [1, 1, 1, 0, 0]
_USES[_FIRST] = [1, 1, 1, 0, 1]
_USES[_EXTRUDE] = [0, 1, 1, 0, 1]
_USES[_TRAVEL_Z] = [1, 1, 1, 1, 0]
_USES[_OBJECT] = [0, 0, 0, 0, 0]  # the label lines are written whole (labels.switch_text)
_USES[_FAN] = [1, 0, 0, 0, 0]     # the fan's S in the first column


@dataclass(frozen=True)
class LayerPlan:
    """One layer ready to write: polylines in print order, stored end to end, and their features.

    points: (N, 2) mm, the polylines one after another; counts: (m,) points in each polyline (>= 2);
    features: (m,) Feature codes; no_retract: (m,) True where the travel into a polyline stays inside the part;
    objects: (m,) the copy each polyline belongs to (-1 for none: skirt, brim), or None when unlabelled;
    overhang: (m,) how far each polyline hangs over the layer below (slicing/overhangs.py: 0 held up, 1..4 the
    quartiles of its width over air), or None when nothing does; flow: (N,) the flow of the segment ending at each
    point, as a fraction of the line width's (thin walls and gap fill), or None for all 1.
    """

    index: int
    z: float
    height: float
    points: np.ndarray
    counts: np.ndarray
    features: np.ndarray
    no_retract: np.ndarray | None = None
    objects: np.ndarray | None = None
    overhang: np.ndarray | None = None
    flow: np.ndarray | None = None

    @classmethod
    def from_paths(cls, index: int, z: float, height: float, paths: list[np.ndarray], features: np.ndarray,
                   no_retract: np.ndarray | None = None) -> LayerPlan:
        """Build a plan from a list of (K, 2) polylines."""
        points = np.concatenate(paths) if paths else np.zeros((0, 2))
        counts = np.array([len(p) for p in paths], dtype=np.int64)
        return cls(index, z, height, points, counts, np.asarray(features, dtype=np.int64), no_retract)

    @property
    def paths(self) -> list[np.ndarray]:
        """The polylines as a list of (K, 2) arrays."""
        return np.split(self.points, np.cumsum(self.counts)[:-1]) if len(self.counts) else []


@dataclass
class WriterState:
    """Machine state carried from layer to layer while writing."""

    x: float = 0.0
    y: float = 0.0
    z: float = 0.0
    e_abs: float = 0.0  # absolute filament position (also tracked in relative mode, for the estimate)
    extruded: float = 0.0  # filament pushed by extruding moves only, mm
    object: int = -2  # the copy the last path belonged to (-2: none named yet)
    fan: int = -1  # the part fan's S (0..255; -1: not set yet)


def feature_speeds(profile: Profile, first_layer: bool) -> np.ndarray:
    """Print speed in mm/s for each Feature code on a layer."""
    speeds = np.full(len(Feature), profile.print_speed)
    speeds[Feature.WALL_OUTER] = profile.wall_outer_speed
    speeds[Feature.WALL_INNER] = profile.wall_inner_speed
    speeds[Feature.SKIN] = profile.skin_speed
    speeds[Feature.FILL] = profile.infill_speed
    speeds[Feature.SUPPORT] = speeds[Feature.SUPPORT_INTERFACE] = profile.support_speed
    speeds[Feature.BRIDGE] = profile.bridge_speed
    if first_layer:
        speeds[:] = profile.first_layer_speed
    speeds[Feature.SKIRT] = speeds[Feature.BRIM] = profile.skirt_speed
    return speeds


def write_layer(plan: LayerPlan, profile: Profile, state: WriterState,
                names: Sequence[str] = ()) -> tuple[str, np.ndarray]:
    """G-code text of one layer's moves and the (R, 5) machine states [x, y, z, e_abs, f mm/s] after each move;
    a labelled plan's copies are named `names` (by default `object_<k>`)."""
    counts = np.asarray(plan.counts, dtype=np.int64)
    keep = counts >= 2
    pts = np.asarray(plan.points, dtype=np.float64)
    point_flow = np.asarray(plan.flow, dtype=np.float64) if plan.flow is not None else None
    if not keep.all():
        kept = np.repeat(keep, counts)
        pts = pts[kept]
        point_flow = point_flow[kept] if point_flow is not None else None
    counts = counts[keep]
    feats = np.asarray(plan.features, dtype=np.int64)[keep]
    inside = np.asarray(plan.no_retract, dtype=bool)[keep] if plan.no_retract is not None else np.zeros(len(counts), bool)
    m = len(counts)
    if m == 0:
        return "", np.zeros((0, 5))
    obj = np.zeros(m, dtype=np.int64)       # 1 where an M486 S row starts the path's block
    owners = np.asarray(plan.objects, dtype=np.int64)[keep] if plan.objects is not None else None
    if owners is not None:
        obj[0] = int(owners[0] != state.object)
        obj[1:] = owners[1:] != owners[:-1]
    first_idx = np.concatenate([[0], np.cumsum(counts)[:-1]])
    last_idx = first_idx + counts - 1
    prev_end = np.empty((m, 2))
    prev_end[0] = (state.x, state.y)
    prev_end[1:] = pts[last_idx[:-1]]
    hop_dist = np.hypot(*(pts[first_idx] - prev_end).T)
    ret = ((profile.retract_length > 0) & (hop_dist > profile.retract_min_travel) & ~inside).astype(np.int64)
    hop = ret * int(profile.z_hop > 0)
    trav = np.ones(m, dtype=np.int64)  # 0 where a path goes on from where the one before ended (a wall's pieces)
    trav[1:] = hop_dist[1:] > 1e-9
    typ = np.ones(m, dtype=np.int64)
    typ[1:] = feats[1:] != feats[:-1]
    speeds = feature_speeds(profile, plan.index == 0)
    hang = np.asarray(plan.overhang, dtype=np.int64)[keep] if plan.overhang is not None else np.zeros(m, np.int64)
    path_speed = overhang_speeds(speeds[feats], feats, hang, profile)
    seg = np.diff(pts, axis=0)
    seg_len = np.hypot(seg[:, 0], seg[:, 1])
    is_ext = np.ones(len(pts), dtype=bool)
    is_ext[first_idx] = False
    path_of_pt = np.repeat(np.arange(m), counts)
    path_len = np.bincount(path_of_pt[is_ext], weights=np.concatenate([[0.0], seg_len])[is_ext], minlength=m)
    fans = layer_fans(float(np.sum(path_len / path_speed)), feats, hang, plan.index, profile)
    fan_row = np.zeros(m, dtype=np.int64)
    fan_row[0] = fans[0] != state.fan
    fan_row[1:] = fans[1:] != fans[:-1]
    rows_per = obj + 2 * ret + 2 * hop + trav + typ + fan_row + counts - 1  # travel + (K-1) extrusions
    block = np.concatenate([[0], np.cumsum(rows_per)[:-1]])
    base = block + obj  # where the block's moves begin, after its object row
    total = int(rows_per.sum())
    i_travel = base + ret + hop  # (where trav)
    i_first = i_travel + trav + hop + ret + typ + fan_row

    # per-point filament
    e_per_mm = profile.line_width * plan.height / profile.filament_area
    de = np.zeros(len(pts))
    de[1:] = seg_len * e_per_mm
    if profile.bridge_flow != 100.0 and (feats == Feature.BRIDGE).any():  # bridge flow, percent
        flow = np.where(feats == Feature.BRIDGE, profile.bridge_flow / 100.0, 1.0)
        de *= np.repeat(flow, counts)
    if point_flow is not None:
        de *= point_flow
    de[~is_ext] = 0.0
    e_cum = state.e_abs + np.cumsum(de)  # absolute E after each point
    e_before_path = e_cum[first_idx]  # de at a path's first point is 0

    local = np.arange(len(pts)) - first_idx[path_of_pt]
    ext_rows = i_first[path_of_pt] + local - 1  # valid where is_ext

    kind = np.empty(total, dtype=np.int64)
    vals = np.zeros((total, 5))
    if profile.min_layer_time > 0:
        path_speed = slow_for_layer_time(path_len, path_speed, profile)
    f_print = path_speed * 60.0
    f_travel = profile.travel_speed * 60.0
    f_retract = profile.retract_speed * 60.0
    z = plan.z
    relative = profile.relative_e

    r_idx = base[ret == 1]
    kind[r_idx] = _RETRACT
    vals[r_idx, 0] = f_retract
    vals[r_idx, 4] = -profile.retract_length if relative else e_before_path[ret == 1] - profile.retract_length
    u_idx = (i_travel + 1 + hop)[ret == 1]
    kind[u_idx] = _UNRETRACT
    vals[u_idx, 0] = f_retract
    vals[u_idx, 4] = profile.retract_length if relative else e_before_path[ret == 1]
    h = hop == 1
    kind[(base + ret)[h]] = _HOP_UP
    vals[(base + ret)[h], 0] = f_travel
    vals[(base + ret)[h], 3] = z + profile.z_hop
    kind[(i_travel + 1)[h]] = _HOP_DOWN
    vals[(i_travel + 1)[h], 0] = f_travel
    vals[(i_travel + 1)[h], 3] = z
    tv = trav == 1
    kind[i_travel[tv]] = _TRAVEL
    vals[i_travel[tv], 0] = f_travel
    vals[i_travel[tv], 1:3] = pts[first_idx[tv]]
    if not h[0]:  # the layer's first travel also moves to the layer height (after any retraction)
        kind[i_travel[0]] = _TRAVEL_Z
        vals[i_travel[0], 3] = z
    t = typ == 1
    kind[(i_first - 1 - fan_row)[t]] = _TYPE0 + feats[t]
    fr = fan_row == 1
    kind[(i_first - 1)[fr]] = np.where(fans[fr] > 0, _FAN, _FAN_OFF)
    vals[(i_first - 1)[fr], 0] = fans[fr]
    state.fan = int(fans[-1])
    switches: list[str] = []
    if owners is not None:
        o = obj == 1
        kind[block[o]] = _OBJECT
        before = np.concatenate([[state.object], owners[:-1]])[o]
        if not names:
            names = object_names("object", int(owners.max()) + 1)
        switches = [switch_text(names, int(b), int(a), profile.flavor)
                    for b, a in zip(before.tolist(), owners[o].tolist())]
        state.object = int(owners[-1])
    er = ext_rows[is_ext]
    kind[er] = _EXTRUDE
    kind[i_first] = _FIRST
    vals[er, 1:3] = pts[is_ext]
    vals[er, 4] = de[is_ext] if relative else e_cum[is_ext]
    vals[i_first, 0] = f_print

    rows = _TEMPLATE_ARR[kind]
    if switches:
        rows[block[obj == 1]] = switches
    template = "\n".join(rows.tolist())
    text = template % tuple(vals[_USES[kind]].tolist())

    # machine state after each move row (comments dropped), for the estimate
    moving = kind < _TYPE0
    st = np.full((total, 5), np.nan)
    st[i_travel[tv], 0:2] = pts[first_idx[tv]]
    st[er, 0:2] = pts[is_ext]
    st[:, 2] = z
    if not h[0]:
        st[: i_travel[0], 2] = state.z  # a retraction before the layer's first travel happens at the old height
    st[(base + ret)[h], 2] = z + profile.z_hop
    st[i_travel[h], 2] = z + profile.z_hop
    st[:, 3] = np.nan
    st[er, 3] = e_cum[is_ext]
    st[r_idx, 3] = e_before_path[ret == 1] - profile.retract_length
    st[u_idx, 3] = e_before_path[ret == 1]
    st[i_travel[tv], 3] = np.where(ret == 1, e_before_path - profile.retract_length, e_before_path)[tv]
    st[(base + ret)[h], 3] = (e_before_path - profile.retract_length)[h]
    st[(i_travel + 1)[h], 3] = (e_before_path - profile.retract_length)[h]
    st[:, 4] = np.where(kind == _EXTRUDE, 0.0, vals[:, 0] / 60.0)
    st[er, 4] = np.repeat(f_print / 60.0, counts - 1)
    _ffill(st, (state.x, state.y, z, state.e_abs, 0.0))
    st = st[moving]

    state.x, state.y = float(pts[-1, 0]), float(pts[-1, 1])
    state.z = z
    state.e_abs = float(e_cum[-1])
    state.extruded += float(de.sum())
    return text, st


def _ffill(st: np.ndarray, initial: tuple[float, ...]) -> None:
    """Fill NaN cells of each column with the last value above them (or the initial value)."""
    n = len(st)
    for c in range(st.shape[1]):
        col = st[:, c]
        valid = ~np.isnan(col)
        idx = np.where(valid, np.arange(n), -1)
        np.maximum.accumulate(idx, out=idx)
        filled = np.where(idx >= 0, col[np.maximum(idx, 0)], initial[c])
        st[:, c] = filled


@dataclass(frozen=True)
class Program:
    """The layers' G-code and what the header needs: moves for the estimate, filament and extents."""

    body: str
    moves: np.ndarray  # (N, 5) rows [x, y, z, e_abs, f mm/s]; row 0 is the state before the first move
    filament_mm: float
    bounds: tuple[float, float, float, float, float, float]


def write_program(plans: Iterable[LayerPlan], profile: Profile,
                  progress: Callable[[str, int, int], None] | None = None, objects: int = 0,
                  names: Sequence[str] = (), lift_before: frozenset[int] = frozenset(),
                  count: int | None = None) -> Program:
    """Preamble (temperatures, E mode, start G-code), every layer, then the end G-code; with `objects` copies
    labelled (named `names`, by default `object_<k>`): their labels and outlines first, no copy's at the end.
    Before the plans at the positions `lift_before` (the first layer of a copy printed after another) the head
    clears everything printed so far (slicing/transfer.py), belonging to no copy. The plans may come one by one
    as they are made when their `count` is given."""
    if count is None:
        listed = list(plans)
        plans, count = listed, len(listed)
    preamble = [
        f"M140 S{profile.bed_temperature:g}",
        "M105",
        f"M190 S{profile.bed_temperature:g}",
        f"M104 S{profile.print_temperature:g}",
        "M105",
        f"M109 S{profile.print_temperature:g}",
        "M83 ;relative extrusion mode" if profile.relative_e else "M82 ;absolute extrusion mode",
        profile.start_gcode.strip(),
        "G92 E0",
        f";LAYER_COUNT:{count}",
    ]
    names = tuple(names) or object_names("object", objects)
    outlines = Outlines(objects)
    chunks = [""]
    state = WriterState()
    moves = [np.array([[0.0, 0.0, 0.0, 0.0, profile.travel_speed]])]
    lo = np.full(3, np.inf)
    hi = np.full(3, -np.inf)
    for n, plan in enumerate(plans):
        chunks.append(f";LAYER:{n}")
        if n in lift_before and len(plan.points):
            if objects and state.object >= 0:
                chunks.append(switch_text(names, state.object, -1, profile.flavor))
                state.object = -1
            lift, st = transfer((state.x, state.y, state.z, state.e_abs), (float(plan.points[0, 0]),
                                float(plan.points[0, 1])), float(hi[2]), plan.z, profile)
            chunks.append(lift)
            moves.append(st)
            state.x, state.y, state.z = float(plan.points[0, 0]), float(plan.points[0, 1]), plan.z
        text, st = write_layer(plan, profile, state, names)
        if objects and plan.objects is not None:
            outlines.add(plan.points, np.repeat(np.asarray(plan.objects, dtype=np.int64), plan.counts))
        if text:
            chunks.append(text)
            moves.append(st)
            allp = plan.points[np.repeat(plan.counts >= 2, plan.counts)]
            if len(allp):
                lo[:2] = np.minimum(lo[:2], allp.min(axis=0))
                hi[:2] = np.maximum(hi[:2], allp.max(axis=0))
                lo[2] = min(lo[2], plan.z)
                hi[2] = max(hi[2], plan.z)
        if progress is not None:
            progress("gcode", n + 1, count)
    if objects:
        preamble += header_lines(names, outlines, profile.flavor)
    chunks[0] = "\n".join(preamble)
    last = switch_text(names, state.object, -1, profile.flavor) + "\n" if objects and state.object >= 0 else ""
    chunks.append(last + "M107\n" + profile.end_gcode.strip() + "\n")
    if not np.isfinite(lo).all():
        lo[:] = 0.0
        hi[:] = 0.0
    bounds = (float(lo[0]), float(lo[1]), float(lo[2]), float(hi[0]), float(hi[1]), float(hi[2]))
    return Program("\n".join(chunks), np.concatenate(moves), state.extruded, bounds)


def header(profile: Profile, time_s: float, filament_mm: float, filament_g: float, layer_count: int,
           bounds: tuple[float, ...]) -> str:
    """Cura-style header comments that the reader, the controller and other tools parse."""
    minx, miny, minz, maxx, maxy, maxz = bounds
    return "\n".join([
        ";FLAVOR:Marlin",
        f";TIME:{round(time_s)}",
        f";Filament used: {filament_mm / 1000.0:.5f}m",
        f";Filament weight: {filament_g:.2f}g",
        f";Layer height: {profile.layer_height:g}",
        f";Nozzle diameter: {profile.nozzle_diameter:g}",
        f";LAYER_COUNT:{layer_count}",
        f";MINX:{minx:.3f}",
        f";MINY:{miny:.3f}",
        f";MINZ:{minz:.3f}",
        f";MAXX:{maxx:.3f}",
        f";MAXY:{maxy:.3f}",
        f";MAXZ:{maxz:.3f}",
        ";Generated with printloop",
        "",
    ])
