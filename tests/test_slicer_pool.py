"""The layers over worker processes (slicing/layer_pool.py): the same G-code byte for byte as in one process, the
runs cut in the workers and cover every layer once, and `printloop slice --jobs`."""
from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest
import trimesh

from slicing import layer_pool
from slicing.layer_pool import MIN_RUN, runs
from slicing.mesh import LoadedMesh
from slicing.profile import load_profile
from slicing.slicer import slice_file, slice_mesh_to_gcode
from tests.conftest import MODELS
from tests.test_slicer_cli import printloop


def _part() -> LoadedMesh:
    """A part with overhangs, a bridge, thin ribs and skins at many heights: a plate on a post, with a slot."""
    post = trimesh.creation.box((6, 6, 8))
    post.apply_translation((0, 0, 4))
    plate = trimesh.creation.box((24, 14, 3))
    plate.apply_translation((0, 0, 9.5))
    rib = trimesh.creation.box((0.6, 12, 4))
    rib.apply_translation((8, 0, 13))
    return LoadedMesh(trimesh.util.concatenate([post, plate, rib]), "plate", (), ())


@pytest.mark.parametrize("overrides", [{}, {"gap_fill": "false", "seam": '"nearest"'}, {"support": '"everywhere"'}])
def test_workers_write_the_same_gcode_as_one_process(overrides):
    profile = load_profile(overrides=overrides)
    one = slice_mesh_to_gcode(_part(), profile, copies=2)
    for workers in (2, 3):
        assert slice_mesh_to_gcode(_part(), profile, copies=2, workers=workers).gcode == one.gcode


def test_a_model_from_a_file_is_the_same_over_workers():
    assert slice_file(MODELS / "featuretype_mm.stl", workers=2).gcode == slice_file(MODELS / "featuretype_mm.stl").gcode


def test_the_runs_are_cut_in_the_workers_and_cover_every_layer_once(monkeypatch, tmp_path):
    log = tmp_path / "runs.txt"
    real = layer_pool.run_layers

    def logged(mesh, planes, profile, start, stop):  # (inherited by the forked workers)
        with log.open("a") as fh:
            fh.write(f"{os.getpid()} {start} {stop}\n")
        return real(mesh, planes, profile, start, stop)

    monkeypatch.setattr(layer_pool, "run_layers", logged)
    result = slice_mesh_to_gcode(_part(), load_profile(), workers=2)
    rows = [tuple(int(v) for v in line.split()) for line in log.read_text().splitlines()]
    assert rows and all(pid != os.getpid() for pid, _, _ in rows)
    spans = sorted((a, b) for _, a, b in rows)
    assert spans[0][0] == 0 and spans[-1][1] == result.layer_count
    assert all(b == c for (_, b), (c, _) in itertools.pairwise(spans))  # contiguous, no layer twice


@pytest.mark.parametrize("n,workers", [(1, 2), (23, 2), (24, 2), (240, 2), (241, 3), (1000, 8)])
def test_runs_split_the_layers_into_contiguous_runs_long_enough(n, workers):
    cut = runs(n, workers)
    assert cut[0][0] == 0 and cut[-1][1] == n
    assert all(b == c for (_, b), (c, _) in itertools.pairwise(cut))
    assert len(cut) <= max(workers * layer_pool.RUNS_PER_WORKER, 1)
    assert len(cut) == 1 or all(b - a >= MIN_RUN for a, b in cut)


def test_slice_jobs_option_writes_the_same_file(tmp_path: Path):
    outs = []
    for jobs in ("0", "2"):
        out = tmp_path / f"cube-{jobs}.gcode"
        res = printloop("slice", str(MODELS / "20mm-xyz-cube.stl"), "-o", str(out), "--quiet", "--jobs", jobs)
        assert res.returncode == 0, res.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    bad = printloop("slice", str(MODELS / "20mm-xyz-cube.stl"), "-o", str(tmp_path / "x.gcode"), "--jobs", "-1")
    assert bad.returncode != 0 and "--jobs" in bad.stderr and "Traceback" not in bad.stderr
