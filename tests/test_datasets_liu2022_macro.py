"""Paper 004's macro-expression images (protocol liu2022-macro) from CK+ / Oulu-CASIA / MUG / JAFFE fixtures,
SynthME's macro sequences under the same rules, and the apex image aligned on the apex frame."""
import cv2
import numpy as np
import pytest
import skimage.data

from mer_keras.cli import main as cli_main
from mer_keras.datasets import load_manifest
from mer_keras.datasets.manifest import make_row, read_manifest, validate
from mer_keras.preprocessing import representations as reps
from tests.fixtures import native_layouts as nl

CK_SEQUENCES = (
    {"subject": "S005", "seq": "001", "frames": 6, "code": 3},   # disgust -> negative
    {"subject": "S005", "seq": "002", "frames": 5, "code": 4},   # fear: not in paper 004's negative
    {"subject": "S010", "seq": "002", "frames": 7, "code": 5},   # happiness
    {"subject": "S010", "seq": "003", "frames": 4, "code": 2},   # contempt: not in paper 004's negative
    {"subject": "S010", "seq": "004", "frames": 4, "code": 7},   # surprise
    {"subject": "S011", "seq": "001", "frames": 5, "code": 1},   # anger
    {"subject": "S011", "seq": "002", "frames": 3, "code": 6},   # sadness
    {"subject": "S011", "seq": "003", "frames": 3, "code": 0},   # neutral
    {"subject": "S012", "seq": "001", "frames": 3, "code": None},  # unlabelled
)


def _images(df):
    """{(subject, clip): apex frame number} of a manifest."""
    return {(r.subject, r.clip): r.apex for r in df.itertuples()}


def test_ck_plus_keeps_the_last_three_frames_of_each_sequence_with_the_papers_negative(tmp_path):
    nl.write_ck_plus(tmp_path, CK_SEQUENCES)
    df = load_manifest("ck+", tmp_path, protocol="liu2022-macro")
    expected = {}
    for subject, seq, last, cls in (("S005", "001", 6, "negative"), ("S010", "002", 7, "positive"),
                                    ("S010", "004", 4, "surprise"), ("S011", "001", 5, "negative"),
                                    ("S011", "002", 3, "negative")):
        for frame in (last - 2, last - 1, last):
            expected[(f"ck+/{subject}", f"{seq}_{subject}_{seq}_{frame:08d}")] = (frame, cls)
    assert {k: (v, c) for (k, v), c in zip(_images(df).items(), df["class_name"])} == expected
    assert (df["onset"] == 1).all() and (df["apex_source"] == "single").all()
    assert all(r.frame_files.split("|")[r.apex_idx].endswith(f"{r.apex:08d}.png") for r in df.itertuples())
    validate(df, check_frames=True)
    skipped = {(s["clip"], s["emotion"]) for s in df.attrs["skipped"]}
    assert {("002", "fear"), ("003", "contempt"), ("003", "neutral")} <= skipped
    # the MEGC-style three-class mapping would have kept fear and contempt as negative
    assert {"fear", "contempt"} <= set(load_manifest("ck+", tmp_path, protocol="three-class")["emotion"])


def test_oulu_casia_keeps_the_last_three_visible_frames(tmp_path):
    nl.write_oulu_casia(tmp_path, subjects=("P001",), emotions=("Anger", "Fear", "Happiness", "Surprise"), frames=7)
    df = load_manifest("oulu-casia", tmp_path, protocol="liu2022-macro")
    assert sorted(_images(df).items()) == sorted(
        (("oulu-casia/P001", f"{emotion}_{n:03d}"), n) for emotion in ("Anger", "Happiness", "Surprise")
        for n in (4, 5, 6))
    assert all("/VL/Strong/" in d for d in df["frames_dir"])


def test_mug_apex_is_the_middle_of_the_take_and_eight_frames_around_it_are_kept(tmp_path):
    nl.write_mug(tmp_path, takes=(("001", "happiness", "take000"),), frames=21)
    nl.write_mug(tmp_path, takes=(("001", "anger", "take001"),), frames=10)
    nl.write_mug(tmp_path, takes=(("002", "surprise", "take000"),), frames=5)
    nl.write_mug(tmp_path, takes=(("002", "fear", "take000"), ("002", "neutral", "take000")), frames=9)
    takes = load_manifest("mug", tmp_path, protocol="all").set_index("clip")
    # takes start and end neutral: the apex is the middle frame, never the last
    assert takes["apex"].to_dict() == {"anger_take001": 4, "fear_take000": 4, "happiness_take000": 10,
                                       "neutral_take000": 4, "surprise_take000": 2}
    assert (takes["apex"] < takes["offset"]).all() and set(takes["apex_source"]) == {"middle"}
    df = load_manifest("mug", tmp_path, protocol="liu2022-macro")
    frames = {clip: sorted(g["apex"]) for clip, g in df.groupby(df["clip"].str.rsplit("_", n=2).str[0])}
    assert frames == {"happiness_take000": list(range(6, 14)),  # 8 frames nearest frame 10 of 0..20
                      "anger_take001": list(range(8)),       # nearest frame 4 of 0..9
                      "surprise_take000": list(range(5))}    # a take shorter than 8 frames: all of it
    assert "happiness_take000_img_0020" not in set(df["clip"])  # the take's last frame is not an image
    validate(df, check_frames=True)


def test_jaffe_keeps_every_image_of_the_three_classes(tmp_path):
    names = ("KA.AN1.39", "KA.HA2.30", "KL.SU1.158", "KL.NE1.155", "YM.DI3.66", "YM.FE1.67", "YM.SA2.56")
    nl.write_jaffe(tmp_path, names=names)
    df = load_manifest("jaffe", tmp_path, protocol="liu2022-macro")
    assert dict(zip(df["clip"], df["class_name"])) == {
        "KA.AN1.39": "negative", "KA.HA2.30": "positive", "KL.SU1.158": "surprise", "YM.DI3.66": "negative",
        "YM.SA2.56": "negative"}
    assert list(df["apex"]) == [39, 30, 158, 66, 56]


def test_protocol_refuses_datasets_it_has_no_frame_rule_for(tmp_path):
    nl.write_smic(tmp_path)
    with pytest.raises(ValueError, match="liu2022-macro selects images of"):
        load_manifest("smic-hs", tmp_path, protocol="liu2022-macro")


def test_cli_prints_counts_beside_the_papers(tmp_path, capsys):
    nl.write_ck_plus(tmp_path / "ck", CK_SEQUENCES)
    out = tmp_path / "m.csv"
    code = cli_main(["manifest", "ck+", "--root", str(tmp_path / "ck"), "--protocol", "liu2022-macro",
                     "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0
    assert "15 images" in text
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line.split()[:1] in
            (["negative"], ["positive"], ["surprise"], ["total"])}
    assert rows["negative"][-2:] == ["9", "3263"] and rows["positive"][-2:] == ["3", "3085"]
    assert rows["surprise"][-2:] == ["3", "2994"] and rows["total"][-2:] == ["15", "9342"]
    assert len(read_manifest(out, check_frames=True)) == 15


def test_synthme_macro_sequences_run_the_frame_rule(tmp_path):
    from mer_keras.datasets import synthme

    root = synthme.generate(tmp_path / "macro", subjects=2, clips_per_subject=4, seed=0, size=128, macro=True,
                            progress=False)
    sequences = load_manifest("synthme-macro", root, protocol="three-class")  # the call reproduce makes
    images = load_manifest("synthme-macro", root, protocol="liu2022-macro")
    kept = sequences[~sequences["emotion"].isin(["fear", "contempt"])]
    assert len(images) == 3 * len(kept) > 0
    plans = {(c["subject"], c["clip"]): c for c in synthme.metadata(root)["clips"]}
    for seq in kept.itertuples():
        plan = plans[(seq.subject.split("/")[1], seq.clip)]
        assert plan["n_frames"] >= 6 and plan["apex_index"] == plan["n_frames"] - 1  # neutral onset -> apex
        mine = images[images["clip"].str.startswith(f"{seq.clip}_") & (images["subject"] == seq.subject)]
        assert sorted(mine["apex"]) == [seq.offset - 2, seq.offset - 1, seq.offset]


def _drifting_clip(folder, face, dx_apex):
    """Three frames: onset at rest, the head shifted by ``dx_apex`` px at the apex (frame 2) and after."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for t, dx in enumerate((0.0, dx_apex, dx_apex)):
        frame = cv2.warpAffine(face, np.float32([[1, 0, dx], [0, 1, 0]]), face.shape[1::-1],
                               borderMode=cv2.BORDER_REFLECT)
        names.append(f"img{t + 1}.png")
        cv2.imwrite(str(folder / names[-1]), frame[..., ::-1])
    return make_row(dataset="synthme", subject="synthme/s1", clip=folder.name, emotion="happiness", onset=1, apex=2,
                    offset=3, frames_dir=folder, frame_files=names, apex_source="annotated", fps=30)


def test_apex_image_is_aligned_on_the_apex_frame_not_the_onset(tmp_path):
    face = cv2.resize(skimage.data.astronaut()[0:300, 100:400], (160, 160), interpolation=cv2.INTER_AREA)
    still, moved = _drifting_clip(tmp_path / "still", face, 0.0), _drifting_clip(tmp_path / "moved", face, 12.0)
    params = reps.normalize_params("apex", {"size": 64, "grayscale": True, "masks": ("eyes",)})
    reference, _ = reps.compute(still, "apex", params)
    on_apex, _ = reps.compute(moved, "apex", params)
    on_onset, _ = reps.compute(moved, "apex", {**params, "align_on": "onset"})
    # fitted on the apex, the 12 px head shift is undone (the eye mask sits on the eyes): same image
    assert np.abs(on_apex - reference).mean() < 0.05  # measured 0.015; fitted on the onset: 0.22
    assert np.abs(on_onset - reference).mean() > 3 * np.abs(on_apex - reference).mean()
