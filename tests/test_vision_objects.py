"""A plate's copies are drawn on their own crops of the job's raster: pixel for pixel what the whole raster shows
there, so judging a copy costs its own area, not the plate's."""
from __future__ import annotations

import numpy as np
import pytest
import trimesh

from slicing import plan
from slicing.slicer import slice_file
from vision.config import VisionConfig
from vision.objects import ObjectRegions, crop_grid, only
from vision.reference import BedGrid, draw_layer, make_grid


@pytest.fixture(scope="module")
def plate(tmp_path_factory: pytest.TempPathFactory):
    """Four 9 mm blocks, 1.2 mm high, sliced by printloop with a skirt: each copy an object."""
    folder = tmp_path_factory.mktemp("plate")
    trimesh.creation.box(extents=(9.0, 9.0, 1.2)).export(folder / "block.stl")
    return plan(slice_file(folder / "block.stl", copies=4).gcode).layer_paths()


@pytest.mark.parametrize("ppm", [2.5, 4.0, 7.3])
def test_a_copy_drawn_on_its_crop_equals_the_whole_raster_cut_to_it(plate, ppm: float) -> None:
    c = VisionConfig()
    widths = (c.filament_diameter, c.min_bead_mm, c.max_bead_mm)
    grid = make_grid(plate, ppm, margin_mm=c.margin_mm)
    regions = ObjectRegions(plate, grid, 4, widths)
    drawn = 0
    for n, lp in enumerate(plate):
        for k in range(4):
            full = draw_layer(only(lp, lp.objects == k), grid, filament_diameter=widths[0], min_width=widths[1],
                              max_width=widths[2])
            box = regions.boxes[k]
            np.testing.assert_array_equal(regions.layer(n, k), full[box])
            assert regions.region(k).shape == full[box].shape
            drawn += int(full.any())
    assert drawn >= 4 * len(plate) - 4


def test_a_crop_grid_has_the_crop_s_shape_and_origin() -> None:
    grid = BedGrid(-3.3, 7.1, 95.2, 81.9, 4.1)
    box = (slice(17, 140), slice(9, 301))
    crop = crop_grid(grid, box)
    assert crop.shape == (123, 292)
    np.testing.assert_allclose(crop.to_px(grid.to_mm(np.array([[9.0, 17.0], [100.5, 60.25]]))),
                               [[0.0, 0.0], [91.5, 43.25]], atol=1e-9)
