"""Freezing helpers, paper 004's gradual unfreezing, FLOP counting and the ``mer-keras models`` command."""
import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest

from mer_keras.models import (
    GradualUnfreezing,
    backbone_groups,
    build,
    count_flops,
    freeze_backbone,
    unfreeze_schedule,
)


@pytest.fixture()
def small_shufflenet():
    return build("shufflenet_v2", input_shape=(32, 32, 3), scale=0.5, classes=3)


def test_backbone_groups_follow_the_stages_front_to_back(small_shufflenet):
    assert [name for name, _ in backbone_groups(small_shufflenet)] == ["conv1", "stage2", "stage3", "stage4",
                                                                       "conv5"]
    names = [name for name, _ in backbone_groups(build("mobilevit_xxs", input_shape=(64, 64, 3)))]
    assert names == ["stem", "stage1", "stage2", "stage3", "stage4", "stage5", "final"]


def test_freeze_backbone_leaves_only_the_head_trainable(small_shufflenet):
    freeze_backbone(small_shufflenet)
    trainable = [w.path for w in small_shufflenet.trainable_weights]
    assert trainable and all(path.startswith("predictions") for path in trainable)


def test_unfreeze_schedule_unfreezes_back_to_front(small_shufflenet):
    groups = backbone_groups(small_shufflenet)
    assert unfreeze_schedule(small_shufflenet, epoch=0, every=2, start=1) == 0
    assert not small_shufflenet.get_layer("conv5").trainable and small_shufflenet.get_layer("predictions").trainable
    assert unfreeze_schedule(small_shufflenet, epoch=3, every=2, start=1) == 2
    assert small_shufflenet.get_layer("conv5").trainable and small_shufflenet.get_layer("stage4_unit1_left_dw").trainable
    assert not small_shufflenet.get_layer("stage3_unit1_left_dw").trainable
    assert unfreeze_schedule(small_shufflenet, epoch=99, every=2, start=1) == len(groups)
    assert small_shufflenet.get_layer("conv1").trainable
    with pytest.raises(ValueError):
        unfreeze_schedule(small_shufflenet, epoch=0, every=0)


def test_gradual_unfreezing_callback_really_trains_the_unfrozen_groups(small_shufflenet):
    model = small_shufflenet
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x, y = rng.random((8, 32, 32, 3), dtype="float32"), rng.integers(0, 3, 8)
    before = {name: model.get_layer(name).get_weights()[0].copy() for name in ("conv1", "stage4_unit1_left_pw", "conv5")}
    callback = GradualUnfreezing(every=1, start=1)
    model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[callback])
    assert callback.history == [0, 1, 2]  # epoch 0 head only, then conv5, then conv5 + stage4
    changed = {name: not np.array_equal(model.get_layer(name).get_weights()[0], w) for name, w in before.items()}
    assert changed == {"conv1": False, "stage4_unit1_left_pw": True, "conv5": True}


def test_count_flops_matches_the_arithmetic_of_a_single_convolution():
    inputs = keras.Input((4, 4, 2))
    model = keras.Model(inputs, keras.layers.Conv2D(3, 1, use_bias=False)(inputs))
    assert count_flops(model) == 2 * 4 * 4 * 2 * 3  # one multiply and one add per weight and position


def test_models_command_lists_models_with_params_and_flops(capsys):
    from mer_keras.models import commands

    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers())
    args = parser.parse_args(["models", "shufflenet_v2", "--classes", "1000"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "2,278,604" in out and "shufflenet_v2" in out
    flops = float(out.splitlines()[1].split()[3])
    assert 0.25 < flops < 0.35  # ShuffleNetV2 1.0x: 146 M multiply-adds at 224 (Ma et al. 2018)
    with pytest.raises(SystemExit, match="unknown model"):
        args = parser.parse_args(["models", "nope"])
        args.func(args)
