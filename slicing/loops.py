"""Chained section segments into ordered loops: pointer jumping, collinear thinning, open-chain repair.

Units: millimetres.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from slicing.section_union import COLLINEAR_MM, polygon_area

_SNAP_MM = 1.0  # an open chain whose ends are closer than this is closed as it is
_JOIN_MM = 10.0  # open chains are joined end to start across at most this gap


def chain_components(succ: np.ndarray) -> tuple[int, np.ndarray]:
    """(count, label) of the chains and cycles that successor links (-1: none; each segment has at most one
    predecessor) make, labelled in order of their lowest member, as scipy's weak connected_components labels
    them; by pointer doubling (no scipy import on the command line's path)."""
    n = len(succ)
    if n == 0:
        return 0, np.zeros(0, dtype=np.int64)
    idx = np.arange(n)
    fwd = np.where(succ >= 0, succ, idx)
    back = idx.copy()
    back[succ[succ >= 0]] = idx[succ >= 0]
    low = idx.copy()
    for _ in range(int(np.ceil(np.log2(n))) + 1):
        low = np.minimum(low, np.minimum(low[fwd], low[back]))
        fwd, back = fwd[fwd], back[back]
    roots, label = np.unique(low, return_inverse=True)
    return len(roots), label.astype(np.int64)


def assemble_loops(
    start: np.ndarray,
    plane: np.ndarray,
    succ: np.ndarray,
    n_planes: int,
    order: np.ndarray,
    out: list[list[np.ndarray]],
    end_points: Callable[[np.ndarray], np.ndarray],
) -> tuple[list[list[np.ndarray]], int]:
    """Order segments along their chains (pointer jumping) and cut the point array into per-plane loops."""
    n = len(succ)
    linked = succ >= 0
    src = np.flatnonzero(linked)
    n_comp, label = chain_components(succ)
    has_pred = np.zeros(n, dtype=bool)
    has_pred[succ[src]] = True
    heads = np.flatnonzero(~has_pred)
    rep = np.empty(n_comp, dtype=np.int64)
    rep[label] = np.arange(n)
    is_open = np.zeros(n_comp, dtype=bool)
    is_open[label[heads]] = True
    rep[label[heads]] = heads
    # cut each cycle just before its representative, then rank every segment by its distance to the chain end
    pred = np.full(n, -1, dtype=np.int64)
    pred[succ[src]] = src
    nxt = np.where(linked, succ, np.arange(n))
    cut = pred[rep[~is_open]]
    nxt[cut] = cut
    dist = (nxt != np.arange(n)).astype(np.int64)
    while True:
        nn = nxt[nxt]
        if np.array_equal(nn, nxt):
            break
        dist += dist[nxt]
        nxt = nn
    size = np.bincount(label, minlength=n_comp)
    offset = np.cumsum(size) - size
    position = offset[label] + (size[label] - 1 - dist)
    seq = np.empty(n, dtype=np.int64)
    seq[position] = np.arange(n)
    points = np.column_stack([start[:, 0][seq], start[:, 1][seq]])
    comp_plane = order[plane[rep]]
    n_open = int(is_open.sum())
    open_chains: dict[int, list[np.ndarray]] = {}
    open_comp = np.flatnonzero(is_open)
    tail_points = end_points(seq[offset[open_comp] + size[open_comp] - 1])
    for k, tail in zip(open_comp.tolist(), tail_points):
        chain = np.vstack([points[offset[k] : offset[k] + size[k]], tail])
        open_chains.setdefault(int(comp_plane[k]), []).append(chain)
    loops = ~is_open & (size >= 3)  # closed cycles of one or two segments enclose nothing
    closed = np.flatnonzero(loops)
    if not loops.all():
        points = points[np.repeat(loops, size)]
    points, sizes = _thin_collinear(points, size[closed])
    starts = (np.cumsum(sizes) - sizes).tolist()
    ends = np.cumsum(sizes).tolist()
    planes_of = comp_plane[closed].tolist()
    for k in np.argsort(comp_plane[closed], kind="stable").tolist():
        out[planes_of[k]].append(points[starts[k] : ends[k]])
    for p, chains in open_chains.items():
        out[p].extend(_close_chains(chains))
    return out, n_open


def _thin_collinear(points: np.ndarray, sizes: np.ndarray, passes: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Cheaply drop most points lying within COLLINEAR_MM of the line through their neighbours.

    `points` holds closed loops back to back. Each pass looks at every other point of each loop only, so a
    dropped point was judged against neighbours that stay. It thins the bulk (flat faces cut into many
    collinear points) before the exact cleaning in clipper, whose input conversion costs per point.
    """
    x, y = np.ascontiguousarray(points[:, 0]), np.ascontiguousarray(points[:, 1])
    for pass_index in range(passes):
        parity = pass_index & 1
        n = len(x)
        if n == 0:
            break
        start = np.cumsum(sizes) - sizes
        last = start + sizes - 1
        prev = np.arange(-1, n - 1)
        prev[start] = last
        nxt = np.arange(1, n + 1)
        nxt[last] = start
        cx, cy = x[nxt] - x[prev], y[nxt] - y[prev]
        cross = np.abs(cx * (y - y[prev]) - cy * (x - x[prev]))
        loop = np.repeat(np.arange(len(sizes)), sizes)
        k = np.arange(n) - start[loop]
        pick = (cross <= COLLINEAR_MM * np.hypot(cx, cy)) & ((k & 1) == parity) & (sizes[loop] > 4)
        pick &= k != sizes[loop] - 1  # the last point neighbours the first
        if not pick.any():
            continue
        removed = np.bincount(loop[pick], minlength=len(sizes))
        over = sizes - removed < 3
        if over.any():
            pick &= ~over[loop]
            removed[over] = 0
        x, y = x[~pick], y[~pick]
        sizes = sizes - removed
    return np.column_stack([x, y]), sizes


def _close_chains(chains: list[np.ndarray]) -> list[np.ndarray]:
    """Turn one layer's open chains (from holes and seams in the mesh) into closed loops, or drop them.

    Chains whose ends are within _SNAP_MM are closed as they are. The others are joined end to the nearest
    other start when that is within _JOIN_MM and nearer than their own start. A joined chain is closed when
    its gap is within _SNAP_MM, or when it runs counter-clockwise (material) and the gap is under a quarter of
    its length; a clockwise chain with a wide gap would cut a false hole, so it is dropped like any stray.
    """
    pending: list[np.ndarray] = []
    closed: list[np.ndarray] = []
    for chain_ in chains:
        if len(chain_) >= 3 and _gap(chain_) <= _SNAP_MM:
            closed.append(chain_)
        elif len(chain_) >= 2:
            pending.append(chain_)
    while pending:
        cur = pending.pop()
        while pending:
            starts = np.array([c[0] for c in pending])
            d = np.hypot(*(starts - cur[-1]).T)
            best = int(np.argmin(d))
            if d[best] >= min(_gap(cur), _JOIN_MM):
                break
            cur = np.concatenate([cur, pending.pop(best)])
        if len(cur) < 3:
            continue
        gap = _gap(cur)
        length = float(np.sum(np.hypot(*np.diff(cur, axis=0).T)))
        if gap <= _SNAP_MM or (polygon_area(cur) > 0 and gap < 0.25 * length):
            closed.append(cur)
    return closed


def _gap(chain_: np.ndarray) -> float:
    """Distance from the end of an open chain back to its start."""
    return float(np.hypot(*(chain_[0] - chain_[-1])))
