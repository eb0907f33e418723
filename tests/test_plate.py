"""Plate arrangement: copies inside the bed margin, never overlapping, refused clearly when they do not fit."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slicing.errors import MeshError
from slicing.plate import arrange


def assert_valid(centres: np.ndarray, fp: tuple[float, float], bed: tuple[float, float], gap: float,
                 margin: float) -> None:
    """Every copy lies inside the bed minus the margin; any two copies are at least `gap` apart on X or Y."""
    w, h = fp
    lo = centres - [w / 2, h / 2]
    hi = centres + [w / 2, h / 2]
    assert np.all(lo >= margin - 1e-9) and np.all(hi <= np.array(bed) - margin + 1e-9)
    for i in range(len(centres)):
        for j in range(i + 1, len(centres)):
            dx, dy = np.abs(centres[i] - centres[j])
            assert dx >= w + gap - 1e-9 or dy >= h + gap - 1e-9


def test_one_copy_sits_at_the_bed_centre() -> None:
    assert np.allclose(arrange((20, 30), 1, (220, 220)), [[110, 110]])


def test_four_copies_make_a_centred_two_by_two_grid() -> None:
    c = arrange((20, 20), 4, (220, 220))
    assert c.shape == (4, 2)
    assert np.allclose(sorted(map(tuple, c)), [(97.5, 97.5), (97.5, 122.5), (122.5, 97.5), (122.5, 122.5)])
    assert np.allclose(c.mean(axis=0), [110, 110])


def test_partial_last_row_is_centred() -> None:
    c = arrange((20, 20), 7, (220, 220))
    assert c.shape == (7, 2)
    assert_valid(c, (20, 20), (220, 220), 5, 5)
    assert np.allclose(c[:, 0].mean(), 110) or np.allclose(np.median(c[:, 0]), 110)
    last_row = c[c[:, 1] == c[:, 1].min()]
    assert np.allclose(last_row[:, 0].mean(), 110)


def test_too_many_copies_are_refused_naming_how_many_fit() -> None:
    with pytest.raises(MeshError, match=r"50 copies of a 60.0 x 31.0 mm part do not fit .* at most 15 fit"):
        arrange((60, 31), 50, (220, 220))
    assert arrange((60, 31), 15, (220, 220)).shape == (15, 2)


def test_part_wider_than_the_usable_bed_fits_zero_copies() -> None:
    with pytest.raises(MeshError, match="at most 0 fit"):
        arrange((215, 10), 1, (220, 220))


@pytest.mark.parametrize("copies", [0, -3])
def test_copies_below_one_are_refused(copies: int) -> None:
    with pytest.raises(MeshError, match="copies must be at least 1"):
        arrange((10, 10), copies, (220, 220))


@settings(max_examples=60, deadline=None)
@given(w=st.floats(1, 150), h=st.floats(1, 150), copies=st.integers(1, 40), gap=st.floats(0, 20),
       margin=st.floats(0, 20))
def test_copies_never_overlap_and_stay_inside_the_margin(w: float, h: float, copies: int, gap: float,
                                                         margin: float) -> None:
    bed = (220.0, 200.0)
    try:
        c = arrange((w, h), copies, bed, gap=gap, margin=margin)
    except MeshError as exc:
        fit = int(str(exc).split("at most ")[1].split()[0])
        assert fit < copies
        if fit:
            assert_valid(arrange((w, h), fit, bed, gap=gap, margin=margin), (w, h), bed, gap, margin)
        return
    assert c.shape == (copies, 2)
    assert_valid(c, (w, h), bed, gap, margin)
    assert np.allclose(c.min(axis=0) + c.max(axis=0), np.array(bed))  # grid is centred
