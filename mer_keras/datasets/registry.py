"""Dataset key -> reader, default protocol and frame rate. Readers are imported only when used."""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from ..errors import ConfigError


@dataclass(frozen=True)
class DatasetSpec:
    """How to read one dataset: ``module:function`` of its reader and the keywords it gets."""

    key: str
    reader: str
    default_protocol: str
    description: str
    kwargs: dict = field(default_factory=dict)
    reports: bool = True
    """Whether the reader takes ``on_error`` (and so can return problems instead of raising)."""

    def function(self):
        """The reader function itself (imported on first use)."""
        module_name, function = self.reader.split(":")
        return getattr(importlib.import_module(f"mer_keras.datasets.{module_name}"), function)

    def read(self, root, **kwargs):
        return self.function()(root, **{**self.kwargs, **kwargs})


def _spec(key, reader, protocol, description, **kwargs):
    return DatasetSpec(key, reader, protocol, description, kwargs)


DATASETS = {
    s.key: s
    for s in (
        _spec("casme2", "casme2:read", "megc2019", "CASME II (coding sheet + subNN/clip frames), 200 fps"),
        _spec("samm", "samm:read", "megc2019", "SAMM (FACS-codes sheet + subject/clip frames), 200 fps"),
        _spec("smic-hs", "smic:read", "megc2019", "SMIC HS (subject/micro/class/clip), 100 fps",
              dataset="smic-hs"),
        _spec("smic-vis", "smic:read", "three-class", "SMIC VIS (subject/micro/class/clip), 25 fps",
              dataset="smic-vis"),
        _spec("smic-nir", "smic:read", "three-class", "SMIC NIR (subject/micro/class/clip), 25 fps",
              dataset="smic-nir"),
        _spec("smic-hs-e", "smic_e:read", "three-class", "SMIC-E HS long clips (sheet onset/offset + s1/clip "
              "frames), 100 fps", dataset="smic-hs-e"),
        _spec("smic-vis-e", "smic_e:read", "three-class", "SMIC-E VIS long clips, 25 fps", dataset="smic-vis-e"),
        _spec("smic-nir-e", "smic_e:read", "three-class", "SMIC-E NIR long clips, 25 fps", dataset="smic-nir-e"),
        _spec("mmew", "mmew:read", "three-class", "MMEW micro (sheet + emotion/clip frames), 90 fps"),
        _spec("casme3", "casme3:read", "casme3-3class", "CAS(ME)^3 part A micro (sheet + spNO.N/task/color "
              "frames), 30 fps"),
        _spec("ck+", "ck_plus:read", "three-class", "CK+ (image sequences + emotion files), 30 fps"),
        _spec("oulu-casia", "oulu_casia:read", "three-class", "Oulu-CASIA NIR&VIS, VIS strong light, 25 fps"),
        _spec("jaffe", "jaffe:read", "three-class", "JAFFE (single images, labels in the file names)"),
        _spec("mug", "mug:read", "three-class", "MUG (subject/emotion/take image sequences), 19 fps"),
        DatasetSpec("synthme", "synthme:read", "three-class", "SynthME synthetic micro corpus (CASME II layout)",
                    reports=False),
        DatasetSpec("synthme-macro", "synthme:read_macro", "three-class",
                    "SynthME synthetic macro corpus (CK+ layout)", reports=False),
    )
}
"""Every dataset key ``load_manifest`` accepts (see ``ALIASES`` for other spellings)."""

ALIASES = {"smic": "smic-hs", "ckplus": "ck+", "ck": "ck+", "oulu": "oulu-casia", "casme-ii": "casme2",
           "smic-e": "smic-hs-e", "casme3a": "casme3", "cas(me)3": "casme3"}

MEGC2019_DATASETS = ("casme2", "samm", "smic-hs")
"""The datasets of the MEGC 2019 composite; the ``megc2019`` protocol applies to these only."""


def get(dataset: str) -> DatasetSpec:
    """The spec of a dataset key or alias (case-insensitive); ValueError listing the keys otherwise."""
    key = str(dataset).strip().lower()
    key = ALIASES.get(key, key)
    if key not in DATASETS:
        raise ConfigError(f"unknown dataset {dataset!r}; expected one of {sorted(DATASETS)} "
                         f"(aliases {sorted(ALIASES)})")
    return DATASETS[key]
