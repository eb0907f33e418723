"""Other slicers' G-code (made by the real PrusaSlicer and CuraEngine, see tests/corpus.py): the plan's layers
equal what the slicer announces, with or without markers; uploaded, the stored layer count and estimate are the
plan's; streamed with a park at every layer, every command runs once, in order, and every move is drawn as the
file alone draws it."""
from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from controller.api.app import create_app
from controller.config import parse_config
from controller.farm.service import LabService
from slicing import plan_file
from tests.corpus import CURA_VARIANTS, PRUSA_VARIANTS, Entry, build, stripped
from tests.test_api_octoprint import KEY, prusaslicer_upload
from tests.test_job_return import extrusions, stream_with_parks

NAMES = [*PRUSA_VARIANTS, *CURA_VARIANTS, "shared-cube.cura", "shared-cube.prusa"]
STREAMED = ["prusa-both-markers-relative-e-labels", "prusa-vase", "cura-relative-e-zhop", "cura-raft",
            "cura-adaptive"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Entry]:
    root = tmp_path_factory.mktemp("corpus")
    return {e.name: e for e in build(root)}


def zs(path: Path) -> list[float]:
    return [layer.z for layer in plan_file(path).layers]


@pytest.mark.parametrize("name", NAMES)
def test_the_plans_layers_are_the_ones_the_slicer_announces(corpus, name):
    entry = corpus[name]
    assert len(entry.announced_z) > 50
    assert zs(entry.path) == pytest.approx(entry.announced_z, abs=2e-3)


@pytest.mark.parametrize("name", NAMES)
def test_without_markers_the_layers_are_the_same(corpus, name, tmp_path):
    entry = corpus[name]
    bare = plan_file(stripped(entry, tmp_path))
    assert bare.marker_family is None
    assert [layer.z for layer in bare.layers] == pytest.approx(entry.announced_z, abs=2e-3)


def test_the_special_files_are_what_they_claim(corpus):
    both = corpus["prusa-both-markers-relative-e-labels"].path.read_text()
    assert ";LAYER_CHANGE" in both and ";LAYER:5\n" in both and "M83" in both and "; printing object" in both
    assert [o.name for o in plan_file(corpus["prusa-both-markers-relative-e-labels"].path).objects]
    heights = {round(b - a, 3) for a, b in zip(corpus["cura-adaptive"].announced_z,
                                               corpus["cura-adaptive"].announced_z[1:])}
    assert len(heights) > 2  # adaptive layers really vary
    raft = plan_file(corpus["cura-raft"].path)
    assert raft.layers[0].label is not None and raft.layers[0].label < 0 and raft.layers[0].index == 0
    vase = corpus["prusa-vase"].path.read_text()
    assert "spiral_vase = 1" in vase


@pytest.mark.parametrize("name", ["prusa", "cura-adaptive"])
def test_upload_stores_the_plans_layer_count_and_estimate(corpus, name, tmp_path):
    entry = corpus[name]
    cfg = parse_config({"data_dir": str(tmp_path / "data"), "api_keys": [KEY],
                        "printers": [{"name": "mk3-a", "port": "/dev/null-a"}]})
    svc = LabService(cfg)
    try:
        with TestClient(create_app(svc, run_fleet=False), base_url="http://octopi.local") as client:
            body, headers = prusaslicer_upload(entry.path.read_bytes(), f"{name}.gcode", start=True)
            r = client.post("/api/files/local", content=body, headers=headers)
            assert r.status_code == 201, r.text
            job = client.get("/api/v1/jobs", headers={"X-Api-Key": KEY}).json()[0]
            info = client.get(r.headers["Location"], headers={"X-Api-Key": KEY}).json()
    finally:
        svc.stop()
    job_plan = plan_file(entry.path)
    assert job["layer_count"] == len(entry.announced_z) == job_plan.layer_count
    analysis = info["gcodeAnalysis"]
    assert analysis["estimatedPrintTime"] == job_plan.estimate_s and analysis["estimateOrigin"] == "file"
    assert analysis["layerCount"] == job_plan.layer_count


@pytest.mark.parametrize("name", STREAMED)
def test_streamed_with_a_park_at_every_layer_every_command_runs_once_drawn_as_alone(corpus, name):
    job_plan = plan_file(corpus[name].path)
    ran = stream_with_parks(job_plan)
    want = list(job_plan.commands)
    matched, extra = 0, []
    for c in ran:  # the file's commands in order, with only the host's park and return between them
        if matched < len(want) and c == want[matched]:
            matched += 1
        else:
            extra.append(c)
    assert matched == len(want)
    assert not [c for c in extra if " E" in c and not c.startswith("G92")]  # nothing of the file ran twice
    alone, streamed = extrusions(want), extrusions(ran)
    assert streamed.shape == alone.shape
    assert abs(streamed - alone).max() < 2e-3


CHECKED_LAYERS = 10  # covers a raft and its air gap (Cura: layers 0-5) and a vase's first turns (PrusaSlicer: 3-)


@pytest.mark.parametrize("name", NAMES)
def test_a_clean_print_with_the_camera_raises_no_alarm(corpus, name, tmp_path):
    from controller.printer.layer_check import LayerCheck
    from controller.printer.session import PrinterSession
    from tests.sim_helpers import running_sim
    from vision.camera import open_camera
    from vision.config import VisionConfig

    job_plan = plan_file(corpus[name].path)
    with running_sim("--speed", "max", "--seed", "5") as sim:
        session = PrinterSession(sim.info["serial"], 115200)
        session.connect(timeout=60)
        camera = open_camera(sim.info["camera"])
        check = LayerCheck(job_plan.layer_paths(), camera, tmp_path / "checks", VisionConfig(policy="warn"))

        def hook(point, job):
            check(point, job)
            if point.layer >= CHECKED_LAYERS - 1:
                job.cancel("enough layers")

        try:
            job = session.start_job(job_plan, layer_hook=hook, wait_for_temperatures=False)
            job.wait(300)
        finally:
            camera.close()
            session.close()
    assert not check.errors
    assert [v.layer for v in check.verdicts] == list(range(CHECKED_LAYERS))
    assert [v.message for v in check.verdicts if v.failed] == []
