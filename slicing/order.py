"""Path order within a layer: nearest-neighbour over islands, loops and fill lines, and seam placement."""
from __future__ import annotations

import numpy as np

_FAR = 1e18


_SEAM_TILT = 0.05  # aligned seams: rear first, then left, so symmetric corners never tie


def seam_index(loop: np.ndarray, seam: str, position: np.ndarray) -> int:
    """Vertex where a loop starts: the rearmost (aligned, same spot on every layer) or nearest the nozzle."""
    if seam == "aligned":
        return int(np.argmax(loop[:, 1] - _SEAM_TILT * loop[:, 0]))
    d = loop - position
    return int(np.argmin(d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1]))


def closed_from(loop: np.ndarray, start: int) -> np.ndarray:
    """The loop as a closed polyline beginning and ending at vertex `start`."""
    return np.concatenate([loop[start:], loop[: start + 1]])


def order_loops(
    loops: list[np.ndarray], position: np.ndarray, seam: str
) -> tuple[list[np.ndarray], np.ndarray]:
    """Order loops greedily by distance to their seam; return closed polylines and the final nozzle position."""
    starts, pos = loop_starts(loops, position, seam)
    return [closed_from(loops[i], s) for i, s in starts], pos


def loop_starts(
    loops: list[np.ndarray], position: np.ndarray, seam: str
) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Loops in greedy order by distance to their seam, as (loop, vertex it starts at), and the final nozzle
    position (back at the last loop's start)."""
    if not loops:
        return [], position
    remaining = list(range(len(loops)))
    if seam == "aligned":
        seams = [seam_index(lp, seam, position) for lp in loops]
        seam_pts = np.array([loops[i][s] for i, s in enumerate(seams)])
    out: list[tuple[int, int]] = []
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
        out.append((pick, start))
        pos = loops[pick][start]
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


def order_polylines(lines: list[np.ndarray], position: np.ndarray) -> tuple[list[int], list[bool], np.ndarray]:
    """Greedy visiting order of open polylines, each entered at its nearer end: (order, reversed, end position)."""
    remaining = list(range(len(lines)))
    order: list[int] = []
    flips: list[bool] = []
    pos = np.asarray(position, dtype=np.float64)
    while remaining:
        ends = np.array([[lines[k][0], lines[k][-1]] for k in remaining])  # (R, 2, 2)
        d = ends - pos
        d2 = d[..., 0] ** 2 + d[..., 1] ** 2
        best = int(np.argmin(d2.min(axis=1)))
        flip = bool(d2[best, 1] < d2[best, 0])
        k = remaining.pop(best)
        order.append(k)
        flips.append(flip)
        pos = lines[k][0] if flip else lines[k][-1]
    return order, flips, pos


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


def _chains(segs: np.ndarray, lines: np.ndarray) -> list[list[int]]:
    """Split scanline-sorted spans into monotone chains: runs over neighbouring scanlines, one span per line.

    Span i on line L links to span j on line L+1 when each is the other's only overlapping span, so a chain is
    a piece of the area a zig-zag can cover without leaving it.
    """
    n = len(segs)
    d = segs[:, 1] - segs[:, 0]
    u = d / np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-12)[:, None]
    lo = np.einsum("ij,ij->i", segs[:, 0], u)
    hi = np.einsum("ij,ij->i", segs[:, 1], u)
    uniq, dense = np.unique(lines, return_inverse=True)
    base = min(float(lo.min()), float(hi.min()))
    width = max(float(lo.max()), float(hi.max())) - base + 10.0
    start_key = dense * width + (lo - base)
    end_key = dense * width + (hi - base)

    def overlaps(step: int) -> tuple[np.ndarray, np.ndarray]:
        """For each span, the first overlapping span on the neighbouring line (dense + step) and their count."""
        target = dense + step
        ok = (target >= 0) & (target < len(uniq))
        ok &= uniq[np.clip(target, 0, len(uniq) - 1)] == lines + step
        first = np.searchsorted(end_key, target * width + (lo - base), side="right")
        last = np.searchsorted(start_key, target * width + (hi - base), side="left")
        return first, np.where(ok, last - first, 0)

    succ, succ_n = overlaps(1)
    pred, pred_n = overlaps(-1)
    link = (succ_n == 1) & (pred_n[np.minimum(succ, n - 1)] == 1)
    link &= pred[np.minimum(succ, n - 1)] == np.arange(n)
    nxt = np.where(link, succ, -1).tolist()
    has_pred = np.zeros(n, dtype=bool)
    has_pred[succ[link]] = True
    chains = []
    for head in np.flatnonzero(~has_pred).tolist():
        chain = [head]
        while nxt[chain[-1]] >= 0:
            chain.append(nxt[chain[-1]])
        chains.append(chain)
    return chains


def order_spans(segs: np.ndarray, lines: np.ndarray, position: np.ndarray,
                window: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Zig-zag fill order: spans grouped into monotone chains, chains visited nearest-first from `position`.

    segs: (N, 2, 2) sorted by scanline id `lines` (N,) then position, as line_fill_indexed returns them.
    Within a chain the direction alternates line by line; a chain may be entered from either end. Only the
    next `window` unvisited chains (in scanline order of their first span) are candidates, keeping it linear.
    Returns the ordered (and flipped) segments and the final nozzle position.
    """
    n = len(segs)
    if n == 0:
        return segs, position
    chains = _chains(segs, lines)
    ends = segs.reshape(n, 4).tolist()
    # four ways into a chain: its first span as stored or flipped, its last span as stored or flipped
    ways = [ends[chain[0]] + ends[chain[-1]] for chain in chains]
    remaining = list(range(len(chains)))
    out_idx: list[int] = []
    out_flip: list[bool] = []
    px, py = float(position[0]), float(position[1])
    for _ in range(len(chains)):
        best = _FAR
        pick = way = 0
        for c in remaining[:window]:
            x0, y0, x1, y1, x2, y2, x3, y3 = ways[c]
            for w, dd in enumerate(((x0 - px) * (x0 - px) + (y0 - py) * (y0 - py),
                                    (x1 - px) * (x1 - px) + (y1 - py) * (y1 - py),
                                    (x2 - px) * (x2 - px) + (y2 - py) * (y2 - py),
                                    (x3 - px) * (x3 - px) + (y3 - py) * (y3 - py))):
                if dd < best:
                    best, pick, way = dd, c, w
        remaining.remove(pick)
        chain = chains[pick] if way < 2 else chains[pick][::-1]
        first_flipped = way % 2 == 1
        out_idx.extend(chain)
        if len(chain) == 1:
            out_flip.append(first_flipped)
        else:
            out_flip.extend(first_flipped ^ (k % 2 == 1) for k in range(len(chain)))
        e = ends[chain[-1]]
        px, py = (e[0], e[1]) if out_flip[-1] else (e[2], e[3])
    out = segs[out_idx]
    f = np.asarray(out_flip)
    out[f] = out[f, ::-1]
    return out, out[-1, 1].copy()
