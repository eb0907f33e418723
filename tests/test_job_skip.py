"""Skipping a copy: from the layer it is dropped, none of its moves run; every other move of the plate is drawn
from the same place, at the same height and feed rate, with the same filament, as the file alone draws it."""
from __future__ import annotations

import numpy as np
import pytest
import trimesh

from controller.errors import JobError
from controller.printer.job import CheckPoint, Job
from controller.printer.job_state import is_move
from controller.printer.session import PrinterSession
from slicing import JobPlan, plan
from slicing.job_plan import parse_moves
from slicing.slicer import slice_file
from tests.simproc import Sim

SKIP_AT = 3


@pytest.fixture(scope="module", params=["absolute-e", "relative-e"])
def plate(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> JobPlan:
    """Three 8 mm blocks, 2 mm high (10 layers), sliced by printloop: each copy an object."""
    from slicing.profile import load_profile

    folder = tmp_path_factory.mktemp("plate")
    trimesh.creation.box(extents=(8.0, 8.0, 2.0)).export(folder / "block.stl")
    profile = load_profile(overrides={"relative_e": str(request.param == "relative-e").lower()})
    return plan(slice_file(folder / "block.stl", profile=profile, copies=3).gcode)


def drawn(commands: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(start x, y, end x, y, z, feed, filament) of every extruding XY move, and the command index of each."""
    m = parse_moves("\n".join(commands))
    d = np.diff(m.xyzef, axis=0)
    ext = (d[:, 3] > 1e-7) & (np.abs(d[:, :2]).max(axis=1) > 1e-9)
    a, b = m.xyzef[:-1][ext], m.xyzef[1:][ext]
    return np.column_stack([a[:, 0], a[:, 1], b[:, 0], b[:, 1], b[:, 2], b[:, 4], d[ext, 3]]), m.line[1:][ext]


def primes(commands: list[str]) -> np.ndarray:
    """Filament pushed by each move that does not move X or Y (unretractions, primes)."""
    m = parse_moves("\n".join(commands))
    d = np.diff(m.xyzef, axis=0)
    return d[(np.abs(d[:, :2]).max(axis=1) <= 1e-9) & (d[:, 3] > 1e-7), 3]


def test_a_skipped_copy_prints_no_more_and_the_rest_of_the_plate_is_drawn_as_the_file_does(plate):
    victim = plate.objects[1]
    events = []

    def hook(point: CheckPoint, job: Job) -> None:
        if point.layer == SKIP_AT:
            with pytest.raises(JobError, match="no object 'nope'"):
                job.skip_object("nope")
            job.skip_object(victim.name, "came loose")

    with Sim("--speed", "max") as sim:
        session = PrinterSession(sim.serial, timeout=2.0, on_event=events.append)
        session.connect()
        progress = session.start_job(plate, layer_hook=hook, wait_for_temperatures=False).wait(300)
        session.close()
        # the copy's moves after the skip are not there; everything else is, with the host's park and return
        start = plate.check_points()[SKIP_AT].command
        left_out = sum(1 for k in range(start, len(plate.commands))
                       if plate.command_object[k] == victim.index and is_move(plate.commands[k]))
        ran = sim.ran_from_file(len(plate.commands) - left_out)
    assert progress.state == "completed", progress.reason
    assert progress.skipped == (victim.name,)
    skipped = [e for e in events if e.kind == "object_skipped"]
    assert len(skipped) == 1 and skipped[0].data["object"] == victim.name and "came loose" in skipped[0].message

    alone, command = drawn(list(plate.commands))
    from_layer = plate.check_points()[SKIP_AT].command
    dropped = (command >= from_layer) & (plate.command_object[command] == victim.index)
    assert 0 < dropped.sum() < len(dropped)
    streamed, _ = drawn(ran)
    want = alone[~dropped]
    assert streamed.shape == want.shape
    np.testing.assert_allclose(streamed, want, atol=2e-3)
    # and no blob: nothing the host sent pushes more filament in place than an unretraction
    assert primes(ran).max() <= max(primes(list(plate.commands)).max(), session.park.retract) + 1e-3
