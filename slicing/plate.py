"""Arrange copies of one part on the bed as a compact grid centred on the plate. Units: millimetres."""
from __future__ import annotations

import math

import numpy as np

from slicing.errors import MeshError


def arrange(
    footprint: tuple[float, float],
    copies: int,
    bed: tuple[float, float],
    gap: float = 5.0,
    margin: float = 5.0,
) -> np.ndarray:
    """(copies, 2) XY centres of the copies: the most square grid that fits, rows centred, grid centred on the bed."""
    w, h = float(footprint[0]), float(footprint[1])
    bx, by = float(bed[0]), float(bed[1])
    if copies < 1:
        raise MeshError(f"copies must be at least 1 (got {copies})")
    if w <= 0 or h <= 0:
        raise MeshError(f"footprint must be positive (got {w:g} x {h:g} mm)")
    if gap < 0 or margin < 0:
        raise MeshError(f"gap and margin must not be negative (got gap {gap:g}, margin {margin:g} mm)")
    pitch_x, pitch_y = w + gap, h + gap
    max_cols = _fit(bx - 2 * margin, w, gap)
    max_rows = _fit(by - 2 * margin, h, gap)
    if copies > max_cols * max_rows:
        raise MeshError(
            f"{copies} copies of a {w:.1f} x {h:.1f} mm part do not fit on the {bx:g} x {by:g} mm bed: "
            f"at most {max_cols * max_rows} fit ({max_cols} x {max_rows}, {gap:g} mm gap, {margin:g} mm margin)"
        )
    best: tuple[float, float, int, int] | None = None
    for cols in range(1, min(max_cols, copies) + 1):
        rows = math.ceil(copies / cols)
        if rows > max_rows:
            continue
        span_x, span_y = cols * pitch_x - gap, rows * pitch_y - gap
        score = (max(span_x, span_y), span_x * span_y, cols, rows)
        if best is None or score[:2] < best[:2]:
            best = score
    assert best is not None  # copies <= max_cols * max_rows guarantees one grid fits
    cols, rows = best[2], best[3]
    index = np.arange(copies)
    row = index // cols
    col = index % cols
    in_row = np.where(row == rows - 1, copies - (rows - 1) * cols, cols)
    x = bx / 2.0 + (col - (in_row - 1) / 2.0) * pitch_x
    y = by / 2.0 + ((rows - 1) / 2.0 - row) * pitch_y
    return np.column_stack([x, y]).astype(np.float64)


def _fit(length: float, size: float, gap: float) -> int:
    """How many parts of `size` with `gap` between them fit along `length`."""
    if length < size - 1e-9:
        return 0
    return math.floor((length - size) / (size + gap) + 1e-9) + 1
