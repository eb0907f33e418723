"""Mesh loading, repair and bed placement on the shared models, other formats and bad input."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh

from slicing.errors import MeshError
from slicing.mesh import LoadedMesh, edge_counts, load_mesh, orient_faces, place_on_bed
from tests.conftest import MODELS

BED = (220.0, 220.0, 250.0)
ALL_MODELS = sorted(p.name for p in MODELS.glob("*.stl"))


@pytest.fixture(scope="module")
def loaded() -> dict[str, LoadedMesh]:
    """Every shared model, loaded once for this module."""
    return {name: load_mesh(MODELS / name) for name in ALL_MODELS}


def test_all_shared_models_are_present() -> None:
    assert len(ALL_MODELS) >= 7
    assert "3DBenchy.stl" in ALL_MODELS and "teapot.stl" in ALL_MODELS


@pytest.mark.parametrize("name", ALL_MODELS)
def test_every_shared_model_loads_and_places_centred_on_the_bed(loaded: dict[str, LoadedMesh], name: str) -> None:
    lm = loaded[name]
    assert lm.name == name
    assert len(lm.mesh.faces) > 0
    placed = place_on_bed(lm.mesh, BED)
    lo, hi = placed.bounds
    assert lo[2] == pytest.approx(0.0, abs=1e-9)
    assert (lo[0] + hi[0]) / 2 == pytest.approx(110.0, abs=1e-9)
    assert (lo[1] + hi[1]) / 2 == pytest.approx(110.0, abs=1e-9)
    assert np.all(lo >= -1e-9) and np.all(hi[:2] <= 220 + 1e-9) and hi[2] <= 250
    assert np.allclose(placed.extents, lm.mesh.extents)
    assert placed is not lm.mesh and not np.allclose(placed.vertices, lm.mesh.vertices)


@pytest.mark.parametrize("name", ["teapot.stl", "bunny_mm.stl"])
def test_open_meshes_load_with_a_not_watertight_warning(loaded: dict[str, LoadedMesh], name: str) -> None:
    lm = loaded[name]
    assert lm.warnings, f"{name} should warn"
    assert "not watertight" in lm.warnings[0] and "open edges" in lm.warnings[0]
    assert "sliced as is" in lm.warnings[0]


@pytest.mark.parametrize("name", ["20mm-xyz-cube.stl", "torus_mm.stl", "featuretype_mm.stl", "idler_riser_mm.stl"])
def test_clean_models_load_watertight_without_warnings(loaded: dict[str, LoadedMesh], name: str) -> None:
    lm = loaded[name]
    assert lm.warnings == ()
    assert lm.mesh.is_watertight and lm.mesh.is_winding_consistent
    assert lm.mesh.volume > 0


def test_benchy_is_welded_into_a_closed_outward_solid(loaded: dict[str, LoadedMesh]) -> None:
    lm = loaded["3DBenchy.stl"]
    mesh = lm.mesh
    n_open, _, consistent = edge_counts(np.asarray(mesh.faces), len(mesh.vertices))
    assert n_open == 0 and consistent
    assert len(mesh.faces) > 225_000
    assert mesh.volume == pytest.approx(15550.5, rel=0.01)
    assert np.allclose(mesh.extents, [60.0, 31.0, 48.0], atol=0.05)


def test_bunny_fits_the_default_bed(loaded: dict[str, LoadedMesh]) -> None:
    placed = place_on_bed(loaded["bunny_mm.stl"].mesh, BED)
    assert np.allclose(placed.extents, [155.5, 120.6, 153.3], atol=0.1)


def _box() -> trimesh.Trimesh:
    return trimesh.creation.box(extents=(10.0, 20.0, 30.0))


def test_ascii_stl_obj_and_3mf_load_to_the_same_solid(tmp_path: Path) -> None:
    box = _box()
    files = {
        "box_ascii.stl": box.export(file_type="stl_ascii"),
        "box_bin.stl": box.export(file_type="stl"),
        "box.obj": box.export(file_type="obj"),
        "box.3mf": box.export(file_type="3mf"),
    }
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        lm = load_mesh(path)
        assert lm.name == name
        assert lm.mesh.is_watertight, name
        assert lm.mesh.volume == pytest.approx(6000.0, rel=1e-6), name
        assert len(lm.mesh.vertices) == 8, name
        assert lm.warnings == (), name


def test_scene_with_two_bodies_is_concatenated(tmp_path: Path) -> None:
    a = trimesh.creation.box(extents=(5, 5, 5))
    b = trimesh.creation.box(extents=(5, 5, 5))
    b.apply_translation((20, 0, 0))
    path = tmp_path / "two.3mf"
    path.write_bytes(trimesh.Scene([a, b]).export(file_type="3mf"))
    mesh = load_mesh(path).mesh
    assert len(mesh.faces) == 24
    assert mesh.volume == pytest.approx(250.0, rel=1e-6)
    assert mesh.extents[0] == pytest.approx(25.0)


def test_obj_with_unshared_corners_reports_merged_vertices(tmp_path: Path) -> None:
    box = _box()
    soup = trimesh.Trimesh(box.vertices[box.faces].reshape(-1, 3), np.arange(36).reshape(-1, 3), process=False)
    path = tmp_path / "soup.obj"
    path.write_text(soup.export(file_type="obj"))
    lm = load_mesh(path)
    assert "merged 28 duplicate vertices" in lm.repairs
    assert lm.mesh.is_watertight


def test_inside_out_mesh_is_inverted(tmp_path: Path) -> None:
    box = _box()
    path = tmp_path / "inverted.stl"
    path.write_bytes(trimesh.Trimesh(box.vertices, box.faces[:, ::-1]).export(file_type="stl"))
    lm = load_mesh(path)
    assert any("inverted" in r for r in lm.repairs)
    assert lm.mesh.volume == pytest.approx(6000.0)


def test_one_flipped_triangle_is_rewound(tmp_path: Path) -> None:
    box = _box()
    faces = box.faces.copy()
    faces[3] = faces[3, ::-1]
    path = tmp_path / "flipped.stl"
    path.write_bytes(trimesh.Trimesh(box.vertices, faces).export(file_type="stl"))
    lm = load_mesh(path)
    assert any("winding" in r for r in lm.repairs)
    assert lm.mesh.is_winding_consistent and lm.mesh.volume == pytest.approx(6000.0)


def test_missing_triangle_hole_is_filled(tmp_path: Path) -> None:
    box = _box()
    path = tmp_path / "holed.stl"
    path.write_bytes(trimesh.Trimesh(box.vertices, box.faces[1:]).export(file_type="stl"))
    lm = load_mesh(path)
    assert any("filled" in r and "3 of 3 open edges" in r for r in lm.repairs)
    assert lm.mesh.is_watertight and lm.warnings == ()


def _write_stl(path: Path, vertices: np.ndarray, faces: np.ndarray) -> Path:
    path.write_bytes(trimesh.Trimesh(vertices, faces, process=False).export(file_type="stl"))
    return path


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MeshError, match="not found"):
        load_mesh(tmp_path / "nope.stl")


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.stl"
    path.write_bytes(b"")
    with pytest.raises(MeshError, match=r"empty\.stl is empty \(0 bytes\)"):
        load_mesh(path)


@pytest.mark.parametrize("name", ["notes.stl", "notes.txt", "notes.obj"])
def test_text_that_is_not_a_mesh_is_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("This is a shopping list, not a mesh.\nmilk\neggs\n")
    with pytest.raises(MeshError) as err:
        load_mesh(path)
    message = str(err.value)
    assert name in message
    assert "could not be read as a mesh" in message or "no triangles" in message


def test_single_flat_triangle_is_refused_as_zero_height(tmp_path: Path) -> None:
    path = _write_stl(tmp_path / "tri.stl", np.array([[0, 0, 5.0], [10, 0, 5.0], [0, 10, 5.0]]), np.array([[0, 1, 2]]))
    with pytest.raises(MeshError, match=r"tri\.stl is flat \(zero height"):
        load_mesh(path)


def test_flat_square_is_refused_as_zero_height(tmp_path: Path) -> None:
    v = np.array([[0, 0, 0], [10, 0, 0], [10, 10, 0], [0, 10, 0]], dtype=float)
    path = _write_stl(tmp_path / "square.stl", v, np.array([[0, 1, 2], [0, 2, 3]]))
    with pytest.raises(MeshError, match="flat"):
        load_mesh(path)


def test_unconnected_triangle_soup_is_broken_beyond_use(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    v = rng.uniform(0, 50, size=(60, 3))
    path = _write_stl(tmp_path / "soup.stl", v, np.arange(60).reshape(-1, 3))
    with pytest.raises(MeshError, match="broken beyond use: 60 open edges on 20 triangles"):
        load_mesh(path)


@pytest.mark.parametrize(
    ("extents", "axis"), [((230, 10, 10), "X 230.0 > 220"), ((10, 221, 10), "Y 221.0 > 220"),
                          ((10, 10, 260), "height 260.0 > 250")]
)
def test_part_bigger_than_the_bed_is_refused_naming_the_sizes(extents: tuple[float, ...], axis: str) -> None:
    box = trimesh.creation.box(extents=extents)
    with pytest.raises(MeshError) as err:
        place_on_bed(box, BED)
    message = str(err.value)
    assert axis in message and "220 x 220 x 250 mm bed" in message
    assert f"{extents[0]:.1f} x {extents[1]:.1f} x {extents[2]:.1f} mm" in message


def test_place_at_a_given_centre_and_refuse_off_bed_centre() -> None:
    box = _box()
    placed = place_on_bed(box, BED, center=(50.0, 60.0))
    assert np.allclose(placed.bounds, [[45, 50, 0], [55, 70, 30]])
    with pytest.raises(MeshError, match="leaves the 220 x 220 x 250 mm bed"):
        place_on_bed(box, BED, center=(2.0, 60.0))


def test_orient_faces_rewinds_random_flips_and_inside_out_bodies() -> None:
    rng = np.random.default_rng(7)
    a = trimesh.creation.icosphere(subdivisions=2, radius=5.0)
    b = trimesh.creation.box(extents=(4, 4, 4))
    b.apply_translation((20, 0, 0))
    faces_b = b.faces[:, ::-1] + len(a.vertices)  # second body inside out
    vertices = np.vstack([a.vertices, b.vertices])
    faces = np.vstack([a.faces, faces_b])
    flipped = rng.random(len(faces)) < 0.3
    faces[flipped] = faces[flipped, ::-1]
    oriented, count = orient_faces(vertices, faces)
    fixed = trimesh.Trimesh(vertices, oriented, process=False)
    assert fixed.is_winding_consistent
    assert count == int(np.sum(np.any(oriented != faces, axis=1)))
    for body in fixed.split(only_watertight=False):
        assert body.volume > 0
    assert fixed.volume == pytest.approx(a.volume + 64.0, rel=1e-9)


def test_bunny_is_rewound_consistently_without_trimesh_repair(loaded: dict[str, LoadedMesh]) -> None:
    lm = loaded["bunny_mm.stl"]
    assert any("fixed winding" in r for r in lm.repairs)
    assert lm.mesh.is_winding_consistent
    assert lm.mesh.volume > 700_000


def test_nan_coordinates_are_refused(tmp_path: Path) -> None:
    box = _box()
    data = bytearray(box.export(file_type="stl"))
    corners = np.frombuffer(bytes(data[84:]), dtype=np.dtype(
        [("n", "<f4", (3,)), ("v", "<f4", (3, 3)), ("a", "<u2")])).copy()
    corners["v"][2, 1, 0] = np.nan
    path = tmp_path / "nan.stl"
    path.write_bytes(bytes(data[:84]) + corners.tobytes())
    with pytest.raises(MeshError, match=r"nan\.stl has 1 vertices with NaN or infinite coordinates"):
        load_mesh(path)


def test_binary_stl_with_zero_triangles_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "none.stl"
    path.write_bytes(b"\0" * 80 + np.uint32(0).tobytes())
    with pytest.raises(MeshError, match=r"none\.stl has no triangles"):
        load_mesh(path)
