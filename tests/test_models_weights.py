"""Saving, reloading and transferring weights; the embedding model for the SVM head."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest

from mer_keras.models import build, embedding_model, load_pretrained

SIZE = 64


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((2, SIZE, SIZE, 3), dtype="float32")


def _save_all(name, folder, **kwargs):
    """A 7-class model (e.g. pre-trained on flow or macro-expressions) saved in every format."""
    model = build(name, input_shape=(SIZE, SIZE, 3), classes=7, **kwargs)
    paths = {"keras": str(folder / "m.keras"), "h5": str(folder / "m.h5"), "weights": str(folder / "m.weights.h5")}
    model.save(paths["keras"])  # .keras first: saving .h5 clears the optimizer config (ENVIRONMENT.md)
    model.save(paths["h5"])
    model.save_weights(paths["weights"])
    return name, model, paths, kwargs


# Ghost-ViT: weight-free custom layers + Ghost convs; CBAM: a custom layer with nested sub-layers;
# MobileViT: Keras MultiHeadAttention (nested EinsumDense) + patch layers.
@pytest.fixture(scope="module", params=["shufflenet_v2_ghost_vit", "shufflenet_v2_cbam", "mobilevit_xxs"])
def saved(request, tmp_path_factory):
    kwargs = {"scale": 0.5} if request.param == "shufflenet_v2_cbam" else {}
    return _save_all(request.param, tmp_path_factory.mktemp(request.param), **kwargs)


@pytest.fixture(scope="module")
def ghost_saved(tmp_path_factory):
    return _save_all("shufflenet_v2_ghost_vit", tmp_path_factory.mktemp("ghost"))


@pytest.mark.parametrize("fmt", ["keras", "h5"])
def test_save_load_round_trip_gives_identical_predictions(saved, images, fmt):
    _, model, paths, _ = saved
    reloaded = keras.saving.load_model(paths[fmt])
    np.testing.assert_array_equal(reloaded(images, training=False), model(images, training=False))


def _check_transfer(saved, images, fmt):
    name, source, paths, kwargs = saved
    target = build(name, input_shape=(SIZE, SIZE, 3), classes=3, **kwargs)
    report = load_pretrained(target, paths[fmt])
    weighted = [layer.name for layer in target.layers if layer.weights]
    assert sorted(report.loaded) == sorted(n for n in weighted if n != "predictions")
    assert list(report.skipped) == ["predictions"]
    assert "shape mismatch" in report.skipped["predictions"]
    assert "predictions" in str(report) and f"{len(report.loaded)} layers loaded" in str(report)
    np.testing.assert_allclose(embedding_model(target)(images, training=False),
                               embedding_model(source)(images, training=False), atol=1e-5)


def test_weights_h5_transfer_into_a_3_class_head_loads_the_backbone_and_skips_the_head(saved, images):
    _check_transfer(saved, images, "weights")


@pytest.mark.parametrize("fmt", ["h5", "keras"])
def test_legacy_h5_and_keras_transfer_into_a_3_class_head(ghost_saved, images, fmt):
    _check_transfer(ghost_saved, images, fmt)


def test_transfer_adapts_the_input_convolution_to_grey_input(ghost_saved):
    name, source, paths, _ = ghost_saved
    first_conv = "conv1"
    target = build(name, input_shape=(SIZE, SIZE, 1), classes=3)
    report = load_pretrained(target, paths["weights"])
    assert report.adapted == [first_conv]
    rgb_kernel = source.get_layer(first_conv).get_weights()[0]
    # a grey image g seen as RGB (g, g, g) gives the same response: grey kernel = sum of RGB kernels
    np.testing.assert_allclose(target.get_layer(first_conv).get_weights()[0][:, :, 0], rgb_kernel.sum(axis=2),
                               rtol=1e-5, atol=1e-6)
    strict = build(name, input_shape=(SIZE, SIZE, 1), classes=3)
    report = load_pretrained(strict, paths["h5"], adapt_input_channels=False)
    assert "shape mismatch" in report.skipped[first_conv]


@pytest.mark.parametrize("name", ["resnet50", "mobilenet_v2"])
def test_the_input_convolution_behind_padding_is_adapted_too(name, tmp_path):
    """ResNet50 pads before ``conv1_conv`` (and MobileNetV2 may): flow pre-training on 3 channels must still
    transfer to the 1-channel face (paper 000's Table 2 baselines)."""
    source = build(name, input_shape=(SIZE, SIZE, 3), classes=3)
    source.save_weights(str(tmp_path / "m.weights.h5"))
    target = build(name, input_shape=(SIZE, SIZE, 1), classes=3)
    report = load_pretrained(target, str(tmp_path / "m.weights.h5"))
    assert len(report.adapted) == 1 and not report.skipped
    first = target.get_layer(report.adapted[0])
    np.testing.assert_allclose(first.get_weights()[0][:, :, 0],
                               source.get_layer(first.name).get_weights()[0].sum(axis=2), rtol=1e-5, atol=1e-6)


def test_a_fully_mismatched_model_is_an_error(ghost_saved):
    _, _, paths, _ = ghost_saved
    with pytest.raises(ValueError, match="nothing was loaded"):
        load_pretrained(build("resnet18", input_shape=(SIZE, SIZE, 3)), paths["h5"])


def test_missing_or_foreign_files_are_errors(tmp_path):
    model = build("shufflenet_v2", input_shape=(SIZE, SIZE, 3), scale=0.5)
    with pytest.raises(FileNotFoundError):
        load_pretrained(model, tmp_path / "absent.h5")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(OSError):
        load_pretrained(model, tmp_path / "junk.h5")


def test_builder_weights_argument_loads_the_same_architecture(ghost_saved, images):
    name, model, paths, _ = ghost_saved
    rebuilt = build(name, input_shape=(SIZE, SIZE, 3), classes=7, weights=paths["weights"])
    np.testing.assert_array_equal(rebuilt(images, training=False), model(images, training=False))


def test_embedding_model_outputs_the_pooled_penultimate_features(ghost_saved, images):
    _, model, _, _ = ghost_saved
    embed = embedding_model(model)
    features = np.asarray(embed(images, training=False))
    assert features.shape == (2, model.get_layer("predictions").input.shape[-1])
    kernel, bias = model.get_layer("predictions").get_weights()
    logits = features @ kernel + bias
    np.testing.assert_allclose(keras.ops.softmax(logits), model(images, training=False), rtol=1e-4, atol=1e-6)


def test_embedding_model_of_a_headless_feature_map_adds_pooling():
    headless = build("shufflenet_v2", input_shape=(SIZE, SIZE, 3), scale=0.5, include_top=False)
    assert embedding_model(headless).output_shape == (None, 1024)
