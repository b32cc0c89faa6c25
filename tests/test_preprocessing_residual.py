"""ARS / RRS against paper 003's Eqs. 1-7 on hand-made arrays."""
import numpy as np
import pytest

from mer_keras.preprocessing import clip_bounds, key_frame_positions, residual_sum


def test_end_rule_of_eq2():
    assert clip_bounds(3, 8, 40) == (3, 13)  # apex within 10 frames: onset + 10
    assert clip_bounds(3, 8, 9) == (3, 9)  # ... but never past the offset
    assert clip_bounds(0, 25, 40) == (0, 25)  # apex 10 or more frames away: the apex
    assert clip_bounds(0, 10, 40) == (0, 10)


def test_key_frames_of_eq3_eq4():
    assert key_frame_positions(0, 12, 5) == [2, 4, 6, 8, 12]  # gap = ceil(12 / 6) = 2
    assert key_frame_positions(0, 25, 5) == [5, 10, 15, 20, 25]  # gap = ceil(25 / 6) = 5
    assert key_frame_positions(4, 6, 5) == [5, 6, 6, 6, 6]  # short clip: min(., end) repeats
    assert len(key_frame_positions(0, 40, 5)) == 5
    with pytest.raises(ValueError):
        key_frame_positions(5, 2)


def test_ars_is_sum_of_absolute_residuals_mod_256():
    start = np.array([[10, 200]], np.uint8)
    keys = [np.array([[20, 0]], np.uint8), np.array([[0, 255]], np.uint8), np.array([[250, 100]], np.uint8)]
    # pixel 0: 10 + 10 + 240 = 260 -> 4; pixel 1: 200 + 55 + 100 = 355 -> 99
    np.testing.assert_array_equal(residual_sum([start, *keys], "absolute"), [[4, 99]])


def test_rrs_rescales_sum_to_0_255():
    start = np.zeros((1, 1, 3), np.uint8)
    keys = [np.array([[[1, 2, 3]]], np.uint8), np.array([[[1, 4, 5]]], np.uint8)]
    # sums 2, 6, 8 -> (s - 2) / 6 * 255
    np.testing.assert_allclose(residual_sum([start, *keys], "relative"), [[[0, 170, 255]]], rtol=1e-6)
    flat = residual_sum([start, start.copy()], "relative")
    assert (flat == 0).all()


def test_residual_sum_rejects_bad_input():
    with pytest.raises(ValueError, match="mode"):
        residual_sum([np.zeros(2), np.zeros(2)], "squared")
    with pytest.raises(ValueError, match="shape"):
        residual_sum([np.zeros((2, 2)), np.zeros((3, 2))])
    with pytest.raises(ValueError, match="at least one key frame"):
        residual_sum([np.zeros((2, 2))])
