"""Face alignment on real photographs: rotated faces come back level, masks sit on the landmarks."""
from pathlib import Path

import cv2
import matplotlib
import numpy as np
import pytest
import skimage.data

from mer_keras.preprocessing import (
    FaceAligner,
    NoFaceError,
    detect_landmarks,
    draw_masks,
    eye_line_angle,
)


def _rotate(image, degrees):
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REPLICATE)


def _grace_hopper():
    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def astronaut():
    return cv2.resize(skimage.data.astronaut(), (320, 320), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize("degrees", [-15.0, 8.0, 20.0])
@pytest.mark.parametrize("photo", ["astronaut", "grace_hopper"])
def test_rotated_face_comes_back_horizontal(photo, degrees, astronaut):
    image = astronaut if photo == "astronaut" else cv2.resize(_grace_hopper(), (300, 352))
    rotated = _rotate(image, degrees)
    aligner = FaceAligner(size=160)
    out = aligner.fit_transform(rotated)
    assert out.shape == (160, 160, 3) and out.dtype == np.uint8
    # the eye line found again, independently, on the aligned output
    assert abs(eye_line_angle(detect_landmarks(out))) < 1.0
    # the fitted angle includes the rotation we applied (plus the person's own small tilt)
    natural = eye_line_angle(detect_landmarks(image))
    assert aligner.angle_ == pytest.approx(natural - degrees, abs=1.5)


def test_landmarks_are_in_output_coordinates(astronaut):
    aligner = FaceAligner(size=128).fit(astronaut)
    again = detect_landmarks(aligner.transform(astronaut))
    assert aligner.landmarks_.shape == (68, 2)
    assert np.abs(aligner.landmarks_ - again).mean() < 2.0
    assert (aligner.landmarks_ > 0).all() and (aligner.landmarks_ < 128).all()


def test_same_transform_is_applied_to_every_frame(astronaut):
    aligner = FaceAligner(size=128).fit(astronaut)
    shifted = np.roll(astronaut, 3, axis=1)
    a, b = aligner.transform(astronaut), aligner.transform(shifted)
    # content moved in the output (no refit): the flow would see the 3 px motion, scaled by the crop
    assert not np.array_equal(a, b)
    assert aligner.transform(astronaut).tobytes() == a.tobytes()


def test_masks_cover_eyes_and_background_not_mouth(astronaut):
    aligner = FaceAligner(size=128, masks=("eyes", "static"), grayscale=True).fit(astronaut)
    out = aligner.transform(astronaut)
    assert out.shape == (128, 128)
    lm = aligner.landmarks_
    for eye in (slice(36, 42), slice(42, 48)):
        cx, cy = lm[eye].mean(0).round().astype(int)
        assert aligner.mask_[cy, cx] and out[cy, cx] == 0
    mx, my = lm[48:68].mean(0).round().astype(int)
    assert not aligner.mask_[my, mx] and out[my, mx] > 0
    assert aligner.mask_[2, 2] and aligner.mask_[125, 2]  # corners are background
    only_eyes = draw_masks(lm, 128, ("eyes",))
    assert 0 < only_eyes.sum() < aligner.mask_.sum()


def test_unknown_mask_is_rejected():
    with pytest.raises(ValueError, match="unknown mask"):
        FaceAligner(masks=("mouth",))


def test_no_face_raises_named_error_and_centre_fallback_is_recorded():
    blank = np.full((200, 240, 3), 127, np.uint8)
    with pytest.raises(NoFaceError, match="clip x/y, onset frame 0"):
        FaceAligner(size=64).fit(blank, where="clip x/y, onset frame 0")
    aligner = FaceAligner(size=64, masks=("eyes",)).fit_centre(blank, "test")
    assert aligner.fallback_.startswith("center crop") and aligner.landmarks_ is None
    assert aligner.transform(blank).shape == (64, 64, 3)
    assert not aligner.mask_.any()
