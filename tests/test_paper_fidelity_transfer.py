"""Paper 002 as shipped runs on CASME II (issue 24): `hao2024_lam` fine-tunes on five classes after a
backbone-only transfer from a three-class macro-expression corpus. Fixture trees in the datasets' native layouts
(`tests.fixtures.native_layouts`: 8x8 frames, no face, so the centre-crop fallback), about a minute."""
import json

import pytest

from mer_keras.training.reproduce import reproduce

TINY = {"preprocess": {"size": 32, "on_no_face": "center"}, "pretrain": {"epochs": 1, "batch_size": 4},
        "finetune": {"epochs": 1, "batch_size": 4}, "baselines": False}


@pytest.mark.slow
def test_hao2024_lam_transfers_a_three_class_macro_backbone_into_a_five_class_casme2_run(tmp_path):
    from mer_keras.datasets import load_manifest
    from mer_keras.datasets.manifest import write_manifest
    from tests.fixtures.native_layouts import write_casme2, write_ck_plus

    write_casme2(tmp_path / "casme2")
    write_ck_plus(tmp_path / "ck")
    micro = load_manifest("casme2", tmp_path / "casme2", protocol="casme2-5class")
    macro = load_manifest("ck+", tmp_path / "ck", protocol="three-class")
    assert micro["label"].nunique() == 5 and macro["label"].nunique() == 3
    for df, name in ((micro, "micro.csv"), (macro, "macro.csv")):
        df.attrs.clear()
        write_manifest(df, tmp_path / name)

    res = reproduce("hao2024_lam", data=str(tmp_path / "micro.csv"), macro_manifest=str(tmp_path / "macro.csv"),
                    out=tmp_path / "run", cache=tmp_path / "cache", overrides=TINY)
    assert res["config"]["classes"] == ["others", "disgust", "happiness", "repression", "surprise"]
    assert res["scores"]["all"]["n"] == len(micro)
    folder = tmp_path / "run" / "folds" / "lam_resnet18_transfer"
    details = [json.loads(f.read_text()) for f in sorted(folder.glob("casme2__*.json"))]
    reports = [d["load_report"] for d in details if "load_report" in d]
    assert len(reports) == micro["subject"].nunique() and all("1 skipped" in r and "skipped predictions: shape mismatch" in r for r in reports)
    assert all(" 0 layers loaded" not in r for r in reports)  # the backbone moved, only the head is fresh
