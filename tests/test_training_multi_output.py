"""Networks with several outputs (paper 001): per-output losses, and the rules that pick an output."""
import dataclasses

import keras
import numpy as np
import pytest

from mer_keras.training.config import load_experiment
from mer_keras.training.fit import train_classifier
from mer_keras.training.stages import SoftmaxHead, TrainSet, train_keeping_best


def _two_outputs(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    return keras.Model(inputs, [keras.layers.Dense(3, activation="softmax", name="out_1")(hidden),
                                keras.layers.Dense(3, activation="softmax", name="out_2")(inputs)])


def _data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.normal(size=(n, 4)).astype("float32")
    x[np.arange(n), y] += 3
    return x, y, np.repeat([f"s{i}" for i in range(6)], n // 6)


def test_every_output_trains_with_its_own_cross_entropy():
    model = _two_outputs()
    x, y, _ = _data()
    before = [w.copy() for w in model.get_weights()]
    history = train_classifier(model, x, y, num_classes=3, epochs=3, batch_size=12)
    assert len(history["loss"]) == 3 and history["loss"][-1] < history["loss"][0]
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))  # both heads moved


def _variant(rule, checkpoint="last"):
    v = load_experiment("jin2024_msresnet3d").variants[0]
    return dataclasses.replace(v, head=dataclasses.replace(v.head, output_rule=rule),
                               finetune=dataclasses.replace(v.finetune, checkpoint=checkpoint, val_fraction=0.34,
                                                         max_shift=0, p_flip=0.0, learning_rate=0.01))


def test_output_rules_mean_inner_validation_and_the_leaky_one():
    model = _two_outputs()
    x, y, groups = _data()
    data = TrainSet(x, y, groups, 3)
    probs = np.stack([np.asarray(p) for p in model.predict_on_batch(x)])

    mean = SoftmaxHead().fit(_variant("mean"), model, data, seed=0)
    _, scores = mean.predict(x)
    np.testing.assert_allclose(scores, probs.mean(0), rtol=1e-5)
    assert _variant("mean").leaky is False

    with pytest.raises(ValueError, match="best_inner_val"):
        SoftmaxHead().fit(_variant("best_inner_val"), model, data, seed=0, history={})
    history = train_keeping_best(model, data, _variant("best_inner_val", "best_inner_val").finetune, seed=0,
                                 kind="image")
    per_output = history["inner_val_uar_per_output"]
    assert len(per_output) == 2 and history["inner_val_subjects"]
    chosen = SoftmaxHead().fit(_variant("best_inner_val"), model, data, seed=0, history=history)
    _, scores = chosen.predict(x)
    np.testing.assert_allclose(scores, np.stack([np.asarray(p) for p in model.predict_on_batch(x)])[
        int(np.argmax(per_output))], rtol=1e-5)

    leaky_variant = _variant("test_loss_leaky")
    assert leaky_variant.leaky is True  # the results say so
    leaky = SoftmaxHead().fit(leaky_variant, model, data, seed=0)
    with pytest.raises(ValueError, match="labels"):
        leaky.predict(x)  # without the held-out labels it cannot run: the leak is in the signature
    pred, _ = leaky.predict(x, held_out_labels=y)
    assert (pred == y).mean() >= (probs.mean(0).argmax(1) == y).mean()
