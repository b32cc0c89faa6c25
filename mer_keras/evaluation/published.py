"""Published numbers of the reproduced papers and of MEGC 2019, each with the source it came from.

Carried from ``shared/published_numbers.md`` (which copies them as printed). Values that source
marks **not found** are absent; nothing here is estimated. Scores are fractions (0.8427, not
84.27 %). Dataset keys: ``all`` (the MEGC composite), ``casme2``, ``smic``, ``samm``, ``mmew``;
``smic`` is written as the papers print it, and matches our ``smic-hs`` rows in reports (the MEGC
composite uses SMIC-HS).

Paper keys: ``liu2022_shufflenet`` (paper 000, Sci. Rep. 12:17522), ``liu2022_mobilevit``
(paper 004, Front. Neurorobot. 16:922761), ``megc2019`` (the challenge guideline, STSTNet and the
challenge summary).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

PAPERS = {
    "liu2022_shufflenet": "Liu et al., Sci. Rep. 12:17522 (2022), doi:10.1038/s41598-022-21738-8",
    "liu2022_mobilevit": "Liu et al., Front. Neurorobot. 16:922761 (2022), doi:10.3389/fnbot.2022.922761",
    "megc2019": "MEGC 2019 composite-database evaluation (CASME II + SMIC-HS + SAMM, 68-fold LOSO)",
    "zhao2021_cropnet": "Zhao, Chen, Luo, Front. Neurorobot. 15:746985 (2021), doi:10.3389/fnbot.2021.746985",
    "jin2024_msresnet3d": "Jin, He, Li, Yang, Math. Biosci. Eng. 21(4) (2024)",
    "hao2024_lam": "Hao, Zhu, Zhang et al., Multimedia Tools Appl. 83:29239-29260 (2024), doi:10.1007/s11042-023-16616-y",
}
SRC_001_T1 = "Jin et al. 2024, Math. Biosci. Eng. 21(4), Table 1 (in the paper's text)"
SRC_003 = "Zhao et al. 2021, Front. Neurorobot. 15:746985 (Tables 2-4 are images: not published in text)"
SRC_002 = "Hao et al. 2024, MTAP 83:29239-29260 (only the abstract is available: no numbers)"

SRC_000_T2 = (
    "Liu et al. 2022, Sci. Rep. 12:17522, Table 2 (ablation); "
    "https://www.nature.com/articles/s41598-022-21738-8/tables/2"
)
SRC_000_T4 = (
    "Liu et al. 2022, Sci. Rep. 12:17522, Table 4 (time per sample); "
    "https://www.nature.com/articles/s41598-022-21738-8/tables/4"
)
SRC_000_TEXT = "Liu et al. 2022, Sci. Rep. 12:17522, abstract and text; http://preview-www.nature.com/articles/s41598-022-21738-8"
SRC_004_ABSTRACT = (
    "Liu et al. 2022, Front. Neurorobot. 16:922761, abstract; "
    "https://www.frontiersin.org/articles/10.3389/fnbot.2022.922761/full"
)
SRC_004_TEXT = "Liu et al. 2022, Front. Neurorobot. 16:922761, text; https://www.frontiersin.org/articles/10.3389/fnbot.2022.922761/full"
SRC_MEGC_GUIDELINE = (
    "MEGC 2019 Cross-DB guideline PDF (LBP-TOP baseline), GitHub Facial-Micro-ExpressionGC/MEGC2019 "
    "images/MEGC2019 Recognition Challenge.pdf @2f81d8fc"
)
SRC_STSTNET_T3 = (
    "Liong et al., STSTNet, FG 2019 (arXiv:1902.03634), Table III; PDF in GitHub christy1206/STSTNet @1afb56e"
)
SRC_MEGC_SUMMARY_T4 = (
    "See et al., MEGC 2019 summary, FG 2019, Table IV (Full and CASME II columns); secondary: "
    "Table 3.6 of GitHub addhyan2000/FinalMERThesis, checked cell by cell against the MEGC 2019 PDF"
)
SRC_ELBPTOP_TX = (
    "Guo et al., ELBPTOP, arXiv:1907.09160v2, Table X (MEGC 2019 composite evaluation, 2 decimals; "
    "secondary for the challenge entries)"
)


@dataclass(frozen=True)
class PublishedScore:
    """One published number: ``metric`` of ``method`` on ``dataset`` in ``table`` of ``paper``."""

    paper: str
    table: str
    method: str
    dataset: str
    metric: str
    value: float
    source: str
    printed: str = ""
    note: str = ""


def _wide(paper, table, source, columns, rows, printed_names=None, note=""):
    """Expand a table as printed (rows of values, columns of (dataset, metric)) into records."""
    out = []
    for method, values in rows:
        if len(values) != len(columns):
            raise AssertionError(f"{table} {method}: {len(values)} values for {len(columns)} columns")
        for (dataset, metric), value in zip(columns, values):
            if value is None:  # printed as '-' or absent
                continue
            printed = (printed_names or {}).get(method, method)
            out.append(PublishedScore(paper, table, method, dataset, metric, value, source, printed, note))
    return out


# ---- paper 000: Table 2 (ablation), columns as printed: MMEW, CASME II, SMIC, SAMM x (UAR, UF1)
_T2_COLUMNS = [(d, m) for d in ("mmew", "casme2", "smic", "samm") for m in ("uar", "uf1")]
_T2_ROWS = [
    ("ShuffleNetV2 without pre-trained", (0.6252, 0.6384, 0.6336, 0.6497, 0.6180, 0.6104, 0.6149, 0.6214)),
    ("ShuffleNetV2 without SVM classifier", (0.6222, 0.6392, 0.6207, 0.6291, 0.6038, 0.5918, 0.5925, 0.5899)),
    ("ShuffleNetV2", (0.6524, 0.6621, 0.6647, 0.6583, 0.6394, 0.6451, 0.6712, 0.6592)),
    ("ShuffleNetV2 with CBAM", (0.6684, 0.6719, 0.6739, 0.6619, 0.6581, 0.6610, 0.6802, 0.6694)),
    ("ShuffleNetV2 with improved ViT", (0.6894, 0.7251, 0.6925, 0.7008, 0.7159, 0.7141, 0.6684, 0.7410)),
    ("MobileNetV2 without pre-trained", (0.5882, 0.5741, 0.5741, 0.5726, 0.6150, 0.6021, 0.5632, 0.6131)),
    ("MobileNetV2 without SVM classifier", (0.6091, 0.6032, 0.5744, 0.5951, 0.5886, 0.6125, 0.5869, 0.6262)),
    ("MobileNetV2", (0.6448, 0.6684, 0.6358, 0.6229, 0.6768, 0.6692, 0.6328, 0.6517)),
    ("ResNet50 without pre-trained", (0.6427, 0.6231, 0.6364, 0.6253, 0.6331, 0.6480, 0.5905, 0.6059)),
    ("ResNet50 without SVM classifier", (0.6438, 0.6571, 0.6296, 0.6308, 0.6018, 0.6319, 0.6246, 0.6581)),
    ("ResNet50", (0.6793, 0.6782, 0.6743, 0.6682, 0.6841, 0.6621, 0.6599, 0.6827)),
    ("DeIT without pre-trained", (0.6614, 0.6582, 0.6479, 0.6289, 0.6617, 0.6696, 0.6782, 0.6573)),
    ("DeIT without SVM classifier*", (0.6561, 0.6428, 0.6675, 0.6708, 0.6825, 0.6843, 0.6638, 0.6592)),
    ("DeiT*", (0.6982, 0.6820, 0.6815, 0.7008, 0.6963, 0.6921, 0.7108, 0.7034)),
]

# ---- paper 001: Table 1, per-dataset leave-one-out; accuracy (%) and F1 as the paper computes them (Eq. 4.5)
JIN2024_NOT_COMPARABLE = (
    "not comparable: the paper's protocol is per-sample (Eq. 4.5 averages the error over the N samples, a "
    "leave-one-sample-out reading; ours is leave-one-subject-out, pooled); the paper's F1 in the UF1 column, its "
    "own classes (CASME II: casme2-4class-jin2024), augmented copies made before the split")
"""Note of every paper-001 Table 1 row: a reader must not set a LOSO run beside them as if they were comparable."""
_J1_COLUMNS = [(d, m) for d in ("smic", "samm", "casme2") for m in ("accuracy", "uf1")]
_J1_ROWS = [
    ("LBP-TOP", (0.5444, 0.567, 0.4622, 0.488, 0.6509, 0.674)),
    ("Bi-WOOF", (0.6256, 0.564, 0.6188, 0.583, 0.7846, 0.709)),
    ("OFF-ApexNet", (0.7179, 0.712, 0.5966, 0.566, 0.8769, 0.822)),
    ("Multi-scale 3D-ResNet (proposed)", (0.746, 0.751, 0.8477, 0.793, 0.9135, 0.889)),
]

# ---- MEGC 2019: the guideline's baseline, STSTNet Table III, the summary's Table IV, ELBPTOP Table X
_FULL4 = [("all", "uf1"), ("all", "uar"), ("smic", "uf1"), ("smic", "uar"),
          ("casme2", "uf1"), ("casme2", "uar"), ("samm", "uf1"), ("samm", "uar")]
_GUIDELINE_ROWS = [("LBP-TOP", (0.5882, 0.5785, 0.2000, 0.5280, 0.7026, 0.7429, 0.3954, 0.4102))]
_T3_COLUMNS = [("all", "accuracy"), ("all", "f1")] + _FULL4
_T3_ROWS = [
    ("LBP-TOP", (None, None, 0.5882, 0.5785, 0.2000, 0.5280, 0.7026, 0.7429, 0.3954, 0.4102)),
    ("Bi-WOOF", (0.6833, 0.6304, 0.6296, 0.6227, 0.5727, 0.5829, 0.7805, 0.8026, 0.5211, 0.5139)),
    ("AlexNet", (0.7308, 0.6959, 0.6933, 0.7154, 0.6201, 0.6373, 0.7994, 0.8312, 0.6104, 0.6642)),
    ("SqueezeNet", (0.6380, 0.5964, 0.5930, 0.6166, 0.5381, 0.5603, 0.6894, 0.7278, 0.5039, 0.5362)),
    ("GoogLeNet", (0.6335, 0.5698, 0.5573, 0.6049, 0.5123, 0.5511, 0.5989, 0.6414, 0.5124, 0.5992)),
    ("VGG16", (0.6833, 0.6439, 0.6425, 0.6516, 0.5800, 0.5964, 0.8166, 0.8202, 0.4870, 0.4793)),
    ("OFF-ApexNet", (0.7460, 0.7104, 0.7196, 0.7096, 0.6817, 0.6695, 0.8764, 0.8681, 0.5409, 0.5392)),
    ("STSTNet", (0.7692, 0.7389, 0.7353, 0.7605, 0.6801, 0.7013, 0.8382, 0.8686, 0.6588, 0.6810)),
]
_SUMMARY_COLUMNS = [("all", "uf1"), ("all", "uar"), ("casme2", "uf1"), ("casme2", "uar")]
_SUMMARY_ROWS = [
    ("LBP-TOP", (0.5882, 0.5785, 0.7026, 0.7429)),
    ("Bi-WOOF", (0.6296, 0.6227, 0.7805, 0.8026)),
    ("OFF-ApexNet", (0.7196, 0.7096, 0.8764, 0.8681)),
    ("CapsuleNet", (0.6520, 0.6506, 0.7068, 0.7018)),
    ("Dual-Inception", (0.7322, 0.7278, 0.8621, 0.8560)),
    ("STSTNet", (0.7353, 0.7605, 0.8382, 0.8686)),
    ("EMR", (0.7885, 0.7824, 0.8293, 0.8209)),
]
_SUMMARY_PRINTED = {
    "LBP-TOP": "LBP-TOP (baseline)",
    "CapsuleNet": "CapsuleNet (Quang et al.)",
    "Dual-Inception": "Dual-Inception (Zhou et al.)",
    "STSTNet": "STSTNet (Liong et al.)",
    "EMR": "EMR (Liu et al., winner)",
}
_TX_COLUMNS = [("all", "uf1"), ("all", "uar"), ("smic", "uf1"), ("smic", "uar"),
               ("casme2", "uf1"), ("casme2", "uar"), ("samm", "uf1"), ("samm", "uar")]
_TX_ROWS = [
    ("LBP-TOP", (0.59, 0.58, 0.20, 0.53, 0.70, 0.74, 0.40, 0.41)),
    ("Bi-WOOF", (0.63, 0.62, 0.57, 0.58, 0.78, 0.80, 0.52, 0.51)),
    ("CapsuleNet", (0.65, 0.65, 0.58, 0.59, 0.71, 0.70, 0.62, 0.60)),
    ("OFF-ApexNet", (0.72, 0.71, 0.68, 0.67, 0.88, 0.87, 0.54, 0.54)),
    ("Dual-Inception", (0.73, 0.73, 0.66, 0.67, 0.86, 0.86, 0.59, 0.57)),
    ("STSTNet", (0.74, 0.76, 0.68, 0.70, 0.84, 0.87, 0.66, 0.68)),
    ("EMR", (0.79, 0.78, 0.75, 0.75, 0.83, 0.82, 0.78, 0.72)),
    ("ELBPTOP", (0.71, 0.69, 0.65, 0.66, 0.89, 0.88, 0.49, 0.49)),
]
_TX_PRINTED = {
    "LBP-TOP": "LBPTOP",
    "Dual-Inception": "Dual-Inception Network",
    "EMR": "EMR with Adversarial Training",
    "ELBPTOP": "ELBPTOP (theirs)",
}

SRC_STSTNET_LOG = ("STSTNet authors' PyTorch release log, STSTNet_python_logfile.txt (800 epochs, Adam 5e-5, batch 256, "
                   "last epoch); GitHub christy1206/STSTNet @1afb56e. Full: its last line")
STSTNET_LOG_SUBSET = {"uf1": 0.7525, "uar": 0.7530, "clips": 309}
"""The release log's predictions on its 309 CASME II and SMIC clips pooled (recomputed as above): the clips of
``shared/realdata-dev``, so a run on them compares with the authors' own run clip for clip (its training folds
held SAMM's clips too)."""
SRC_MEB_T3 = ("Varanka et al. leakage study, notebook 'Table 3. Early stopping.ipynb', GitHub tvaranka/meb @f731b0a "
              "(meb's 'Total f1': macro F1 over the pooled predictions)")
_LEAK_COLUMNS = [("all", "uf1"), ("smic", "uf1"), ("casme2", "uf1"), ("samm", "uf1")]
_MEB_FIXED_ROWS = [("STSTNet (meb, fixed epochs)", (0.7127, 0.7139, 0.7036, 0.6619)),
                   ("OFF-ApexNet (meb, fixed epochs)", (0.7032, 0.6832, 0.7744, 0.6052))]
_MEB_SELECTED_ROWS = [("STSTNet (meb, test-fold selection)", (0.7740, 0.7214, 0.8692, 0.7040)),
                      ("OFF-ApexNet (meb, test-fold selection)", (0.8390, 0.7818, 0.9283, 0.7898))]
SELECTION = {
    "STSTNet release log": "yes (last epoch)",
    "meb Table 3, fixed epochs": "yes (fixed epochs)",
    "meb Table 3, test-fold selection": "no (test-fold selection)",
}
"""Tables whose epoch-selection rule can be read from code and logs (published_numbers 5.2a); every other
published row does not state its rule."""

SCORES: tuple[PublishedScore, ...] = tuple(
    _wide("liu2022_shufflenet", "Table 2", SRC_000_T2, _T2_COLUMNS, _T2_ROWS,
          note="no composite or accuracy column in the paper; SMIC as printed")
    + [PublishedScore("liu2022_mobilevit", "abstract", "MobileViT (proposed)", "all", "accuracy", 0.8427,
                      SRC_004_ABSTRACT, "84.27 %", "composite, LOSO; Tables 1-4 not found (images)")]
    + _wide("jin2024_msresnet3d", "Table 1", SRC_001_T1, _J1_COLUMNS, _J1_ROWS,
            note=JIN2024_NOT_COMPARABLE)
    + _wide("megc2019", "guideline baseline", SRC_MEGC_GUIDELINE, _FULL4, _GUIDELINE_ROWS,
            {"LBP-TOP": "LBP-TOP (baseline)"})
    + _wide("megc2019", "STSTNet Table III", SRC_STSTNET_T3, _T3_COLUMNS, _T3_ROWS,
            note="rows other than STSTNet reproduced by the STSTNet authors; 'f1' is their Full F1-score")
    + _wide("megc2019", "MEGC 2019 Table IV", SRC_MEGC_SUMMARY_T4, _SUMMARY_COLUMNS, _SUMMARY_ROWS,
            _SUMMARY_PRINTED)
    + _wide("megc2019", "ELBPTOP Table X", SRC_ELBPTOP_TX, _TX_COLUMNS, _TX_ROWS, _TX_PRINTED,
            note="2 decimals; columns printed as F1/UAR under the MEGC 2019 protocol")
    + _wide("megc2019", "STSTNet release log", SRC_STSTNET_LOG, _FULL4,
            [("STSTNet (authors' PyTorch release, last epoch)",
              (0.7209, 0.725, 0.6871, 0.6876, 0.8304, 0.8304, 0.5993, 0.6145))],
            note="per database: recomputed by us from the per-subject predictions the log prints (the same "
                 "parse gives its last line, 0.7209 / 0.725, and its running line after the last SAMM subject, "
                 "0.5993 / 0.6145)")
    + _wide("megc2019", "meb Table 3, fixed epochs", SRC_MEB_T3, _LEAK_COLUMNS, _MEB_FIXED_ROWS,
            note="leak-free: fixed epochs, the last model")
    + _wide("megc2019", "meb Table 3, test-fold selection", SRC_MEB_T3, _LEAK_COLUMNS, _MEB_SELECTED_ROWS,
            note="each fold's best epoch chosen on its test subject (leaky); OFF-ApexNet: the stored code calls "
                 "the same early-stopping class in both cells, so which one selected on the test fold is the "
                 "authors' label")
)
"""Every published score, one record per number."""


@dataclass(frozen=True)
class PublishedTiming:
    paper: str
    table: str
    method: str
    ms_per_sample: float
    source: str


TIMINGS: tuple[PublishedTiming, ...] = (
    PublishedTiming("liu2022_shufflenet", "Table 4", "ResNet50", 105.9, SRC_000_T4),
    PublishedTiming("liu2022_shufflenet", "Table 4", "DeiT", 168.0, SRC_000_T4),
    PublishedTiming("liu2022_shufflenet", "Table 4", "MobileNetV2", 24.0, SRC_000_T4),
    PublishedTiming("liu2022_shufflenet", "Table 4", "ShuffleNetV2 + CBAM", 28.5, SRC_000_T4),
    PublishedTiming("liu2022_shufflenet", "Table 4", "ShuffleNetV2 + ViT", 37.9, SRC_000_T4),
    PublishedTiming("liu2022_mobilevit", "abstract", "MobileViT (proposed)", 35.4, SRC_004_ABSTRACT),
)
"""Published recognition time per sample (paper 000 Table 4; paper 004's abstract)."""

FACTS: tuple[tuple[str, str, str, str], ...] = (
    ("liu2022_shufflenet", "trainable parameters of the proposed model", "1.53 million", SRC_000_TEXT),
    ("liu2022_shufflenet", "accuracy of the optical-flow pre-training stage (Softmax, lr 0.001)", "96.28 %",
     SRC_000_TEXT),
    ("liu2022_mobilevit", "macro-expression transfer stage, mean recognition rate on 3 classes", "98.45 %",
     SRC_004_TEXT),
    ("megc2019", "accuracy of predicting 'negative' for every clip", "0.565", SRC_MEGC_GUIDELINE),
    ("zhao2021_cropnet", "CASME II 5-class and MEGC 2019 composite results (Tables 2-4)", "not published in text",
     SRC_003),
    ("hao2024_lam", "CASME II and SAMM results", "not published in text", SRC_002),
)
"""Other published figures (paper, what, value as printed, source)."""

TABLE_PRIORITY = ("Table 2", "abstract", "guideline baseline", "STSTNet Table III", "MEGC 2019 Table IV",
                  "ELBPTOP Table X", "STSTNet release log", "meb Table 3, fixed epochs",
                  "meb Table 3, test-fold selection")
"""When tables repeat a number, reports keep the first table in this order (4 decimals, primary first)."""


def _check_paper(paper):
    if paper is not None and paper not in PAPERS:
        raise ValueError(f"unknown paper {paper!r}; expected one of {sorted(PAPERS)}")


def published_scores(paper: str | None = None) -> pd.DataFrame:
    """Long table: one row per published number (paper, table, method, dataset, metric, value, source, ...)."""
    _check_paper(paper)
    rows = [asdict(s) for s in SCORES if paper is None or s.paper == paper]
    return pd.DataFrame(rows, columns=list(PublishedScore.__dataclass_fields__))


def published_rows(paper: str, dedupe: bool = False) -> pd.DataFrame:
    """Wide table of a paper: one row per (table, method, dataset) with ``uf1, uar, accuracy, f1``.

    With ``dedupe`` a (method, dataset) pair keeps, metric by metric, the number of the first table
    in ``TABLE_PRIORITY`` and the row's ``table``/``source`` name every table used.
    """
    long = published_scores(paper)
    if dedupe:
        rank = {t: i for i, t in enumerate(TABLE_PRIORITY)}
        long = (long.assign(_rank=long["table"].map(rank))
                .sort_values("_rank", kind="stable")
                .drop_duplicates(["method", "dataset", "metric"], keep="first")
                .drop(columns="_rank"))
        keys = ["method", "dataset"]
    else:
        keys = ["table", "method", "dataset"]
    values = long.pivot_table(index=keys, columns="metric", values="value", aggfunc="first")
    meta = long.groupby(keys, sort=False).agg(
        table=("table", lambda s: "; ".join(dict.fromkeys(s))),
        source=("source", lambda s: " | ".join(dict.fromkeys(s))),
        note=("note", lambda s: "; ".join(n for n in dict.fromkeys(s) if n)),
    )
    if "table" in keys:
        meta = meta.drop(columns="table")
    wide = meta.join(values).reset_index()
    for metric in ("uf1", "uar", "accuracy", "f1"):
        if metric not in wide.columns:
            wide[metric] = float("nan")
    wide.insert(0, "paper", paper)
    order = {m: i for i, m in enumerate(dict.fromkeys(long["method"]))}
    wide = wide.sort_values(["method", "dataset"], key=lambda c: c.map(order) if c.name == "method" else c)
    columns = ["paper", "table", "method", "dataset", "uf1", "uar", "accuracy", "f1", "source", "note"]
    return wide[columns].reset_index(drop=True)


def published_timings(paper: str | None = None) -> pd.DataFrame:
    """Published milliseconds per sample, with sources."""
    _check_paper(paper)
    rows = [asdict(t) for t in TIMINGS if paper is None or t.paper == paper]
    return pd.DataFrame(rows, columns=list(PublishedTiming.__dataclass_fields__))


def published_facts(paper: str | None = None) -> pd.DataFrame:
    """Other published figures of a paper (parameter counts, pre-training accuracies, ...)."""
    _check_paper(paper)
    rows = [f for f in FACTS if paper is None or f[0] == paper]
    return pd.DataFrame(rows, columns=["paper", "what", "value", "source"])
