"""Networks in their initial state, with initial weights that depend only on (seed, model, input, classes).

Tracing a Keras training step costs 10-20 s on a 2-core CPU, far more than a SynthME fold, so each
architecture is built and traced once per process and every later request restores weights, dropout seed
state and trainability instead of rebuilding. The initial weights themselves come from a throwaway build
under a seed derived from (seed, model name, input shape, classes, network settings): a variant run alone
and the same variant run after others start from the same weights, bit for bit.

BatchNormalization momentum: each layer keeps its builder's own (ReXNet's and the PyTorch-style blocks' 0.9,
Keras' 0.99 elsewhere) unless the experiment sets ``network.bn_momentum``, which then applies to every layer.
``network.init_weights`` names a local weights file (ImageNet weights, say: nothing is downloaded) loaded by
layer name and shape into the initial state; the layers it does not match keep their seeded initialisation.
"""
from __future__ import annotations

import contextlib
import dataclasses
import inspect
import logging
import os
import zlib
from pathlib import Path

import keras
import tensorflow as tf

from ..errors import ConfigError
from ..models import build, embedding_model, load_pretrained
from ..models.common import HEAD_LAYER_NAMES
from ..models.registry import MODELS
from .config import NetworkConfig, build_section

_ARCHITECTURES: dict = {}   # architecture key -> traced model
_INITIAL: dict = {}         # (architecture key, seed) -> (weights, seed-generator states)
_EMBEDDINGS: dict = {}      # id(model) -> (model, embedding model), see per_model
logger = logging.getLogger("mer_keras")


def configure_determinism(deterministic: bool) -> None:
    """Deterministic TensorFlow kernels (bit-identical reruns on CPU; slower on a GPU)."""
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    else:
        tf.config.experimental.disable_op_determinism()


GRAPH_OPTIMIZER_ENV = "MER_KERAS_GRAPH_OPTIMIZER"
"""``off``: TensorFlow's graph optimiser (grappler) is skipped; ``eager``: no graph is traced at all (see
``graph_optimizer_setting``)."""
GRAPH_OPTIMIZER_SETTINGS = ("on", "off", "eager")


def graph_optimizer_setting() -> str:
    """``MER_KERAS_GRAPH_OPTIMIZER``: ``on`` (the default), ``off`` or ``eager``. Off, a traced function's first
    call skips TensorFlow's graph rewrites, which cost seconds per function for a ShuffleNet-sized graph. Eager,
    nothing is traced: every step runs op by op (Keras' ``run_eagerly``), which on a run of a few steps per
    network (the test suite's tiny runs) saves the tracing, about a third of a tiny ``reproduce``; it is meant
    for debugging and tiny runs and was not measured on long ones. The kernels differ, so the last bits of the
    numbers may too: the setting is recorded with the run."""
    setting = os.environ.get(GRAPH_OPTIMIZER_ENV, "on").strip().lower()
    if setting not in GRAPH_OPTIMIZER_SETTINGS:
        raise ConfigError(f"{GRAPH_OPTIMIZER_ENV} must be 'on', 'off' or 'eager', got {setting!r}")
    return setting


def configure_graph_optimizer(setting: str) -> None:
    """TensorFlow's graph optimiser on or off, or no graph at all, in this process (``graph_optimizer_setting``)."""
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": setting != "on"})
    tf.config.run_functions_eagerly(setting == "eager")


def default_pool_size() -> int:
    """The intra-op pool TensorFlow starts with when nobody sets it: ``TF_NUM_INTRAOP_THREADS``, else a thread per
    usable core."""
    try:
        return int(os.environ.get("TF_NUM_INTRAOP_THREADS", "")) or usable_cores()
    except ValueError:
        return usable_cores()


def configure_threads(threads: int) -> bool:
    """TensorFlow's intra-op pool of this process sized to ``threads`` (0: one per core the process may use,
    TensorFlow's default), inter-op 1. The CPU kernels split their sums by this count, so equal counts give
    bit-identical folds in any executor. False when TensorFlow already runs here with another count (the
    pools are fixed once it starts)."""
    config = tf.config.threading
    wanted = threads or usable_cores()
    current = config.get_intra_op_parallelism_threads()
    if current == wanted:
        return True
    try:
        config.set_intra_op_parallelism_threads(wanted)
        config.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # already running: a default pool (0) has TF_NUM_INTRAOP_THREADS, else one per core
        return current == 0 and wanted == default_pool_size()
    return True


def usable_core_ids() -> list[int]:
    """The cores this process may run on (its affinity where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def usable_cores() -> int:
    return len(usable_core_ids())


def configure_precision(policy: str) -> None:
    """Keras dtype policy of the networks built from now on (``mixed_float16`` / ``mixed_bfloat16``: that
    compute type with float32 variables; Keras wraps the optimizer in a ``LossScaleOptimizer`` for float16).
    Meant for GPUs; on a 2-core CPU with AVX512-BF16, bfloat16 trained 0.85-1.2x as fast as float32 at 224 px
    (two runs) and slower at 64 px (``benchmarks/bench_training.py throughput --precision mixed_bfloat16``)."""
    keras.config.set_dtype_policy(policy)


@contextlib.contextmanager
def dtype_policy(policy: str):
    """``configure_precision(policy)`` for the block, then the previous policy again."""
    previous = keras.config.dtype_policy()
    configure_precision(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def resolve_deterministic(setting: str) -> bool:
    """``"auto"`` means on without a GPU and off with one (deterministic GPU kernels are slow)."""
    if setting == "auto":
        return not tf.config.list_physical_devices("GPU")
    return setting == "true"


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """The process-wide settings a fold's numbers depend on besides its config, seed and data; every executor
    applies them in the process that trains (``threads`` 0: TensorFlow's default for that process)."""

    deterministic: bool = True
    precision: str = "float32"
    threads: int = 1
    graph_optimizer: str = "on"

    @classmethod
    def of(cls, experiment) -> RunSettings:
        """The settings of an ``ExperimentConfig`` (``deterministic = "auto"`` resolved on this machine) and of
        the environment (``MER_KERAS_GRAPH_OPTIMIZER``)."""
        return cls(resolve_deterministic(experiment.deterministic), experiment.precision, experiment.threads,
                   graph_optimizer_setting())

    def as_dict(self) -> dict:
        """The recorded settings; ``graph_optimizer`` only when not on, so runs made before it existed still match."""
        out = dataclasses.asdict(self)
        if out["graph_optimizer"] == "on":
            del out["graph_optimizer"]
        return out

    def apply(self) -> bool:
        """Thread pools, kernels, graph optimiser and dtype policy of this process; False when the thread pools
        could not be set (TensorFlow already running here with others)."""
        threads_set = configure_threads(self.threads)
        configure_determinism(self.deterministic)
        configure_graph_optimizer(self.graph_optimizer)
        configure_precision(self.precision)
        return threads_set


def set_seed(seed: int) -> None:
    """Python, NumPy and TensorFlow seeds (the stages call this before every random step)."""
    keras.utils.set_random_seed(int(seed) % (2**31))


def builder_kwargs(model: str, network: NetworkConfig) -> dict:
    """The network settings the model's builder takes; a non-default setting it does not take is an error, and
    so is an ``init_weights`` file that does not exist (checked here, before any work)."""
    init_weights_path(network)
    params = inspect.signature(MODELS[model].resolve()).parameters
    defaults = NetworkConfig()
    out = {}
    for key in ("activation", "dropout", "l2", "leaky_slope", "width", "stage_repeats"):
        value = getattr(network, key)
        if key in ("activation", "width", "stage_repeats") and value is None:  # the builder's own
            continue
        if key in params:  # a whole-number width is a channel count for builders that take one
            out[key] = int(value) if key == "width" and float(value).is_integer() else value
        elif value != getattr(defaults, key) and not (key == "leaky_slope" and "activation" not in params):
            raise ConfigError(f"network.{key} = {value!r}: the builder of model {model!r} does not take {key!r}")
    return out


def init_weights_path(network: NetworkConfig) -> Path | None:
    """The ``network.init_weights`` file, or None; a name that is not a file is a ``ConfigError``."""
    if network.init_weights is None:
        return None
    path = Path(network.init_weights).expanduser()
    if not path.is_file():
        raise ConfigError(f"network.init_weights = {network.init_weights!r}: no such file (give a local weights file, "
                          "e.g. ImageNet weights saved by Keras; nothing is downloaded)")
    return path.resolve()


def init_seed(seed: int, key) -> int:
    return zlib.crc32(repr((int(seed),) + key).encode()) & 0x7FFFFFFF


_KEYED_BEFORE = {"bn_momentum": 0.99}
"""Network settings whose default changed after initial weights were first keyed on the settings (issue 24):
their new default enters the key as the old value, so experiments that leave them alone start from the same
weights as before."""
_KEYED_LATER = {"init_weights": None, "stage_repeats": None}
"""Settings added later: left at this default they are not part of the key (same reason)."""


def network_key(network: NetworkConfig) -> str:
    """The text of ``network`` that keys its initial weights (``repr`` as the settings stood before issue 24)."""
    parts = []
    for f in dataclasses.fields(network):
        value = getattr(network, f.name)
        if f.name in _KEYED_LATER and value == _KEYED_LATER[f.name]:
            continue
        if f.name in _KEYED_BEFORE and value is None:
            value = _KEYED_BEFORE[f.name]
        parts.append(f"{f.name}={value!r}")
    return f"{type(network).__qualname__}({', '.join(parts)})"


def _seed_variables(model):
    return [sg.state for layer in model._flatten_layers() for sg in getattr(layer, "_seed_generators", [])]


def build_network(model: str, input_shape, num_classes: int, network: NetworkConfig, softmax=True):
    """A newly built registered network (no caching). Its BatchNormalization layers keep the builder's own
    momentum unless ``network.bn_momentum`` is set (the papers trained in PyTorch or Keras 2, whose defaults
    differ); then every layer gets that value."""
    net = build(model, input_shape=tuple(input_shape), classes=int(num_classes), include_top=True,
                classifier_activation="softmax" if softmax else None, **builder_kwargs(model, network))
    if network.bn_momentum is not None:
        for layer in net._flatten_layers():
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = float(network.bn_momentum)
    return net


def load_init_weights(net, network: NetworkConfig) -> str:
    """``network.init_weights`` loaded into ``net`` by layer name and shape (``models.load_pretrained``); the
    load report, or '' without a file."""
    path = init_weights_path(network)
    if path is None:
        return ""
    report = load_pretrained(net, path)
    logger.info("initial weights from %s: %d layers loaded, %d keep their seeded initialisation", path,
                len(report.loaded), len(report.skipped))
    return str(report)


def fresh_model(model: str, input_shape, num_classes: int, network: NetworkConfig, *, seed: int, softmax=True):
    """The network in its initial state for ``seed`` (see the module docstring)."""
    arch = (model, tuple(int(s) for s in input_shape), int(num_classes), network, bool(softmax),
            keras.config.dtype_policy().name)  # the policy is fixed at build time; it leaves the initial weights alone
    if arch not in _ARCHITECTURES:
        _ARCHITECTURES[arch] = build_network(model, input_shape, num_classes, network, softmax)
    net = _ARCHITECTURES[arch]
    if (arch, seed) not in _INITIAL:
        set_seed(init_seed(seed, arch[:3] + (network_key(network), softmax)))
        template = build_network(model, input_shape, num_classes, network, softmax)
        load_init_weights(template, network)
        _INITIAL[(arch, seed)] = ([w.copy() for w in template.get_weights()],
                                  [keras.ops.convert_to_numpy(v).copy() for v in _seed_variables(template)])
        del template
    weights, seed_states = _INITIAL[(arch, seed)]
    if not all(layer.trainable for layer in net.layers):  # left partly frozen by gradual unfreezing
        # layer by layer: a functional model's own ``trainable = True`` leaves its layers as they are (Keras
        # 3.15), so the next fold's flow pre-training trained the head alone (issue 24)
        for layer in net.layers:
            layer.trainable = True
        net.trainable = True
        net.train_function = None  # retrace over all weights
    net.set_weights(weights)
    for variable, value in zip(_seed_variables(net), seed_states):  # dropout draws a new build's masks
        variable.assign(value)
    return net


def per_model(store: dict, model, make):
    """``make(model)``, made once per model object and kept in ``store`` (id -> (model, made)), not as an
    attribute, where Keras would track it as a sub-model. The runner reuses a network's object across folds
    (``fresh_model``), so what is made from it (a traced call, an embedding model) is made once per network;
    the stored model keeps its id from being reused."""
    if id(model) not in store:
        store[id(model)] = (model, make(model))
    return store[id(model)][1]


def embedding_of(model):
    """The pooled-feature model of ``model`` (shares its layers), made once per model."""
    return per_model(_EMBEDDINGS, model, embedding_model)


def head_layer_names(model) -> list[str]:
    """Layers that belong to the classifier, not the backbone (they start fresh after a transfer)."""
    return [layer.name for layer in model.layers if layer.name in HEAD_LAYER_NAMES and layer.weights]


def build_exported(config: dict):
    """The network described by an export's ``config.json`` (model, input shape, classes, network settings). The
    export's own weights are loaded next, so a ``network.init_weights`` file it was trained from is not needed."""
    network = build_section("network", config.get("network", {}), "export config.json: ")
    network = dataclasses.replace(network, init_weights=None)
    return build_network(config["model"], config["input_shape"], len(config["classes"]), network)
