"""Supports: parts that overhang are held up, read back from the G-code through the job plan."""
from __future__ import annotations

import numpy as np
import pytest
import shapely

from slicing.errors import ProfileError
from slicing.job_plan import read_gcode
from slicing.mesh import LoadedMesh
from slicing.profile import load_profile
from slicing.slicer import slice_mesh_to_gcode
from slicing.toolpath import Feature, GcodeJob
from slicing.unsupported import hang_report
from tests.support_parts import PARTS

SUPPORTS = (Feature.SUPPORT, Feature.SUPPORT_INTERFACE)
PART = (Feature.WALL_OUTER, Feature.WALL_INNER, Feature.SKIN, Feature.FILL)


def sliced(part: str, **overrides: object) -> tuple[str, GcodeJob]:
    """G-code text of one of the support parts, and the job read back from it."""
    sets = {k: (f'"{v}"' if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v))
            for k, v in overrides.items()}
    gcode = slice_mesh_to_gcode(LoadedMesh(PARTS[part](), part, (), ()), load_profile(overrides=sets)).gcode
    return gcode, read_gcode(gcode)


def points(job: GcodeJob, index: int, features: tuple[Feature, ...]) -> np.ndarray:
    """Mid points and ends of the segments of those features on a layer, (N, 2)."""
    lay = job.layers[index]
    segs = lay.segments[np.isin(lay.feature, features)]
    return np.concatenate([segs[:, 0:2], segs[:, 2:4], 0.5 * (segs[:, 0:2] + segs[:, 2:4])])


def support_layers(job: GcodeJob) -> list[int]:
    """Indices of the layers that print support."""
    return [i for i, lay in enumerate(job.layers) if np.isin(lay.feature, SUPPORTS).any()]


def test_support_options_default_off_and_take_set_overrides():
    p = load_profile()
    assert p.support == "off" and 45.0 <= p.support_angle <= 55.0
    assert load_profile(overrides={"support": "true"}).support == "everywhere"
    assert load_profile(overrides={"support": '"buildplate"'}).support == "buildplate"
    with pytest.raises(ProfileError, match="option 'support' .* must be one of off, buildplate, everywhere"):
        load_profile(overrides={"support": '"trees"'})
    with pytest.raises(ProfileError, match="support_angle"):
        load_profile(overrides={"support_angle": "95"})


def test_supports_off_print_no_support():
    gcode, job = sliced("shelf")
    assert ";TYPE:SUPPORT" not in gcode
    assert support_layers(job) == []


@pytest.mark.parametrize("part", ["shelf", "mushroom", "lying_cylinder", "chamfer60"])
def test_every_overhanging_part_is_held_up_when_supports_are_on(part):
    _, bare = sliced(part)
    gcode, job = sliced(part, support="everywhere")
    report = hang_report(bare)
    assert report.total_unsupported_mm > 10.0  # the measure sees the overhang without support
    # and says where: every sample over air, with its length, at a layer's height
    assert report.points[:, 3].sum() == pytest.approx(report.total_unsupported_mm)
    assert set(np.round(report.points[:, 2], 3)) <= {round(lay.z, 3) for lay in bare.layers}
    assert hang_report(job).total_unsupported_mm < 1.0
    assert ";TYPE:SUPPORT\n" in gcode and ";TYPE:SUPPORT-INTERFACE\n" in gcode


def test_a_40_degree_overhang_gets_no_support():
    _, job = sliced("chamfer40", support="everywhere")
    assert support_layers(job) == []
    assert hang_report(job).total_unsupported_mm < 1.0


def test_z_gap_between_the_support_top_and_the_shelf_holds_in_the_gcode():
    for gap, gap_layers in ((0.2, 1), (0.4, 2)):
        _, job = sliced("shelf", support="everywhere", support_z_gap=gap)
        top = max(support_layers(job))
        shelf = shapely.buffer(shapely.multipoints(points(job, top, SUPPORTS)), 0.3)
        first_over = next(i for i in range(top + 1, len(job.layers))
                          if shapely.contains_xy(shelf, *points(job, i, PART).T).any())
        # the part's lowest layer over the support sits `gap` above the support's top
        assert job.layers[first_over].z - job.layers[first_over].height - job.layers[top].z == pytest.approx(gap)
        assert first_over == top + gap_layers + 1


def test_interface_layers_are_the_top_of_the_support_and_the_lattice_below():
    _, job = sliced("shelf", support="everywhere", support_interface_layers=3)
    layers = support_layers(job)
    top = max(layers)
    for i in layers:
        feats = set(job.layers[i].feature.tolist())
        if i > top - 3:
            assert Feature.SUPPORT_INTERFACE in feats and Feature.SUPPORT not in feats, i
        else:
            assert Feature.SUPPORT in feats and Feature.SUPPORT_INTERFACE not in feats, i
    # interface lines are dense (80 %), the lattice sparse (15 %)
    lengths = [float(job.layers[i].lengths()[np.isin(job.layers[i].feature, SUPPORTS)].sum()) for i in (top, 10)]
    assert lengths[0] > 3.0 * lengths[1]


def gap_to_part(job: GcodeJob, index: int) -> float:
    """Least distance (mm) between support and part line points on a layer."""
    part, sup = points(job, index, PART), points(job, index, SUPPORTS)
    return float(shapely.distance(shapely.multipoints(part), shapely.points(sup)).min())


def test_support_keeps_the_xy_gap_from_the_walls_and_comes_close_only_under_the_overhang():
    _, job = sliced("shelf", support="everywhere", support_xy_gap=1.0, support_interface_layers=2)
    layers = support_layers(job)
    top = max(layers)
    # centre to centre: the gap plus half of each line (less a little for sampling the line ends)
    for i in layers[1:-3]:
        assert gap_to_part(job, i) >= 1.0 + 0.4 - 0.05, i
    # just under the shelf the support comes within half a line of the post, so the shelf's edge is held
    assert gap_to_part(job, top) < 1.0


def test_buildplate_support_stands_only_on_the_bed():
    _, everywhere = sliced("table", support="everywhere")
    _, buildplate = sliced("table", support="buildplate")
    assert support_layers(everywhere) and min(support_layers(everywhere)) > 0  # starts on the base
    assert support_layers(buildplate) == []
    _, mushroom = sliced("mushroom", support="buildplate")
    assert min(support_layers(mushroom)) == 0


def test_a_support_brim_rings_the_supports_first_layer_and_keeps_clear_of_the_part():
    _, bare = sliced("mushroom", support="buildplate")
    assert not np.isin(bare.layers[0].feature, [Feature.BRIM]).any()  # off by default
    _, job = sliced("mushroom", support="buildplate", support_brim_width=3.0)
    brim = points(job, 0, (Feature.BRIM,))
    stem = shapely.convex_hull(shapely.multipoints(points(job, 0, PART)))
    r = np.hypot(*(brim - np.asarray(stem.centroid.coords[0])).T)
    assert len(brim) and 10.0 + 3.0 - 0.6 <= r.max() <= 10.0 + 3.0 + 0.2  # out to 3 mm past the 10 mm cap's support
    assert np.mean(r > 10.0) > 0.5  # mostly outside the support, not over it
    assert shapely.distance(stem, shapely.points(brim)).min() >= 0.7 - 0.05  # never nearer the stem than the XY gap
    assert not np.isin(job.layers[1].feature, [Feature.BRIM]).any()


def test_the_skirt_goes_around_the_support_and_its_brim():
    for extra in ({}, {"support_brim_width": 3.0}):
        _, job = sliced("mushroom", support="buildplate", **extra)
        skirt = shapely.Polygon(points(job, 0, (Feature.SKIRT,))).convex_hull
        inside = points(job, 0, (*SUPPORTS, Feature.BRIM))
        assert shapely.contains_xy(skirt, inside[:, 0], inside[:, 1]).all(), extra
