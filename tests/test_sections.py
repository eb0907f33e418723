"""Layer heights and sections: shared models, exact shapes, open meshes and hypothesis properties."""
from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
import trimesh
from hypothesis import given, settings
from hypothesis import strategies as st

from slicing.mesh import load_mesh, place_on_bed
from slicing.sections import (
    layer_tops,
    mid_planes,
    polygon_area,
    section_loops,
    slice_mesh,
    slice_mesh_report,
)
from tests.conftest import MODELS

BED = (220.0, 220.0, 250.0)
ALL_MODELS = sorted(p.name for p in MODELS.glob("*.stl"))
WATERTIGHT = ["20mm-xyz-cube.stl", "3DBenchy.stl", "featuretype_mm.stl", "idler_riser_mm.stl", "torus_mm.stl"]


@pytest.fixture(scope="module")
def sliced() -> dict[str, tuple[trimesh.Trimesh, np.ndarray, list[list[np.ndarray]], int]]:
    """Every shared model placed on the bed and sliced at 0.2 mm: (mesh, tops, sections, open chains)."""
    out = {}
    for name in ALL_MODELS:
        mesh = place_on_bed(load_mesh(MODELS / name).mesh, BED)
        tops = layer_tops(float(mesh.extents[2]), 0.2, 0.2)
        sections, n_open = slice_mesh_report(mesh, mid_planes(tops))
        out[name] = (mesh, tops, sections, n_open)
    return out


def assert_well_formed(layer: list[np.ndarray]) -> None:
    """Polygons are simple rings without a repeated end point; outers CCW, every hole CW inside an outer."""
    outers, holes = [], []
    for poly in layer:
        assert poly.ndim == 2 and poly.shape[1] == 2 and poly.shape[0] >= 3 and poly.dtype == np.float64
        assert not np.allclose(poly[0], poly[-1])
        assert np.all(np.hypot(*np.diff(np.vstack([poly, poly[:1]]), axis=0).T) > 0)
        assert shapely.LinearRing(poly).is_simple
        area = polygon_area(poly)
        assert abs(area) > 1e-6
        (outers if area > 0 else holes).append(shapely.Polygon(poly))
    for hole in holes:
        assert any(outer.contains(hole.representative_point()) for outer in outers)


def test_layer_tops_cover_the_height() -> None:
    assert np.allclose(layer_tops(20.0, 0.2, 0.2), np.arange(1, 101) * 0.2)
    tops = layer_tops(20.0, 0.3, 0.2)
    assert tops[0] == 0.3 and len(tops) == 99 and tops[-1] == pytest.approx(19.9)
    assert len(layer_tops(20.15, 0.2, 0.2)) == 101  # 0.15 of 0.2 has material: kept
    assert len(layer_tops(20.05, 0.2, 0.2)) == 100  # a quarter: dropped
    assert np.allclose(mid_planes(np.array([0.3, 0.5, 0.7])), [0.15, 0.4, 0.6])


@pytest.mark.parametrize("name", ALL_MODELS)
def test_every_model_slices_into_well_formed_layers(sliced: dict, name: str) -> None:
    mesh, tops, sections, _ = sliced[name]
    assert len(tops) == round(mesh.extents[2] / 0.2) or abs(len(tops) - mesh.extents[2] / 0.2) <= 0.5
    assert len(sections) == len(tops)
    non_empty = sum(1 for layer in sections if layer)
    assert non_empty >= len(tops) - 1
    for layer in sections:
        assert_well_formed(layer)
        for poly in layer:
            assert np.all(poly >= mesh.bounds[0, :2] - 1e-6) and np.all(poly <= mesh.bounds[1, :2] + 1e-6)


def test_layer_counts_match_height(sliced: dict) -> None:
    assert len(sliced["20mm-xyz-cube.stl"][1]) == 100
    assert len(sliced["3DBenchy.stl"][1]) == 240
    assert len(sliced["bunny_mm.stl"][1]) == 766


@pytest.mark.parametrize("name", WATERTIGHT)
def test_section_area_times_layer_height_matches_volume(sliced: dict, name: str) -> None:
    mesh, _, sections, n_open = sliced[name]
    total = sum(polygon_area(p) for layer in sections for p in layer) * 0.2
    assert n_open == 0
    assert total == pytest.approx(mesh.volume, rel=0.02)


def test_cube_outline_is_the_square_on_every_layer(sliced: dict) -> None:
    _mesh, _, sections, _ = sliced["20mm-xyz-cube.stl"]
    square = np.array([[100.0, 100.0], [120.0, 100.0], [120.0, 120.0], [100.0, 120.0]])
    for layer in sections:
        outer = max(layer, key=polygon_area)
        assert polygon_area(outer) == pytest.approx(400.0, rel=0.02)  # letters are engraved in the sides
        lo, hi = outer.min(axis=0), outer.max(axis=0)
        assert np.allclose(lo, [100, 100], atol=1e-3) and np.allclose(hi, [120, 120], atol=1e-3)
    plain = [layer for layer in sections if len(layer) == 1 and len(layer[0]) == 4]
    assert len(plain) >= 50  # layers clear of the engraved letters are exactly the square
    for layer in plain:
        start = int(np.argmin(np.hypot(*(layer[0] - square[0]).T)))
        assert np.allclose(np.roll(layer[0], -start, axis=0), square, atol=1e-3)


def test_generated_cube_has_400_mm2_on_every_layer(tmp_path) -> None:
    path = tmp_path / "cube.stl"
    path.write_bytes(trimesh.creation.box(extents=(20, 20, 20)).export(file_type="stl"))
    mesh = place_on_bed(load_mesh(path).mesh, BED)
    sections = slice_mesh(mesh, mid_planes(layer_tops(20.0, 0.2, 0.2)))
    assert len(sections) == 100
    for layer in sections:
        assert len(layer) == 1
        assert polygon_area(layer[0]) == pytest.approx(400.0, rel=0.005)
        assert len(layer[0]) == 4  # collinear points from the triangulation are removed


def test_torus_section_has_a_clockwise_hole(sliced: dict) -> None:
    _mesh, _, sections, _ = sliced["torus_mm.stl"]
    middle = sections[len(sections) // 2]
    assert len(middle) == 2
    areas = sorted(polygon_area(p) for p in middle)
    assert areas[0] < 0 < areas[1]
    hole = min(middle, key=polygon_area)
    assert np.allclose(hole.mean(axis=0), [110, 110], atol=0.5)


def test_open_meshes_count_their_open_chains_and_still_slice(sliced: dict) -> None:
    for name in ("teapot.stl", "bunny_mm.stl"):
        _, _, sections, n_open = sliced[name]
        assert n_open > 0, name
        assert sum(len(layer) for layer in sections) > 0


def test_vertices_exactly_on_planes_are_handled() -> None:
    box = trimesh.creation.box(extents=(10, 10, 10))
    box.apply_translation((0, 0, 5))
    sections = slice_mesh(box, np.array([0.0, 5.0, 10.0, 2.5]))
    for layer in (sections[0], sections[1], sections[3]):
        assert len(layer) == 1 and polygon_area(layer[0]) == pytest.approx(100.0, rel=1e-6)
    assert sections[2] == []  # a plane through the top face counts as just above it


def test_planes_outside_the_mesh_give_empty_layers() -> None:
    box = trimesh.creation.box(extents=(10, 10, 10))
    assert slice_mesh(box, np.array([-7.0, 7.0])) == [[], []]
    assert slice_mesh(box, np.array([])) == []


def test_unsorted_planes_keep_their_order() -> None:
    cone = trimesh.creation.cone(radius=10, height=10, sections=128)
    sections = slice_mesh(cone, np.array([8.0, 2.0, 5.0]))
    areas = [polygon_area(layer[0]) for layer in sections]
    for area, z in zip(areas, (8.0, 2.0, 5.0)):
        assert area == pytest.approx(math.pi * (10 * (1 - z / 10)) ** 2, rel=0.01)


def test_overlapping_bodies_are_unioned() -> None:
    a = trimesh.creation.box(extents=(10, 10, 4))
    b = trimesh.creation.box(extents=(10, 10, 4))
    b.apply_translation((5, 0, 0))
    both = trimesh.util.concatenate([a, b])
    layer = slice_mesh(both, np.array([0.0]))[0]
    assert len(layer) == 1 and polygon_area(layer[0]) == pytest.approx(150.0)
    loops, _ = section_loops(np.asarray(both.vertices), np.asarray(both.faces), np.array([0.0]))
    assert len(loops[0]) == 2


def test_open_box_chains_are_closed_and_counted() -> None:
    box = trimesh.creation.box(extents=(10, 10, 10))
    walls = box.faces[np.abs(box.face_normals[:, 2]) < 0.5]
    missing_one = walls[1:]  # a wall with one triangle missing: each section has one open chain
    open_box = trimesh.Trimesh(box.vertices, missing_one, process=False)
    sections, n_open = slice_mesh_report(open_box, np.array([-1.0, 1.0]))
    assert n_open == 2
    for layer in sections:
        assert len(layer) == 1 and polygon_area(layer[0]) == pytest.approx(100.0, rel=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    ex=st.floats(1.0, 120.0), ey=st.floats(1.0, 120.0), ez=st.floats(1.0, 60.0),
    angle=st.floats(0.0, 2 * math.pi), dx=st.floats(-50, 50), dy=st.floats(-50, 50),
)
def test_random_boxes_have_their_analytic_section(ex: float, ey: float, ez: float, angle: float,
                                                  dx: float, dy: float) -> None:
    box = trimesh.creation.box(extents=(ex, ey, ez))
    box.apply_transform(trimesh.transformations.rotation_matrix(angle, (0, 0, 1)))
    box.apply_translation((dx, dy, ez / 2))
    sections = slice_mesh(box, mid_planes(layer_tops(ez, 0.3, 0.2)))
    for layer in sections:
        assert len(layer) == 1
        assert_well_formed(layer)
        assert polygon_area(layer[0]) == pytest.approx(ex * ey, rel=0.01)
        assert len(layer[0]) == 4


@settings(max_examples=30, deadline=None)
@given(r=st.floats(2.0, 60.0), h=st.floats(0.5, 50.0), n=st.integers(64, 200),
       inner=st.floats(0.1, 0.8))
def test_random_cylinders_and_tubes_have_their_analytic_section(r: float, h: float, n: int, inner: float) -> None:
    cyl = trimesh.creation.cylinder(radius=r, height=h, sections=n)
    cyl.apply_translation((0, 0, h / 2))
    planes = mid_planes(layer_tops(h, 0.2, 0.2))
    for layer in slice_mesh(cyl, planes):
        assert len(layer) == 1
        assert_well_formed(layer)
        assert polygon_area(layer[0]) == pytest.approx(math.pi * r * r, rel=0.01)
    r_in = max(inner * r, 1.0)  # collinear cleaning (1e-3 mm) visibly rounds off only sub-mm circles
    tube = trimesh.creation.annulus(r_min=r_in, r_max=r, height=h, sections=n)
    tube.apply_translation((0, 0, h / 2))
    for layer in slice_mesh(tube, planes):
        assert len(layer) == 2
        assert_well_formed(layer)
        areas = sorted(polygon_area(p) for p in layer)
        assert areas[0] == pytest.approx(-math.pi * r_in**2, rel=0.01)
        assert areas[1] == pytest.approx(math.pi * r * r, rel=0.01)


def test_open_hole_chain_with_a_wide_gap_is_dropped_not_cut() -> None:
    outer = trimesh.creation.box(extents=(20, 20, 10))
    inner = trimesh.creation.box(extents=(8, 8, 10))
    inner_walls = inner.faces[np.abs(inner.face_normals[:, 2]) < 0.5][:, ::-1]  # facing inwards: a hole
    vertices = np.vstack([outer.vertices, inner.vertices])
    faces = np.vstack([outer.faces, inner_walls[1:] + len(outer.vertices)])  # one triangle of the hole missing
    sections, n_open = slice_mesh_report(trimesh.Trimesh(vertices, faces, process=False), np.array([-1.0, 1.0]))
    assert n_open == 2
    for layer in sections:
        assert len(layer) == 1 and polygon_area(layer[0]) == pytest.approx(400.0)
    whole = np.vstack([outer.faces, inner_walls + len(outer.vertices)])
    layer = slice_mesh(trimesh.Trimesh(vertices, whole, process=False), np.array([0.0]))[0]
    assert sorted(round(polygon_area(p), 6) for p in layer) == [-64.0, 400.0]


def test_edge_numbering_fallback_for_huge_meshes_gives_the_same_sections(monkeypatch: pytest.MonkeyPatch) -> None:
    import slicing.sections as sections_module

    mesh = trimesh.creation.annulus(r_min=3.0, r_max=8.0, height=6.0, sections=48)
    planes = np.linspace(-2.5, 2.5, 7)
    packed = slice_mesh(mesh, planes)
    monkeypatch.setattr(sections_module, "_PACK_LIMIT", 0.0)
    numbered = slice_mesh(mesh, planes)
    assert len(packed) == len(numbered) == 7
    for a, b in zip(packed, numbered):
        assert len(a) == len(b) == 2
        assert all(np.array_equal(p, q) for p, q in zip(a, b))


def test_key_sort_falls_back_to_argsort_for_wide_keys() -> None:
    from slicing.sections import _argsort_keys

    keys = np.array([2**61, 5, 2**60, 7, 5], dtype=np.int64)
    order, ordered = _argsort_keys(keys)
    assert np.array_equal(ordered, np.sort(keys)) and np.array_equal(keys[order], ordered)
    small = np.array([9, 3, 3, 1], dtype=np.int64)
    order, ordered = _argsort_keys(small)
    assert np.array_equal(ordered, [1, 3, 3, 9]) and np.array_equal(small[order], ordered)


SHAPES = {
    "sphere": lambda: trimesh.creation.icosphere(subdivisions=3, radius=10.0),
    "box": lambda: trimesh.creation.box(extents=(14.0, 9.0, 5.0)),
    "capsule": lambda: trimesh.creation.capsule(height=12.0, radius=4.0),
    "tube": lambda: trimesh.creation.annulus(r_min=3.0, r_max=7.0, height=10.0, sections=40),
}


@settings(max_examples=40, deadline=None)
@given(shape=st.sampled_from(sorted(SHAPES)), seed=st.integers(0, 2**32 - 1), n_planes=st.integers(1, 12))
def test_section_areas_match_trimesh_sections_of_randomly_tilted_solids(shape: str, seed: int,
                                                                       n_planes: int) -> None:
    mesh = SHAPES[shape]()
    rng = np.random.default_rng(seed)
    mesh.apply_transform(trimesh.transformations.random_rotation_matrix(rng.random(3)))
    lo, hi = mesh.bounds[:, 2]
    planes = np.sort(rng.uniform(lo + 0.01, hi - 0.01, n_planes))
    ours = slice_mesh(mesh, planes)
    theirs = mesh.section_multiplane(plane_origin=[0, 0, 0], plane_normal=[0, 0, 1], heights=planes)
    for layer, path in zip(ours, theirs):
        assert_well_formed(layer)
        expected = 0.0 if path is None else path.area
        assert sum(polygon_area(p) for p in layer) == pytest.approx(expected, rel=1e-3, abs=1e-3)


def test_two_sided_stray_triangle_does_not_disturb_the_section() -> None:
    box = trimesh.creation.box(extents=(10, 10, 10))
    n = len(box.vertices)
    fin = np.array([[20.0, 0, -3], [24.0, 0, 3], [28.0, 2, -3]])
    vertices = np.vstack([box.vertices, fin])
    faces = np.vstack([box.faces, [[n, n + 1, n + 2], [n + 2, n + 1, n]]])  # a fin seen from both sides
    sections, n_open = slice_mesh_report(trimesh.Trimesh(vertices, faces, process=False), np.array([0.0, 1.0]))
    assert n_open == 0
    for layer in sections:
        assert len(layer) == 1
        assert np.allclose(np.sort(layer[0], axis=0), np.sort(np.array(
            [[-5.0, -5.0], [5.0, -5.0], [5.0, 5.0], [-5.0, 5.0]]), axis=0))


def test_planes_closer_than_the_nudge_keep_their_own_sections() -> None:
    cone = trimesh.creation.cone(radius=10, height=10, sections=64)
    z = 4.0
    cone.vertices[0, 2] = z  # a vertex exactly on the first plane: it is nudged past the second
    planes = np.array([z, z + 1.5e-6, 7.0])
    sections = slice_mesh(cone, planes)
    assert [len(layer) for layer in sections] == [1, 1, 1]
    areas = [polygon_area(layer[0]) for layer in sections]
    assert areas[0] == pytest.approx(areas[1], rel=1e-4)
    assert areas[2] < areas[0]
