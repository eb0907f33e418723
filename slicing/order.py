"""Path order within a layer: nearest-neighbour over islands, loops and fill lines, and seam placement."""
from __future__ import annotations

import numpy as np

_FAR = 1e18


def seam_index(loop: np.ndarray, seam: str, position: np.ndarray, rear: np.ndarray) -> int:
    """Vertex where a loop starts: nearest the rear reference point (aligned) or the nozzle (nearest)."""
    target = rear if seam == "aligned" else position
    d = loop - target
    return int(np.argmin(d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1]))


def closed_from(loop: np.ndarray, start: int) -> np.ndarray:
    """The loop as a closed polyline beginning and ending at vertex `start`."""
    return np.concatenate([loop[start:], loop[: start + 1]])


def order_loops(
    loops: list[np.ndarray], position: np.ndarray, seam: str, rear: np.ndarray
) -> tuple[list[np.ndarray], np.ndarray]:
    """Order loops greedily by distance to their seam; return closed polylines and the final nozzle position."""
    if not loops:
        return [], position
    remaining = list(range(len(loops)))
    if seam == "aligned":
        seams = [seam_index(lp, seam, position, rear) for lp in loops]
        seam_pts = np.array([loops[i][s] for i, s in enumerate(seams)])
    out: list[np.ndarray] = []
    pos = position
    while remaining:
        if seam == "aligned":
            d = seam_pts[remaining] - pos
            pick = remaining[int(np.argmin(d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1]))]
            start = seams[pick]
        else:
            best = None
            for i in remaining:
                d = loops[i] - pos
                dd = d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1]
                j = int(np.argmin(dd))
                if best is None or dd[j] < best[0]:
                    best = (float(dd[j]), i, j)
            assert best is not None
            _, pick, start = best
        remaining.remove(pick)
        poly = closed_from(loops[pick], start)
        out.append(poly)
        pos = poly[-1]
    return out, pos


def order_segments(segs: np.ndarray, position: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Greedy nearest-neighbour order of line segments (N, 2, 2), each flipped to start at its nearer end.

    Scanline-sorted input makes this a zig-zag across each area.
    """
    n = len(segs)
    if n == 0:
        return segs, position
    a = segs[:, 0].copy()
    b = segs[:, 1].copy()
    order = np.empty(n, dtype=np.int64)
    flip = np.zeros(n, dtype=bool)
    px, py = float(position[0]), float(position[1])
    ax, ay, bx, by = a[:, 0], a[:, 1], b[:, 0], b[:, 1]
    for k in range(n):
        da = (ax - px) ** 2 + (ay - py) ** 2
        db = (bx - px) ** 2 + (by - py) ** 2
        ia = int(np.argmin(da))
        ib = int(np.argmin(db))
        if db[ib] < da[ia]:
            i, f = ib, True
            px, py = ax[i], ay[i]
        else:
            i, f = ia, False
            px, py = bx[i], by[i]
        order[k] = i
        flip[k] = f
        ax[i] = ay[i] = bx[i] = by[i] = _FAR
    out = segs[order].copy()
    out[flip] = out[flip, ::-1]
    return out, out[-1, 1].copy()


def nearest_first(points: np.ndarray, position: np.ndarray) -> list[int]:
    """Greedy nearest-neighbour visiting order of points (N, 2) starting from position."""
    remaining = list(range(len(points)))
    out: list[int] = []
    pos = position
    while remaining:
        d = points[remaining] - pos
        pick = remaining[int(np.argmin(d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1]))]
        remaining.remove(pick)
        out.append(pick)
        pos = points[pick]
    return out
