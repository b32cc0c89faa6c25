"""Paper 001's multi-scale 3D residual network (Jin, He, Li, Yang, Math. Biosci. Eng. 21(4), 2024, §3.2-3.3).

What the text gives, and what we build from it:

- input: 16 optical-flow frames of 134x134 (``input_shape=(16, 134, 134, 2)``, channels last: the
  flow's u, v; 3 channels work the same);
- backbone: five blocks, "the 1st block is a 3x7x7 convolutional layer, and the number of convolutional
  layers in the 2nd to 5th blocks is 6, 8, 12, and 6, respectively, where every 2 convolutional layers
  form a residual structure". That is 3, 4, 6, 3 basic (3x3x3 -> 3x3x3) residual units: the layout of a
  (3D) ResNet-34 (He et al. 2016; Hara et al. 2018), not of the ResNet-50 the paper names (50 would be
  3, 4, 6, 3 *bottleneck* units of three convolutions). We build what the text counts and call it
  ResNet-34 layout;
- a spatio-temporal attention after block 1 (``layers.st_attention``; the paper gives no formula);
- the multi-scale modules RC1, RC2, RC3 after blocks 2, 3, 4 (``layers.multiscale3d``);
- the multi-scale temporal fusion (Eqs. 3.10-3.11): X2..X5 are the outputs of blocks 2-5 (after their RC
  module, i.e. what the next block receives); X5 is output 1; X5 brought to X4's size by a transposed
  convolution and fused with X4 by AFFA (``layers.affa``) is output 2, and so on down to X2: 4 outputs;
- each output: two fully connected layers and a softmax (the "discriminative network" then chooses one
  of the four, see ``choose_output``).

Our choices where the text is silent (arguments where they matter):

- stem 3x7x7 stride (1, 2, 2), BN, ReLU, 3x3x3 max pooling stride 2, and stride 2 in all three axes at
  the first unit of blocks 3-5, projection (1x1x1 conv + BN) shortcuts when the shape changes (Hara et
  al.'s 3D ResNet, shortcut B); channels ``width`` x (1, 2, 4, 8), ``width`` 64 as ResNet;
- ``fusion_path="chain"``: the fusion runs top-down, each fused map is the one brought up to the next
  scale (X5 -> Z4 -> Z3 -> Z2, as a feature pyramid); ``"pairwise"`` fuses up(X5)+X4, up(X4)+X3,
  up(X3)+X2 (the text's "fuses the outputs of the 4th block with the outputs of the 3rd block" read
  literally). The transposed convolution is 3x3x3 stride 2 -> BN -> ReLU, cropped at the far end to
  the target's size when the target is odd;
- the two fully connected layers act on the globally average-pooled map (a flattened 8x34x34x64 map
  would need ~600 M weights): GAP -> Dense(``head_units``, ReLU) -> [Dropout] -> Dense(classes),
  ``head_units`` None = the map's channel count.

At the default size the network has 70.0 M trainable parameters (3 classes); a CPU-sized reduction
(8 frames, 48 px, ``width=8``) builds the same graph with 1.1 M.
"""
from __future__ import annotations

import logging
import os

import keras
import numpy as np
from sklearn import metrics

from .common import regularizer
from .layers.affa import AttentionalFeatureFusion
from .layers.multiscale3d import RC1, RC2, RC3
from .layers.st_attention import SpatioTemporalAttention

log = logging.getLogger(__name__)

BLOCKS = (3, 4, 6, 3)
"""Basic residual units in blocks 2-5: the text's 6, 8, 12, 6 convolutions, two per unit."""
OUTPUT_NAMES = ("out_1", "out_2", "out_3", "out_4")
"""Output 1 = block 5; outputs 2-4 = the fusions at the scales of blocks 4, 3, 2."""
FUSION_PATHS = ("chain", "pairwise")
CHOICE_RULES = ("best_validation", "mean", "test_loss_leaky")


def _conv_bn(x, filters, kernel, strides, name, reg, relu=True):
    x = keras.layers.Conv3D(filters, kernel, strides=strides, padding="same", use_bias=False,
                            kernel_initializer="he_normal", kernel_regularizer=reg, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=1e-5, name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x) if relu else x


def _basic_block(x, filters, strides, name, reg):
    """3D ResNet basic unit: 3x3x3 -> 3x3x3 plus the shortcut (projection when the shape changes).
    Not ``layers.basic_block``: He-normal kernels, plain ReLU and ``_conv_bn`` naming differ from the 2-D one."""
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = _conv_bn(x, filters, 1, strides, f"{name}_0", reg, relu=False)
    y = _conv_bn(x, filters, 3, strides, f"{name}_1", reg)
    y = _conv_bn(y, filters, 3, 1, f"{name}_2", reg, relu=False)
    y = keras.layers.Add(name=f"{name}_add")([shortcut, y])
    return keras.layers.ReLU(name=f"{name}_out")(y)


def _upsample_to(x, target, name, reg):
    """Transposed 3x3x3 convolution, stride 2, to ``target``'s channels, cropped to its (T, H, W)."""
    x = keras.layers.Conv3DTranspose(target.shape[-1], 3, strides=2, padding="same", use_bias=False,
                                     kernel_initializer="he_normal", kernel_regularizer=reg, name=f"{name}_up")(x)
    x = keras.layers.BatchNormalization(epsilon=1e-5, name=f"{name}_up_bn")(x)
    x = keras.layers.ReLU(name=f"{name}_up_relu")(x)
    extra = [int(a) - int(b) for a, b in zip(x.shape[1:4], target.shape[1:4])]
    if any(e < 0 for e in extra):
        raise ValueError(f"{name}: upsampled {x.shape} is smaller than the target {target.shape}")
    if any(extra):
        x = keras.layers.Cropping3D(tuple((0, e) for e in extra), name=f"{name}_crop")(x)
    return x


def _validate(input_shape, include_top, weights, pooling, classes, dropout, width, fusion_path):
    if input_shape is None or len(tuple(input_shape)) != 4 or any(s is None for s in input_shape):
        raise ValueError(f"input_shape must be a static (frames, height, width, channels), got {input_shape}")
    shape = tuple(int(s) for s in input_shape)
    if shape[0] < 1 or min(shape[1:3]) < 16 or shape[3] < 1:
        raise ValueError(f"input_shape {shape}: needs >= 1 frame, height and width >= 16, channels >= 1")
    if weights is not None and not (isinstance(weights, (str, os.PathLike)) and os.path.exists(weights)):
        raise ValueError("weights must be None or the path to an existing weights file; nothing is downloaded. "
                         f"Got {weights!r}")
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"pooling must be None, 'avg' or 'max', got {pooling!r}")
    if include_top and (not isinstance(classes, int) or classes < 1):
        raise ValueError(f"classes must be a positive int when include_top=True, got {classes!r}")
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive int, got {width!r}")
    if fusion_path not in FUSION_PATHS:
        raise ValueError(f"fusion_path must be one of {FUSION_PATHS}, got {fusion_path!r}")
    return shape


def MultiScaleResNet3D(input_shape=(16, 134, 134, 2), include_top=True, weights=None, pooling=None, classes=3,
                       classifier_activation="softmax", width=64, fusion_path="chain", head_units=None,
                       dropout=0.0, l2=0.0, attention=True, multiscale=True, affa_reduction=4, rc_reduction=2,
                       name="msresnet3d"):
    """Paper 001's network (module docstring): a functional model with four outputs ``out_1`` .. ``out_4``.

    ``include_top=False`` returns the four maps (X5, Z4, Z3, Z2), pooled when ``pooling`` is "avg" or
    "max". ``attention`` / ``multiscale`` False drop the spatio-temporal attention / the RC modules
    (the paper's ablation, Fig. 11). ``weights``: a local weights file, loaded after the build.
    """
    shape = _validate(input_shape, include_top, weights, pooling, classes, dropout, width, fusion_path)
    reg = regularizer(l2)
    inputs = keras.Input(shape, name="input")
    x = _conv_bn(inputs, width, (3, 7, 7), (1, 2, 2), "conv1", reg)
    x = keras.layers.MaxPooling3D(3, strides=2, padding="same", name="pool1_pool")(x)
    if attention:
        x = SpatioTemporalAttention(kernel_regularizer=reg, name="st_attention")(x)
    scales = []
    modules = (RC1, RC2, RC3, None)
    for stage, (units, module) in enumerate(zip(BLOCKS, modules), start=2):
        filters = width * 2 ** (stage - 2)
        for unit in range(1, units + 1):
            strides = 2 if unit == 1 and stage > 2 else 1
            x = _basic_block(x, filters, strides, f"conv{stage}_block{unit}", reg)
        if multiscale and module is not None:
            x = module(reduction=rc_reduction, kernel_regularizer=reg, name=f"rc{stage - 1}")(x)
        scales.append(x)  # X2 .. X5
    maps, top = [scales[-1]], scales[-1]
    for k, lateral in zip((4, 3, 2), reversed(scales[:-1])):
        source = top if fusion_path == "chain" else scales[k - 1]
        up = _upsample_to(source, lateral, f"fuse{k}", reg)
        top = AttentionalFeatureFusion(affa_reduction, kernel_regularizer=reg, name=f"fuse{k}_affa")([up, lateral])
        maps.append(top)
    outputs = [_head(m, i, include_top, pooling, classes, classifier_activation, head_units, dropout, reg)
               for i, m in enumerate(maps, start=1)]
    model = keras.Model(inputs, outputs, name=name)
    if weights is not None:
        model.load_weights(os.fspath(weights))
    return model


def _head(x, i, include_top, pooling, classes, classifier_activation, head_units, dropout, reg):
    """Output ``i``: GAP -> Dense(ReLU) -> [Dropout] -> Dense(classes, softmax) named ``out_{i}``."""
    if include_top:
        x = keras.layers.GlobalAveragePooling3D(name=f"head{i}_pool")(x)
        x = keras.layers.Dense(head_units or int(x.shape[-1]), activation="relu", kernel_regularizer=reg,
                               name=f"head{i}_fc1")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"head{i}_dropout")(x)
        return keras.layers.Dense(classes, activation=classifier_activation, kernel_regularizer=reg,
                                  name=f"out_{i}")(x)
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling3D(name=f"head{i}_pool")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling3D(name=f"head{i}_pool")(x)
    return x


def score_outputs(probabilities_per_output, labels, metric="f1_macro"):
    """One score per output on held-out clips of the TRAINING fold (higher is better).

    ``metric``: "f1_macro" (UF1), "accuracy", "balanced_accuracy" (UAR) or "neg_log_loss".
    """
    probs = np.asarray(probabilities_per_output, dtype=np.float64)
    labels = np.asarray(labels)
    if probs.ndim != 3 or probs.shape[1] != len(labels):
        raise ValueError(f"probabilities_per_output must be (outputs, samples, classes) with {len(labels)} samples, "
                         f"got {probs.shape}")
    scorers = {"f1_macro": lambda p: metrics.f1_score(labels, p.argmax(1), average="macro",
                                                      labels=np.arange(p.shape[1]), zero_division=0),
               "accuracy": lambda p: metrics.accuracy_score(labels, p.argmax(1)),
               "balanced_accuracy": lambda p: metrics.balanced_accuracy_score(labels, p.argmax(1)),
               "neg_log_loss": lambda p: -metrics.log_loss(labels, p, labels=np.arange(p.shape[1]))}
    if metric not in scorers:
        raise ValueError(f"metric must be one of {sorted(scorers)}, got {metric!r}")
    return np.array([scorers[metric](p) for p in probs])


def choose_output(probabilities_per_output, rule="best_validation", validation_scores=None, labels=None):
    """The discriminative network of paper 001 (§3.3): one probability vector per clip from the four outputs.

    Args:
        probabilities_per_output: (outputs, samples, classes), e.g. ``np.stack(model.predict(x))``.
        rule: "best_validation" (default): every clip takes the output with the highest
            ``validation_scores`` (one per output, computed with ``score_outputs`` on clips held out
            of the training fold; ties go to the earlier output); "mean": the average of the outputs;
            "test_loss_leaky": paper 001's reading, each clip takes the output whose cross-entropy
            against the clip's own label (``labels``) is lowest. That uses the test label to make the
            prediction (it can only raise accuracy): a leak, offered to reproduce the paper's numbers.
        validation_scores: for "best_validation".
        labels: integer labels of these clips, for "test_loss_leaky" only.

    Returns:
        (probabilities (samples, classes), chosen output index per clip (samples,), -1 for "mean").
    """
    probs = np.asarray(probabilities_per_output, dtype=np.float64)
    if probs.ndim != 3:
        raise ValueError(f"probabilities_per_output must be (outputs, samples, classes), got shape {probs.shape}")
    n_outputs, n_samples, _ = probs.shape
    if rule == "mean":
        return probs.mean(axis=0), np.full(n_samples, -1)
    if rule == "best_validation":
        if validation_scores is None or len(validation_scores) != n_outputs:
            raise ValueError(f"rule 'best_validation' needs validation_scores, one per output ({n_outputs}), "
                             "scored on training data (score_outputs)")
        best = int(np.argmax(np.asarray(validation_scores, dtype=np.float64)))
        return probs[best], np.full(n_samples, best)
    if rule == "test_loss_leaky":
        if labels is None or len(labels) != n_samples:
            raise ValueError(f"rule 'test_loss_leaky' needs the labels of the {n_samples} clips")
        log.warning("choose_output: rule 'test_loss_leaky' picks each test clip's output with its own label "
                    "(paper 001's discriminative network); its scores are optimistic")
        labels = np.asarray(labels, dtype=int)
        loss = -np.log(np.clip(probs[:, np.arange(n_samples), labels], 1e-12, None))  # (outputs, samples)
        chosen = loss.argmin(axis=0)
        return probs[chosen, np.arange(n_samples)], chosen
    raise ValueError(f"rule must be one of {CHOICE_RULES}, got {rule!r}")
