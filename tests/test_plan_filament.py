"""The filament table of a job plan: a 2-copy plate's filament per layer and copy, with what no copy owns."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh

from slicing.errors import GcodeReadError
from slicing.job_plan import JobPlan, plan
from slicing.mesh import LoadedMesh
from slicing.plan_filament import PlanFilament, plan_filament, read_plan_filament, try_plan_filament
from slicing.profile import load_profile
from slicing.slicer import slice_mesh_to_gcode


@pytest.fixture(scope="module")
def plate() -> tuple[str, JobPlan, PlanFilament]:
    """G-code of two 10 × 10 × 3 mm blocks on one plate, its plan and its filament table."""
    block = LoadedMesh(trimesh.creation.box((10, 10, 3)), "block", (), ())
    gcode = slice_mesh_to_gcode(block, load_profile(), copies=2).gcode
    job_plan = plan(gcode)
    return gcode, job_plan, plan_filament(job_plan)


def test_each_copys_column_sums_its_own_moves_and_the_last_column_the_moves_of_no_copy(plate) -> None:
    _gcode, job_plan, table = plate
    assert table.objects == ("block_0", "block_1")
    assert table.by_layer.shape == (job_plan.layer_count, 3)
    owner = np.concatenate([layer.paths.objects for layer in job_plan.layers])
    amount = np.concatenate([layer.paths.extrusion for layer in job_plan.layers])
    expected = [amount[owner == 0].sum(), amount[owner == 1].sum(), amount[owner < 0].sum()]
    assert table.by_object() == pytest.approx(expected, rel=1e-12)
    assert table.by_object()[2] > 0                                   # the skirt belongs to no copy
    assert table.used_mm() == pytest.approx(amount.sum(), rel=1e-12)


def test_the_first_n_layers_figure_counts_n_layers_of_every_copy_and_the_skirt(plate) -> None:
    _gcode, job_plan, table = plate
    per_layer = [float(layer.paths.extrusion.sum()) for layer in job_plan.layers]
    for n in (0, 1, 3, job_plan.layer_count):
        assert table.used_mm(n) == pytest.approx(sum(per_layer[:n]), rel=1e-12, abs=1e-12)
    assert table.used_mm(-4) == 0.0
    assert table.used_mm(job_plan.layer_count + 5) == table.used_mm()
    assert table.layers_done(job_plan.check_points()[2].command) == 3


def test_skipping_a_copy_removes_exactly_its_column_and_naming_one_keeps_only_it(plate) -> None:
    _gcode, _job_plan, table = plate
    whole, (first, second, nobody) = table.used_mm(), table.by_object()
    assert whole - table.used_mm(skipped=["block_0"]) == pytest.approx(first, rel=1e-12)
    assert table.used_mm(objects=["block_1"]) == pytest.approx(second + nobody, rel=1e-12)
    assert table.used_mm(objects=["block_1"]) == table.used_mm(skipped=["block_0"])
    assert table.used_mm(skipped=["block_0", "block_1"]) == pytest.approx(nobody, rel=1e-12)


def test_a_file_is_read_once_per_version_and_a_missing_one_is_none_or_raises(plate, tmp_path: Path) -> None:
    gcode, _job_plan, table = plate
    path = tmp_path / "plate.gcode"
    path.write_text(gcode)
    first = read_plan_filament(path)
    assert read_plan_filament(str(path)) is first
    assert np.array_equal(first.by_layer, table.by_layer)
    lines = gcode.splitlines()
    path.write_text("\n".join(lines[:len(lines) // 2]))                 # another version: half the file
    assert read_plan_filament(path).layer_count < first.layer_count
    assert try_plan_filament(tmp_path / "gone.gcode") is None
    with pytest.raises(OSError):
        read_plan_filament(tmp_path / "gone.gcode")
    (tmp_path / "empty.gcode").write_text("; nothing but a comment\n")
    assert try_plan_filament(tmp_path / "empty.gcode") is None
    with pytest.raises(GcodeReadError):
        read_plan_filament(tmp_path / "empty.gcode")
