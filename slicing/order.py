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


def order_segments(segs: np.ndarray, position: np.ndarray, window: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Nearest-neighbour order of scanline-sorted segments (N, 2, 2), each flipped to start at its nearer end.

    Only the first `window` unvisited segments (in scanline order) are candidates, which keeps the cost linear
    and turns each area into a zig-zag.
    """
    n = len(segs)
    if n == 0:
        return segs, position
    ends = segs.reshape(n, 4).tolist()
    remaining = list(range(n))
    order = [0] * n
    flip = [False] * n
    px, py = float(position[0]), float(position[1])
    for k in range(n):
        best = _FAR
        pick = 0
        pick_flip = False
        for r in remaining[:window]:
            ax, ay, bx, by = ends[r]
            da = (ax - px) * (ax - px) + (ay - py) * (ay - py)
            db = (bx - px) * (bx - px) + (by - py) * (by - py)
            if da < best:
                best, pick, pick_flip = da, r, False
            if db < best:
                best, pick, pick_flip = db, r, True
        remaining.remove(pick)
        order[k] = pick
        flip[k] = pick_flip
        e = ends[pick]
        px, py = (e[0], e[1]) if pick_flip else (e[2], e[3])
    out = segs[order]
    f = np.asarray(flip)
    out[f] = out[f, ::-1]
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


def travels_inside(starts: np.ndarray, ends: np.ndarray, edge_a: np.ndarray, edge_b: np.ndarray) -> np.ndarray:
    """(T,) True where the straight travel start→end crosses none of the outline edges a→b (all mm)."""
    if len(starts) == 0:
        return np.zeros(0, dtype=bool)
    if len(edge_a) == 0:
        return np.ones(len(starts), dtype=bool)
    p, q = starts[:, None, :], ends[:, None, :]
    a, b = edge_a[None, :, :], edge_b[None, :, :]

    def cross(o: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        return (u[..., 0] - o[..., 0]) * (v[..., 1] - o[..., 1]) - (u[..., 1] - o[..., 1]) * (v[..., 0] - o[..., 0])

    hits = (cross(p, q, a) * cross(p, q, b) < 0) & (cross(a, b, p) * cross(a, b, q) < 0)
    return ~hits.any(axis=1)
