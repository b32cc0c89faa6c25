"""Emotion -> class mappings for every protocol the papers use.

Fine emotions are stored lower-case in the manifest (``emotion`` column) exactly as the dataset
labels them (``happiness``, ``repression``, ``anger`` ...). A *protocol* decides which fine
emotions are kept and which class index each one gets; rows whose emotion a protocol does not map
are dropped by ``select_protocol`` and *counted* in the returned report, never silently.
"""
from __future__ import annotations

THREE_CLASSES = ("negative", "positive", "surprise")
"""MEGC 2019 order: 0 negative, 1 positive, 2 surprise (every public repo uses it)."""

# Negative = Repression, Anger, Contempt, Disgust, Fear, Sadness (MEGC 2019 guideline).
NEGATIVE_EMOTIONS = frozenset(
    {"repression", "anger", "contempt", "disgust", "fear", "sadness", "sad", "negative"}
)
POSITIVE_EMOTIONS = frozenset({"happiness", "happy", "positive"})
SURPRISE_EMOTIONS = frozenset({"surprise"})

LIU2022_NEGATIVE_EMOTIONS = frozenset({"anger", "disgust", "sadness", "sad"})
"""Paper 004 (Front. Neurorobot. 2022, "Datasets"): "negative emotions contained anger, disgust, and
sadness" (fear and contempt are not used)."""

CASME2_5CLASSES = ("others", "disgust", "happiness", "repression", "surprise")
"""CASME II 5-class protocol (paper 003): fear and sadness are dropped."""


def three_class(emotion: str) -> int | None:
    """Class index of a fine emotion under the MEGC 3-class mapping, or None if it is dropped."""
    e = str(emotion).strip().lower()
    if e in NEGATIVE_EMOTIONS:
        return 0
    if e in POSITIVE_EMOTIONS:
        return 1
    if e in SURPRISE_EMOTIONS:
        return 2
    return None


def liu2022_three_class(emotion: str) -> int | None:
    """Paper 004's macro-expression mapping: negative = anger, disgust, sadness; positive = happiness;
    surprise. Fear, contempt and neutral are dropped."""
    e = str(emotion).strip().lower()
    if e in LIU2022_NEGATIVE_EMOTIONS:
        return 0
    if e in POSITIVE_EMOTIONS:
        return 1
    if e in SURPRISE_EMOTIONS:
        return 2
    return None


def casme2_five_class(emotion: str) -> int | None:
    e = str(emotion).strip().lower()
    return CASME2_5CLASSES.index(e) if e in CASME2_5CLASSES else None


JIN2024_SAMM_CLASSES = ("negative", "positive", "surprise", "other")
"""Paper 001's SAMM classes (Sec. 4.1): happiness positive; anger, fear, disgust, sadness, contempt negative;
surprise; other kept as its own class."""


def jin2024_samm_four_class(emotion: str) -> int | None:
    e = str(emotion).strip().lower()
    if e in ("other", "others"):
        return 3
    return None if e == "repression" else three_class(e)


JIN2024_CASME2_CLASSES = ("negative", "positive", "surprise", "other")
"""Paper 001's CASME II classes (Sec. 4.1): "the happiness category is classified as positive, the disgust category
as negative, and the surprise category is labeled as surprise. Furthermore, the repression and other categories are
categorized as other". Fear and sadness are not among the paper's 246 clips and are dropped. The paper's counts:
disgust 63, happiness 32, surprise 25, other 126 (repression 27 + others 99) = 51.2 % of 246
(``evaluation.protocols.PUBLISHED_CLASS_COUNTS``). Class order as ``jin2024-samm4``'s."""
JIN2024_CASME2_4CLASS = {"disgust": 0, "happiness": 1, "surprise": 2, "repression": 3, "others": 3, "other": 3}


def jin2024_casme2_four_class(emotion: str) -> int | None:
    return JIN2024_CASME2_4CLASS.get(str(emotion).strip().lower())


CASME3_3CLASS = {"anger": 0, "disgust": 0, "fear": 0, "sad": 0, "happy": 1, "surprise": 2}
"""CAS(ME)^3 part A, 3 classes (the sheet's own spellings): negative = anger, disgust, fear, sad; positive =
happy; surprise; ``others`` dropped. It is the ``label_for_3`` column of HTNet's ``cas(me)3_part_A_edited.csv``
(counted there: negative 449 = disgust 247 + fear 83 + anger 64 + sad 55, positive 54, surprise 184)."""
CASME3_4CLASSES = ("negative", "positive", "surprise", "others")
CASME3_4CLASS = {**CASME3_3CLASS, "others": 3}
"""CAS(ME)^3 part A, 4 classes: the 3 classes plus ``others`` as a class of its own. As far as we know this is the
4-class task of the CAS(ME)^3 paper's recognition baselines (Li et al., TPAMI 2022; its text is not in this
repository, so not verified here). Class order is ours (MEGC order, others last); other code orders them
differently (e.g. positive first), which changes indices, not results."""


def casme3_three_class(emotion: str) -> int | None:
    return CASME3_3CLASS.get(str(emotion).strip().lower())


def casme3_four_class(emotion: str) -> int | None:
    return CASME3_4CLASS.get(str(emotion).strip().lower())


PROTOCOL_CLASSES = {
    "casme3-3class": THREE_CLASSES,
    "casme3-4class": CASME3_4CLASSES,
    "megc2019": THREE_CLASSES,
    "three-class": THREE_CLASSES,
    "casme2-5class": CASME2_5CLASSES,
    "liu2022-macro": THREE_CLASSES,
    "jin2024-samm4": JIN2024_SAMM_CLASSES,
    "casme2-4class-jin2024": JIN2024_CASME2_CLASSES,
}
PROTOCOL_MAPPERS = {
    "casme3-3class": casme3_three_class,
    "casme3-4class": casme3_four_class,
    "megc2019": three_class,
    "three-class": three_class,
    "casme2-5class": casme2_five_class,
    "liu2022-macro": liu2022_three_class,
    "jin2024-samm4": jin2024_samm_four_class,
    "casme2-4class-jin2024": jin2024_casme2_four_class,
}
IMAGE_PROTOCOLS = ("liu2022-macro",)
"""Protocols whose manifest holds one row per selected *image* (``datasets.liu2022_macro``), not per clip."""


def classes_for(protocol: str, emotions=()) -> tuple[str, ...]:
    """Class names of a protocol; ``all`` keeps every fine emotion, sorted."""
    if protocol == "all":
        return tuple(sorted({str(e).strip().lower() for e in emotions}))
    try:
        return PROTOCOL_CLASSES[protocol]
    except KeyError:
        raise ValueError(
            f"unknown protocol {protocol!r}; expected one of {sorted(PROTOCOL_CLASSES) + ['all']}"
        ) from None
