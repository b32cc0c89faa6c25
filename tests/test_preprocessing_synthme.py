"""On a small SynthME corpus the micro-expression motion survives alignment and masking:
positive clips (lip-corner pull) move most at the mouth corners, negative ones (brow lowering) at the brows."""
import numpy as np
import pytest

from mer_keras.datasets import load_manifest, synthme
from mer_keras.preprocessing import prepare


def _around(image, points, radius):
    values = []
    for x, y in np.round(points).astype(int):
        values.append(image[max(y - radius, 0): y + radius + 1, max(x - radius, 0): x + radius + 1].mean())
    return float(np.mean(values))


@pytest.fixture(scope="module")
def flows(tmp_path_factory):
    root = synthme.generate(tmp_path_factory.mktemp("synthme"), subjects=3, clips_per_subject=6, seed=0, size=128,
                            progress=False)
    manifest = load_manifest("synthme", root, protocol="three-class")
    return prepare(manifest, "flow", tmp_path_factory.mktemp("cache"), n_jobs=2, progress=False, size=112,
                   masks=("eyes",), third="magnitude")


def test_mouth_moves_for_positive_and_brows_for_negative(flows):
    contrast = {"positive": [], "negative": []}
    for i, name in enumerate(flows.manifest["class_name"]):
        if name not in contrast:
            continue
        magnitude, landmarks = flows[i][..., 2], flows.landmarks(i)
        mouth = _around(magnitude, landmarks[[48, 54]], 4)
        brows = _around(magnitude, landmarks[17:27], 3)
        contrast[name].append(mouth - brows)
    assert len(contrast["positive"]) >= 2 and len(contrast["negative"]) >= 3
    assert np.mean(contrast["positive"]) > 0 and np.mean(np.array(contrast["positive"]) > 0) >= 0.75
    assert np.mean(contrast["negative"]) < 0 and np.mean(np.array(contrast["negative"]) < 0) >= 0.6
    assert len(flows.fallbacks) == 0
