"""Paper 002: the LAM layer (branches, arrangement, config) and the ResNet built around it (names shared with
the bare ResNet, placement, parameter overhead, save / load, weight transfer from the bare network)."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest

from mer_keras.models import (
    LAMResNet,
    ResNet18,
    build,
    count_params,
    list_models,
    load_pretrained,
)
from mer_keras.models.freezing import backbone_groups
from mer_keras.models.layers.lam import LAM, eca_kernel_size

SIZE = 32
ALL_BLOCK_LAMS = [f"conv{s}_block{b}_lam" for s in (2, 3, 4, 5) for b in (1, 2)]


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((2, SIZE, SIZE, 3), dtype="float32")


@pytest.fixture(scope="module")
def lam18():
    return build("lam_resnet18", input_shape=(SIZE, SIZE, 3), classes=3)


@pytest.fixture(scope="module")
def bare18():
    return LAMResNet(lam_stages=(), input_shape=(SIZE, SIZE, 3), classes=3)


def _lam_names(model):
    return [layer.name for layer in model.layers if isinstance(layer, LAM)]


# --- the layer ----------------------------------------------------------------------------------------------

def test_lam_keeps_shape_changes_its_input_and_only_scales_it_down():
    x = np.random.default_rng(1).normal(size=(2, 6, 6, 32)).astype("float32")
    y = np.asarray(LAM(name="lam_t")(x))
    assert y.shape == x.shape
    assert not np.allclose(y, x, atol=1e-3)
    assert np.all(np.abs(y) <= np.abs(x) + 1e-6)  # sigmoid gates in (0, 1)


def test_channel_branch_scales_whole_maps_and_spatial_branch_whole_positions():
    # seeded: with 4 hidden ReLU units on positive inputs, some initialisations leave all of them dead (the
    # channel logits are then 0 and every factor 0.5), which would fail the check below for a reason it is not about
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(2).uniform(0.5, 1.5, size=(2, 5, 5, 16)).astype("float32")
    ratio_c = np.asarray(LAM(spatial=None, reduction=4)(x)) / x
    ratio_s = np.asarray(LAM(channel=None)(x)) / x
    # channel attention: one factor per (sample, channel), the same at every position, different across channels
    np.testing.assert_allclose(ratio_c, ratio_c[:, :1, :1, :].repeat(5, 1).repeat(5, 2), rtol=1e-5)
    assert np.ptp(ratio_c[0, 0, 0]) > 1e-4
    # spatial attention: one factor per (sample, position), the same for every channel, different across positions
    np.testing.assert_allclose(ratio_s, ratio_s[..., :1].repeat(16, -1), rtol=1e-5)
    assert np.ptp(ratio_s[0, ..., 0]) > 1e-4


def test_parallel_arrangement_differs_from_sequential_with_the_same_weights():
    x = np.random.default_rng(3).normal(size=(1, 6, 6, 16)).astype("float32")
    sequential, parallel = LAM(reduction=4), LAM(reduction=4, arrangement="parallel")
    sequential.build(x.shape)
    parallel.build(x.shape)
    parallel.set_weights(sequential.get_weights())
    assert not np.allclose(np.asarray(parallel(x)), np.asarray(sequential(x)), atol=1e-5)


def test_eca_branch_uses_the_adaptive_kernel_and_almost_no_parameters():
    assert (eca_kernel_size(64), eca_kernel_size(128), eca_kernel_size(512)) == (3, 5, 5)
    layer = LAM(channel="eca", name="lam_eca")
    layer.build((None, 4, 4, 64))
    assert [tuple(w.shape) for w in layer.weights] == [(3, 1, 1), (7, 7, 2, 1), (1,)]


def test_lam_config_round_trip_reproduces_the_output():
    x = np.random.default_rng(4).normal(size=(2, 4, 4, 8)).astype("float32")
    layer = LAM(channel="eca", channel_kernel_size=5, spatial_kernel_size=3, pooling="avg", arrangement="parallel",
                kernel_regularizer="l2", name="lam_cfg")
    y = np.asarray(layer(x))
    clone = LAM.from_config(layer.get_config())
    clone.build(x.shape)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(clone(x)), y, atol=1e-6)
    assert clone.get_config()["arrangement"] == "parallel" and clone.kernel_regularizer is not None


@pytest.mark.parametrize("kwargs, message", [
    ({"channel": None, "spatial": None}, "at least one branch"),
    ({"channel": "se"}, "channel must be"),
    ({"arrangement": "mixed"}, "arrangement must be"),
    ({"channel": "eca", "channel_kernel_size": 4}, "odd"),
])
def test_lam_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LAM(**kwargs)


# --- the network --------------------------------------------------------------------------------------------

def test_bare_lam_resnet_is_resnet18_and_resnet34_has_torchvision_size(images):
    bare = LAMResNet(lam_stages=(), input_shape=(SIZE, SIZE, 3), classes=1000)
    reference = ResNet18(input_shape=(SIZE, SIZE, 3), classes=1000)
    assert [layer.name for layer in bare.layers] == [layer.name for layer in reference.layers]
    assert count_params(bare) == 11_689_512  # torchvision resnet18
    bare.set_weights(reference.get_weights())
    np.testing.assert_allclose(bare(images, training=False), reference(images, training=False), atol=1e-6)
    assert count_params(LAMResNet(depth=34, lam_stages=(), input_shape=(SIZE, SIZE, 3), classes=1000)) == 21_797_672


def test_shapes_and_lam_placement_of_the_registered_models(lam18):
    assert {"lam_resnet18", "lam_resnet18_stage4", "lam_resnet34"} <= set(list_models())
    assert lam18.output_shape == (None, 3)
    assert _lam_names(lam18) == ALL_BLOCK_LAMS
    # default position: on the residual branch, between the second BN and the addition
    assert lam18.get_layer("conv3_block1_lam").input is lam18.get_layer("conv3_block1_2_bn").output
    assert lam18.get_layer("conv3_block1_add").input[1] is lam18.get_layer("conv3_block1_lam").output
    one_scale = build("lam_resnet18_stage4", input_shape=(SIZE, SIZE, 1), classes=5, include_top=False,
                      pooling="avg")
    assert _lam_names(one_scale) == ["conv5_block1_lam", "conv5_block2_lam"]
    assert one_scale.output_shape == (None, 512)
    headless = LAMResNet(depth=34, lam_stages=(2,), lam_blocks="last", input_shape=(64, 64, 3), include_top=False)
    assert _lam_names(headless) == ["conv3_block4_lam"]
    assert headless.output_shape == (None, 2, 2, 512)


def test_output_position_puts_lam_after_the_block_output():
    model = LAMResNet(lam_stages=(1,), lam_position="output", input_shape=(SIZE, SIZE, 3), classes=3)
    lam = model.get_layer("conv2_block1_lam")
    assert lam.input is model.get_layer("conv2_block1_out").output
    assert model.get_layer("conv2_block2_1_conv").input is lam.output


def test_lam_parameter_overhead_over_the_bare_resnet18_is_below_one_percent(lam18, bare18):
    bare, overhead = count_params(bare18), count_params(lam18) - count_params(bare18)
    # per block with C channels: MLP C -> C/16 -> C with biases, and a 7x7 convolution of 2 maps with a bias
    expected = sum(2 * c * (c // 16) + c // 16 + c + 2 * 49 + 1 for c in (64, 64, 128, 128, 256, 256, 512, 512))
    print(f"\nLAM overhead over ResNet18 (3 classes): {overhead:,} parameters = {100 * overhead / bare:.2f} % "
          f"of {bare:,}")
    assert overhead == expected == 89_872
    assert overhead / bare < 0.01
    eca = LAMResNet(lam_channel="eca", input_shape=(SIZE, SIZE, 3), classes=3)
    assert 0 < count_params(eca) - bare < 1e-4 * bare


def test_l2_reaches_the_lam_kernels_and_unfreezing_groups_lam_with_its_stage(lam18):
    regularised = LAMResNet(lam_stages=(4,), l2=1e-4, input_shape=(SIZE, SIZE, 3), classes=3)
    bare = LAMResNet(lam_stages=(), l2=1e-4, input_shape=(SIZE, SIZE, 3), classes=3)
    assert len(regularised.losses) == len(bare.losses) + 2 * 3  # two LAMs: MLP hidden, MLP out, spatial conv
    groups = dict(backbone_groups(lam18))
    assert {layer.name for layer in groups["conv2"]} >= {"conv2_block1_lam", "conv2_block2_lam"}


def test_keras_save_load_round_trip(lam18, images, tmp_path):
    for path in (tmp_path / "lam.keras", tmp_path / "lam.h5"):
        lam18.save(path)
        reloaded = keras.saving.load_model(path)
        assert _lam_names(reloaded) == ALL_BLOCK_LAMS
        np.testing.assert_array_equal(reloaded(images, training=False), lam18(images, training=False))


def test_bare_resnet18_weights_load_into_the_lam_model_by_name(lam18, tmp_path):
    source = build("resnet18", input_shape=(SIZE, SIZE, 3), classes=7)  # e.g. pre-trained on macro-expressions
    path = tmp_path / "resnet18.weights.h5"
    source.save_weights(path)
    target = keras.models.clone_model(lam18)
    report = load_pretrained(target, path)
    shared = [layer.name for layer in source.layers if layer.weights and layer.name != "predictions"]
    assert sorted(report.loaded) == sorted(shared)
    assert sorted(report.skipped) == sorted(ALL_BLOCK_LAMS + ["predictions"])
    assert all(report.skipped[name] == "not in file" for name in ALL_BLOCK_LAMS)
    for name in shared:
        for got, want in zip(target.get_layer(name).get_weights(), source.get_layer(name).get_weights()):
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("kwargs, message", [
    ({"depth": 50}, "depth must be"),
    ({"lam_stages": (0, 2)}, "lam_stages"),
    ({"lam_stages": (4, 4)}, "lam_stages"),
    ({"lam_position": "shortcut"}, "lam_position"),
    ({"lam_blocks": "first"}, "lam_blocks"),
    ({"lam_channel": None, "lam_spatial": None}, "at least one branch"),
])
def test_builder_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LAMResNet(input_shape=(SIZE, SIZE, 3), **kwargs)
