"""The published numbers carried into the package, with their sources."""
import pytest

from mer_keras.evaluation import (
    published_facts,
    published_rows,
    published_scores,
    published_timings,
)
from mer_keras.evaluation.published import PAPERS


def value(df, method, dataset, metric):
    hit = df[(df["method"] == method) & (df["dataset"] == dataset)]
    assert len(hit) == 1, (method, dataset, len(hit))
    return hit.iloc[0][metric]


def test_paper_000_table_2_every_row_and_column():
    t2 = published_scores("liu2022_shufflenet")
    assert len(t2) == 14 * 4 * 2  # 14 approaches x (MMEW, CASME II, SMIC, SAMM) x (UAR, UF1)
    assert t2["method"].nunique() == 14
    rows = published_rows("liu2022_shufflenet")
    assert value(rows, "ShuffleNetV2 with improved ViT", "samm", "uf1") == 0.7410
    assert value(rows, "ShuffleNetV2 with improved ViT", "samm", "uar") == 0.6684  # oddity kept as printed
    assert value(rows, "ShuffleNetV2 without pre-trained", "mmew", "uar") == 0.6252
    assert value(rows, "DeiT*", "casme2", "uf1") == 0.7008
    assert "all" not in set(rows["dataset"])  # the table has no composite column


def test_megc_rows_and_dedupe_prefers_four_decimals():
    full = published_rows("megc2019")
    assert value(full[full["table"] == "STSTNet Table III"], "STSTNet", "all", "accuracy") == 0.7692
    assert value(full[full["table"] == "guideline baseline"], "LBP-TOP", "smic", "uf1") == 0.2000
    best = published_rows("megc2019", dedupe=True)
    assert value(best, "CapsuleNet", "all", "uf1") == 0.6520  # Table IV, not ELBPTOP's 0.65
    assert value(best, "CapsuleNet", "smic", "uf1") == 0.58  # only known to 2 decimals
    assert value(best, "EMR", "samm", "uar") == 0.72
    lbp = best[(best["method"] == "LBP-TOP") & (best["dataset"] == "all")].iloc[0]
    assert lbp["accuracy"] != lbp["accuracy"]  # printed '-', left out (NaN)


def test_paper_004_and_timings():
    rows = published_rows("liu2022_mobilevit")
    assert value(rows, "MobileViT (proposed)", "all", "accuracy") == 0.8427
    t = published_timings()
    assert t.set_index("method").loc["ShuffleNetV2 + ViT", "ms_per_sample"] == 37.9
    assert t.set_index("method").loc["MobileViT (proposed)", "ms_per_sample"] == 35.4
    assert len(published_timings("liu2022_shufflenet")) == 5
    assert "1.53 million" in set(published_facts("liu2022_shufflenet")["value"])


def test_every_number_has_a_source_and_a_known_paper():
    from mer_keras.evaluation.published import published_facts

    scores = published_scores()
    facts = published_facts()
    unpublished = set(facts[facts["value"] == "not published in text"]["paper"])
    assert unpublished == {"zhao2021_cropnet", "hao2024_lam"}  # their tables are images / only the abstract
    assert set(scores["paper"]) == set(PAPERS) - unpublished
    assert scores["source"].str.len().min() > 20
    assert scores["value"].between(0, 1).all()
    assert published_timings()["source"].str.len().min() > 20
    with pytest.raises(ValueError, match="unknown paper"):
        published_rows("zhang2022_cropnet")
