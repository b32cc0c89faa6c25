"""Paper 001: the multi-scale 3D ResNet (depths, shapes at the paper's input, the four outputs, fusion path),
its blocks (spatio-temporal attention, RC1-3, AFFA), save / load, FLOPs of 3-D ops and the output choice."""
import logging
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest
import tensorflow as tf

from mer_keras.models import (
    MODELS,
    MultiScaleResNet3D,
    build,
    choose_output,
    count_flops,
    score_outputs,
)
from mer_keras.models.layers.affa import AttentionalFeatureFusion, ChannelAttentionGate
from mer_keras.models.layers.multiscale3d import RC1, RC2, RC3
from mer_keras.models.layers.st_attention import SpatioTemporalAttention
from mer_keras.models.msresnet3d import OUTPUT_NAMES

TINY = {"input_shape": (4, 32, 32, 2), "width": 4, "classes": 3}


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(0)  # the layers' initial weights


@pytest.fixture(scope="module")
def paper_model():
    return build("msresnet3d")  # (16, 134, 134, 2), width 64, 3 classes: built, never run


@pytest.fixture(scope="module")
def tiny_model():
    keras.utils.set_random_seed(0)
    return MultiScaleResNet3D(**TINY)


@pytest.fixture(scope="module")
def clips():
    return np.random.default_rng(0).normal(size=(2,) + TINY["input_shape"]).astype("float32")


def _features(shape=(2, 4, 6, 6, 8), seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


# --- the network ----------------------------------------------------------------------------------------------

def test_paper_input_gives_four_softmax_outputs_and_the_scales_of_blocks_2_to_5(paper_model):
    assert MODELS["msresnet3d"].input_shape == (16, 134, 134, 2)
    assert paper_model.output_names == list(OUTPUT_NAMES)
    assert [tuple(o.shape) for o in paper_model.outputs] == [(None, 3)] * 4
    shapes = {name: tuple(paper_model.get_layer(name).output.shape[1:]) for name in
              ("st_attention", "rc1", "rc2", "rc3", "conv5_block3_out", "fuse4_affa", "fuse3_affa", "fuse2_affa")}
    assert shapes == {"st_attention": (8, 34, 34, 64), "rc1": (8, 34, 34, 64), "rc2": (4, 17, 17, 128),
                      "rc3": (2, 9, 9, 256), "conv5_block3_out": (1, 5, 5, 512), "fuse4_affa": (2, 9, 9, 256),
                      "fuse3_affa": (4, 17, 17, 128), "fuse2_affa": (8, 34, 34, 64)}
    assert paper_model.get_layer("conv1_conv").kernel.shape[:3] == (3, 7, 7)


def test_blocks_2_to_5_have_the_texts_6_8_12_6_convolutions(paper_model):
    names = [layer.name for layer in paper_model.layers if isinstance(layer, keras.layers.Conv3D)]
    per_stage = [sum(n.startswith(f"conv{s}_block") and n.endswith(("_1_conv", "_2_conv")) for n in names)
                 for s in (2, 3, 4, 5)]
    assert per_stage == [6, 8, 12, 6]
    assert sum(isinstance(layer, keras.layers.Add) for layer in paper_model.layers) == 3 + 4 + 6 + 3


def test_three_channel_input_at_the_paper_size_and_a_forward_pass_at_a_reduced_one(clips, tiny_model):
    rgb = MultiScaleResNet3D(input_shape=(16, 134, 134, 3), width=8, classes=5)
    assert [tuple(o.shape) for o in rgb.outputs] == [(None, 5)] * 4
    assert rgb.get_layer("fuse2_affa").output.shape[1:] == (8, 34, 34, 8)
    probabilities = [np.asarray(p) for p in tiny_model(clips, training=False)]
    assert [p.shape for p in probabilities] == [(2, 3)] * 4
    for p in probabilities:
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)


def test_fusion_path_chain_upsamples_the_previous_fusion_and_pairwise_the_block_output(tiny_model):
    chain = tiny_model  # the default path
    pairwise = MultiScaleResNet3D(**TINY, fusion_path="pairwise")
    assert chain.get_layer("fuse3_up").input is chain.get_layer("fuse4_affa").output
    assert chain.get_layer("fuse2_up").input is chain.get_layer("fuse3_affa").output
    assert pairwise.get_layer("fuse3_up").input is pairwise.get_layer("rc3").output  # X4
    assert pairwise.get_layer("fuse2_up").input is pairwise.get_layer("rc2").output  # X3
    with pytest.raises(ValueError, match="fusion_path"):
        MultiScaleResNet3D(**TINY, fusion_path="sideways")
    with pytest.raises(ValueError, match="input_shape"):
        MultiScaleResNet3D(input_shape=(134, 134, 2))


def test_headless_pooled_features_and_the_ablation_switches():
    bare = MultiScaleResNet3D(**TINY, include_top=False, pooling="avg", attention=False, multiscale=False)
    assert [tuple(o.shape) for o in bare.outputs] == [(None, 32), (None, 16), (None, 8), (None, 4)]  # X5, Z4, Z3, Z2
    assert not [layer.name for layer in bare.layers if isinstance(layer, (SpatioTemporalAttention, RC1, RC2, RC3))]
    assert sum(isinstance(layer, AttentionalFeatureFusion) for layer in bare.layers) == 3


def test_every_weight_learns_from_the_four_cross_entropies(tiny_model, clips):
    labels = np.array([0, 2])
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    with tf.GradientTape() as tape:
        outputs = tiny_model(clips, training=True)
        loss = sum(loss_fn(labels, out) for out in outputs)
    grads = tape.gradient(loss, tiny_model.trainable_weights)
    dead = [w.path for w, g in zip(tiny_model.trainable_weights, grads)
            if g is None or not np.any(np.asarray(g))]
    assert dead == []


def test_save_load_round_trip(tiny_model, clips, tmp_path):
    expected = [np.asarray(p) for p in tiny_model(clips, training=False)]
    path = tmp_path / "msresnet3d.keras"
    tiny_model.save(path)
    restored = keras.saving.load_model(path)
    for a, b in zip(expected, restored(clips, training=False)):
        np.testing.assert_allclose(np.asarray(b), a, rtol=1e-5, atol=1e-6)


def test_count_flops_counts_3d_transposed_convolution_and_pooling():
    inputs = keras.Input((2, 5, 5, 4))
    up = keras.Model(inputs, keras.layers.Conv3DTranspose(3, 3, strides=2, padding="same", use_bias=False)(inputs))
    pool = keras.Model(inputs, keras.layers.MaxPooling3D(3, strides=2, padding="same")(inputs))
    assert count_flops(up) == 2 * (2 * 5 * 5 * 4) * 27 * 3  # every input element through 27 x 3 weights
    assert count_flops(pool) == 27 * (1 * 3 * 3 * 4)


# --- the blocks -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("module, maps", [(RC1, 4), (RC2, 4), (RC3, 8)])
def test_rc_modules_keep_the_shape_change_the_input_and_weigh_their_maps(module, maps):
    x = _features()
    layer = module(name=f"t_{module.__name__.lower()}")
    y = np.asarray(layer(x, training=False))
    assert y.shape == x.shape and not np.allclose(y, x, atol=1e-3)
    assert layer.branch_weights.shape == (maps,)
    # Eq. 3.8 / 3.9: K = sum_i w_i X_i with learned w_i
    weights = np.random.default_rng(1).normal(size=maps).astype("float32")
    layer.branch_weights.assign(weights)
    branch_maps = [np.asarray(m) for m in layer.branch_maps(x, training=False)]
    expected = sum(w * m for w, m in zip(weights, branch_maps))
    np.testing.assert_allclose(np.asarray(layer(x, training=False)), expected, rtol=1e-4, atol=1e-5)
    assert branch_maps[-1].shape == (2, 4, 1, 1, 8)  # the global-average-pooling branch, per frame


def test_rc2_and_rc3_use_the_factorised_kernels():
    x = _features()
    rc2, rc3 = RC2(name="k_rc2"), RC3(name="k_rc3")
    rc2(x), rc3(x)

    def kernels(layer):
        return sorted({tuple(w.shape[:3]) for w in layer.weights if w.name == "kernel"})

    assert {(1, 1, 7), (1, 7, 1), (7, 1, 1)} <= set(kernels(rc2)) and (3, 3, 3) not in kernels(rc2)
    assert set(kernels(rc3)) == {(1, 1, 1), (1, 1, 3), (1, 3, 1), (3, 1, 1)}


def test_affa_fuses_two_maps_as_a_convex_combination_with_two_cams():
    x, y = _features(seed=2), _features(seed=3)
    affa = AttentionalFeatureFusion(name="t_affa")
    z = np.asarray(affa([x, y], training=False))
    assert z.shape == x.shape
    assert not np.allclose(z, x, atol=1e-3) and not np.allclose(z, y, atol=1e-3)
    assert np.all(z >= np.minimum(x, y) - 1e-5) and np.all(z <= np.maximum(x, y) + 1e-5)
    # Eq. 3.11 twice: M1 = CAM1(X + Y), U = M1 X + (1 - M1) Y, M2 = CAM2(U), Z = M2 X + (1 - M2) Y
    cam1, cam2 = affa.gates
    m1 = np.asarray(cam1(x + y, training=False))
    m2 = np.asarray(cam2(m1 * x + (1 - m1) * y, training=False))
    np.testing.assert_allclose(z, m2 * x + (1 - m2) * y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(affa([x, x], training=False)), x, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="same shape"):
        AttentionalFeatureFusion()([x, x[:, :2]])


def test_channel_attention_gate_gives_one_weight_per_channel():
    gate = ChannelAttentionGate(reduction=4, name="t_cam")
    m = np.asarray(gate(_features(), training=False))
    assert m.shape == (2, 1, 1, 1, 8)
    assert np.all((m >= 0) & (m <= 1)) and np.ptp(m[0]) > 1e-4  # a sigmoid (float32 may round to 1)


def test_spatio_temporal_attention_gates_frames_and_positions():
    x = np.abs(_features(seed=4)) + 0.1
    layer = SpatioTemporalAttention(name="t_sta")
    y = np.asarray(layer(x))
    assert y.shape == x.shape and not np.allclose(y, x, atol=1e-3)
    ratio = y / x
    assert np.all((ratio >= 0) & (ratio <= 1))
    np.testing.assert_allclose(ratio, ratio[..., :1].repeat(x.shape[-1], -1), rtol=1e-5)  # same for all channels
    assert np.ptp(ratio[0, :, 0, 0, 0]) > 1e-5 and np.ptp(ratio[0, 0, :, :, 0]) > 1e-5  # varies in time and space


# --- the discriminative network -------------------------------------------------------------------------------

def _probabilities():
    """3 outputs x 4 clips x 2 classes; labels [0, 1, 0, 1]: output 0 always right, output 1 always wrong,
    output 2 right on the first two clips only."""
    right, wrong = [0.9, 0.1], [0.1, 0.9]
    out0 = [right, right[::-1], right, right[::-1]]
    out1 = [wrong, wrong[::-1], wrong, wrong[::-1]]
    out2 = [right, right[::-1], wrong, wrong[::-1]]
    return np.array([out0, out1, out2]), np.array([0, 1, 0, 1])


def test_best_validation_rule_uses_scores_from_training_data_only():
    probs, labels = _probabilities()
    scores = score_outputs(probs, labels, metric="f1_macro")
    np.testing.assert_allclose(scores, [1.0, 0.0, 0.5])
    np.testing.assert_allclose(score_outputs(probs, labels, metric="accuracy"), [1.0, 0.0, 0.5])
    chosen_probs, chosen = choose_output(probs, validation_scores=[0.2, 0.7, 0.7])
    np.testing.assert_array_equal(chosen, [1, 1, 1, 1])  # ties go to the earlier output
    np.testing.assert_allclose(chosen_probs, probs[1])
    with pytest.raises(ValueError, match="validation_scores"):
        choose_output(probs)
    with pytest.raises(ValueError, match="rule"):
        choose_output(probs, rule="oracle")


def test_mean_rule_averages_the_outputs():
    probs, _ = _probabilities()
    mean, chosen = choose_output(probs, rule="mean")
    np.testing.assert_allclose(mean, probs.mean(axis=0))
    np.testing.assert_array_equal(chosen, [-1] * 4)


def test_test_loss_rule_is_flagged_as_a_leak_and_reads_the_test_labels(caplog):
    rng = np.random.default_rng(5)
    probs = rng.dirichlet(np.ones(3), size=(4, 60))  # 4 outputs of noise on 60 clips
    labels = rng.integers(0, 3, size=60)
    with caplog.at_level(logging.WARNING):
        leaky, chosen = choose_output(probs, rule="test_loss_leaky", labels=labels)
    assert "leaky" in caplog.text
    np.testing.assert_allclose(leaky, probs[chosen, np.arange(60)])
    best_single = max((p.argmax(1) == labels).mean() for p in probs)
    assert (leaky.argmax(1) == labels).mean() > best_single + 0.15  # noise scores well once the label picks
    with pytest.raises(ValueError, match="labels"):
        choose_output(probs, rule="test_loss_leaky")
