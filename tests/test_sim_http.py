"""The board's HTTP side: snapshot.jpg decodes as a JPEG with the four ArUco markers, shows what was printed,
is cached per layer; status.json reports the print; layer faults show in the deposited material."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import cv2
import numpy as np
import pytest

from firmware_sim.camera_markers import MARKER_DICT
from tests.sim_helpers import command, running_sim
from tests.test_sim_fault_injection import squares


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as r:
        assert r.status == 200
        return r.read()


def markers(img: np.ndarray) -> set[int]:
    det = cv2.aruco.ArucoDetector(cv2.aruco.getPredefinedDictionary(MARKER_DICT), cv2.aruco.DetectorParameters())
    _, ids, _ = det.detectMarkers(img)
    return set() if ids is None else {int(i) for i in ids.ravel()}


def test_snapshot_is_a_jpeg_with_four_aruco_markers_and_shows_the_print():
    with running_sim("--speed", "max", "--resolution", "640x480") as sim:
        empty = cv2.imdecode(np.frombuffer(fetch(sim.info["camera"]), np.uint8), cv2.IMREAD_COLOR)
        assert empty is not None and empty.shape == (480, 640, 3)
        assert markers(empty) == {0, 1, 2, 3}
        ser = sim.open()
        for line in squares(3):
            command(ser, line)
        command(ser, "M400")
        jpeg = fetch(sim.info["camera"])
        assert jpeg[:2] == b"\xff\xd8"
        printed = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert markers(printed) == {0, 1, 2, 3}
        diff = cv2.absdiff(printed, empty).max(axis=2)
        assert (diff > 60).sum() > 200  # the printed square is visible
        assert fetch(sim.info["camera"]) == jpeg  # cached: same layer, nothing new deposited
        st = json.loads(fetch(sim.info["status"]))
        assert st["layer"] == 2 and st["camera_frames"] == 2


def test_unknown_path_is_404():
    with running_sim("--speed", "max") as sim:
        base = sim.info["status"].rsplit("/", 1)[0]
        with pytest.raises(urllib.error.HTTPError) as err:
            fetch(base + "/nothing")
        assert err.value.code == 404
