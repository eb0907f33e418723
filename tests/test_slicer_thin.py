"""Thin walls and gap fill: ribs narrower than a line and strips between walls get a line of their own width."""
from __future__ import annotations

import numpy as np
import pytest
import trimesh

from slicing.job_plan import read_gcode
from slicing.profile import load_profile
from slicing.regions import island_regions, islands
from slicing.slicer import slice_file
from slicing.thin import _fits, thin_lines
from slicing.toolpath import Feature

W = 0.4


def _rect(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=float)


@pytest.mark.parametrize(("width", "lines"), [(0.25, 1), (0.5, 0), (1.0, 1), (1.6, 0)])
def test_a_strip_the_walls_leave_empty_gets_one_line_of_its_width(width: float, lines: int) -> None:
    isl = islands([_rect(0, 0, width, 10)])[0]
    reg = island_regions(isl, W, 2, 0.04)
    thin = thin_lines(reg.outline, reg.walls, 2, W)
    assert len(thin.lines) == lines
    for line, w in zip(thin.lines, thin.widths):
        assert np.ptp(line[:, 1]) > 8.5  # runs along the strip, to within about its width of the ends
        gap = width if not reg.walls else width - 4 * W if width > 4 * W else width - 2 * W
        assert np.allclose(w, gap, atol=0.04)
        assert np.allclose(line[:, 0], width / 2, atol=0.02)


def test_a_depth_whose_wall_is_the_plain_offset_of_the_one_outside_is_not_computed() -> None:
    """A square's walls leave nothing; two squares joined by a 1.1 mm neck leave a strip where the second wall
    parts in two, and the screen lets that depth through to the exact computation."""
    square = island_regions(islands([_rect(0, 0, 10, 10)])[0], W, 2, 0.04, centre_narrow=True)
    assert _fits(0, square.walls, W, square.thin_area) and _fits(1, square.walls, W, square.thin_area)
    neck = np.array([[0, 0], [10, 0], [10, 4.45], [14, 4.45], [14, 0], [24, 0], [24, 10], [14, 10], [14, 5.55],
                     [10, 5.55], [10, 10], [0, 10]], dtype=float)
    reg = island_regions(islands([neck])[0], W, 2, 0.04, centre_narrow=True)
    assert not _fits(1, reg.walls, W, reg.thin_area)
    screened = thin_lines(reg.outline, reg.walls, 2, W, reg.thin_area)
    exact = thin_lines(reg.outline, reg.walls, 2, W)
    assert len(screened.lines) == len(exact.lines) >= 1
    assert all(np.array_equal(a, b) for a, b in zip(screened.lines, exact.lines))
    assert any(np.ptp(line[:, 0]) > 3.0 and np.all(np.abs(line[:, 1] - 5.0) < 0.05) for line in exact.lines)


@pytest.mark.parametrize("width", [0.5, 0.7, 0.79])
def test_a_rib_too_narrow_for_two_walls_is_one_centre_line_of_its_width(width: float) -> None:
    isl = islands([_rect(0, 0, width, 10)])[0]
    folded = island_regions(isl, W, 2, 0.04)
    assert len(folded.walls) == 1  # without it: a wall loop folded onto itself, a bead on a bead
    reg = island_regions(isl, W, 2, 0.04, centre_narrow=True)
    thin = thin_lines(reg.outline, reg.walls, 2, W)
    assert reg.walls == [] and len(thin.lines) == 1
    assert np.ptp(thin.lines[0][:, 1]) > 8.5
    assert np.allclose(thin.widths[0], width, atol=0.04)
    assert np.allclose(thin.lines[0][:, 0], width / 2, atol=0.02)


def test_a_wide_part_keeps_its_walls_with_narrow_parts_left_to_centre_lines() -> None:
    body = _rect(0, 0, 10, 10)
    rib = islands([np.vstack([body[:2], [[10, 4.7], [16, 4.7], [16, 5.3], [10, 5.3]], body[2:]])])[0]
    plain = island_regions(islands([body])[0], W, 2, 0.04, centre_narrow=True)
    reg = island_regions(rib, W, 2, 0.04, centre_narrow=True)
    inner = np.vstack(reg.walls[1])
    assert np.allclose(np.sort(inner, axis=0), np.sort(np.vstack(plain.walls[1]), axis=0), atol=1e-3)
    assert np.vstack(reg.walls[0])[:, 0].max() < 10.0  # the outer wall does not run out along the rib
    thin = thin_lines(reg.outline, reg.walls, 2, W)
    along = [ln for ln in thin.lines if np.ptp(ln[:, 0]) > 4.0]
    assert len(along) == 1 and np.allclose(along[0][:, 1], 5.0, atol=0.03)
    assert along[0][:, 0].max() > 15.5


def _ribs(tmp_path):
    """A base with ribs 0.25 mm (thinner than a line) and 1.0 mm wide (two walls leave a 0.2 mm gap)."""
    parts = [trimesh.creation.box((20, 6, 1.0), trimesh.transformations.translation_matrix((10, 3, 0.5)))]
    for x, w in ((4.0, 0.25), (12.0, 1.0)):
        parts.append(trimesh.creation.box((w, 6, 4.0), trimesh.transformations.translation_matrix((x, 3, 3.0))))
    path = tmp_path / "ribs.stl"
    trimesh.util.concatenate(parts).export(path)
    return path


def _rib_volume(job, x0: float, x1: float, z0: float, shift: float) -> tuple[float, float]:
    """Extruded filament volume (mm³) of the layers above z0 whose segments lie between x0 and x1 (part coords),
    and the height of those layers."""
    total = height = 0.0
    for layer in job.layers:
        if layer.z <= z0 + 0.25:
            continue
        height += layer.height
        mid = 0.5 * (layer.segments[:, 0] + layer.segments[:, 2]) - shift
        inside = (mid > x0) & (mid < x1) & (layer.feature != Feature.SKIRT)
        total += float(layer.extrusion[inside].sum()) * np.pi * 0.875 ** 2
    return total, height


def test_thin_ribs_are_filled_with_the_volume_they_hold(tmp_path) -> None:
    path = _ribs(tmp_path)
    on = slice_file(path, load_profile(None, {"gap_fill": "true", "skirt_loops": "0"}))
    off = slice_file(path, load_profile(None, {"gap_fill": "false", "skirt_loops": "0"}))
    job_on, job_off = read_gcode(on.gcode), read_gcode(off.gcode)
    x_min = on.bounds[0]  # the part's left edge on the bed
    thin_on, h = _rib_volume(job_on, 3.5, 4.5, 1.0, x_min)
    thin_off, _ = _rib_volume(job_off, 3.5, 4.5, 1.0, x_min)
    rib = 0.25 * 6 * h
    assert thin_off == 0.0
    assert thin_on == pytest.approx(rib, rel=0.15)
    wide_on, _ = _rib_volume(job_on, 11.0, 13.0, 1.0, x_min)
    wide_off, _ = _rib_volume(job_off, 11.0, 13.0, 1.0, x_min)
    full = 1.0 * 6 * h
    assert wide_on - wide_off == pytest.approx(0.2 * 6 * h, rel=0.3)  # the gap between the walls
    assert wide_on == pytest.approx(full, rel=0.1)
    assert not any("narrower than" in w for w in on.warnings)
    assert any("narrower than" in w for w in off.warnings)


def test_a_rib_between_one_and_two_lines_wide_gets_its_volume_not_a_folded_wall(tmp_path) -> None:
    parts = [trimesh.creation.box((20, 6, 1.0), trimesh.transformations.translation_matrix((10, 3, 0.5))),
             trimesh.creation.box((0.6, 6, 4.0), trimesh.transformations.translation_matrix((8.0, 3, 3.0)))]
    path = tmp_path / "rib.stl"
    trimesh.util.concatenate(parts).export(path)
    on = slice_file(path, load_profile(None, {"gap_fill": "true", "skirt_loops": "0"}))
    off = slice_file(path, load_profile(None, {"gap_fill": "false", "skirt_loops": "0"}))
    got_on, h = _rib_volume(read_gcode(on.gcode), 7.5, 8.5, 1.0, on.bounds[0])
    got_off, _ = _rib_volume(read_gcode(off.gcode), 7.5, 8.5, 1.0, off.bounds[0])
    rib = 0.6 * 6 * h
    assert got_on == pytest.approx(rib, rel=0.1)
    assert got_off > 1.2 * rib  # the folded loop lays two beads where one fits
