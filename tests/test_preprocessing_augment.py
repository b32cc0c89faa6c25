"""Training-fold augmentations: flips keep flow consistent, shifts move content, balancing fills minorities."""
import numpy as np
import pytest

from mer_keras.preprocessing import (
    balance_by_flipping,
    balance_by_random_transforms,
    hflip,
    random_shift_flip,
    shift,
    vflip,
)


def _flow_batch(n=2, size=8):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, size, size, 3)).astype(np.float32)


def test_hflip_of_flow_negates_u_only():
    x = _flow_batch()
    f = hflip(x, "flow")
    np.testing.assert_array_equal(f[:, :, ::-1, 0], -x[..., 0])
    np.testing.assert_array_equal(f[:, :, ::-1, 1:], x[..., 1:])
    np.testing.assert_array_equal(hflip(f, "flow"), x)
    np.testing.assert_array_equal(hflip(x, "image")[:, :, ::-1], x)
    v = vflip(x, "flow")
    np.testing.assert_array_equal(v[:, ::-1, :, 1], -x[..., 1])


def test_hflip_of_stacks_flips_columns_not_time():
    stack = np.arange(2 * 3 * 4 * 5 * 1, dtype=np.float32).reshape(2, 3, 4, 5, 1)
    np.testing.assert_array_equal(hflip(stack), stack[:, :, :, ::-1])


def test_shift_moves_content_and_zero_fills():
    x = np.zeros((1, 6, 6, 1), np.float32)
    x[0, 2, 2, 0] = 1
    s = shift(x, 1, -2)
    assert s[0, 3, 0, 0] == 1 and s.sum() == 1
    assert shift(x, 0, 9).sum() == 0


def test_random_shift_flip_is_bounded_and_seeded():
    x = np.zeros((20, 40, 40, 1), np.float32)
    x[:, 20, 20] = 1
    a = random_shift_flip(x, np.random.default_rng(3), max_shift=15)
    b = random_shift_flip(x, np.random.default_rng(3), max_shift=15)
    np.testing.assert_array_equal(a, b)
    for sample in a:
        r, c = np.argwhere(sample[..., 0] == 1)[0]
        assert abs(r - 20) <= 15 and min(abs(c - 20), abs(39 - c - 20)) <= 15
    assert len({tuple(np.argwhere(s[..., 0] == 1)[0]) for s in a}) > 5


def test_balance_by_flipping_grows_minorities_with_mirrors():
    x = _flow_batch(7)
    y = np.array([0, 0, 0, 0, 1, 1, 2])
    xb, yb = balance_by_flipping(x, y, np.random.default_rng(0), kind="flow")
    assert np.bincount(yb).tolist() == [4, 4, 2]  # a class can at most double
    np.testing.assert_array_equal(xb[:7], x)
    for extra, label in zip(xb[7:], yb[7:]):
        sources = [hflip(x[i], "flow") for i in np.flatnonzero(y == label)]
        assert any(np.array_equal(extra, s) for s in sources)


def test_balance_by_random_transforms_reaches_majority():
    x = _flow_batch(6)
    y = np.array([0, 0, 0, 0, 1, 2])
    xb, yb = balance_by_random_transforms(x, y, np.random.default_rng(0), max_shift=3)
    assert np.bincount(yb).tolist() == [4, 4, 4]
    assert not any(np.array_equal(xb[i], x[4]) for i in range(6, len(xb)))  # new samples are transformed
    with pytest.raises(ValueError, match="labels"):
        balance_by_flipping(x, y[:3], np.random.default_rng(0))


def test_hflip_of_hsv_flow_picture_matches_the_mirrored_flow():
    from mer_keras.preprocessing import flow_to_hsv

    flow = np.random.default_rng(2).normal(size=(12, 12, 2)).astype(np.float32)
    mirrored = np.ascontiguousarray(flow[:, ::-1] * [-1, 1]).astype(np.float32)
    out = hflip(flow_to_hsv(flow, 2.0)[None], "flow_hsv")
    np.testing.assert_allclose(out[0], flow_to_hsv(mirrored, 2.0), atol=1e-4)
    with pytest.raises(ValueError, match="vertical flip"):
        vflip(out, "flow_hsv")
