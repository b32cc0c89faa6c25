"""Paper 000 (issue 24): pre-training classes balanced by undersampling, and the sequence reading of fine-tuning."""
import numpy as np
import pytest

from mer_keras.training.config import PretrainConfig, load_experiment
from mer_keras.training.fit import BalancedBatches


def test_undersampling_draws_every_class_as_often_as_the_smallest_without_repetition():
    y = np.array([0] * 12 + [1] * 5 + [2] * 8)
    x = np.arange(len(y), dtype="float32").reshape(-1, 1, 1, 1)
    b = BalancedBatches(x, y, batch_size=4, num_classes=3, seed=0, sampling="undersample")
    subsets = []
    for _ in range(6):
        order = b.order
        assert np.bincount(y[order], minlength=3).tolist() == [5, 5, 5]
        assert len(set(order.tolist())) == len(order) == 15  # no clip twice within the epoch
        assert set(np.flatnonzero(y == 1)) <= set(order.tolist())  # the smallest class whole
        batches = [b.batch(i)[0][:, 0, 0, 0].astype(int).tolist() for i in range(len(b))]
        assert [len(part) for part in batches] == [4, 4, 4, 3]  # the last batch short, not topped up
        assert sorted(i for part in batches for i in part) == sorted(order.tolist())
        subsets.append(frozenset(order[y[order] == 0].tolist()))
        b.new_epoch()
    assert len(set(subsets)) > 1  # a different subset of the largest class each epoch


def test_oversampling_stays_the_default_and_repeats_minority_clips():
    y = np.array([0] * 12 + [1] * 5 + [2] * 8)
    x = np.zeros((len(y), 1, 1, 1), "float32")
    b = BalancedBatches(x, y, batch_size=4, num_classes=3, seed=0)
    counts = np.bincount(y[b.order], minlength=3)
    assert min(counts) >= 12 and len(b.order) % 4 == 0
    assert len(set(b.order.tolist())) < len(b.order)  # with replacement
    with pytest.raises(ValueError, match="sampling"):
        BalancedBatches(x, y, batch_size=4, num_classes=3, sampling="under")


def test_pretraining_passes_its_sampling_to_the_batches(monkeypatch):
    from mer_keras.training import fit, stages

    seen = {}

    def fake_train(model, x, y, **kw):
        seen.update(kw)
        return {}

    monkeypatch.setattr(stages, "train_classifier", fake_train)
    data = stages.TrainSet(np.zeros((4, 2, 2, 1), "float32"), np.array([0, 1, 0, 1]), np.array(list("abab")), 2)
    stages.train(None, data, PretrainConfig(balanced_sampling="undersample"), seed=0, kind="image")
    assert seen["sampling"] == "undersample"
    assert fit.train_classifier.__kwdefaults__["sampling"] == "oversample"


def test_paper_000_pretrains_on_undersampled_classes_and_its_table_says_so():
    exp = load_experiment("liu2022_shufflenet", synthme=True)
    assert {v.pretrain.balanced_sampling for v in exp.variants} == {"undersample"}
    for name in ("liu2022_shufflenet_ablation", "liu2022_shufflenet_baselines"):
        assert {v.pretrain.balanced_sampling for v in load_experiment(name).variants} == {"undersample"}
    old = load_experiment("liu2022_shufflenet", overrides={"pretrain": {"balanced_sampling": "oversample"}})
    assert old.variants[0].pretrain.balanced_sampling == "oversample"
    assert PretrainConfig().balanced_sampling == "oversample"  # other experiments keep today's sampling


# ---------------------------------------------------------------------------------------- the sequence reading


def _face_clips(root, clips):
    """Clips of a real face drifting right (8 frames, onset 1, apex 6), as manifest rows."""
    import cv2
    import skimage.data

    from mer_keras.datasets.manifest import make_row

    face = cv2.resize(skimage.data.astronaut()[0:300, 100:400], (128, 128), interpolation=cv2.INTER_AREA)
    rows = []
    for subject, clip in clips:
        folder = root / subject / clip
        folder.mkdir(parents=True)
        names = []
        for t in range(8):
            frame = cv2.warpAffine(face, np.float32([[1, 0, 2.0 * min(t, 5) / 5], [0, 1, 0]]), (128, 128),
                                   borderMode=cv2.BORDER_REFLECT)
            names.append(f"img{t + 1}.png")
            cv2.imwrite(str(folder / names[-1]), frame[..., ::-1])
        rows.append(make_row(dataset="synthme", subject=f"synthme/{subject}", clip=clip, emotion="happiness",
                             onset=1, apex=6, offset=8, frames_dir=folder, frame_files=names,
                             apex_source="annotated", fps=50))
    return rows


def test_a_sequence_is_the_masked_face_frames_from_onset_to_apex(tmp_path):
    import pandas as pd

    from mer_keras.preprocessing import prepare
    from mer_keras.preprocessing.representations import normalize_params

    rows = pd.DataFrame(_face_clips(tmp_path / "clips", [("s1", "c1")]))
    kw = {"n_jobs": 1, "progress": False, "size": 48, "grayscale": True, "masks": ("eyes",)}
    apex = prepare(rows, "apex", tmp_path / "cache", **kw).stack()
    seq = prepare(rows, "apex", tmp_path / "cache", frames="sequence", sequence_frames=4, **kw).stack()
    assert apex.shape == (1, 48, 48, 1) and seq.shape == (1, 4, 48, 48, 1)
    np.testing.assert_array_equal(seq[0, -1], apex[0])  # the sequence ends at the apex, aligned the same way
    bare = prepare(rows, "apex", tmp_path / "cache", frames="sequence", sequence_frames=4,
                   **{**kw, "masks": ()}).stack()
    masked = (seq[0, -1] == 0) & (bare[0, -1] != 0)  # the eye mask of the apex frame
    assert masked.sum() > 20 and all((frame[masked] == 0).all() for frame in seq[0])  # every frame masked
    assert np.abs(seq[0, 0] - seq[0, -1]).mean() > 0.005  # the onset frame is another frame
    # an apex frame's settings (and so its cache entry) are those it had before the sequence settings existed
    assert "frames" not in normalize_params("apex", {}) and "sequence_frames" not in normalize_params("apex", {})


def _sequence_fold():
    rng = np.random.default_rng(0)
    clips, frames = 6, 3
    y = np.array([0, 1, 2, 0, 1, 2])
    x = (y[:, None, None, None, None] + 0.1 * np.arange(frames)[None, :, None, None, None]
         + 0.01 * rng.random((clips, frames, 28, 28, 3))).astype("float32")
    from mer_keras.training.fold import FoldData
    from mer_keras.training.stages import TrainSet

    groups = np.array(["a", "a", "a", "b", "b", "b"])
    flow = rng.random((clips, 28, 28, 3)).astype("float32")
    x_test = (np.array([2, 0])[:, None, None, None, None] + np.zeros((2, frames, 28, 28, 3))).astype("float32")
    return FoldData(train=TrainSet(x, y, groups, 3), x_test=x_test, pretrain=TrainSet(flow, y, groups, 3),
                    sequence=True)


def test_frames_become_samples_with_their_clip_s_label_and_subject():
    from mer_keras.training.fold import clip_scores, frames_as_samples

    data = _sequence_fold()
    out = frames_as_samples(data)
    assert out.train.x.shape == (18, 28, 28, 3) and out.x_test.shape == (6, 28, 28, 3) and not out.sequence
    assert out.train.y.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2] * 2
    assert out.train.groups.tolist() == ["a"] * 9 + ["b"] * 9
    np.testing.assert_array_equal(out.train.x[4], data.train.x[1, 1])  # clip 1, frame 1
    np.testing.assert_array_equal(out.x_test[3:], data.x_test[1])  # held-out frames listed clip by clip
    assert out.pretrain is data.pretrain  # the flow stays one array per clip
    frame_scores = np.array([[1, 0, 0], [0, 0, 3], [0, 0, 1], [2, 0, 0], [2, 1, 0], [0, 4, 0]], float)
    y_pred, scores = clip_scores(frame_scores, 2)
    np.testing.assert_allclose(scores, [[1 / 3, 0, 4 / 3], [4 / 3, 5 / 3, 0]])
    assert y_pred.tolist() == [2, 1]  # the mean decides, not a vote of frames (clip 1: two frames say 0)
    assert clip_scores(np.array([0.5, -2.0, 1.0, 1.0]), 2)[0].tolist() == [0, 1]  # a binary SVM's one column


def test_a_sequence_fold_scores_each_held_out_clip_by_its_frames_mean_svm_score():
    import dataclasses

    from mer_keras.training.embeddings import batched_outputs
    from mer_keras.training.fold import frames_as_samples, run_fold
    from mer_keras.training.networks import embedding_of

    exp = load_experiment("liu2022_shufflenet", synthme=True, overrides={
        "pretrain": {"kind": "none"}, "finetune": {"epochs": 1, "batch_size": 8, "checkpoint": "last",
                                                   "balance": "none"},
        "head": {"kernels": ["linear"], "C": [1.0], "inner_splits": 2}})
    variant = dataclasses.replace(exp.variants[0], model="ststnet", network=dataclasses.replace(
        exp.variants[0].network, activation=None))
    data = _sequence_fold()
    res = run_fold(variant, data, seed=0)
    assert res.scores.shape == (2, 3) and res.y_pred.shape == (2,)
    frames = frames_as_samples(data).x_test
    frame_scores = res.head.decision_function(batched_outputs(embedding_of(res.model), frames))
    np.testing.assert_allclose(res.scores, frame_scores.reshape(2, 3, 3).mean(axis=1), rtol=1e-5, atol=1e-6)
    assert res.y_pred.tolist() == res.scores.argmax(axis=1).tolist()


def test_sequence_settings_are_checked():
    from mer_keras.errors import ConfigError

    seq = load_experiment("liu2022_shufflenet", synthme=True, overrides={"preprocess": {"frames": "sequence"}})
    v = seq.variants[0]
    assert v.preprocess.frames == "sequence" and v.pretrain_input().frames == "apex"  # the flow: one per clip
    assert load_experiment("liu2022_shufflenet").variants[0].preprocess.frames == "apex"  # the default
    with pytest.raises(ConfigError, match="frames"):
        load_experiment("liu2022_shufflenet_flow_input", overrides={"preprocess": {"frames": "sequence"}})
    with pytest.raises(ConfigError, match="macro"):
        load_experiment("liu2022_mobilevit", overrides={"preprocess": {"frames": "sequence"}})


def test_a_sequence_loso_fold_keeps_the_held_out_subject_s_frames_out_and_cannot_be_exported(tmp_path):
    from mer_keras.errors import InputError
    from mer_keras.training.fold import frames_as_samples
    from mer_keras.training.runner import FoldTask, LosoInputs, export_model

    v = load_experiment("liu2022_shufflenet", synthme=True, overrides={"preprocess": {"frames": "sequence"}}).variants[0]
    x = np.arange(12, dtype="float32").reshape(4, 3, 1, 1, 1)  # clip k's frames hold 3k, 3k + 1, 3k + 2
    inputs = LosoInputs(x=x, y=np.array([0, 1, 2, 0]), groups=np.array(["a", "a", "b", "b"]), rows=None,
                        num_classes=3, x_pre=np.zeros((4, 1, 1, 3), "float32"))
    data = inputs.fold(FoldTask(v, "b", np.array([0, 1]), np.array([2, 3]), 0, None, None))
    assert data.sequence and data.held_out_labels is None
    out = frames_as_samples(data)
    assert out.train.x.ravel().tolist() == [0, 1, 2, 3, 4, 5] and set(out.train.groups) == {"a"}
    assert out.x_test.ravel().tolist() == [6, 7, 8, 9, 10, 11]
    with pytest.raises(InputError, match="frames"):
        export_model(v, inputs, tmp_path, 0, classes=["a", "b", "c"], preprocess=v.preprocess)
