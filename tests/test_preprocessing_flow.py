"""Optical flow recovers a known sub-pixel motion of a real face; strain and encodings follow their docs."""
import cv2
import numpy as np
import pytest
import skimage.data

from mer_keras.preprocessing import (
    FaceAligner,
    encode_flow,
    flow_to_hsv,
    optical_flow,
    optical_strain,
    resize_flow,
)
from mer_keras.preprocessing.flow import centre_flow, hflip_hsv_picture

SIZE = 128


@pytest.fixture(scope="module")
def face():
    """A real aligned face (gray, 128 px) and a mask of its inner region (landmark hull, eroded)."""
    aligner = FaceAligner(size=SIZE, grayscale=True).fit(skimage.data.astronaut())
    image = aligner.transform(skimage.data.astronaut())
    region = np.zeros((SIZE, SIZE), np.uint8)
    cv2.fillConvexPoly(region, cv2.convexHull(aligner.landmarks_.astype(np.int32)), 1)
    return image, cv2.erode(region, np.ones((9, 9), np.uint8)).astype(bool)


def _displacement():
    """A smooth sub-pixel field: up to 0.6 px horizontally, 0.45 px vertically."""
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    u = 0.6 * np.sin(2 * np.pi * y / SIZE)
    v = 0.45 * np.cos(2 * np.pi * x / SIZE)
    return np.dstack([u, v]).astype(np.float32)


def _move(image, d):
    """Frame in which the content at x has moved to x + d(x) (backward map, d smooth)."""
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    return cv2.remap(image, x - d[..., 0], y - d[..., 1], cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


@pytest.mark.parametrize("method, tolerance", [("tvl1", 0.15), ("farneback", 0.25)])
def test_flow_recovers_known_subpixel_field_inside_face(face, method, tolerance):
    image, inside = face
    d = _displacement()
    flow = optical_flow(image, _move(image, d), method)
    assert flow.shape == (SIZE, SIZE, 2) and flow.dtype == np.float32
    epe = np.linalg.norm(flow - d, axis=-1)[inside].mean()
    mean_disp = np.linalg.norm(d, axis=-1)[inside].mean()
    assert epe < tolerance * mean_disp, (epe, mean_disp)


def test_tvl1_parameters_are_exposed_and_checked(face):
    image, inside = face
    d = _displacement()
    fast = optical_flow(image, _move(image, d), "tvl1", nscales=3, warps=3)
    assert np.linalg.norm(fast - d, axis=-1)[inside].mean() < 0.5 * np.linalg.norm(d, axis=-1)[inside].mean()
    with pytest.raises(ValueError, match="unknown tvl1 parameter"):
        optical_flow(image, image, "tvl1", nscale=3)
    with pytest.raises(ValueError, match="unknown flow method"):
        optical_flow(image, image, "horn")


def test_strain_of_a_linear_field():
    _, x = np.mgrid[0:32, 0:32].astype(np.float32)
    flow = np.dstack([0.02 * x, 0.01 * x]).astype(np.float32)  # exx = 0.02, eyy = 0, exy = 0.005
    strain = optical_strain(flow)
    assert strain.shape == (32, 32)
    np.testing.assert_allclose(strain, np.sqrt(0.02**2 + 2 * 0.005**2), rtol=1e-4)
    assert optical_strain(np.ones((8, 8, 2), np.float32)).max() == 0  # a translation has no strain


def test_encodings_have_the_documented_range():
    rng = np.random.default_rng(0)
    flow = rng.normal(0, 3, (40, 40, 2)).astype(np.float32)
    enc = encode_flow(flow, "magnitude", flow_bound=2.0)
    assert enc.shape == (40, 40, 3) and enc.dtype == np.float32
    assert enc[..., :2].min() == -1 and enc[..., :2].max() == 1 and 0 <= enc[..., 2].min() and enc[..., 2].max() == 1
    np.testing.assert_allclose(encode_flow(flow * 0.1, "magnitude", 2.0)[..., 0], flow[..., 0] * 0.05, rtol=1e-5)
    hsv = flow_to_hsv(flow, 2.0)
    assert hsv.min() >= 0 and hsv.max() <= 1.0 + 1e-6
    right = flow_to_hsv(np.dstack([np.ones((4, 4)), np.zeros((4, 4))]).astype(np.float32), 1.0)
    np.testing.assert_allclose(right[0, 0], [1, 0, 0], atol=1e-5)  # rightward = hue 0 = red


def test_mirrored_hsv_picture_matches_mirrored_flow():
    rng = np.random.default_rng(1)
    flow = rng.normal(0, 1, (16, 16, 2)).astype(np.float32)
    mirrored = np.ascontiguousarray(flow[:, ::-1] * [-1, 1]).astype(np.float32)
    np.testing.assert_allclose(hflip_hsv_picture(flow_to_hsv(flow, 2.0)), flow_to_hsv(mirrored, 2.0), atol=1e-4)


def test_resize_flow_rescales_vectors():
    flow = np.dstack([np.full((64, 64), 1.0), np.full((64, 64), -0.5)]).astype(np.float32)
    out = resize_flow(flow, 128)
    assert out.shape == (128, 128, 2)
    np.testing.assert_allclose(out[5, 5], [2.0, -1.0], rtol=1e-6)


def test_nan_flow_names_where(monkeypatch):
    import mer_keras.preprocessing.flow as flow_module

    monkeypatch.setattr(flow_module.cv2, "calcOpticalFlowFarneback", lambda *a: np.full((8, 8, 2), np.nan, np.float32))
    with pytest.raises(ValueError, match="NaN.*clip s/c, frames 0->3"):
        optical_flow(np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8), "farneback", where="(clip s/c, frames 0->3)")


def test_centre_flow_removes_each_image_s_median_u_and_v():
    """Per image (and per frame of a stack): a constant offset added to u and v disappears, strain stays."""
    rng = np.random.default_rng(0)
    base = rng.normal(size=(3, 8, 8, 3)).astype(np.float32)
    offsets = np.array([[0.3, -0.2], [0.0, 0.5], [-0.7, 0.1]], np.float32)
    shifted = base.copy()
    shifted[..., :2] += offsets[:, None, None, :]
    np.testing.assert_allclose(centre_flow(shifted), centre_flow(base), atol=1e-6)
    np.testing.assert_allclose(np.median(centre_flow(shifted)[..., :2], axis=(1, 2)), 0.0, atol=1e-6)
    assert centre_flow(shifted)[..., 2].tobytes() == shifted[..., 2].tobytes()
    stack = np.stack([shifted, base], axis=1)  # (clips, T=2, H, W, C): each frame its own median
    np.testing.assert_allclose(centre_flow(stack)[:, 0], centre_flow(shifted), atol=1e-6)
    assert centre_flow(shifted, "none") is shifted
    with pytest.raises(ValueError, match="flow centring"):
        centre_flow(shifted, "mean")
    with pytest.raises(ValueError, match="C >= 2"):
        centre_flow(shifted[..., :1])
