"""The MEGC 2019 reference networks: parameter counts by hand, PyTorch's layer defaults, round trips."""
import numpy as np
import pytest

from mer_keras.models import build, embedding_model
from mer_keras.models.layers.torch_defaults import TakeChannels, TorchMaxPool2D


def _trainable(model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def test_ststnet_parameters_counted_by_hand():
    # convs 3x3x3 + bias: 3 * (27 + 1), 5 * 28, 8 * 28; BN gamma + beta: 2 * 16; dense 5 * 5 * 16 -> 3 with bias
    by_hand = 3 * 28 + 5 * 28 + 8 * 28 + 2 * 16 + (400 * 3 + 3)
    model = build("ststnet")
    assert _trainable(model) == by_hand == 1683  # the paper's Table V prints 0.00167 M
    wide = 6 * 28 + 10 * 28 + 16 * 28 + 2 * 32 + (5 * 5 * 32 * 3 + 3)  # width 2: filters 6, 10, 16
    assert _trainable(build("ststnet", width=2)) == wide
    assert embedding_model(model).output_shape == (None, 400)


def test_off_apexnet_parameters_counted_by_hand():
    stream = (5 * 5 * 1 * 6 + 6) + (5 * 5 * 6 * 16 + 16)
    dense = (2 * 7 * 7 * 16 * 1024 + 1024) + (1024 * 1024 + 1024) + (1024 * 3 + 3)
    model = build("off_apexnet")
    assert _trainable(model) == 2 * stream + dense == 2_664_475
    assert embedding_model(model).output_shape == (None, 1024)


def test_ststnet_branch_order_and_torch_defaults():
    model = build("ststnet")
    names = [layer.name for layer in model.layers]
    assert names.index("branch1_relu") < names.index("branch1_bn")  # ReLU before BatchNorm, as released
    bn = model.get_layer("branch2_bn")
    assert bn.epsilon == pytest.approx(1e-5) and bn.momentum == pytest.approx(0.9)
    kernel, bias = model.get_layer("branch3_conv").get_weights()
    bound = 1 / np.sqrt(27)  # fan_in 3 x 3 x 3: PyTorch's U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for both
    assert np.abs(kernel).max() <= bound and np.abs(bias).max() <= bound and np.any(bias != 0)
    assert np.abs(kernel).max() > 0.8 * bound  # uniform over the whole range, not Glorot's narrower one


def test_ststnet_sees_the_pixel_values_its_release_fed():
    """u = v = -1 and strain = 0 (the package's flow convention) are the pixel values 0; +1 / 1 are 255."""
    model = build("ststnet")
    to_pixels = model.get_layer("to_pixels")
    x = np.array([[[[-1.0, 1.0, 1.0]]]], "float32")
    np.testing.assert_allclose(np.asarray(to_pixels(x)), [[[[0.0, 255.0, 255.0]]]])


def test_torch_max_pool_pads_with_minus_infinity():
    """k=3, s=3, p=1 on a 30-wide map pools windows starting at -1, 2, ..., 26 (the last column is unused)."""
    x = -np.arange(30 * 30, dtype="float32").reshape(1, 30, 30, 1) - 1.0  # all negative: zero padding would win
    out = np.asarray(TorchMaxPool2D(3, 3, 1)(x))[0, :, :, 0]
    rows = [max(r, 0) for r in range(-1, 27, 3)]  # the largest value of each window: its first valid row / col
    expected = np.array([[x[0, r, c, 0] for c in rows] for r in rows])
    assert out.shape == (10, 10)
    np.testing.assert_array_equal(out, expected)


def test_take_channels_and_round_trip(tmp_path):
    import keras

    assert np.asarray(TakeChannels(1, 2)(np.arange(6, dtype="float32").reshape(1, 1, 2, 3))).tolist() == [[[[1.0], [4.0]]]]
    x = np.random.default_rng(0).uniform(-1, 1, (4, 28, 28, 3)).astype("float32")
    for name in ("ststnet", "off_apexnet"):
        model = build(name)
        model.save(tmp_path / f"{name}.keras")
        again = keras.saving.load_model(tmp_path / f"{name}.keras")
        np.testing.assert_array_equal(model.predict_on_batch(x), again.predict_on_batch(x))


def _lbp_reference(plane: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """4-neighbour LBP codes of a 2-D array written out loop by loop (bits: +dx, -dy, -dx, +dy)."""
    h, w = plane.shape
    codes = np.zeros((h - 2 * dy, w - 2 * dx), int)
    for i in range(dy, h - dy):
        for j in range(dx, w - dx):
            c = plane[i, j]
            bits = [plane[i, j + dx] >= c, plane[i - dy, j] >= c, plane[i, j - dx] >= c, plane[i + dy, j] >= c]
            codes[i - dy, j - dx] = sum(int(b) << k for k, b in enumerate(bits))
    return codes


def test_lbp_top_xy_histograms_against_a_loop_reference():
    from mer_keras.models.layers.lbptop import LBPTOP

    rng = np.random.default_rng(0)
    clip = rng.integers(0, 4, (1, 9, 12, 12, 1)).astype("float32")  # ties on purpose: >= sets the bit
    features = np.asarray(LBPTOP((1, 1, 4), blocks=1)(clip)).reshape(3, 16)  # one block: XY, XT, YT
    xy = np.concatenate([_lbp_reference(clip[0, t, :, :, 0], 1, 1).ravel() for t in range(4, 5)])
    np.testing.assert_allclose(features[0], np.bincount(xy, minlength=16) / len(xy), atol=1e-6)
    xt = np.concatenate([_lbp_reference(clip[0, :, y, :, 0], 4, 1).ravel() for y in range(1, 11)])
    np.testing.assert_allclose(features[1], np.bincount(xt, minlength=16) / len(xt), atol=1e-6)
    assert build("lbp_top").get_layer("embedding").output.shape == (None, 5 * 5 * 3 * 16)
    assert _trainable(build("lbp_top", include_top=False)) == 0
