"""EVM amplifies an in-band temporal change and leaves others; key-frame selection follows motion."""
import numpy as np
import pytest

from mer_keras.preprocessing import magnify, slice_positions, uniform_positions
from mer_keras.preprocessing.magnify import temporal_bandpass


def test_bandpass_keeps_in_band_and_removes_the_rest():
    fps, t = 50.0, np.arange(50) / 50.0
    slow, fast = np.sin(2 * np.pi * 3 * t), np.sin(2 * np.pi * 20 * t)
    out = temporal_bandpass((slow + fast + 7)[:, None], fps, 2.0, 5.0)[:, 0]
    np.testing.assert_allclose(out, slow, atol=1e-4)


@pytest.mark.parametrize("pyramid", ["laplacian", "gaussian"])
def test_magnify_amplifies_a_temporal_change(pyramid):
    # lambda_c = 4: Wu et al.'s cut-off would otherwise spare most levels of a 64 px frame
    rng = np.random.default_rng(0)
    base = 100 + 40 * np.clip(rng.normal(size=(64, 64)), -2, 2)
    base = np.asarray(base, np.float32)
    import cv2

    base = cv2.GaussianBlur(base, (0, 0), 2)
    t = np.arange(16)
    bump = np.sin(np.pi * t / 15) ** 2  # rises and falls once over the clip
    clip = np.stack([base + 3.0 * b for b in bump]).astype(np.float32)  # brightness change
    out = magnify(clip, fps=50, alpha=10, pyramid=pyramid, levels=4, lambda_c=4)
    change_in = np.abs(clip - clip.mean(0)).mean()
    change_out = np.abs(out - out.mean(0)).mean()
    assert change_out > 3 * change_in
    still = np.repeat(base[None], 16, axis=0)
    np.testing.assert_allclose(magnify(still, fps=50, pyramid=pyramid), still, atol=1e-2)
    with pytest.raises(ValueError, match="pyramid"):
        magnify(clip, fps=50, pyramid="steerable")


def _grating_clip(wavelength, frames=16, size=96, amplitude=0.05):
    """A vertical cosine grating shifted sideways by ``amplitude * sin(2 pi 2 t / T)`` px (sub-pixel,
    exactly the clip's 2nd harmonic: inside the default band), and that true shift."""
    t = np.arange(frames)
    shift = amplitude * np.sin(2 * np.pi * 2 * t / frames)
    rows = 128 + 20 * np.cos(2 * np.pi * (np.arange(size)[None] + shift[:, None]) / wavelength)
    return np.repeat(rows[:, None, :], size, axis=1).astype(np.float32), shift


def _measured_shift(video, wavelength):
    """Per-frame shift of the grating from the phase of its frequency, over the central 48 columns
    (a whole number of periods, away from the pyramid's border reflections)."""
    centre = video.shape[2] // 2
    x = np.arange(centre - 24, centre + 24)
    coefficient = (video[:, video.shape[1] // 2, x] * np.exp(-2j * np.pi * x / wavelength)).sum(1)
    return np.angle(coefficient) * wavelength / (2 * np.pi)


def test_laplacian_evm_magnifies_motion_by_one_plus_alpha_below_the_cutoff_only():
    # Wu et al.: motion at spatial wavelengths >= lambda_c is magnified (1 + alpha) times, shorter ones
    # less (the finest level not at all). The old code gave the finest levels the coarsest cut-off: the
    # 48 px grating moved only 1.96x and the 12 px one more than it (3.5x).
    alpha, gain = 4.0, {}
    for wavelength in (48, 24, 12, 6, 4):
        clip, shift = _grating_clip(wavelength)
        measured_in = _measured_shift(clip, wavelength)
        np.testing.assert_allclose(measured_in, shift, atol=1e-4)  # the probe reads the true shift
        out = magnify(clip, fps=16, alpha=alpha, levels=4, lambda_c=20)
        measured_out = _measured_shift(out, wavelength)
        gain[wavelength] = (measured_out - measured_out.mean()) @ shift / ((measured_in - measured_in.mean()) @ shift)
    assert gain[48] == pytest.approx(1 + alpha, rel=0.1)  # coarse: full magnification
    assert gain[48] > gain[24] > gain[12] > gain[6]  # attenuated towards the fine levels
    assert gain[6] < 0.4 * (1 + alpha)
    assert gain[4] == pytest.approx(1.0, abs=0.05)  # the finest level is left alone


def test_uniform_positions():
    assert uniform_positions(0, 15, 16) == list(range(16))
    assert uniform_positions(2, 5, 4) == [2, 3, 4, 5]
    assert len(uniform_positions(0, 5, 16)) == 16


def test_slice_positions_crowd_where_the_face_moves():
    frames = np.zeros((30, 40, 40), np.float32)
    for i in range(30):  # still until frame 20, then rows change every frame
        frames[i] = 0 if i < 20 else (i - 19) * 10.0
    picks = slice_positions(frames, n=8)
    assert picks[0] == 0 and picks[-1] == 29 and len(picks) == 8
    assert sum(p >= 20 for p in picks) >= 6
    assert slice_positions(np.zeros((10, 8, 8)), n=4) == uniform_positions(0, 9, 4)
