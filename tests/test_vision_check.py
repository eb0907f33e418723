"""The layer check on synthetic photos: clean layers pass, each fault class is named with its figures."""
import cv2
import numpy as np
import pytest

from tests.vision_scene import Scene, block_layers
from vision.check import LayerChecker, check_layer
from vision.compare import find_offset
from vision.config import VisionConfig
from vision.registration import register

LAYERS = block_layers(6, 100, 100, 20, 20)
L_SHAPE = block_layers(6, 60, 60, 30, 8)
# a block whose layers from 3 on reach 10 mm further on every side: most of their beads are laid on bare bed
STEP = block_layers(3, 100, 100, 20, 20) + block_layers(6, 90, 90, 40, 40)[3:]


def run(fault: str, layers=LAYERS, at: int = 3, seed: int = 2, noise: float = 3.0, lighting: float = 0.25,
        until: int | None = None):
    """Print layers 0..until (default `at`) on a scene with a fault from layer `at`; verdicts of every layer."""
    scene = Scene(seed=seed)
    rng = np.random.default_rng(seed)
    reg = register(scene.photo(0, rng))
    checker = LayerChecker(layers, reg, VisionConfig())
    verdicts = []
    for n in range((at if until is None else until) + 1):
        faulty = n >= at
        if faulty and fault == "spaghetti":
            scene.deposit_loose(layers[n], n, rng)
        else:
            kw = {}
            if faulty and fault == "shift":
                kw = {"dx": 2.5, "dy": 0.0}
            elif faulty and fault == "clog":
                kw = {"e_factor": 0.0}
            elif faulty and fault == "under":
                kw = {"e_factor": 0.5}
            scene.deposit(layers[n], n, **kw)
        v, picture = checker.check(scene.photo(n, rng, noise=noise, lighting=lighting), n)
        assert picture is not None and picture.shape == (960, 1280, 3)
        verdicts.append(v)
    return verdicts


@pytest.mark.parametrize("noise,lighting", [(2.0, 0.1), (5.0, 0.4)])
def test_clean_layers_pass(noise, lighting):
    for layers in (LAYERS, L_SHAPE):
        verdicts = run("none", layers, at=5, noise=noise, lighting=lighting)
        assert [v.status for v in verdicts] == ["ok"] * 6, [v.message for v in verdicts]
        assert all(v.iou > 0.85 for v in verdicts)


def test_layer_shift_is_named_with_its_offset_in_x():
    v = run("shift")[-1]
    assert v.status == "layer_shift"
    assert 2.0 < v.offset_mm[0] < 3.3 and abs(v.offset_mm[1]) < 0.5
    assert "shifted" in v.message and "in X" in v.message


def test_clog_is_a_missing_layer():
    v = run("clog")[-1]
    assert v.status == "missing_layer" and v.missing_area_mm2 > 300
    assert "missing" in v.message


def test_spaghetti_is_loose_material_outside_the_part():
    v = run("spaghetti")[-1]
    assert v.status == "spaghetti" and v.score["stray_area_mm2"] > 20


def test_half_extrusion_is_under_extrusion_not_a_missing_layer():
    v = run("under")[-1]
    assert v.status == "under_extrusion", v.message
    assert 0.3 < v.score["coverage"] < 0.75


def test_an_under_extruded_layer_is_not_the_next_layers_baseline():
    """Flow stays low: the layer after a thin one is judged against fresh material, not against the thin one."""
    verdicts = run("under", at=3, until=5)
    assert [v.status for v in verdicts] == ["ok"] * 3 + ["under_extrusion"] * 3, [v.message for v in verdicts]


@pytest.mark.parametrize("fault,expected,coverage", [("none", "ok", (0.9, 1.1)), ("under", "under_extrusion", (0.25, 0.5)),
                                                      ("clog", "missing_layer", (0.0, 0.1))])
def test_beads_laid_on_bare_bed_are_measured_not_assumed_fresh(fault, expected, coverage):
    """Thin beads on bare bed still differ from it in colour: how much of the pixel they cover is what counts."""
    verdicts = run(fault, STEP, at=3)
    assert [v.status for v in verdicts] == ["ok"] * 3 + [expected], [v.message for v in verdicts]
    assert coverage[0] <= verdicts[-1].score["coverage"] <= coverage[1]


def test_stateless_check_uses_previous_photo():
    scene = Scene()
    rng = np.random.default_rng(5)
    reg = register(scene.photo(0, rng))
    scene.deposit(LAYERS[0], 0)
    scene.deposit(LAYERS[1], 1)
    before = scene.photo(1, rng)
    scene.deposit(LAYERS[2], 2, e_factor=0.0)
    verdict, picture = check_layer(scene.photo(2, rng), reg, LAYERS, 2, previous=before)
    assert verdict.status == "missing_layer"
    assert picture.shape == before.shape
    assert verdict.to_dict()["status"] == "missing_layer"


def test_offset_of_binary_masks_is_subpixel_accurate():
    ref = np.zeros((120, 140), bool)
    ref[30:80, 40:90] = True
    moved = np.zeros_like(ref)
    moved[33:83, 47:97] = True
    dx, dy, _ = find_offset(ref, moved)
    assert abs(dx - 7) < 0.3 and abs(dy - 3) < 0.3


def _figures(**kw):
    from vision.compare import Comparison

    empty = np.zeros((4, 4), bool)
    base = {"layer_area_mm2": 150.0, "iou": 0.21, "coverage": 0.48, "missing_area_mm2": 60.0, "excess_area_mm2": 40.0,
                "stray_area_mm2": 40.0, "offset_mm": (2.4, 1.6), "shifted_iou": 0.29, "shifted_coverage": 1.05, "response": 0.65, "thin": False,
                "fraction": np.zeros((4, 4), np.float32), "fresh": empty, "missing": empty, "excess": empty}
    base.update(kw)
    return Comparison(**base)


@pytest.mark.parametrize("shifted_coverage,expected", [(1.05, "layer_shift"), (0.6, "spaghetti"), (0.7, "spaghetti")])
def test_a_shift_is_believed_when_moving_back_restores_the_layer(shifted_coverage, expected):
    """Sparse layers: the moved-back overlap stays low, but the layer's dense parts are all there once moved."""
    from vision.classify import classify

    v = classify(7, _figures(shifted_coverage=shifted_coverage), VisionConfig())
    assert v.status == expected, v.message


@pytest.mark.parametrize("thin,coverage,expected", [(False, 0.5, "under_extrusion"), (True, 0.5, "ok"),
                                                    (True, 0.1, "missing_layer"), (False, 0.9, "ok")])
def test_single_lines_are_judged_missing_or_there_not_how_much(thin, coverage, expected):
    """A vase's single wall is narrower than the camera resolves: a missing layer is judged, under-extrusion is not."""
    from vision.classify import classify

    figures = _figures(thin=thin, coverage=coverage, shifted_coverage=coverage, offset_mm=(0.0, 0.0),
                       stray_area_mm2=0.0)
    v = classify(7, figures, VisionConfig())
    assert v.status == expected, v.message
    assert ("single lines" in v.message) == (thin and expected == "ok")


def test_a_layer_of_single_walls_is_thin_and_solid_fill_is_not():
    from vision.compare import _layer_masks
    from vision.reference import BedGrid

    grid = BedGrid(0.0, 0.0, 40.0, 40.0, 3.0)
    config = VisionConfig()
    wall = np.zeros(grid.shape, np.uint8)
    cv2.rectangle(wall, (30, 30), (90, 90), 255, 1)        # one 0.33 mm line round a 20 mm square
    solid = wall.copy()
    cv2.rectangle(solid, (30, 30), (90, 90), 255, -1)
    double = np.zeros(grid.shape, np.uint8)
    cv2.rectangle(double, (30, 30), (90, 90), 255, 3)      # a wall of two beads (1 mm): the camera measures it
    for top, thin in ((wall, True), (solid, False), (double, False)):
        core, expected = _layer_masks(top, grid, config, first=False)
        level = np.count_nonzero(core & (expected >= config.thin_level)) * grid.px_area_mm2
        assert (level < config.min_area_mm2) == thin
