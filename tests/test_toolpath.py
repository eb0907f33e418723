"""LayerPaths derives lengths and bead widths from conserved volume."""
import numpy as np
import pytest

from slicing.toolpath import Feature, LayerPaths


def test_width_follows_from_volume():
    area = np.pi * (1.75 / 2) ** 2
    e = 10.0 * 0.4 * 0.2 / area  # a 10 mm bead, 0.4 wide, 0.2 high
    layer = LayerPaths(0, 0.2, 0.2, np.array([[0.0, 0.0, 10.0, 0.0]]), np.array([e]),
                       np.array([Feature.FILL], dtype=np.int8))
    assert layer.lengths()[0] == pytest.approx(10.0)
    assert layer.widths(1.75)[0] == pytest.approx(0.4)
