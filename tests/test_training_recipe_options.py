"""Our recipe options (issue 21): the weights' moving average (``finetune.ema_momentum``) and the mirrored
second look at each held-out clip (``head.flip_test``)."""
import dataclasses

import keras
import numpy as np
import pytest

from mer_keras.errors import ConfigError, InputError
from mer_keras.preprocessing.augment import hflip
from mer_keras.training.config import load_experiment
from mer_keras.training.fit import train_classifier
from mer_keras.training.fold import FoldData, run_fold
from tests.test_stage_report import _data


def _tiny_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))


@pytest.mark.parametrize("momentum", [0.5, 0.9])
def test_the_kept_weights_are_the_moving_average_of_the_steps(momentum):
    """One batch per epoch, so ``epoch_end`` sees every step's raw weights; the kept weights must be their
    exponential moving average (the first step's weights start it), not the last step's."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 4)).astype("float32"), np.arange(16) % 2
    model = _tiny_model()
    steps = []
    train_classifier(model, x, y, num_classes=2, epochs=4, batch_size=16, learning_rate=0.1, balanced=False,
                     ema_momentum=momentum, epoch_end=lambda e, m: steps.append([w.copy() for w in m.get_weights()]))
    average = steps[0]
    for raw in steps[1:]:
        average = [momentum * a + (1 - momentum) * w for a, w in zip(average, raw)]
    assert not np.allclose(steps[-1][0], average[0])  # the average is not simply the last step
    for kept, expected in zip(model.get_weights(), average):
        np.testing.assert_allclose(kept, expected, rtol=1e-5, atol=1e-6)


def test_without_the_average_the_last_step_is_kept():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 4)).astype("float32"), np.arange(16) % 2
    model = _tiny_model()
    steps = []
    train_classifier(model, x, y, num_classes=2, epochs=3, batch_size=16, learning_rate=0.1, balanced=False,
                     epoch_end=lambda e, m: steps.append([w.copy() for w in m.get_weights()]))
    for kept, last in zip(model.get_weights(), steps[-1]):
        np.testing.assert_array_equal(kept, last)


def _variant(**head):
    v = load_experiment("liong2019_ststnet", overrides={"finetune": {"epochs": 2, "batch_size": 8}}).variants[0]
    return dataclasses.replace(v, head=dataclasses.replace(v.head, kind="softmax", **head))


def test_flip_test_scores_are_the_mean_over_the_clip_and_its_mirror():
    data = _data()
    kind = "flow"  # STSTNet's input is the flow: a mirror negates u
    plain = run_fold(_variant(), data, seed=1)
    mirrored = run_fold(_variant(), FoldData(train=data.train, x_test=hflip(data.x_test, kind)), seed=1)
    both = run_fold(_variant(flip_test=True), data, seed=1)
    assert not np.allclose(plain.scores, mirrored.scores)  # the mirror is a different input to the network
    np.testing.assert_allclose(both.scores, (plain.scores + mirrored.scores) / 2, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(both.y_pred, both.scores.argmax(axis=1))


def test_the_options_are_refused_where_they_cannot_apply():
    with pytest.raises(ConfigError, match="ema_momentum"):
        load_experiment("liong2019_ststnet", overrides={"finetune": {"ema_momentum": 1.0}})
    with pytest.raises(ConfigError, match="gradual_unfreezing"):  # refused when the experiment loads, before work
        load_experiment("liong2019_ststnet", overrides={"finetune": {"epochs": 1, "ema_momentum": 0.9,
                                                                   "gradual_unfreezing": True}})


def test_an_export_refuses_the_mirrored_second_look(tmp_path):
    from mer_keras.training.runner import export_model
    with pytest.raises(InputError, match="flip_test"):
        export_model(_variant(flip_test=True), None, tmp_path, 0, classes=["a", "b", "c"], preprocess=None)


def test_averaged_scores_decide_for_many_classes_and_for_a_two_class_svm():
    """The ensemble, the mirrored second look and the sequence reading all decide through ``fold.decide``: a
    two-class SVM's one decision value per clip (positive: class 1) used to reach ``argmax(axis=1)`` and fail."""
    from mer_keras.training.fold import decide

    np.testing.assert_array_equal(decide(np.array([[0.1, 0.7, 0.2], [2.0, -1.0, 0.0]])), [1, 0])
    np.testing.assert_array_equal(decide(np.array([0.4, -0.3, 0.0])), [1, 0, 0])


def test_flow_centring_is_refused_for_inputs_without_flow_vectors():
    """Median centring moves u and v: an apex face or an ARS image has none, so the experiment is refused as it
    loads; the default leaves the papers' experiments as they were (our merkeras_flow sets it)."""
    assert load_experiment("liong2019_ststnet").variants[0].preprocess.flow_centring == "none"
    assert load_experiment("merkeras_flow").variants[0].preprocess.flow_centring == "median"
    plain = load_experiment("merkeras_flow", overrides={"preprocess": {"flow_centring": "none"}})
    assert plain.variants[0].preprocess.flow_centring == "none"
    with pytest.raises(ConfigError, match="flow_centring.*not 'apex'"):
        load_experiment("liu2022_shufflenet", overrides={"preprocess": {"flow_centring": "median"}})
    with pytest.raises(ConfigError, match="flow_centring"):
        load_experiment("merkeras_flow", overrides={"preprocess": {"flow_centring": "mean"}})
