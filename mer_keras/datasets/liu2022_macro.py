"""Paper 004's macro-expression images (protocol ``liu2022-macro``): which frames of each sequence.

Paper 004 (Liu et al., Front. Neurorobot. 2022, "Datasets") selects 9,342 images (3,085 positive,
3,263 negative, 2,994 surprise) from four macro-expression datasets:

- CK+: "the last three frames were selected from the corresponding video clips" (sequences run from
  neutral to the peak, which is the last frame);
- Oulu-CASIA NIR&VIS: "the last three frames of each video captured by the visible light system";
- MUG: "six to 10 frames close to the vertex were selected from each segment" (takes start and end
  neutral, the apex lies in between: ``mug.read`` takes the middle frame);
- JAFFE: "the image with the correct expression label" (every labelled image).

Classes: negative = anger, disgust, sadness; positive = happiness; surprise (``labels.liu2022_three_class``).

Each selected image is one manifest row: ``clip`` = ``<sequence clip>_<frame file stem>``, ``apex`` =
that image's frame (every stage that reads "the apex" reads this image), onset and offset those of
its sequence, ``apex_source="single"`` (the row stands for one image) and ``source`` naming the rule.

Our choices, not the paper's: MUG's count varies from 6 to 10 per take in the paper, with no rule
given; we take ``MUG_FRAMES = 8`` (the middle of the range), the 8 frames nearest the take's apex
(ties to the earlier frame), fewer when the take is shorter. The paper also picked samples "by
looking at factors such as background and head tilt angle", a manual choice nobody can repeat: it
is not modelled, so the counts here are what the frame rules give, not the paper's 9,342.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .labels import THREE_CLASSES
from .manifest import FRAME_SEP, frame_number

PUBLISHED_COUNTS = {"negative": 3263, "positive": 3085, "surprise": 2994}
"""Paper 004, "Datasets": images per class over CK+, Oulu-CASIA VIS, JAFFE and MUG together (9,342)."""
LAST_FRAMES = 3
MUG_FRAMES = 8
RULES = {"ck+": "last", "oulu-casia": "last", "synthme-macro": "last", "mug": "near_apex", "jaffe": "image"}
"""Frame rule per dataset key; SynthME's macro corpus has CK+'s layout and takes CK+'s rule."""


def last_positions(n_frames: int, count: int = LAST_FRAMES) -> list[int]:
    """0-based positions of the last ``count`` frames (all of them when the sequence is shorter)."""
    return list(range(max(0, n_frames - count), n_frames))


def near_apex_positions(n_frames: int, apex: int, count: int = MUG_FRAMES) -> list[int]:
    """The ``count`` positions nearest ``apex`` (ties to the earlier frame), in temporal order."""
    if not 0 <= apex < n_frames:
        raise ValueError(f"apex position {apex} is outside the {n_frames} frames")
    return sorted(sorted(range(n_frames), key=lambda i: (abs(i - apex), i))[:count])


def positions(row, rule: str) -> list[int]:
    """The positions (in ``frame_files``) that ``rule`` selects from one manifest row."""
    n_frames = len([f for f in str(row["frame_files"]).split(FRAME_SEP) if f])
    if rule == "image":
        return [int(row["apex_idx"])]
    if rule == "last":
        return last_positions(n_frames)
    if rule == "near_apex":
        return near_apex_positions(n_frames, int(row["apex_idx"]))
    raise ValueError(f"unknown frame rule {rule!r}")


def select_images(rows: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """One row per image the paper's rule selects from each sequence row of ``dataset``."""
    rule = RULES.get(dataset)
    if rule is None:
        raise ValueError(f"protocol liu2022-macro selects images of {sorted(RULES)} only, not {dataset!r}")
    out = []
    for _, row in rows.iterrows():
        files = [f for f in str(row["frame_files"]).split(FRAME_SEP) if f]
        for pos in positions(row, rule):
            image = row.to_dict()
            if rule != "image":
                image.update(clip=f"{row['clip']}_{Path(files[pos]).stem}", apex=frame_number(files[pos]),
                             apex_idx=pos, source=f"{row['source']} (liu2022-macro: {rule} frame {pos + 1}"
                             f" of {len(files)})")
            image["apex_source"] = "single"
            out.append(image)
    return pd.DataFrame(out, columns=rows.columns).reset_index(drop=True)


def compare_with_paper(df: pd.DataFrame) -> str:
    """Images per class of ``df`` beside paper 004's counts (which cover the four datasets together)."""
    counts = df["class_name"].value_counts() if len(df) else pd.Series(dtype=int)
    lines = ["images per class beside paper 004's (its counts cover CK+, Oulu-CASIA VIS, JAFFE and MUG together):",
             f"{'class':<10} {'here':>7} {'paper 004':>10}"]
    for name in THREE_CLASSES:
        lines.append(f"{name:<10} {int(counts.get(name, 0)):>7} {PUBLISHED_COUNTS[name]:>10}")
    lines.append(f"{'total':<10} {len(df):>7} {sum(PUBLISHED_COUNTS.values()):>10}")
    return "\n".join(lines)
