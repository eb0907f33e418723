"""Bridges: a span between two pillars is printed as straight lines across it, with no support under it."""
from __future__ import annotations

import re

import numpy as np

from slicing.toolpath import Feature
from tests.test_slicer_supports import sliced, support_layers


def bridge_segments(job):  # type: ignore[no-untyped-def]
    """(layer index, (N, 4) segments) of every layer that prints bridge lines."""
    return [(i, lay.segments[lay.feature == Feature.BRIDGE]) for i, lay in enumerate(job.layers)
            if (lay.feature == Feature.BRIDGE).any()]


def test_a_30_mm_span_is_bridged_across_not_supported():
    gcode, job = sliced("bridge", support="everywhere")
    assert support_layers(job) == []
    (index, segs), = bridge_segments(job)  # one bridge layer, the deck's first
    assert job.layers[index].z == 10.2
    d = segs[:, 2:4] - segs[:, 0:2]
    # the pillars stand 30 mm apart along X: every line runs along X, from pillar to pillar
    assert np.all(np.abs(d[:, 1]) < 1e-6)
    assert np.all(np.abs(d[:, 0]) >= 30.0)
    assert len(segs) >= 10.0 / 0.4 - 5  # the deck's 10 mm width, a line width apart, inside the walls
    assert ";TYPE:BRIDGE\n" in gcode


def test_bridge_lines_print_at_the_bridge_speed_and_flow():
    gcode, job = sliced("bridge", bridge_speed=20, bridge_flow=90)
    lines = gcode.splitlines()
    start = lines.index(";TYPE:BRIDGE")
    first = lines[start + 1]
    assert re.search(r"F1200\b", first), first
    (index, _), = bridge_segments(job)
    lay = job.layers[index]
    widths = lay.widths()[lay.feature == Feature.BRIDGE]
    assert np.allclose(widths, 0.9 * 0.4, rtol=0.02)


def test_a_shelf_held_on_one_side_is_not_a_bridge():
    _, job = sliced("shelf", support="everywhere")
    assert bridge_segments(job) == []
    assert support_layers(job)


def test_bridges_off_supports_the_span():
    _, job = sliced("bridge", support="everywhere", bridges=False)
    assert bridge_segments(job) == []
    assert support_layers(job)
