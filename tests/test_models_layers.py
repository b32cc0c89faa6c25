"""The reusable blocks: channel shuffle / split, patch unfold / fold, CBAM, Ghost-ViT, config round trips."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest

from mer_keras.models.layers import (
    CBAM,
    ChannelShuffle,
    ChannelSplit,
    PatchFold,
    PatchUnfold,
    SharedQKVAttention,
    ghost_vit_block,
    mobilevit_block,
)


def test_channel_shuffle_interleaves_the_two_groups():
    x = np.arange(6, dtype="float32").reshape(1, 1, 1, 6)
    out = np.asarray(ChannelShuffle(2)(x)).ravel()
    np.testing.assert_array_equal(out, [0, 3, 1, 4, 2, 5])


def test_channel_shuffle_rejects_indivisible_channels():
    with pytest.raises(ValueError, match="groups"):
        ChannelShuffle(4)(np.zeros((1, 2, 2, 6), "float32"))


def test_channel_split_halves_and_rejects_odd_channels():
    x = np.random.rand(2, 3, 3, 8).astype("float32")
    left, right = ChannelSplit()(x)
    np.testing.assert_array_equal(np.asarray(left), x[..., :4])
    np.testing.assert_array_equal(np.asarray(right), x[..., 4:])
    with pytest.raises(ValueError, match="even"):
        ChannelSplit()(np.zeros((1, 2, 2, 5), "float32"))


def test_unfold_groups_the_same_in_patch_position_and_fold_inverts_it():
    x = np.random.rand(2, 4, 6, 3).astype("float32")
    unfolded = np.asarray(PatchUnfold(2)(x))
    assert unfolded.shape == (2 * 4, 2, 3, 3)
    # batch item 0, in-patch position (0, 1): pixel (2i, 2j+1) of every patch, in grid order
    np.testing.assert_array_equal(unfolded[1], x[0, 0::2, 1::2])
    folded = np.asarray(PatchFold(2, (2, 3))(unfolded))
    np.testing.assert_array_equal(folded, x)


def test_unfold_rejects_sizes_not_divisible_by_the_patch():
    with pytest.raises(ValueError, match="not divisible"):
        PatchUnfold(2)(np.zeros((1, 5, 4, 2), "float32"))


def test_cbam_keeps_shape_changes_values_and_round_trips_its_config():
    x = np.random.rand(2, 6, 6, 16).astype("float32")
    layer = CBAM(ratio=4, name="cbam_t")
    y = np.asarray(layer(x))
    assert y.shape == x.shape
    assert not np.allclose(y, x)
    # two sigmoid gates in (0, 1): attention can only scale each activation down
    assert np.all(np.abs(y) <= np.abs(x) + 1e-6)
    assert [tuple(w.shape) for w in layer.weights] == [(16, 4), (4,), (4, 16), (16,), (7, 7, 2, 1), (1,)]
    clone = CBAM.from_config(layer.get_config())
    clone.build(x.shape)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(clone(x)), y, atol=1e-6)


def test_shared_qkv_attention_is_a_convex_mix_of_the_values():
    v = np.random.rand(2, 3, 3, 8).astype("float32")
    out = np.asarray(SharedQKVAttention(num_heads=2)(v))
    assert out.shape == v.shape
    tokens = v.reshape(2, 9, 8)
    # each output token is a softmax-weighted average of the value tokens: inside their range per channel
    assert np.all(out.reshape(2, 9, 8) <= tokens.max(axis=1, keepdims=True) + 1e-5)
    assert np.all(out.reshape(2, 9, 8) >= tokens.min(axis=1, keepdims=True) - 1e-5)
    assert not np.allclose(out, v)


def test_shared_qkv_attention_is_softmax_of_v_vt_over_root_dk_times_v_per_head():
    v = np.random.default_rng(0).normal(size=(2, 3, 4, 8)).astype("float32")
    out = np.asarray(SharedQKVAttention(num_heads=2)(v)).reshape(2, 12, 2, 4)
    heads = v.reshape(2, 12, 2, 4)
    for h in range(2):
        vh = heads[:, :, h, :]
        scores = vh @ vh.transpose(0, 2, 1) / 2.0  # sqrt(d_k = 4)
        weights = np.exp(scores - scores.max(-1, keepdims=True))
        expected = (weights / weights.sum(-1, keepdims=True)) @ vh
        np.testing.assert_allclose(out[:, :, h, :], expected, rtol=1e-5, atol=1e-5)
    one_token = np.random.default_rng(1).normal(size=(2, 1, 1, 8)).astype("float32")
    np.testing.assert_allclose(np.asarray(SharedQKVAttention(num_heads=2)(one_token)), one_token, rtol=1e-6)


def _block_model(block, shape, **kwargs):
    inputs = keras.Input(shape)
    return keras.Model(inputs, block(inputs, name="blk", **kwargs))


@pytest.mark.parametrize("size", [8, 7])  # 7 is resized to 8 for the 2x2 patches and back
def test_ghost_vit_block_keeps_shape_and_is_not_identity(size):
    model = _block_model(ghost_vit_block, (size, size, 16), dim=8, depth=2, num_heads=2)
    x = np.random.rand(2, size, size, 16).astype("float32")
    y = model.predict_on_batch(x)
    assert y.shape == x.shape
    assert not np.allclose(y, x, atol=1e-3)
    names = {layer.name for layer in model.layers}
    assert {"blk_layer1_v_primary", "blk_layer1_v_cheap", "blk_layer2_out_primary", "blk_fusion"} <= names
    # Q and K reuse V: the layer holds no projection weights of its own
    assert model.get_layer("blk_layer1_attention").weights == []


def test_mobilevit_block_keeps_shape_and_rejects_odd_maps():
    model = _block_model(mobilevit_block, (4, 4, 8), dim=8, depth=1, mlp_dim=16, num_heads=2)
    x = np.random.rand(1, 4, 4, 8).astype("float32")
    assert model.predict_on_batch(x).shape == x.shape
    with pytest.raises(ValueError, match="divisible by 64"):
        _block_model(mobilevit_block, (5, 4, 8), dim=8, depth=1, mlp_dim=16)
