"""Typed, validated experiment configurations, read from the TOML files shipped with the package.

One frozen dataclass per section (``PreprocessConfig``, ``PretrainConfig``, ``NetworkConfig``,
``FinetuneConfig``, ``HeadConfig``), one per variant and one per experiment. Each field declares its type,
default and allowed values (in the spirit of scikit-learn's parameter constraints); loading a TOML and
applying ``--set`` overrides validate everything before any work starts, and an unknown key, a wrong type
or value, an unknown variant or model raises ``ConfigError`` naming the key, what is allowed and the
nearest known name.

Resolution order: section defaults < ``base`` experiment < the file < its ``[synthme]`` reductions (when the
data is SynthME) < ``--set`` overrides; a variant's section tables override the experiment's.
"""
from __future__ import annotations

import dataclasses
import difflib
import importlib.resources
import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from ..errors import ConfigError
from ..models.registry import MODELS
from ..preprocessing.defaults import (
    APEX,
    COMMON,
    EVM_ORDERS,
    FLOW,
    FLOW_CENTRING,
    FLOW_METHODS,
    FLOW_VECTOR_REPRESENTATIONS,
    FRAME_RULES,
    KEYFRAME_RULES,
    ON_NO_FACE,
    PYRAMIDS,
    REPRESENTATION_NAMES,
    RESIDUAL,
    STACK,
    THIRD_CHANNELS,
)

# ---------------------------------------------------------------------------------------------- constraints


class Constraint:
    """A predicate on a setting's value with a human description of what is allowed."""

    description = "any value"

    def coerce(self, value):
        """``value`` converted to the setting's type (ints accepted for floats), or ``ValueError``."""
        return value


class Options(Constraint):
    def __init__(self, *values, none=False):
        self.values, self.none = values, none
        shown = ", ".join(repr(v) for v in values) + (", or none" if none else "")
        self.description = f"one of {shown}"

    def coerce(self, value):
        if value is None and self.none:
            return None
        if value not in self.values:
            hint = difflib.get_close_matches(str(value), [str(v) for v in self.values], n=1)
            raise ValueError(f"got {value!r}; expected {self.description}"
                             + (f" (did you mean {hint[0]!r}?)" if hint else ""))
        return value


class Number(Constraint):
    def __init__(self, kind, low=None, high=None, *, low_open=False, none=False):
        self.kind, self.low, self.high, self.low_open, self.none = kind, low, high, low_open, none
        name = "an integer" if kind is int else "a number"
        bounds = []
        if low is not None:
            bounds.append(f"{'>' if low_open else '>='} {low}")
        if high is not None:
            bounds.append(f"<= {high}")
        self.description = name + (f" {' and '.join(bounds)}" if bounds else "") + (", or none" if none else "")

    def coerce(self, value):
        if value is None and self.none:
            return None
        ok_types = (int,) if self.kind is int else (int, float)
        if isinstance(value, bool) or not isinstance(value, ok_types):
            raise ValueError(f"got {value!r}; expected {self.description}")  # noqa: TRY004 - one error type for every bad setting
        value = self.kind(value)
        if not math.isfinite(value):  # NaN passes every comparison below: it would train NaN weights
            raise ValueError(f"got {value!r}; expected {self.description} (a finite number)")
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            raise ValueError(f"got {value!r}; expected {self.description}")
        if self.high is not None and value > self.high:
            raise ValueError(f"got {value!r}; expected {self.description}")
        return value


class Flag(Constraint):
    description = "true or false"

    def coerce(self, value):
        if not isinstance(value, bool):
            raise ValueError(f"got {value!r}; expected {self.description}")  # noqa: TRY004 - one error type for every bad setting
        return value


class Text(Constraint):
    def __init__(self, none=False):
        self.none = none
        self.description = "a string" + (", or none" if none else "")

    def coerce(self, value):
        if value is None and self.none:
            return None
        if not isinstance(value, str):
            raise ValueError(f"got {value!r}; expected {self.description}")  # noqa: TRY004 - one error type for every bad setting
        return value


class ListOf(Constraint):
    def __init__(self, item: Constraint, none=False, min_len=0):
        self.item, self.none, self.min_len = item, none, min_len
        self.description = f"a list of {item.description}" + (", or none" if none else "")

    def coerce(self, value):
        if value is None and self.none:
            return None
        if isinstance(value, str):  # "eyes,static" from the command line
            value = [v for v in value.replace(" ", "").split(",") if v]
        if not isinstance(value, (list, tuple)) or len(value) < self.min_len:
            raise ValueError(f"got {value!r}; expected {self.description}"
                             + (f" with at least {self.min_len} item(s)" if self.min_len else ""))
        return tuple(self.item.coerce(v) for v in value)


class Mapping(Constraint):
    def __init__(self, keys: dict | None = None):
        self.keys = keys
        self.description = "a table" + (f" with keys among {sorted(keys)}" if keys else "")

    def coerce(self, value):
        if not isinstance(value, dict):
            raise ValueError(f"got {value!r}; expected {self.description}")  # noqa: TRY004 - one error type for every bad setting
        if self.keys is None:
            bad = [k for k, v in value.items() if isinstance(v, float) and not math.isfinite(v)]
            if bad:
                raise ValueError(f"{bad[0]} = {value[bad[0]]!r}; expected a finite number")
            return dict(value)
        out = {}
        for k, v in value.items():
            if k not in self.keys:
                raise ValueError(f"unknown key {k!r}; expected {self.description}")
            out[k] = self.keys[k].coerce(v)
        return out


def setting(default, constraint: Constraint, doc: str):
    """A dataclass field with its constraint and one-line documentation."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default),
                     metadata={"constraint": constraint, "doc": doc})
    return field(default=default, metadata={"constraint": constraint, "doc": doc})


POSITIVE = Number(float, 0, low_open=True)
PROBABILITY = Number(float, 0.0, 1.0)
REPRESENTATIONS = REPRESENTATION_NAMES  # preprocessing's names, in its table's order
MASKS = Options("eyes", "static")  # of preprocessing.face.MASK_NAMES, the two an experiment may set
OPTIMIZERS = ("adam", "sgd", "adamp")

# ------------------------------------------------------------------------------------------------ sections


@dataclass(frozen=True)
class PreprocessConfig:
    """How clips become arrays (``mer_keras.preprocessing``); shared by every input of the experiment."""

    representation: str = setting("flow", Options(*REPRESENTATIONS), "the fine-tuning input")
    size: int = setting(COMMON["size"], Number(int, 16, 2048), "side of the square input in pixels")
    grayscale: bool = setting(COMMON["grayscale"], Flag(), "one grey channel instead of RGB for image inputs")
    masks: tuple = setting(COMMON["masks"], ListOf(MASKS),
                           "regions set to 0: 'eyes' (eye boxes), 'static' (low motion)")
    margin: float = setting(COMMON["margin"], PROBABILITY, "face crop margin as a fraction of the landmark box")
    on_no_face: str = setting(COMMON["on_no_face"], Options(*ON_NO_FACE),
                              "no face found: stop, reuse the subject's previous clip alignment, or centre crop")
    redetect: bool = setting(COMMON["redetect"], Flag(),
                             "re-detect the face on every frame instead of the onset only")
    flow_method: str = setting(FLOW["flow_method"], Options(*FLOW_METHODS), "optical-flow algorithm")
    flow_size: int | None = setting(FLOW["flow_size"], Number(int, 16, 2048, none=True),
                                    "side at which flow is computed")
    flow_params: dict = setting(FLOW["flow_params"], Mapping(), "parameters of the flow algorithm (OpenCV names)")  # noqa: RUF009 - returns an immutable field()
    third: str = setting(FLOW["third"], Options(*THIRD_CHANNELS), "third flow channel")
    flow_bound: float | None = setting(FLOW["flow_bound"], Number(float, 0, low_open=True, none=True),
                                       "flow clip bound in pixels (default size / 56)")
    strain_bound: float = setting(FLOW["strain_bound"], POSITIVE, "optical-strain clip bound")
    n_frames: int = setting(STACK["n_frames"], Number(int, 2), "frames per stack (stack representations)")
    keyframes: str = setting(STACK["keyframes"], Options(*KEYFRAME_RULES), "key-frame rule for stacks")
    magnify: bool | None = setting(None, Options(True, False, none=True), "EVM on stacks (default per representation)")
    evm_order: str = setting(STACK["evm_order"], Options(*EVM_ORDERS),
                             "with EVM: pick the key frames, then magnify them (paper 001's order), or magnify "
                             "the whole onset..offset clip and pick from it")
    alpha: float = setting(STACK["alpha"], POSITIVE, "EVM amplification")
    low_hz: float | None = setting(STACK["low_hz"], Number(float, 0, none=True), "EVM band low cut-off")
    high_hz: float | None = setting(STACK["high_hz"], Number(float, 0, none=True), "EVM band high cut-off")
    levels: int = setting(STACK["levels"], Number(int, 1, 8), "EVM pyramid levels")
    pyramid: str = setting(STACK["pyramid"], Options(*PYRAMIDS), "EVM pyramid")
    lambda_c: float = setting(STACK["lambda_c"], POSITIVE, "EVM spatial wavelength cut-off")
    flow_centring: str = setting("none", Options(*FLOW_CENTRING),
                                 "subtracted from each flow image's u and v before training and the floors: "
                                 "nothing, or the image's own median (zero motion of per-image min-max images; "
                                 "our choice, no paper's)")
    n_key: int = setting(RESIDUAL["n_key"], Number(int, 2, 64),
                         "key frames of the ARS / RRS residual sums (paper 003's Nkey)")
    frames: str = setting(APEX["frames"], Options(*FRAME_RULES),
                          "fine-tuning samples of a clip (representation 'apex'): its apex frame, or sequence_frames "
                          "aligned, masked frames from onset to apex, each a training sample with the clip's label "
                          "and subject, a held-out clip scored by the mean of its frames' scores (paper 000's "
                          "\"pre-processed image sequences\")")
    sequence_frames: int = setting(APEX["sequence_frames"], Number(int, 2, 256),
                                   "frames = 'sequence': frames evenly spaced from onset to apex, both included "
                                   "(frames repeat when the clip has fewer)")


@dataclass(frozen=True)
class PretrainConfig:
    """The stage before fine-tuning: none, optical-flow pre-training per fold (paper 000) or
    macro-expression pre-training once (paper 004)."""

    kind: str = setting("none", Options("none", "flow", "macro"), "pre-training stage")
    representation: str | None = setting(None, Options(*REPRESENTATIONS, none=True),
                                         "pre-training input (default: the fine-tuning input)")
    masks: tuple | None = setting(None, ListOf(MASKS, none=True), "masks of the pre-training input "
                                  "(default: preprocess.masks)")
    epochs: int = setting(10, Number(int, 0), "training epochs")
    batch_size: int = setting(32, Number(int, 1), "batch size")
    optimizer: str = setting("adam", Options(*OPTIMIZERS), "optimizer")
    learning_rate: float = setting(0.001, POSITIVE, "initial learning rate")
    momentum: float = setting(0.9, PROBABILITY, "SGD momentum")
    balanced: bool = setting(True, Flag(), "class-balanced batches")
    balanced_sampling: str = setting("oversample", Options("oversample", "undersample"),
                                     "how balanced epochs are drawn: every class as often as the largest, minority "
                                     "clips repeated; or as often as the smallest, without repetition, a new random "
                                     "subset each epoch (paper 000's pre-training)")
    checkpoint: str = setting("last", Options("last", "best_inner_val", "last_inner_val"),
                              "weights kept: the last epoch, or the best epoch on a subject-grouped inner "
                              "validation split of the training data; 'last_inner_val' holds that split out "
                              "and keeps the last epoch (for the stage report)")
    val_fraction: float = setting(0.2, Number(float, 0.05, 0.5), "share of subjects in that inner split")
    bn_statistics: str = setting("moving", Options("moving", "recomputed"),
                                 "BatchNorm statistics used in inference: Keras' moving averages, or recomputed "
                                 "over the training data after each evaluated epoch and at the end (precise BN; "
                                 "our option, no paper's)")
    max_shift: int = setting(0, Number(int, 0), "random shift augmentation, pixels")
    p_shift: float = setting(1.0, PROBABILITY, "probability that a sample is shifted (when max_shift > 0)")
    pixel_jitter: str = setting("shift", Options("shift", "intensity"),
                                "what that jitter moves: pixel positions (max_shift px), or grey levels (max_shift of "
                                "255, one offset per image as Keras' channel_shift_range): paper 004's \"pixel "
                                "fine-tuning with probability 0.3 (maximum value 20)\" reads either way")
    p_flip: float = setting(0.0, PROBABILITY, "horizontal-flip augmentation probability")
    transfer: str = setting("backbone", Options("backbone", "all"),
                            "layers handed to fine-tuning: the backbone (fresh head) or every layer")


@dataclass(frozen=True)
class NetworkConfig:
    """Builder arguments of the network (passed when the builder takes them)."""

    activation: str | None = setting(None, Options("relu", "leaky_relu", "swish", none=True),
                                     "activation of the convolutional blocks (none: the builder's own)")
    leaky_slope: float = setting(0.1, PROBABILITY, "negative slope of LeakyReLU")
    dropout: float = setting(0.5, Number(float, 0.0, 0.95), "dropout before the classifier")
    l2: float = setting(0.0, Number(float, 0.0), "L2 factor on convolution and dense kernels")
    bn_momentum: float | None = setting(None, Number(float, 0.0, 0.999, none=True),
                                        "moving-average momentum of every BatchNormalization layer (none: each "
                                        "layer keeps the builder's own, e.g. ReXNet's 0.9; Keras' default is 0.99, "
                                        "PyTorch's is 0.9 in Keras terms)")
    width: float | None = setting(None, Number(float, 0, low_open=True, none=True),
                                  "width multiplier or base channels of builders that take one (none: their own)")
    stage_repeats: tuple[int, ...] | None = setting(None, ListOf(Number(int, 1), none=True, min_len=1),
                                                    "units per stage of builders with a stage table (ShuffleNetV2: "
                                                    "[4, 8, 4]); fewer make a shallow network for a quick smoke "
                                                    "run, not a paper's (none: the builder's own)")
    init_weights: str | None = setting(None, Text(none=True),
                                       "a local weights file (e.g. ImageNet weights) loaded by layer name and shape "
                                       "into the network's initial state; layers it does not match, such as a head "
                                       "for other classes, keep their seeded initialisation (none: train from "
                                       "scratch; nothing is downloaded)")


@dataclass(frozen=True)
class FinetuneConfig:
    """Training on the fold's micro-expression clips."""

    epochs: int = setting(10, Number(int, 0), "training epochs")
    batch_size: int = setting(32, Number(int, 1), "batch size")
    optimizer: str = setting("adam", Options(*OPTIMIZERS), "optimizer")
    learning_rate: float = setting(0.001, POSITIVE, "initial learning rate")
    momentum: float = setting(0.9, PROBABILITY, "SGD momentum")
    label_smoothing: float = setting(0.0, Number(float, 0.0, 0.5), "cross-entropy label smoothing")
    balanced: bool = setting(True, Flag(), "class-balanced batches")
    batch_order: str = setting("shuffled", Options("shuffled", "by_class"),
                               "order of unbalanced batches: reshuffled every epoch, or the clips grouped by "
                               "class in a fixed order (a PyTorch DataLoader without shuffle over class folders, "
                               "as STSTNet's release trains)")
    last_batch: str = setting("fill", Options("fill", "partial"),
                              "a last batch short of batch_size: topped up with random clips (one traced step "
                              "shape) or kept short (PyTorch's DataLoader default)")
    adam_epsilon: float = setting(1e-7, POSITIVE, "Adam's epsilon (Keras' default; PyTorch's is 1e-8)")
    balance: str = setting("none", Options("none", "flip", "random_transforms"),
                           "minority classes grown before training")
    reduce_lr_on_plateau: bool = setting(False, Flag(), "halve the learning rate when the training loss stalls")
    gradual_unfreezing: bool = setting(False, Flag(), "unfreeze backbone stages back to front (paper 004)")
    unfreeze_every: int = setting(1, Number(int, 1), "epochs between two unfreezing steps")
    checkpoint: str = setting("last", Options("last", "best_inner_val", "last_inner_val", "best_test_accuracy"),
                              "weights kept: the last epoch; the best on a subject-grouped inner split of the "
                              "training data (trains on the rest); 'last_inner_val' holds that split out and "
                              "keeps the last epoch (for the stage report); 'best_test_accuracy' looks at the "
                              "held-out subject (LEAKY)")
    val_fraction: float = setting(0.2, Number(float, 0.05, 0.5), "share of subjects in that inner split")
    bn_statistics: str = setting("moving", Options("moving", "recomputed"),
                                 "BatchNorm statistics used in inference: Keras' moving averages, or recomputed "
                                 "over the training data after each evaluated epoch and at the end (precise BN; "
                                 "our option, no paper's)")
    max_shift: int = setting(0, Number(int, 0), "random shift augmentation, pixels")
    p_flip: float = setting(0.0, PROBABILITY, "horizontal-flip augmentation probability")
    ema_momentum: float = setting(0.0, Number(float, 0.0, 0.9999),
                                  "exponential moving average of the weights over the training steps (Keras' "
                                  "optimizer use_ema), kept at the end instead of the last step's weights; 0: off "
                                  "(our option, no paper's)")
    members: int = setting(1, Number(int, 1, 32),
                           "networks fine-tuned per fold from seeds seed + 1000 k, each with its own head; the "
                           "clip's scores are their mean (an ensemble: our recipe, no paper's)")
    color_jitter: bool = setting(False, Flag(), "paper 003's colour jitter, grayscale, flip and rotation")
    grid_search: bool = setting(False, Flag(), "choose grid values inside the training fold (paper 004)")
    grid: dict = setting({}, Mapping({"batch_size": ListOf(Number(int, 1), min_len=1),  # noqa: RUF009 - returns an immutable field()
                                      "learning_rate": ListOf(POSITIVE, min_len=1),
                                      "epochs": ListOf(Number(int, 1), min_len=1)}), "the grid")
    grid_inner_splits: int = setting(3, Number(int, 2), "subject-grouped inner splits of the grid search")


@dataclass(frozen=True)
class HeadConfig:
    """The classifier over the network: its softmax, or an SVM on its pooled features."""

    kind: str = setting("svm", Options("svm", "softmax"), "classifier")
    kernels: tuple = setting(("linear", "rbf"), ListOf(Options("linear", "rbf", "poly", "sigmoid"), min_len=1),
                             "SVM kernels searched")
    C: tuple = setting((0.1, 1.0, 10.0), ListOf(POSITIVE, min_len=1), "SVM C values searched")
    inner_splits: int = setting(3, Number(int, 2), "subject-grouped inner splits of the SVM grid search")
    flip_test: bool = setting(False, Flag(), "a held-out clip's scores are the mean over the clip and its mirror "
                                             "(flow mirrored with u negated; test-time augmentation, our option)")
    output_rule: str = setting("mean", Options("mean", "best_inner_val", "test_loss_leaky"),
                               "networks with several outputs (paper 001): average them, take the one best on "
                               "the inner split (needs finetune.checkpoint = 'best_inner_val'), or per test "
                               "clip the one with the lowest loss on its own label (the paper's rule, LEAKY)")


SECTIONS = {"preprocess": PreprocessConfig, "pretrain": PretrainConfig, "network": NetworkConfig,
            "finetune": FinetuneConfig, "head": HeadConfig}
VARIANT_SECTIONS = ("pretrain", "network", "finetune", "head")
"""Sections a variant may override (the preprocessing is the experiment's, shared by its variants)."""

LEAKY_CHECKPOINTS = {"best_test_accuracy"}
"""Checkpoint rules that look at the held-out subject: offered because papers used them, never default."""


@dataclass(frozen=True)
class VariantConfig:
    """One row of an experiment's table: a model and its stages, resolved."""

    name: str
    model: str
    label: str
    published: str | None
    preprocess: PreprocessConfig
    pretrain: PretrainConfig
    network: NetworkConfig
    finetune: FinetuneConfig
    head: HeadConfig

    @property
    def leaky(self) -> bool:
        return self.finetune.checkpoint in LEAKY_CHECKPOINTS or self.head.output_rule == "test_loss_leaky"

    def pretrain_input(self) -> PreprocessConfig | None:
        """The preprocessing of the flow pre-training input, or None without flow pre-training."""
        if self.pretrain.kind != "flow":
            return None
        changes = {}
        if self.pretrain.representation is not None:
            changes["representation"] = self.pretrain.representation
        if self.pretrain.masks is not None:
            changes["masks"] = self.pretrain.masks
        if changes.get("representation", self.preprocess.representation) != "apex":
            changes["frames"] = "apex"  # the flow is one array per clip, whatever the fine-tuning frames
        return dataclasses.replace(self.preprocess, **changes)

    def to_dict(self) -> dict:
        return to_plain(self)


TEST_FOLD_SELECTION_SUFFIX = "__test_fold_selection"


def with_test_fold_selection(variant: VariantConfig) -> VariantConfig:
    """The variant again with each fold's fine-tuning epoch chosen by the held-out subject's accuracy (the
    ``best_test_accuracy`` checkpoint): the selection most public MER code applies (``if best_acc <= val_acc``),
    run only to show how much it inflates a number (``reproduce --also-leaky``); always marked leaky."""
    return dataclasses.replace(
        variant, name=variant.name + TEST_FOLD_SELECTION_SUFFIX, published=None,
        label=f"{variant.label} [test-fold epoch selection, as commonly reported; LEAKY]",
        finetune=dataclasses.replace(variant.finetune, checkpoint="best_test_accuracy"))


@dataclass(frozen=True)
class SynthMEConfig:
    """The corpus and reductions used when the experiment runs on SynthME on a CPU."""

    subjects: int = setting(12, Number(int, 2), "SynthME subjects")
    clips_per_subject: int = setting(10, Number(int, 1), "clips per subject")
    macro_subjects: int = setting(12, Number(int, 1), "subjects of the macro-expression corpus")
    macro_clips_per_subject: int = setting(6, Number(int, 1), "sequences per macro subject")
    protocol: str = setting("three-class", Options("three-class", "casme2-5class", "casme2-4class-jin2024"),
                            "classes of the SynthME clips (their fine emotions are CASME II's)")


@dataclass(frozen=True)
class ExperimentConfig:
    name: str
    paper: str
    title: str
    protocol: str
    variants: tuple
    source_file: str
    synthme: SynthMEConfig
    synthme_reductions: dict
    deviations: tuple = ()
    deterministic: str = "auto"
    precision: str = "float32"
    threads: int = 1
    baselines: bool = True
    mirrored_floor: bool = False
    macro_protocol: str = "three-class"
    notes: str = ""

    def variant(self, name: str) -> VariantConfig:
        for v in self.variants:
            if v.name == name:
                return v
        raise ConfigError(_unknown("variant", name, [v.name for v in self.variants]))

    def select(self, names=None) -> list[VariantConfig]:
        """The variants to run (all by default); an unknown name is a ``ConfigError``."""
        for name in names or ():
            self.variant(name)
        return [v for v in self.variants if not names or v.name in names]

    def to_dict(self) -> dict:
        return to_plain(self)


TOP_LEVEL = {
    "name": Text(), "paper": Text(), "title": Text(), "protocol": Text(), "base": Text(),
    "deviations": ListOf(Text()), "notes": Text(), "deterministic": Options("auto", "true", "false"),
    "baselines": Flag(),
    "mirrored_floor": Flag(),
    "precision": Options("float32", "mixed_float16", "mixed_bfloat16"),
    "threads": Number(int, 0),
    "macro_protocol": Options("three-class", "liu2022-macro"),
}
RUN_SETTINGS = ("deterministic", "baselines", "mirrored_floor", "precision", "threads")
"""Top-level settings that ``--set`` may change (``--set baselines=false``; ``--set mirrored_floor=true``: a
further floor, the linear SVM trained on the training clips and their mirrors, for a network trained with flips;
``--set precision=mixed_float16``; ``--set threads=4``: TensorFlow intra-op threads per fold; 1, the default,
whatever ``--jobs``, executor or cores, so how a run is scheduled never changes its numbers; more is an
explicit, recorded opt-in (0: every core of a sequential run, the worker's share with ``--jobs``), and a resume
with another count is refused. TensorFlow's CPU kernels split their sums by thread count, so other counts give
other last digits)."""
SYNTHME_TABLE = {f.name for f in fields(SynthMEConfig)} | {"size"} | set(SECTIONS)
VARIANT_KEYS = {"name", "model", "label", "published"} | set(VARIANT_SECTIONS)

# ------------------------------------------------------------------------------------------------- loading


def _unknown(what: str, name, known) -> str:
    hint = difflib.get_close_matches(str(name), list(known), n=1)
    return (f"unknown {what} {name!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
            + f"; known: {', '.join(sorted(known))}")


def to_plain(obj):
    """Dataclasses, tuples and dicts as JSON-ready plain data."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_plain(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    return obj


def with_current_defaults(recorded: dict) -> dict:
    """A variant's configuration as a run recorded it (``results.json``), with each section's settings that this
    version has and the run did not record filled in at their defaults. A setting is added with a default that
    keeps the earlier behaviour (e.g. ``preprocess.flow_centring = "none"``), so an older run reads as made with
    it, and comparing it with a newer run does not stop at a key it could not record."""
    out = dict(recorded)
    for name, cls in SECTIONS.items():
        if isinstance(out.get(name), dict):
            section = dict(out[name])
            for f in fields(cls):
                if f.name not in section:
                    default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
                    section[f.name] = to_plain(default)
            out[name] = section
    return out


def build_section(name: str, values: dict, where: str):
    """``SECTIONS[name]`` from ``values``, every key checked and converted."""
    cls = SECTIONS[name]
    known = {f.name: f for f in fields(cls)}
    if not isinstance(values, dict):
        raise ConfigError(f"{where}{name} must be a table of settings, got {values!r}")
    out = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{where}{name}: " + _unknown("setting", key, known))
        try:
            out[key] = known[key].metadata["constraint"].coerce(value)
        except ValueError as e:
            raise ConfigError(f"{where}{name}.{key}: {e}") from None
    return cls(**out)


def packaged_experiments():
    """The folder of experiment TOMLs: a source checkout's own top-level ``experiments/`` when the package runs
    from one, else the ``mer_keras.experiments`` resources of the installed package. An editable install maps
    ``mer_keras.experiments`` to *its* checkout, so a second checkout put on ``PYTHONPATH`` would otherwise run
    its own code with the other checkout's TOMLs, silently."""
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "setup.py").is_file() and (checkout / "experiments").is_dir():
        return checkout / "experiments"
    return importlib.resources.files("mer_keras.experiments")


def list_experiments() -> list[str]:
    return sorted(p.name[:-5] for p in packaged_experiments().iterdir() if p.name.endswith(".toml"))


def _read(name_or_path: str, chain=()) -> dict:
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.is_file():
        if not path.is_file():
            raise ConfigError(f"experiment file {path} does not exist")
        text, source = path.read_bytes(), str(path)
    else:
        resource = packaged_experiments() / f"{name_or_path}.toml"
        if not resource.is_file():
            raise ConfigError(_unknown("experiment", name_or_path, list_experiments())
                              + " (or give a path to a .toml file)")
        text, source = resource.read_bytes(), f"{name_or_path}.toml (packaged)"
    try:
        raw = tomllib.loads(text.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{source} is not valid TOML: {e}") from None
    if "base" in raw:
        if raw["base"] in chain:
            raise ConfigError(f"{source}: circular base {raw['base']!r}")
        parent = _read(raw["base"], chain + (raw["base"],))
        for key in ("variants", "name", "deviations"):
            parent.pop(key, None)
        raw = merge(parent, raw)
    raw.setdefault("name", path.stem)
    raw["source_file"] = source
    return raw


def merge(base: dict, over: dict) -> dict:
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and k not in ("flow_params", "grid"):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def load_experiment(name_or_path: str, synthme: bool = False, overrides: dict | None = None) -> ExperimentConfig:
    """Resolved and validated experiment; see the module docstring for the order of precedence."""
    raw = _read(name_or_path)
    where = f"{raw['source_file']}: "
    _check_top_level_keys(raw, where)
    overrides = dict(overrides or {})
    reductions = _synthme_reductions(raw, overrides, where)  # takes --set synthme.* out of overrides
    _check_overrides(overrides)
    sections = _experiment_sections(raw, reductions if synthme else {}, overrides, where)
    variants_raw = raw.get("variants") or []
    if not variants_raw:
        raise ConfigError(f"{where}defines no [[variants]]")
    variants = [_variant(v, i, sections, overrides, where) for i, v in enumerate(variants_raw)]
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}variant names repeat: {names}")
    top = _top_level(raw, overrides, where)
    return ExperimentConfig(
        name=top.get("name", raw["name"]), paper=top.get("paper", raw["name"]), title=top.get("title", ""),
        protocol=top.get("protocol", "megc2019"), variants=tuple(variants), source_file=raw["source_file"],
        synthme=_synthme_config(reductions, where), synthme_reductions=reductions if synthme else {},
        deviations=tuple(top.get("deviations", ())), deterministic=top.get("deterministic", "auto"),
        precision=top.get("precision", "float32"), threads=top.get("threads", 1),
        baselines=top.get("baselines", True), mirrored_floor=top.get("mirrored_floor", False),
        macro_protocol=top.get("macro_protocol", "three-class"),
        notes=top.get("notes", ""))


def _check_top_level_keys(raw: dict, where: str) -> None:
    for key in raw:
        if key not in TOP_LEVEL and key not in SECTIONS and key not in ("variants", "synthme", "source_file"):
            raise ConfigError(where + _unknown("top-level key", key, set(TOP_LEVEL) | set(SECTIONS)
                                               | {"variants", "synthme"}))


def _synthme_reductions(raw: dict, overrides: dict, where: str) -> dict:
    """The ``[synthme]`` table with ``--set synthme.*`` on top (popped from ``overrides``), keys checked."""
    reductions = dict(raw.get("synthme", {}))
    for key in reductions:
        if key not in SYNTHME_TABLE:
            raise ConfigError(where + "[synthme]: " + _unknown("key", key, SYNTHME_TABLE))
    if "synthme" in overrides:  # --set synthme.subjects=3
        reductions = merge(reductions, overrides.pop("synthme"))
        for key in reductions:
            if key not in SYNTHME_TABLE:
                raise ConfigError("--set synthme: " + _unknown("key", key, SYNTHME_TABLE))
    return reductions


def _check_overrides(overrides: dict) -> None:
    """``--set`` names a section or run setting, and each section's values are valid on their own."""
    for key in overrides:
        if key not in SECTIONS and key not in RUN_SETTINGS:
            raise ConfigError("--set: " + _unknown("section", key, list(SECTIONS) + ["synthme", *RUN_SETTINGS]))
    for name in SECTIONS:
        if name in overrides:
            build_section(name, overrides[name], "--set ")


def _experiment_sections(raw: dict, reductions: dict, overrides: dict, where: str) -> dict:
    """The experiment-level tables (plain dicts): the TOML's, then the SynthME reductions (``reductions`` is
    empty off SynthME), then ``--set``; each validated."""
    sections = {name: dict(raw.get(name, {})) for name in SECTIONS}
    for name in SECTIONS:
        sections[name] = merge(sections[name], reductions.get(name, {}))
    if "size" in reductions:
        sections["preprocess"]["size"] = reductions["size"]
    for name in SECTIONS:
        sections[name] = merge(sections[name], overrides.get(name, {}))
    for name in SECTIONS:
        build_section(name, sections[name], where)  # validate the experiment-level tables themselves
    return sections


def _variant(v: dict, i: int, sections: dict, overrides: dict, where: str) -> VariantConfig:
    """One ``[[variants]]`` entry over the experiment's tables, with the cross-field checks."""
    vwhere = f"{where}variant {v.get('name', i + 1)!r}: "
    for key in v:
        if key not in VARIANT_KEYS:
            raise ConfigError(vwhere + _unknown("key", key, VARIANT_KEYS))
    if "name" not in v or "model" not in v:
        raise ConfigError(vwhere + "a variant needs a name and a model")
    if v["model"] not in MODELS:
        raise ConfigError(vwhere + _unknown("model", v["model"], MODELS))
    parts = {"preprocess": build_section("preprocess", sections["preprocess"], vwhere)}
    for name in VARIANT_SECTIONS:  # the variant's own table, then --set on top (it applies to all variants)
        values = merge(merge(sections[name], v.get(name, {})), overrides.get(name, {}))
        parts[name] = build_section(name, values, vwhere)
    pre = parts["preprocess"]
    if pre.flow_centring != "none" and pre.representation not in FLOW_VECTOR_REPRESENTATIONS:
        raise ConfigError(vwhere + f"preprocess.flow_centring = {pre.flow_centring!r} centres flow vectors: it takes "
                          f"representation {' or '.join(map(repr, FLOW_VECTOR_REPRESENTATIONS))}, not "
                          f"{pre.representation!r}")
    if pre.frames == "sequence" and pre.representation != "apex":
        raise ConfigError(vwhere + "preprocess.frames = 'sequence' takes the face frames of representation "
                          f"'apex', not {pre.representation!r}")
    if parts["finetune"].gradual_unfreezing and parts["finetune"].ema_momentum:
        raise ConfigError(vwhere + "finetune.ema_momentum averages a fixed set of trainable weights: it cannot "
                          "be combined with finetune.gradual_unfreezing")
    if pre.frames == "sequence" and parts["pretrain"].kind == "macro":
        raise ConfigError(vwhere + "preprocess.frames = 'sequence' (paper 000's fine-tuning on face frames) "
                          "cannot feed macro-expression pre-training, which reads one image per sequence")
    return VariantConfig(name=v["name"], model=v["model"], label=v.get("label", v["name"]),
                         published=v.get("published"), **parts)


def _top_level(raw: dict, overrides: dict, where: str) -> dict:
    """The experiment's top-level values, converted, with ``--set`` run settings on top."""
    top = {}
    for key, constraint in TOP_LEVEL.items():
        if key in raw:
            try:
                top[key] = constraint.coerce(raw[key])
            except ValueError as e:
                raise ConfigError(f"{where}{key}: {e}") from None
    for key in RUN_SETTINGS:
        if key in overrides:
            value = overrides[key]
            try:
                top[key] = TOP_LEVEL[key].coerce(str(value).lower() if key == "deterministic" else value)
            except ValueError as e:
                raise ConfigError(f"--set {key}: {e}") from None
    return top


def _synthme_config(reductions: dict, where: str) -> SynthMEConfig:
    """The SynthME corpus settings of the reductions (the section tables and ``size`` apply elsewhere)."""
    synth_cls = {f.name: f for f in fields(SynthMEConfig)}
    synth = {k: v for k, v in reductions.items() if k in synth_cls}
    try:
        return SynthMEConfig(**{k: synth_cls[k].metadata["constraint"].coerce(v) for k, v in synth.items()})
    except ValueError as e:
        raise ConfigError(f"{where}[synthme]: {e}") from None


def parse_overrides(items) -> dict:
    """``["finetune.epochs=3", "head.kind=softmax"]`` -> nested dict (values parsed as JSON when they can be).

    Names and values are checked when the experiment is loaded (``load_experiment``)."""
    out: dict = {}
    for item in items or ():
        key, sep, raw = item.partition("=")
        if not sep or (("." not in key) and key not in RUN_SETTINGS):
            raise ConfigError(f"--set expects SECTION.KEY=VALUE (e.g. finetune.epochs=3), got {item!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {item!r} conflicts with an earlier --set of {part}")
        node[parts[-1]] = value
    return out


def reference_markdown() -> str:
    """The configuration reference (docs/configuration.md), generated from the typed sections."""
    lines = []
    for name, cls in SECTIONS.items():
        lines += [f"**`[{name}]`**: {cls.__doc__.splitlines()[0]}", "",
                  "| key | default | allowed | meaning |", "| --- | --- | --- | --- |"]
        for f in fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            shown = json.dumps(to_plain(default))
            lines.append(f"| `{f.name}` | `{shown}` | {f.metadata['constraint'].description} | "
                         f"{f.metadata['doc']} |")
        lines.append("")
    return "\n".join(lines)
