"""The thin-rib bench's measure: our own G-code, with gap fill and without, read back the way the peers' files are."""
from __future__ import annotations

import pytest

from bench.thin_vs_peers import ours, ribs

WIDTHS = [0.3, 0.6, 1.2]


@pytest.fixture(scope="module")
def mesh():
    return ribs(WIDTHS)


def test_with_gap_fill_every_rib_is_covered_with_the_filament_it_holds(mesh):
    fig, _ = ours(mesh, True, WIDTHS)
    assert all(fig.void[w] < 5.0 and fig.excess[w] < 5.0 for w in WIDTHS), fig
    assert all(fig.volume[w] == pytest.approx(100.0, abs=5.0) for w in WIDTHS), fig


def test_without_it_the_thinnest_rib_is_left_out_and_a_folded_loop_lays_too_much(mesh):
    fig, _ = ours(mesh, False, WIDTHS)
    assert fig.void[0.3] == pytest.approx(100.0) and fig.volume[0.3] == 0.0
    assert fig.void[0.6] < 5.0 and fig.volume[0.6] > 120.0      # covered, by a loop folded onto itself
