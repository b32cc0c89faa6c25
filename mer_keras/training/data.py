"""The data of a run: SynthME corpora generated on demand, manifests, cached prepared inputs, fingerprints."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..datasets import load_manifest, read_manifest, synthme
from ..datasets.labels import classes_for
from ..errors import ConfigError, InputError
from ..preprocessing import prepare
from ..preprocessing.flow import centre_flow
from ..preprocessing.representations import REPRESENTATIONS
from .config import ExperimentConfig, PreprocessConfig, build_section

SYNTHME = "synthme"
logger = logging.getLogger("mer_keras")


def synthme_corpus(cache: Path, *, seed: int, subjects: int, clips_per_subject: int, macro=False) -> Path:
    """Generate (once) and return a SynthME corpus under the cache, keyed by its arguments and the generator's
    ``VERSION`` (a corpus of an older generator is never reused)."""
    kind = "macro" if macro else "micro"
    root = Path(cache) / f"synthme-{kind}-v{synthme.VERSION}-seed{seed}-n{subjects}-k{clips_per_subject}"
    if not (root / "synthme.json").is_file():
        logger.info("generating SynthME (%s: %d subjects x %d clips, seed %d) in %s", kind, subjects,
                    clips_per_subject, seed, root)
        synthme.generate(root, subjects=subjects, clips_per_subject=clips_per_subject, seed=seed, macro=macro)
    return root


def needs_macro(exp: ExperimentConfig, variants=None) -> bool:
    return any(v.pretrain.kind == "macro" for v in exp.variants if not variants or v.name in variants)


def load_data(exp: ExperimentConfig, data: str, cache: Path, seed: int, macro_manifest=None, variants=None):
    """Micro manifest, and the macro manifest when a chosen variant pre-trains on macro-expressions."""
    macro = None
    if data == SYNTHME:
        s = exp.synthme
        root = synthme_corpus(cache, seed=seed, subjects=s.subjects, clips_per_subject=s.clips_per_subject)
        micro = load_manifest("synthme", root, protocol=s.protocol)
        if needs_macro(exp, variants):
            mroot = synthme_corpus(cache, seed=seed, subjects=s.macro_subjects,
                                   clips_per_subject=s.macro_clips_per_subject, macro=True)
            macro = load_manifest("synthme-macro", mroot, protocol=exp.macro_protocol)
    else:
        micro = read_manifest(data, check_frames=True)
        if needs_macro(exp, variants):
            if not macro_manifest:
                raise ConfigError("this experiment pre-trains on macro-expressions: pass --macro-manifest M.csv "
                                  "(CK+ / Oulu-CASIA / JAFFE / MUG manifests, three-class)")
            macro = read_manifest(macro_manifest, check_frames=True)
    return micro, macro


def prepare_params(pre: PreprocessConfig) -> dict:
    """The settings of ``pre`` that its representation takes (the others serve the experiment's other inputs)."""
    accepted = REPRESENTATIONS[pre.representation][1]
    values = dataclasses.asdict(pre)
    return {k: (tuple(v) if k == "masks" else v) for k, v in values.items()
            if k in accepted and not (k == "magnify" and v is None)}


def prepared(manifest, pre: PreprocessConfig, cache: Path, **run):
    """(arrays, fallbacks) of every manifest row under ``pre``, from the cache under ``cache``; ``run`` says
    how to run it (``n_jobs``, ``progress``), which never changes the arrays. ``pre.flow_centring`` is applied
    here, after the cache (each clip's own median: cheap, and the cached arrays stay those of ``prepare``)."""
    result = prepare(manifest, pre.representation, Path(cache) / "prepared", **run, **prepare_params(pre))
    fallbacks = [{k: (v if isinstance(v, (int, float, type(None))) else str(v)) for k, v in r.items()}
                 for r in result.fallback_records]
    return centre_flow(result.stack(), pre.flow_centring), fallbacks


def fingerprint(obj) -> str:
    """Short stable hash of JSON-able settings (arrays hashed by their bytes)."""
    def default(o):
        if isinstance(o, np.ndarray):
            return hashlib.sha256(np.ascontiguousarray(o).tobytes()).hexdigest() + str(o.shape)
        if dataclasses.is_dataclass(o):
            return dataclasses.asdict(o)
        return str(o)

    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=default).encode()).hexdigest()[:16]


def clip_ids(manifest: pd.DataFrame) -> list[str]:
    return manifest[["dataset", "subject", "clip", "label"]].astype(str).agg("/".join, axis=1).tolist()


def class_names(manifest: pd.DataFrame) -> list[str]:
    """Class names by label id 0..K-1 under the manifest's protocol; inconsistent labels are an error."""
    pairs = set(zip(manifest["label"].astype(int), manifest["class_name"]))
    protocols = set(manifest["protocol"])
    if len(protocols) == 1 and (protocol := protocols.pop()) != "all":
        classes = list(classes_for(protocol))
    else:
        classes = [name for _, name in sorted(pairs)]
    bad = sorted(p for p in pairs if not (0 <= p[0] < len(classes) and classes[p[0]] == p[1]))
    if bad or len({name for _, name in pairs}) != len(pairs):
        raise InputError(f"labels and class names disagree with classes {classes}: {bad or sorted(pairs)}")
    return classes


MEGC2019_COUNTS = {"smic": (70, 51, 43), "casme2": (88, 32, 25), "samm": (92, 26, 15)}
"""Negative / positive / surprise clips per dataset of the MEGC 2019 composite (442 clips)."""


def protocol_clip_check(manifest: pd.DataFrame, protocol: str) -> tuple[bool, str]:
    """Whether the clips are exactly the protocol's published set (counts per dataset and class)."""
    if protocol != "megc2019":
        return False, f"the clip set of protocol {protocol!r} is not checked against a published list"
    family = manifest["dataset"].astype(str).str.split("-").str[0]
    counts = {}
    for fam, part in manifest.groupby(family):
        counts[fam] = tuple(int((part["label"] == c).sum()) for c in range(3))
    if counts != MEGC2019_COUNTS or set(manifest.get("protocol", [protocol])) != {"megc2019"}:
        return False, f"not the MEGC 2019 composite's 442 clips (per dataset negative/positive/surprise: {counts})"
    return True, ""


def preprocess_from_dict(values: dict) -> PreprocessConfig:
    """The ``PreprocessConfig`` of an export's ``config.json`` (validated like an experiment's)."""
    return build_section("preprocess", dict(values), "export config.json: ")
