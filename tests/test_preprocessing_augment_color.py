"""Paper 003's augmentation (colour jitter 20-180 %, hue +-0.5, 20 % grayscale, 50 % flip, +-15 degrees)."""
import numpy as np
import pytest

from mer_keras.preprocessing.augment_color import augment_color

OFF = {"jitter": (1.0, 1.0), "hue": 0.0, "p_grayscale": 0.0, "p_flip": 0.0, "max_degrees": 0.0}


def _images(n=4, size=32, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, size=(n, size, size, 3)).astype(np.float32)


def test_shape_dtype_range_and_input_untouched():
    x = _images() * 255
    before = x.copy()
    y = augment_color(x, np.random.default_rng(0), value_range=(0, 255))
    assert y.shape == x.shape and y.dtype == np.float32
    assert y.min() >= 0 and y.max() <= 255
    np.testing.assert_array_equal(x, before)
    gray = augment_color(_images()[..., :1], np.random.default_rng(0))  # one channel: jitter, flip, rotation
    assert gray.shape == (4, 32, 32, 1)


def test_same_seed_same_output_other_seed_other_output():
    x = _images()
    a = augment_color(x, np.random.default_rng(7))
    np.testing.assert_array_equal(a, augment_color(x, np.random.default_rng(7)))
    assert not np.allclose(a, augment_color(x, np.random.default_rng(8)))


def test_everything_off_is_the_identity():
    x = _images()
    np.testing.assert_allclose(augment_color(x, np.random.default_rng(0), **OFF), x, atol=1e-6)


def test_flip_happens_about_half_the_time():
    x = _images(n=200, size=16)
    y = augment_color(x, np.random.default_rng(1), **{**OFF, "p_flip": 0.5})
    flipped = np.array([np.allclose(b, a[:, ::-1], atol=1e-6) for a, b in zip(x, y)])
    kept = np.array([np.allclose(b, a, atol=1e-6) for a, b in zip(x, y)])
    assert np.all(flipped | kept)
    assert 0.38 < flipped.mean() < 0.62


def test_rotation_turns_within_15_degrees():
    x = np.zeros((30, 65, 65, 3), np.float32)
    x[:, 32, 8:57] = 1.0  # a horizontal bar through the centre
    y = augment_color(x, np.random.default_rng(2), **{**OFF, "max_degrees": 15.0})
    angles = []
    for image in y:
        rows, cols = np.nonzero(image[..., 0] > 0.5)
        angles.append(np.degrees(np.arctan(np.polyfit(cols, rows, 1)[0])))
    angles = np.abs(angles)
    assert angles.max() <= 16.0  # nearest-neighbour pixels: within a degree
    assert angles.max() > 8.0 and np.mean(angles > 1.0) > 0.7  # and it does rotate, by varied angles


def test_brightness_spans_20_to_180_percent():
    x = np.full((300, 8, 8, 3), 0.5, np.float32)  # a flat gray image: contrast, saturation, hue do nothing
    y = augment_color(x, np.random.default_rng(3), **{**OFF, "jitter": (0.2, 1.8)})
    levels = y.mean(axis=(1, 2, 3))
    assert levels.min() >= 0.1 - 1e-5 and levels.max() <= 0.9 + 1e-5
    assert levels.min() < 0.15 and levels.max() > 0.85


def test_hue_and_grayscale():
    red = np.zeros((200, 8, 8, 3), np.float32)
    red[..., 0] = 1.0
    hued = augment_color(red, np.random.default_rng(4), **{**OFF, "hue": 0.5})
    dominant = hued.mean(axis=(1, 2)).argmax(axis=1)
    assert set(dominant) == {0, 1, 2}  # hue offsets up to half the circle move red to green and blue
    grayed = augment_color(red, np.random.default_rng(5), **{**OFF, "p_grayscale": 0.2})
    is_gray = np.array([np.allclose(img[..., 0], img[..., 1]) and np.allclose(img[..., 1], img[..., 2])
                        for img in grayed])
    assert 0.12 < is_gray.mean() < 0.28
    np.testing.assert_allclose(grayed[is_gray][..., 0], 0.299, rtol=1e-5)  # ITU-R 601-2 luma of pure red


def test_rejects_a_single_image():
    with pytest.raises(ValueError, match="batch"):
        augment_color(np.zeros((8, 8, 3)), np.random.default_rng(0))
