"""SynthME: layout, determinism, dlib-detectable faces, AU motion where it belongs, and fairness
(motion carries the class, appearance does not)."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from openpyxl import load_workbook
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GroupKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mer_keras.datasets import synthme
from mer_keras.datasets import synthme_faces as faces
from mer_keras.datasets import synthme_motion as motion
from mer_keras.datasets.labels import three_class


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """12 subjects x 10 clips at 224 px: big enough for the fairness check."""
    return synthme.generate(tmp_path_factory.mktemp("synthme") / "micro", subjects=12, clips_per_subject=10,
                            seed=0, size=224, progress=False)


@pytest.fixture(scope="module")
def meta(corpus):
    return synthme.metadata(corpus)


def _frames(root, clip, *which):
    folder = root / synthme.MICRO_FRAMES / f"sub{clip['subject']}" / clip["clip"]
    return [cv2.imread(str(folder / f"img{clip[w]}.jpg"), cv2.IMREAD_GRAYSCALE).astype(np.float32) for w in which]


def _quiet_plan(**changes):
    """A lip-corner-pull clip plan with every distractor switched off, apex at frame 4."""
    plan = {"aus": {"12": 1.0}, "side_gain": [1.0, 1.0], "amplitude_px": 0.5, "n_frames": 9, "apex_index": 4,
            "blink": None, "head_motion_px": 0.0, "head_roll_deg": 0.0, "flicker_sd": 0.0, "noise_sd": 0.0,
            "render_seed": 1}
    return {**plan, **changes}


def test_micro_layout_matches_casme2(corpus, meta):
    ws = load_workbook(corpus / synthme.MICRO_SHEET)["Sheet1"]
    header = [c.value for c in ws[1]]
    assert header == ["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None,
                      "Action Units", "Estimated Emotion"]
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 120
    assert all(isinstance(r[0], str) and len(r[0]) == 2 for r in rows)  # '01', text as in CASME II
    assert {r[8] for r in rows} <= {"happiness", "surprise", "disgust", "repression", "fear", "sadness", "others"}
    subject, clip, _, onset, apex, offset = rows[0][:6]
    folder = corpus / synthme.MICRO_FRAMES / f"sub{subject}" / clip
    names = sorted(p.name for p in folder.iterdir())
    assert f"img{onset}.jpg" in names and f"img{apex}.jpg" in names and f"img{offset}.jpg" in names
    assert len(names) == offset - onset + 1 and onset < apex < offset
    assert min(c["onset"] for c in meta["clips"]) > 1  # absolute numbers, not restarting at 1
    assert meta["fps"] == synthme.MICRO_FPS and meta["seed"] == 0 and meta["size"] == 224
    assert {"amplitude_px", "blink", "head_motion_px", "flicker_sd", "noise_sd", "aus", "extra_au",
            "skin_motion_px"} <= set(meta["clips"][0])
    assert meta["version"] == synthme.VERSION and meta["micro_motion"]["extra_au_share"] == synthme.EXTRA_AU_SHARE


def test_reader_and_both_protocols(corpus):
    from mer_keras.datasets import load_manifest

    three = load_manifest("synthme", corpus, protocol="three-class")
    five = load_manifest("synthme", corpus, protocol="casme2-5class")
    counts = three["class_name"].value_counts()
    assert set(counts.index) == {"negative", "positive", "surprise"}
    assert counts["negative"] > counts["positive"] > counts["surprise"]
    assert set(five["class_name"]) == {"others", "disgust", "happiness", "repression", "surprise"}
    assert (three["fps"] == synthme.MICRO_FPS).all()
    assert three["subject"].str.startswith("synthme/sub").all() and three["subject"].nunique() == 12
    assert (three["apex_idx"] > three["onset_idx"]).all()


def test_emotion_mix_is_megc_like():
    seq = synthme._emotion_sequence(synthme.MICRO_EMOTION_SHARE, 1000, np.random.default_rng(0))
    classes = np.bincount([three_class(e) for e in seq if three_class(e) is not None], minlength=3)
    neg, pos, _ = classes / classes[2]
    assert 2.6 < neg < 3.3 and 1.1 < pos < 1.5
    assert seq.count("others") > 0 and seq.count("repression") > 0


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    import time

    kw = {"subjects": 2, "clips_per_subject": 2, "size": 128, "progress": False}
    a = synthme.generate(tmp_path / "a", seed=3, **kw)
    time.sleep(2.1)  # zip entries carry times to the 2-second step: the sheet must not
    b = synthme.generate(tmp_path / "b", seed=3, **kw)
    c = synthme.generate(tmp_path / "c", seed=4, **kw)
    files = sorted(p.relative_to(a) for p in (a / synthme.MICRO_FRAMES).rglob("*.jpg"))
    assert len(files) > 20
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    assert (a / synthme.METADATA).read_text() == (b / synthme.METADATA).read_text()
    assert (a / synthme.MICRO_SHEET).read_bytes() == (b / synthme.MICRO_SHEET).read_bytes()
    assert (a / synthme.METADATA).read_text() != (c / synthme.METADATA).read_text()
    assert synthme.generate(tmp_path / "a", seed=3, **kw) == a  # finished corpus: returned as is
    with pytest.raises(FileExistsError, match="different SynthME corpus"):
        synthme.generate(tmp_path / "a", seed=5, **kw)


def test_dlib_finds_the_face_in_written_frames(corpus, meta):
    marks = {i["subject"]: np.array(i["landmarks"]) for i in meta["identities"]}
    for clip in meta["clips"][::15]:
        for frame in _frames(corpus, clip, "onset", "apex"):
            found = faces.find_landmarks(frame.astype(np.uint8))
            assert found is not None, f"no face in {clip['subject']}/{clip['clip']}"
            assert np.abs(found - marks[clip["subject"]]).mean() < 3.0
            width = found[:, 0].max() - found[:, 0].min()
            assert width > 0.55 * frame.shape[1]  # faces stay large in frame


def test_positive_moves_mouth_corners_negative_moves_brows(corpus, meta):
    tvl1 = cv2.optflow.DualTVL1OpticalFlow_create()
    tvl1.setScalesNumber(3)
    tvl1.setWarpingsNumber(3)
    marks = {i["subject"]: np.array(i["landmarks"]) for i in meta["identities"]}

    def motion_at(flow, points, r=6):
        return float(np.mean([np.linalg.norm(flow[y - r:y + r, x - r:x + r], axis=-1).mean()
                              for x, y in points.astype(int)]))

    ratio = {}  # mouth-corner motion / brow motion, mean over clips of the class
    for cls in (0, 1):
        # without a blink or a class-unrelated extra AU (a brow lowering in a positive clip is AU overlap, on purpose)
        clips = [c for c in meta["clips"] if three_class(c["emotion"]) == cls and not c["blink"]
                 and not c["extra_au"]][:8]
        mouth, brow = [], []
        for clip in clips:
            onset, apex = _frames(corpus, clip, "onset", "apex")
            flow = tvl1.calc(onset.astype(np.uint8), apex.astype(np.uint8), None)
            m = marks[clip["subject"]]
            mouth.append(motion_at(flow, m[[48, 54]]))
            brow.append(motion_at(flow, m[[19, 24]]))
        ratio[cls] = np.mean(mouth) / np.mean(brow)
    print(f"mouth/brow TV-L1 motion: positive {ratio[1]:.2f}, negative {ratio[0]:.2f}")
    assert ratio[1] > 1.5, f"positive: mouth/brow motion {ratio[1]:.2f}"
    assert ratio[0] < 1 / 1.5, f"negative: mouth/brow motion {ratio[0]:.2f}"


def test_motion_carries_the_class_appearance_does_not(corpus, meta):
    """Landmark-cropped 12x12 features, logistic regression, subject-grouped 5-fold CV."""
    marks = {i["subject"]: np.array(i["landmarks"]) for i in meta["identities"]}
    diffs, apexes, labels, groups = [], [], [], []
    for clip in meta["clips"]:
        label = three_class(clip["emotion"])
        if label is None:
            continue
        x0, y0 = marks[clip["subject"]].min(0).astype(int)
        x1, y1 = marks[clip["subject"]].max(0).astype(int)
        onset, apex = (cv2.GaussianBlur(f, (0, 0), 1)[y0 - 8:y1 + 2, x0:x1] for f in _frames(corpus, clip, "onset", "apex"))
        d = cv2.resize(np.abs(apex - onset), (12, 12), interpolation=cv2.INTER_AREA).ravel()
        diffs.append(d / d.sum())
        apexes.append(cv2.resize(apex, (12, 12), interpolation=cv2.INTER_AREA).ravel())
        labels.append(label)
        groups.append(clip["subject"])

    def score(x):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=3000))
        pred = cross_val_predict(model, np.array(x), labels, groups=groups, cv=GroupKFold(5))
        return balanced_accuracy_score(labels, pred)

    motion_score, appearance_score = score(diffs), score(apexes)
    print(f"balanced accuracy: onset->apex differences {motion_score:.3f}, apex pixels {appearance_score:.3f}")
    # SynthME 2.0's motion is calibrated to real floors (weaker than 1.0's, where this gave 0.83): 0.51 here
    assert appearance_score < 0.45, f"apex pixels predict the class: {appearance_score:.2f} (chance 0.33)"
    assert motion_score > 0.45, f"onset->apex differences too weak: {motion_score:.2f}"
    assert motion_score > appearance_score + 0.1


def test_distractors_are_present_and_vary(meta):
    clips = meta["clips"]
    assert 0.05 < np.mean([c["blink"] is not None for c in clips]) < 0.5
    assert all(0 < c["head_motion_px"] <= 1.0 and c["flicker_sd"] > 0 and c["noise_sd"] > 0 for c in clips)
    gains = {c["subject"]: c["subject_amplitude_gain"] for c in clips}
    assert max(gains.values()) / min(gains.values()) > 1.5  # subject-specific amplitude
    amps = [c["amplitude_px"] for c in clips]
    lo, hi = synthme.MICRO_AMPLITUDE_PX
    assert lo <= min(amps) and max(amps) <= hi and max(amps) / min(amps) > 4
    extra = [c["extra_au"] for c in clips]
    assert 0.15 < np.mean([a is not None for a in extra]) < 0.5  # a class-unrelated AU in about a third
    assert all(a is None or a in c["aus"] for a, c in zip(extra, clips))
    assert all(0 < c["skin_motion_px"] <= synthme.SKIN_MOTION_PX[1] for c in clips)


def test_expression_peaks_at_the_apex_distractors_do_not_follow_it():
    """The annotated apex is the peak of the expression's own motion (what an apex spotter should find);
    the skin drift starts at 0 on the onset frame and keeps its size through the clip, whatever the apex."""
    ident = faces.make_identities(1, 0, 224)[0]
    plan = _quiet_plan(n_frames=14, apex_index=5)
    frames = np.array(synthme.render_clip(ident, plan), np.float32).mean(-1)
    change = np.abs(frames - frames[0]).mean((1, 2))
    assert int(np.argmax(change)) == plan["apex_index"] and change[-1] < 0.3 * change.max()
    drift = motion.random_walk_fields(np.random.default_rng(0), (64, 64), 14)
    rms = np.sqrt((drift**2).sum(-1).mean((1, 2)))
    assert rms[0] == 0 and 0.6 < rms[-1] < 1.4 and rms[5:].min() > 0.3
    assert np.array_equal(drift, motion.random_walk_fields(np.random.default_rng(0), (64, 64), 14))


def test_blink_closes_the_eyes_not_the_mouth(corpus):
    ident = faces.make_identities(1, 0, 224)[0]
    plan = _quiet_plan(amplitude_px=1e-6, blink={"start": 3, "length": 3, "closure": 0.9})
    frames = synthme.render_clip(ident, plan)
    change = np.abs(frames[4].astype(float) - frames[0].astype(float)).mean(-1)
    m = ident.landmarks.astype(int)
    eye = change[m[37, 1] - 4:m[41, 1] + 4, m[36, 0]:m[39, 0]].mean()
    mouth = change[m[51, 1]:m[57, 1], m[48, 0]:m[54, 0]].mean()
    assert eye > 5 * max(mouth, 0.1)


def test_subpixel_motion_survives_jpeg_95():
    ident = faces.make_identities(1, 0, 224)[0]
    amp = 0.5
    plan = _quiet_plan(amplitude_px=amp)
    frames = synthme.render_clip(ident, plan)
    onset, apex = (cv2.imdecode(cv2.imencode(".jpg", cv2.cvtColor(f, cv2.COLOR_RGB2GRAY),
                                             [cv2.IMWRITE_JPEG_QUALITY, synthme.JPEG_QUALITY])[1], 0)
                   for f in (frames[0], frames[4]))
    flow = cv2.optflow.DualTVL1OpticalFlow_create().calc(onset, apex, None)
    truth = motion.expression_field(ident.landmarks, plan["aus"], (224, 224)) * amp
    for x, y in ident.landmarks[[48, 54]].astype(int):
        est = flow[y - 2:y + 3, x - 2:x + 3].reshape(-1, 2).mean(0)
        assert np.linalg.norm(est - truth[y, x]) < 0.4 * amp


def test_action_unit_directions():
    marks = faces.make_identities(1, 0, 224)[0].landmarks
    smile = motion.au_field(marks, "12", (224, 224))
    brow_down = motion.au_field(marks, "4", (224, 224))
    (lx, ly), (rx, ry) = marks[48].astype(int), marks[54].astype(int)
    assert smile[ly, lx, 0] < -0.5 and smile[ry, rx, 0] > 0.5  # corners pulled outward
    assert smile[ly, lx, 1] < 0 and smile[ry, rx, 1] < 0  # and up
    bx, by = marks[19].astype(int)
    assert brow_down[by, bx, 1] > 0.5
    assert np.abs(smile[by, bx]).max() < 0.05 and np.abs(brow_down[ly, lx]).max() < 0.05  # local
    with pytest.raises(ValueError, match="unknown action unit"):
        motion.au_field(marks, "99", (224, 224))


def test_macro_corpus_ck_layout_and_disjoint_identities(tmp_path, meta):
    from mer_keras.datasets import load_manifest

    root = synthme.generate(tmp_path / "macro", subjects=3, clips_per_subject=3, seed=0, size=160, macro=True,
                            progress=False)
    labels = sorted((root / synthme.MACRO_LABELS).rglob("*_emotion.txt"))
    assert len(labels) == 9
    text = labels[0].read_text()
    assert text.startswith("   ") and float(text) in set(synthme.CK_CODES.values())
    seq = labels[0].parent.relative_to(root / synthme.MACRO_LABELS)
    frames = sorted((root / synthme.MACRO_FRAMES / seq).glob("*.png"))
    assert frames[0].name == f"{seq.parts[0]}_{seq.parts[1]}_00000001.png"
    assert labels[0].name == frames[-1].stem + "_emotion.txt"  # label named after the apex (last) frame
    macro_meta = synthme.metadata(root)
    assert {i["name"] for i in macro_meta["identities"]}.isdisjoint(i["name"] for i in meta["identities"])
    assert min(c["amplitude_px"] for c in macro_meta["clips"]) > 2.0
    df = load_manifest("synthme-macro", root)
    assert len(df) == 9 and set(df["class_name"]) <= {"negative", "positive", "surprise"}
    with pytest.raises(ValueError, match="not a micro"):
        synthme.read(root)


def test_bad_input_gets_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="subjects and clips_per_subject"):
        synthme.generate(tmp_path / "x", subjects=0)
    with pytest.raises(ValueError, match="size"):
        synthme.generate(tmp_path / "x", size=32)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        synthme.generate(tmp_path / "busy", subjects=1, clips_per_subject=1)
    with pytest.raises(FileNotFoundError, match="not a SynthME corpus"):
        synthme.read(tmp_path / "busy")
    with pytest.raises(ValueError, match="usable identities"):
        faces.make_identities(60, 0, 128)


def test_cli_synth(tmp_path, capsys):
    from mer_keras.cli import main

    out = tmp_path / "cli"
    args = ["synth", "--out", str(out), "--subjects", "1", "--clips-per-subject", "2", "--size", "128", "--quiet"]
    assert main(args) == 0
    assert json.loads((out / synthme.METADATA).read_text())["clips_per_subject"] == 2
    assert main(args) == 0  # same arguments: nothing to do
    assert main(args[:-1] + ["--seed", "9", "--quiet"]) == 2
    assert "different SynthME corpus" in capsys.readouterr().err


def test_an_interrupted_corpus_is_regenerated_without_stale_frames(tmp_path):
    kw = {"subjects": 1, "clips_per_subject": 2, "size": 128, "progress": False, "seed": 3}
    root = synthme.generate(tmp_path / "a", **kw)
    stale = next((root / synthme.MICRO_FRAMES).rglob("*.jpg")).with_name("img99999.jpg")
    stale.write_bytes(b"left by an interrupted run")
    (root / synthme.METADATA).unlink()  # the metadata is written last: its absence means "interrupted"
    synthme.generate(tmp_path / "a", **kw)
    assert not stale.exists()
    assert (root / synthme.METADATA).is_file()
