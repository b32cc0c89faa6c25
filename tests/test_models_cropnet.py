"""CropNet (paper 003): CGPO crop boxes and crops, the ReXNet extractor's size, position embeddings (Eq. 8),
shapes, the registry entry, and round trips through keras.saving. Small inputs (64 px: 32 px crops)."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import keras
import numpy as np
import pytest

from mer_keras.models import CropNet, build, count_params
from mer_keras.models.cropnet import rexnet_channels
from mer_keras.models.layers.cgpo import CGPO, CropPositionEmbedding, cgpo_boxes
from mer_keras.models.registry import MODELS

SMALL = {"input_shape": (64, 64, 3), "width": 0.5, "feature_dim": 8, "classes": 5}


def _run(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))  # eager: no tf.function trace per model


def _overlaps(boxes):
    """Overlap (px) of horizontally and vertically adjacent boxes of the 3x3 grid."""
    grid = np.array(boxes[1:]).reshape(3, 3, 4)
    horizontal = grid[:, :-1, 3] - grid[:, 1:, 1]  # right of one minus left of the next
    vertical = grid[:-1, :, 2] - grid[1:, :, 0]
    return np.concatenate([horizontal.ravel(), vertical.ravel()])


def test_cgpo_boxes_at_the_papers_size():
    boxes = cgpo_boxes(320, 160, 0.3)
    assert len(boxes) == 10
    assert boxes[0] == (0, 0, 320, 320)  # z0: the whole image, fed down-sampled to 160
    assert all(b - t == 160 and r - l == 160 for t, l, b, r in boxes[1:])
    assert len(set(boxes[1:])) == 9
    np.testing.assert_array_equal(_overlaps(boxes), 0.3 * 160)  # 48 px between every pair of neighbours
    tops = sorted({b[0] for b in boxes[1:]})
    assert tops == [-32, 80, 192] and sorted({b[1] for b in boxes[1:]}) == tops  # centred: 32 px overhang
    # together the crops cover every pixel of the image
    covered = np.zeros((320, 320), bool)
    for t, l, b, r in boxes[1:]:
        covered[max(t, 0):b, max(l, 0):r] = True
    assert covered.all()


@pytest.mark.parametrize("size, alpha", [(64, 0.3), (96, 0.3), (320, 0.5), (320, 0.1)])
def test_cgpo_boxes_scale_with_the_input(size, alpha):
    crop = size // 2
    boxes = cgpo_boxes(size, crop, alpha)
    assert all(b - t == crop and r - l == crop for t, l, b, r in boxes[1:])
    assert np.all(np.abs(_overlaps(boxes) - alpha * crop) <= 0.5)  # integer pixels: within rounding
    centre = np.mean([[t + b, l + r] for t, l, b, r in boxes[1:]], axis=0) / 2
    assert np.all(np.abs(centre - size / 2) <= 0.5)


def test_cgpo_layer_gives_the_pyramid_level_and_the_boxes():
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, size=(2, 64, 64, 3)).astype("float32")
    crops = keras.ops.convert_to_numpy(CGPO(alpha=0.3)(image))
    assert crops.shape == (2, 10, 32, 32, 3)
    for i in range(2):
        np.testing.assert_allclose(crops[i, 0], cv2.pyrDown(image[i]), rtol=1e-4, atol=1e-3)
        padded = np.pad(image[i], ((16, 16), (16, 16), (0, 0)))
        for k, (t, l, b, r) in enumerate(cgpo_boxes(64, 32, 0.3)[1:], start=1):
            np.testing.assert_array_equal(crops[i, k], padded[t + 16:b + 16, l + 16:r + 16])


def test_rexnet_extractor_matches_the_published_sizes():
    # the official channel rule (ReXNet-1.0x: 16, 27, 38, ... 185)
    assert [c[1] for c in rexnet_channels(1.0)[1]] == [16, 27, 38, 50, 61, 72, 84, 95, 106, 117, 128, 140, 151,
                                                        162, 174, 185]
    # CropNet minus the position embeddings and the classifier is ReXNet with its ImageNet head:
    # published 4.8 M (1.0x) and 7.56 M (1.3x); the default (1.3x) is near the paper's "approximately 7.6M"
    for width, published in ((1.0, 4.80e6), (1.3, 7.56e6)):
        total = count_params(CropNet(width=width, input_shape=(64, 64, 3), classes=5))
        rexnet = total - 9 * 1000 - (10 * 1000 * 5 + 5)
        assert abs(rexnet - published) / published < 0.005, (width, rexnet)
    assert abs(total - 7.6e6) / 7.6e6 < 0.01


def test_position_embeddings_initialisation_and_eq_8():
    keras.utils.set_random_seed(0)
    layer = CropPositionEmbedding(first=1, variance=0.2)
    features = np.zeros((2, 10, 1000), "float32")
    out = keras.ops.convert_to_numpy(layer(features))
    p = keras.ops.convert_to_numpy(layer.embeddings)
    assert p.shape == (9, 1000)  # p1..p9, each the size of z_i
    assert abs(p.mean()) < 0.02 and abs(p.var() - 0.2) < 0.015  # N(0, variance 0.2): std 0.447, not 0.2
    np.testing.assert_array_equal(out[:, 0], 0.0)  # z0 (the whole image) has no embedding
    np.testing.assert_allclose(out[:, 1:], np.broadcast_to(p, (2, 9, 1000)))
    assert len(layer.trainable_weights) == 1
    # in the builder, with its default 1000-dimensional features
    model = CropNet(input_shape=(64, 64, 3), width=0.5, classes=3)
    p = keras.ops.convert_to_numpy(model.get_layer("position_embedding").embeddings)
    assert p.shape == (9, 1000) and abs(p.var() - 0.2) < 0.015


def test_shapes_top_and_no_top():
    x = np.random.default_rng(1).uniform(0, 255, size=(2, 64, 64, 3)).astype("float32")
    model = CropNet(**SMALL)
    y = _run(model, x)
    assert y.shape == (2, 5)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)
    # the ten crops are separate samples of one shared extractor: features and outputs are per image
    y_single = _run(model, x[:1])
    np.testing.assert_allclose(y_single, y[:1], rtol=1e-4, atol=1e-6)
    assert CropNet(**{**SMALL, "include_top": False}).output.shape == (None, 80)  # 10 crops x 8 features
    assert CropNet(**{**SMALL, "include_top": False, "pooling": "avg"}).output.shape == (None, 8)


@pytest.mark.parametrize("shape", [(64, 48, 3), (63, 63, 3)])
def test_rejects_inputs_cgpo_cannot_halve(shape):
    with pytest.raises(ValueError, match="square input with an even side"):
        CropNet(**{**SMALL, "input_shape": shape})


def test_registered_and_built_at_the_papers_size_by_default():
    model = build("cropnet", input_shape=(64, 64, 3), classes=5, width=0.5, feature_dim=8)
    assert model.name == "cropnet" and model.output.shape == (None, 5)
    assert MODELS["cropnet"].input_shape == (320, 320, 3)


def test_round_trip_through_keras_saving(tmp_path):
    keras.utils.set_random_seed(2)
    x = np.random.default_rng(2).uniform(0, 1, size=(2, 64, 64, 3)).astype("float32")
    model = CropNet(**SMALL)
    expected = _run(model, x)
    path = tmp_path / "cropnet.keras"
    model.save(path)
    restored = keras.saving.load_model(path)  # registered layers: no custom_objects needed
    np.testing.assert_allclose(_run(restored, x), expected, rtol=1e-5, atol=1e-6)
    assert restored.get_layer("cgpo").alpha == pytest.approx(0.3)
    # weights= takes a .weights.h5 path, like keras.applications (nothing is downloaded)
    weights = tmp_path / "cropnet.weights.h5"
    model.save_weights(weights)
    keras.utils.set_random_seed(3)
    loaded = CropNet(**SMALL, weights=str(weights))
    np.testing.assert_allclose(_run(loaded, x), expected, rtol=1e-5, atol=1e-6)
