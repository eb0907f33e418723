"""Reference masks are drawn from toolpaths at the beads' real width and in the right place."""
import numpy as np
import pytest

from slicing.toolpath import Feature, LayerPaths
from tests.vision_scene import FILAMENT_AREA, block_layers
from vision.reference import BedGrid, References, make_grid, reference_image


def one_bead(width: float, height: float = 0.2) -> LayerPaths:
    seg = np.array([[10.0, 10.0, 30.0, 10.0]])
    e = np.array([width * height * 20.0 / FILAMENT_AREA])
    return LayerPaths(0, height, height, seg, e, np.array([Feature.WALL_OUTER], np.int8))


def test_bead_area_follows_width_from_extrusion():
    grid = BedGrid(0, 0, 40, 20, 10.0)
    for width in (0.4, 0.8):
        top, _ = reference_image([one_bead(width)], 0, 10.0, bounds=(0, 0, 40, 20))
        area = np.count_nonzero(top) * grid.px_area_mm2
        assert area == pytest.approx(20 * width, rel=0.1)


def test_grid_maps_bed_mm_to_rows_with_y_up():
    grid = BedGrid(0, 0, 40, 20, 10.0)
    px = grid.to_px(np.array([[10.0, 10.0], [0.0, 20.0]]))
    assert np.allclose(px, [[100, 100], [0, 0]])
    assert np.allclose(grid.to_mm(px), [[10, 10], [0, 20]])
    top, _ = reference_image([one_bead(0.5)], 0, 10.0, bounds=(0, 0, 40, 20))
    rows, cols = np.nonzero(top)
    assert abs(rows.mean() - 100) < 1.5 and 96 <= cols.min() <= 100 and 299 <= cols.max() <= 303


def test_below_is_union_of_lower_layers_and_cache_matches_direct_drawing():
    layers = block_layers(4, 50, 50, 10, 6)
    top, below = reference_image(layers, 3, 4.0)
    assert np.count_nonzero(below) > 0.9 * np.count_nonzero(top)
    refs = References(layers, make_grid(layers, 4.0))
    assert np.array_equal(refs.layer(3), top)
    assert np.array_equal(refs.below(3), below)
    assert np.array_equal(refs.below(1), reference_image(layers, 1, 4.0)[1])


def test_block_reference_covers_its_rectangle():
    layers = block_layers(2, 20, 30, 20, 10)
    top, _ = reference_image(layers, 1, 5.0, bounds=(10, 20, 50, 50))
    area = np.count_nonzero(top) / 25.0
    assert area == pytest.approx(20.45 * 10.45, rel=0.05)


def test_layer_out_of_range_is_an_index_error():
    with pytest.raises(IndexError):
        reference_image(block_layers(2, 0, 0, 5, 5), 5, 4.0)
