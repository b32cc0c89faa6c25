"""Every value an experiment TOML sets that is not its paper's is named in its `deviations` (issue 24).

``PAPER_SAYS`` holds, per experiment, the values its paper states (section.key -> value, as the TOML writes
them). A key the TOML sets whose value is not in this table (the paper is silent, or says otherwise) must be
named, as ``section.key``, in one of the experiment's deviations or in the comment block at the top of the file.
Only the experiment-level settings are checked (not ``[synthme]`` reductions or the ablation variants' own).
"""
import re
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
NOT_SETTINGS = {"name", "paper", "title", "deviations", "base", "notes", "variants", "synthme"}

PAPER_SAYS = {
    # paper 000, Liu, Li, Yi et al. 2022: MEGC 2019 composite, 224 px grayscale face with eye and low-motion masks;
    # TV-L1 onset->apex flow pre-training, classes undersampled ("the same number of samples from each category
    # ... without repetition"), lr 0.001, the down-sampled layers transferred; Adam 0.001 with the learning rate
    # "dynamically adjusted"; dropout 0.5; flips of positive / surprise; SVM head
    "liu2022_shufflenet": {
        "protocol": "megc2019",
        "preprocess.size": 224, "preprocess.grayscale": True, "preprocess.masks": ["eyes", "static"],
        "preprocess.flow_method": "tvl1",
        "pretrain.kind": "flow", "pretrain.representation": "flow", "pretrain.optimizer": "adam",
        "pretrain.learning_rate": 0.001, "pretrain.balanced": True, "pretrain.balanced_sampling": "undersample",
        "pretrain.transfer": "backbone",
        "network.dropout": 0.5,
        "finetune.optimizer": "adam", "finetune.learning_rate": 0.001, "finetune.reduce_lr_on_plateau": True,
        "finetune.balance": "flip",
        "head.kind": "svm",
    },
    # paper 001, Jin et al. 2024 (Sec. 3-4): CASME II in 4 classes, slice key frames, then EVM, then TV-L1 flow
    # stacks of 16 frames at 134x134, trained from scratch, Adam 1e-5 for 100 epochs, 15 px shifts, softmax outputs
    "jin2024_msresnet3d": {
        "protocol": "casme2-4class-jin2024",
        "preprocess.representation": "flow_stack", "preprocess.size": 134, "preprocess.n_frames": 16,
        "preprocess.keyframes": "slices", "preprocess.magnify": True, "preprocess.evm_order": "keyframes_first",
        "preprocess.flow_method": "tvl1",
        "pretrain.kind": "none",
        "finetune.epochs": 100, "finetune.optimizer": "adam", "finetune.learning_rate": 0.00001,
        "finetune.max_shift": 15,
        "head.kind": "softmax",
    },
    # paper 002, Hao et al. 2024: only the abstract: a ResNet with LAM and facial-expression transfer
    "hao2024_lam": {
        "pretrain.kind": "macro",
    },
    # paper 003, Zhao et al. 2021: ARS over Nkey = 5 key frames at 320 px (colour), CropNet's classifier, AdamP,
    # the colour / rotation augmentation
    "zhao2021_cropnet": {
        "protocol": "casme2-5class",
        "preprocess.representation": "ars", "preprocess.size": 320, "preprocess.n_key": 5,
        "preprocess.grayscale": False, "preprocess.masks": [],
        "finetune.optimizer": "adamp", "finetune.color_jitter": True,
        "head.kind": "softmax",
    },
    # paper 004, Liu et al. 2022: grayscale aligned apex with the eye mask at 256 px; macro transfer on its frames
    # of CK+ / Oulu-CASIA / JAFFE / MUG (3 classes): SGD momentum 0.9, lr 0.01, batch 32, 100 epochs, pixel
    # jitter p 0.3 max 20, MobileNetV2 blocks transferred; fine-tuning Adam 0.007, batch 64, L2 0.2, dropout 0.5,
    # gradual unfreezing, minority classes grown by shifts / flips; SVM head
    "liu2022_mobilevit": {
        "macro_protocol": "liu2022-macro",
        "preprocess.representation": "apex", "preprocess.size": 256, "preprocess.grayscale": True,
        "preprocess.masks": ["eyes"],
        "pretrain.kind": "macro", "pretrain.epochs": 100, "pretrain.batch_size": 32, "pretrain.optimizer": "sgd",
        "pretrain.momentum": 0.9, "pretrain.learning_rate": 0.01, "pretrain.max_shift": 20, "pretrain.p_shift": 0.3,
        "pretrain.transfer": "backbone",
        "network.dropout": 0.5, "network.l2": 0.2,
        "finetune.batch_size": 64, "finetune.optimizer": "adam", "finetune.learning_rate": 0.007,
        "finetune.gradual_unfreezing": True, "finetune.balance": "random_transforms",
        "head.kind": "svm",
    },
}


def _settings(raw: dict) -> dict:
    """``{"protocol": ..., "finetune.epochs": ...}``: the experiment-level settings of a TOML."""
    out = {}
    for key, value in raw.items():
        if key in NOT_SETTINGS:
            continue
        if isinstance(value, dict):
            out.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            out[key] = value
    return out


def _header(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            break
        lines.append(line)
    return "\n".join(lines)


def _named(key: str, text: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(key)}(?![\w])", text) is not None


@pytest.mark.parametrize("name", sorted(PAPER_SAYS))
def test_every_value_not_the_paper_s_is_named_in_deviations(name):
    text = (EXPERIMENTS / f"{name}.toml").read_text()
    raw = tomllib.loads(text)
    named = " ".join(raw.get("deviations", [])) + "\n" + _header(text)
    settings = _settings(raw)
    paper = PAPER_SAYS[name]
    stale = sorted(k for k in paper if k not in settings)
    assert not stale, f"{name}: the table names settings the TOML no longer sets: {stale}"
    unnamed = sorted(k for k, v in settings.items() if not (k in paper and paper[k] == v) and not _named(k, named))
    assert not unnamed, (f"{name}: these settings are not the paper's (or the paper is silent) and neither the "
                         f"deviations nor the header name them: {unnamed}")

