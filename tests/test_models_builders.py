"""Builders: published parameter counts, output shapes at the papers' sizes, small inputs, clear errors."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from mer_keras.models import (
    MobileViT,
    ResNet18,
    ShuffleNetV2,
    build,
    count_params,
    list_models,
)
from mer_keras.models.shufflenet_v2 import ABLATION_SCALE

CONTRACT_NAMES = ["shufflenet_v2", "shufflenet_v2_cbam", "shufflenet_v2_ghost_vit", "mobilevit_xxs",
                  "mobilevit_xs", "mobilevit_s", "mobilenet_v2", "resnet18", "resnet50", "vit_tiny"]


@pytest.mark.parametrize("scale, expected", [(0.5, 1_366_792), (1.0, 2_278_604), (1.5, 3_503_624)])
def test_shufflenet_v2_matches_torchvision_parameter_counts(scale, expected):
    count = count_params(ShuffleNetV2(scale=scale, classes=1000))
    assert abs(count - expected) / expected < 0.01
    assert count == expected  # bias-free convs + BN, as torchvision: exact


@pytest.mark.parametrize("variant, published", [("xxs", 1.3e6), ("xs", 2.3e6), ("s", 5.6e6)])
def test_mobilevit_matches_published_parameter_counts(variant, published):
    assert abs(count_params(MobileViT(variant, classes=1000)) - published) / published < 0.03


@pytest.mark.parametrize("name, expected, tolerance", [
    ("resnet18", 11_689_512, 0.0),     # torchvision resnet18
    ("mobilenet_v2", 3_504_872, 0.0),  # keras.applications MobileNetV2 trainable weights
    ("vit_tiny", 5_717_416, 0.001),    # DeiT-tiny (ours has no class token: 384 fewer)
])
def test_baselines_parameter_counts(name, expected, tolerance):
    count = count_params(build(name, classes=1000))
    assert abs(count - expected) <= tolerance * expected


@pytest.mark.parametrize("attention", ["cbam", "ghost_vit"])
def test_paper_000_ablation_variants_share_one_width_within_3_percent_of_1_53_million(attention):
    # paper 000's abstract: 1.53 M trainable parameters; both attention variants on the one ablation width
    count = count_params(ShuffleNetV2(input_shape=(64, 64, 3), scale=ABLATION_SCALE, attention=attention, classes=3))
    assert abs(count - 1.53e6) / 1.53e6 < 0.03, count


def test_paper_000_registry_variants_have_the_same_backbone():
    # same width: every weighted layer of the plain model exists, with the same shapes, in both variants
    def shapes(model):
        return {w.path: tuple(w.shape) for w in model.weights}

    plain = shapes(build("shufflenet_v2", input_shape=(64, 64, 3), classes=3))
    for name in ("shufflenet_v2_cbam", "shufflenet_v2_ghost_vit"):
        variant = shapes(build(name, input_shape=(64, 64, 3), classes=3))
        assert {k: variant.get(k) for k in plain} == plain, name
        assert abs(count_params(build(name, input_shape=(64, 64, 3), classes=3)) - 1.53e6) / 1.53e6 < 0.03


@pytest.mark.parametrize("builder, kwargs", [
    (ShuffleNetV2, {"input_shape": (64, 64, 3), "attention": "ghost_vit"}),
    (MobileViT, {"variant": "xxs", "input_shape": (64, 64, 3)}),
    (ResNet18, {"input_shape": (32, 32, 3)}),
])
def test_activation_switch_changes_layer_types_not_names(builder, kwargs):
    base = builder(**kwargs)
    leaky = builder(**kwargs, activation="leaky_relu", leaky_slope=0.1)
    assert [layer.name for layer in leaky.layers] == [layer.name for layer in base.layers]
    changed = [layer for layer in leaky.layers if type(layer).__name__ == "LeakyReLU"]
    assert len(changed) > 10
    assert all(type(base.get_layer(layer.name)).__name__ != "LeakyReLU" for layer in changed)
    assert all(float(layer.negative_slope) == pytest.approx(0.1) for layer in changed)
    leaky.set_weights(base.get_weights())  # same weights, same order: they transfer by name or position


def test_deit_base_is_the_size_paper_000_describes():
    # DeiT-B/16 (timm deit_base_patch16_224: 86,567,656 with 1000 classes) less its class token and that
    # token's position embedding (2 x 768); at 32 px the position table holds 4 tokens instead of 196.
    model = build("deit_base", input_shape=(32, 32, 3), classes=1000)
    assert count_params(model) == 86_567_656 - 2 * 768 - (196 - 4) * 768
    assert model.get_layer("encoder12_attn").num_heads == 12


def test_registry_has_every_contract_name():
    assert set(CONTRACT_NAMES + ["deit_base"]) <= set(list_models())
    with pytest.raises(ValueError, match="unknown model"):
        build("shufflenet_v3")


@pytest.mark.parametrize("name", CONTRACT_NAMES)
def test_each_builder_at_its_paper_input_has_the_contract_top(name):
    model = build(name, classes=3, dropout=0.5)
    assert model.output_shape == (None, 3)
    assert [layer.name for layer in model.layers[-3:]] == ["avg_pool", "top_dropout", "predictions"]


@pytest.mark.parametrize("name", ["shufflenet_v2_ghost_vit", "mobilevit_xxs", "vit_tiny"])
def test_headless_builders_pool_like_the_top(name):
    model = build(name, include_top=False, pooling="avg", input_shape=(64, 64, 3))
    assert model.output_shape == (None, build(name, input_shape=(64, 64, 3)).get_layer("avg_pool").output.shape[-1])
    assert len(build(name, include_top=False, input_shape=(64, 64, 3)).output_shape) == 4


@pytest.mark.parametrize("name", ["shufflenet_v2_cbam", "shufflenet_v2_ghost_vit", "mobilevit_s"])
def test_forward_pass_at_the_paper_size_gives_probabilities(name):
    model = build(name, classes=3)
    shape = model.input_shape[1:]
    probs = np.asarray(model(np.random.rand(1, *shape).astype("float32"), training=False))
    assert probs.shape == (1, 3)
    np.testing.assert_allclose(probs.sum(), 1.0, rtol=1e-5)


@pytest.mark.parametrize("name, size", [("shufflenet_v2_cbam", 96), ("shufflenet_v2_ghost_vit", 112),
                                        ("shufflenet_v2_ghost_vit", 96), ("mobilevit_xxs", 64)])
def test_small_inputs_work(name, size):
    model = build(name, input_shape=(size, size, 2), classes=4)
    assert model(np.zeros((2, size, size, 2), "float32"), training=False).shape == (2, 4)


def test_l2_and_leaky_relu_are_applied():
    model = ShuffleNetV2(input_shape=(64, 64, 3), scale=0.5, l2=0.2, activation="leaky_relu")
    assert model.get_layer("conv1").kernel_regularizer is not None
    assert type(model.get_layer("conv1_act")).__name__ == "LeakyReLU"
    assert len(model.losses) > 50  # one L2 term per convolution / dense kernel
    baseline = build("mobilenet_v2", input_shape=(64, 64, 3), l2=0.2)
    assert len(baseline.losses) > 50


@pytest.mark.parametrize("kwargs, message", [
    ({"input_shape": (96, 96, 3)}, "divisible by 64"),
    ({"variant": "m"}, "variant"),
    ({"input_shape": (256, 256)}, "input_shape"),
    ({"weights": "imagenet"}, "nothing is downloaded"),
    ({"pooling": "sum", "include_top": False}, "pooling"),
    ({"dropout": 1.5}, "dropout"),
])
def test_mobilevit_bad_arguments_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MobileViT(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    ({"scale": 0.75}, "scale"), ({"attention": "se"}, "attention"), ({"activation": "gelu"}, "activation"),
    ({"activation": "swish"}, "activation"),
    ({"attention": "cbam", "attention_position": "stage9"}, "attention_position"), ({"l2": -1.0}, "l2"),
    ({"classes": 0}, "classes"), ({"stage_repeats": (1, 1)}, "stage_repeats"),
    ({"stage_repeats": (1, 0, 1)}, "stage_repeats"),
])
def test_shufflenet_bad_arguments_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ShuffleNetV2(input_shape=(64, 64, 3), **kwargs)


def test_a_shallow_shufflenet_keeps_the_names_of_the_units_it_has():
    """``stage_repeats`` (``network.stage_repeats``, the suite's smoke runs): one unit per stage, named as the
    first unit of each stage of the full network; a builder without a stage table refuses the setting."""
    from mer_keras.errors import ConfigError
    from mer_keras.training.config import NetworkConfig
    from mer_keras.training.networks import build_network

    full = build_network("shufflenet_v2_ghost_vit", (64, 64, 3), 3, NetworkConfig())
    shallow = build_network("shufflenet_v2_ghost_vit", (64, 64, 3), 3, NetworkConfig(stage_repeats=(1, 1, 1)))
    units = {layer.name.split("_")[1] for layer in shallow.layers if layer.name.startswith("stage")}
    assert units == {"unit1"}
    assert {layer.name for layer in shallow.layers} < {layer.name for layer in full.layers}
    assert shallow.count_params() < full.count_params()
    with pytest.raises(ConfigError, match="does not take 'stage_repeats'"):
        build_network("ststnet", (28, 28, 3), 3, NetworkConfig(stage_repeats=(1, 1, 1)))
