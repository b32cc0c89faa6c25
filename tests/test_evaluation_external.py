"""``mer-keras table RUN --against FILE``: another codebase's per-subject predictions (an STSTNet-style log or a
CSV) beside a run on the same clips, paired by subject because such logs name no clips."""
import numpy as np
import pandas as pd
import pytest

from mer_keras.cli import main
from mer_keras.errors import InputError
from mer_keras.evaluation import pooled_scores, write_results_json
from mer_keras.evaluation.bootstrap import paired_bootstrap, subject_paired_bootstrap
from mer_keras.evaluation.external import (
    external_comparison,
    match_subjects,
    read_external_predictions,
)
from tests.test_evaluation_report import save_folds

SUBJECTS = ("casme2/sub01", "casme2/sub02", "casme2/sub03", "smic-hs/s1", "smic-hs/s2", "smic-hs/s3")


def _preds(seed: int, wrong_rate: float, clips: int = 7) -> pd.DataFrame:
    """Every subject's clips, classes 0..2, each prediction wrong with probability ``wrong_rate``."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in SUBJECTS:
        for c in range(clips):
            y = int(np.random.default_rng([len(rows)]).integers(0, 3))  # the same truths whatever the seed
            p = int((y + rng.integers(1, 3)) % 3) if rng.random() < wrong_rate else y
            rows.append({"dataset": s.split("/")[0], "subject": s, "clip": f"clip{c}", "y_true": y, "y_pred": p})
    return pd.DataFrame(rows)


def _log(preds: pd.DataFrame, names: dict, extra: str = "") -> str:
    """The STSTNet release's log format (its running-score lines too), subjects as ``names`` spells them."""
    out = []
    for subject, part in preds.groupby("subject", sort=False):
        part = part.sort_values("y_true", kind="stable")  # the release reads class folders: grouped by class
        out += [f"Subject: {names[subject]} ", f"Predicted   : {part['y_pred'].tolist()} ",
                f"Ground Truth: {part['y_true'].tolist()} ", "UF1: 0.5 | UAR: 0.5 "]
    return "\n".join(out) + "\n" + extra + "Final Evaluation: \nUF1: 0.7 | UAR: 0.7 \n"


LOG_NAMES = {"casme2/sub01": "sub01", "casme2/sub02": "sub02", "casme2/sub03": "sub03",
             "smic-hs/s1": "s01", "smic-hs/s2": "s02", "smic-hs/s3": "s03"}


def test_pairing_by_subject_gives_the_clip_paired_interval_bit_for_bit():
    """Pooled metrics resampled by subject need only each subject's (truth, prediction) counts: renaming and
    reordering the clips inside a subject changes nothing."""
    a, b = _preds(1, 0.2), _preds(2, 0.4)
    by_clip = paired_bootstrap(a, b, ("uf1", "uar", "accuracy"), n_boot=300, seed=3)
    unnamed = b.sample(frac=1, random_state=0).assign(clip=lambda d: [f"#{i}" for i in range(len(d))])
    by_subject = subject_paired_bootstrap(a, unnamed, ("uf1", "uar", "accuracy"), n_boot=300, seed=3)
    assert by_subject == by_clip
    assert by_clip["uf1"].difference > 0  # a is right more often: the test compares something that differs


def test_other_class_counts_in_a_subject_are_refused():
    a, b = _preds(1, 0.2), _preds(2, 0.4)
    row = b.index[(b["subject"] == "smic-hs/s2")][0]
    b.loc[row, "y_true"] = (b.loc[row, "y_true"] + 1) % 3  # one clip's label read differently
    with pytest.raises(ValueError, match=r"1 subject\(s\) hold other class counts.*smic-hs/s2"):
        subject_paired_bootstrap(a, b)
    with pytest.raises(ValueError, match="not the same subjects.*smic-hs/s3"):
        subject_paired_bootstrap(a, b[b["subject"] != "smic-hs/s3"])


def test_a_log_and_a_csv_read_alike(tmp_path):
    preds = _preds(2, 0.4)
    (tmp_path / "run.log").write_text(_log(preds, LOG_NAMES))
    from_log = read_external_predictions(tmp_path / "run.log")
    assert len(from_log) == len(preds) and list(from_log["subject"].unique()) == list(LOG_NAMES.values())
    preds.assign(subject=preds["subject"].map(LOG_NAMES))[["subject", "y_true", "y_pred"]].to_csv(
        tmp_path / "run.csv", index=False)
    from_csv = read_external_predictions(tmp_path / "run.csv")
    key = ["subject", "y_true", "y_pred"]
    assert (from_log.sort_values(key).reset_index(drop=True) == from_csv.sort_values(key).reset_index(drop=True)).all().all()


@pytest.mark.parametrize("damage, message", [
    (lambda t: t.replace("Predicted   : [", "Predicted   : [x, ", 1), r"line 2 \(subject sub01\).*integer class codes"),
    (lambda t: t.replace("Ground Truth: [", "Ground Truth: [0, ", 1), r"line 1 \(subject sub01\): 7 predictions for 8"),
    (lambda t: t.replace("Ground Truth", "Truth", 1), "read 5 such blocks of 6 'Subject:' lines"),
    (lambda t: t + "Subject: s01 \nPredicted   : [0] \nGround Truth: [0] \n", r"\['s01'\] appear in more than one"),
])
def test_a_damaged_log_is_an_error_naming_where(tmp_path, damage, message):
    (tmp_path / "run.log").write_text(damage(_log(_preds(2, 0.4), LOG_NAMES)))
    with pytest.raises(InputError, match=message):
        read_external_predictions(tmp_path / "run.log")


def test_subjects_match_across_spellings():
    ours = ["casme2/sub01", "smic-hs/s1", "samm/006", "samm/7"]
    assert match_subjects(["sub01", "s01", "6", "007", "casme2/sub01", "x9"], ours) == {
        "sub01": "casme2/sub01", "s01": "smic-hs/s1", "6": "samm/006", "007": "samm/7", "casme2/sub01": "casme2/sub01"}
    with pytest.raises(InputError, match="'sub01' of the file could be any of"):
        match_subjects(["sub01"], ["casme2/sub01", "casme3/sub01"])


def _run(run_dir, preds, floor):
    save_folds(run_dir, "net", preds)
    save_folds(run_dir, "baseline_linear_svm", floor)
    write_results_json(run_dir, config={"name": "twin", "data": "m.csv", "baselines": ["linear_svm"]},
                       scores=pooled_scores(preds), variants={"net": {"scores": pooled_scores(preds), "label": "ours"}})
    import json

    doc = json.loads((run_dir / "results.json").read_text())
    doc["baselines"] = {"linear_svm": {"label": "linear_svm", "scores": {"all": pooled_scores(floor)["all"]}}}
    (run_dir / "results.json").write_text(json.dumps(doc))
    return run_dir


def test_table_against_a_log_prints_each_variant_per_dataset(tmp_path, capsys):
    ours, floor, theirs = _preds(1, 0.2), _preds(5, 0.5), _preds(2, 0.4)
    run = _run(tmp_path / "run", ours, floor)
    extra = "Subject: 006 \nPredicted   : [0, 1] \nGround Truth: [0, 0] \n"  # a SAMM subject the run lacks
    (tmp_path / "theirs.log").write_text(_log(theirs, LOG_NAMES, extra))
    df, left_out = external_comparison(run, tmp_path / "theirs.log", n_boot=200)
    assert left_out == ["006"]
    assert set(df["run_variant"]) == {"ours", "baseline: linear_svm"} and set(df["dataset"]) == {"all", "casme2", "smic"}
    row = df[(df["run_variant"] == "ours") & (df["dataset"] == "smic")].iloc[0]
    ours_smic, theirs_smic = (p[p["dataset"] == "smic-hs"] for p in (ours, theirs))
    expected = subject_paired_bootstrap(ours_smic, theirs_smic, n_boot=200)["uf1"]
    assert (row["uf1_difference"], row["uf1_low"], row["uf1_high"]) == tuple(expected)
    assert row["theirs_uf1"] == pooled_scores(theirs_smic)["all"]["uf1"] and row["n"] == len(ours_smic)
    assert main(["table", str(run), "--against", str(tmp_path / "theirs.log"), "--no-pairs", "--no-published",
                 "--n-boot", "200"]) == 0
    out = capsys.readouterr().out
    assert "1 subject(s) of the file are not in the run and are left out: 006" in out
    assert f"ours | smic ({row['n']} clips): ours UF1 {row['ours_uf1']:.3f}" in out


def test_a_log_without_one_of_the_runs_subjects_is_refused(tmp_path, capsys):
    run = _run(tmp_path / "run", _preds(1, 0.2), _preds(5, 0.5))
    theirs = _preds(2, 0.4)
    (tmp_path / "theirs.log").write_text(_log(theirs[theirs["subject"] != "casme2/sub02"], LOG_NAMES))
    assert main(["table", str(run), "--against", str(tmp_path / "theirs.log"), "--no-pairs", "--no-published"]) == 2
    assert "holds no predictions for 1 subject(s) of the run (first ['casme2/sub02'])" in capsys.readouterr().err
