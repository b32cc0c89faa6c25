"""A clip's prepared array depends on that clip alone (issue 24): preparing it inside the whole manifest or inside a
sub-manifest of other clips gives the same bytes, so no statistic over the manifest's other clips (a shared
normalisation, a corpus-wide flow bound, a mask learned from every clip) reaches a held-out subject's input or,
through its clips, the training input of another fold."""
import cv2
import numpy as np
import pandas as pd
import pytest
import skimage.data

from mer_keras.training.config import PreprocessConfig
from mer_keras.training.data import prepared
from tests.test_preprocessing_prepare import _row, _write_clip


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    """Four clips, two subjects, each with its own drift and brightness (so any pooled statistic would move)."""
    root = tmp_path_factory.mktemp("clips")
    face = cv2.resize(skimage.data.astronaut()[0:300, 100:400], (120, 120), interpolation=cv2.INTER_AREA)
    rows = []
    for k, (subject, clip, drift, gain) in enumerate((("s1", "c1", 1.0, 1.0), ("s1", "c2", 2.0, 0.6),
                                                      ("s2", "c1", 0.5, 1.3), ("s2", "c2", 3.0, 0.8))):
        folder = root / subject / clip
        image = np.clip(face.astype(np.float32) * gain + 10 * k, 0, 255).astype(np.uint8)
        rows.append(_row(folder, _write_clip(folder, image, drift), subject, clip))
    return pd.DataFrame(rows)


@pytest.mark.parametrize("settings", [
    {"representation": "apex", "grayscale": True, "masks": ("eyes", "static")},
    {"representation": "flow", "masks": ("eyes",)},
    {"representation": "ars", "n_key": 3},
    {"representation": "flow", "flow_centring": "median"},
], ids=["apex_masked", "flow", "ars", "flow_centred"])
def test_a_clip_s_prepared_array_does_not_depend_on_the_other_clips(manifest, tmp_path, settings):
    pre = PreprocessConfig(size=32, flow_size=32, **settings)
    whole, _ = prepared(manifest, pre, tmp_path / "whole", n_jobs=1, progress=False)
    # the shared clip (s1/c2) with a different company: alone, and with the other subject's clips only
    alone, _ = prepared(manifest.iloc[[1]], pre, tmp_path / "alone", n_jobs=1, progress=False)
    mixed, _ = prepared(manifest.iloc[[3, 1, 2]], pre, tmp_path / "mixed", n_jobs=1, progress=False)
    assert whole.dtype == alone.dtype == mixed.dtype and whole.shape[1:] == alone.shape[1:]
    assert whole[1].tobytes() == alone[0].tobytes() == mixed[1].tobytes()
    assert mixed[0].tobytes() == whole[3].tobytes() and mixed[2].tobytes() == whole[2].tobytes()
    assert not np.array_equal(whole[1], whole[3])  # the clips do differ: the comparison could fail


def test_flow_centring_subtracts_each_clip_s_own_median_after_the_cache(manifest, tmp_path):
    """``flow_centring = "median"``: each clip's u and v lose their own median, strain is untouched, and the cached
    arrays stay those of ``prepare`` (a run without centring reading the same cache gets the uncentred input)."""
    plain, _ = prepared(manifest, PreprocessConfig(size=32, flow_size=32), tmp_path, n_jobs=1, progress=False)
    centred, _ = prepared(manifest, PreprocessConfig(size=32, flow_size=32, flow_centring="median"), tmp_path,
                          n_jobs=1, progress=False)
    again, _ = prepared(manifest, PreprocessConfig(size=32, flow_size=32), tmp_path, n_jobs=1, progress=False)
    medians = np.median(plain[..., :2], axis=(1, 2))
    assert np.abs(medians).max() > 1e-3  # the drifting clips have a median motion to remove
    np.testing.assert_allclose(centred[..., :2], plain[..., :2] - medians[:, None, None, :], atol=1e-6)
    np.testing.assert_allclose(np.median(centred[..., :2], axis=(1, 2)), 0.0, atol=1e-6)
    assert centred[..., 2].tobytes() == plain[..., 2].tobytes()
    assert again.tobytes() == plain.tobytes()
