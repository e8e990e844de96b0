"""The course's one meaning of "sharp" and "blurred": evaluation.sharpness."""

import numpy as np
import pytest

from worldmodels.data import CANONICAL
from worldmodels.evaluation import SHARP_PEAK, sharpness
from worldmodels.render import render


def drawn_clip(n_frames=5):
    xs = np.linspace(6.3, 20.8, n_frames)
    return render(np.stack([xs, xs[::-1] + 3.1], -1)[:, None], CANONICAL.radius, CANONICAL.size)[None]


def test_a_drawn_ball_is_sharp_wherever_it_sits():
    s = sharpness(drawn_clip())
    assert s["peak"][0] == pytest.approx(1.0)
    assert s["peak"][0] >= SHARP_PEAK
    assert s["mass_error"][0] < 0.05


def test_a_blurred_ball_is_not():
    clip = drawn_clip()
    kernel = np.ones(5) / 5  # a 5 x 5 box blur spreads the ink over a wider disc
    blurred = np.apply_along_axis(lambda r: np.convolve(r, kernel, "same"), -1, clip)
    blurred = np.apply_along_axis(lambda r: np.convolve(r, kernel, "same"), -2, blurred)
    s = sharpness(blurred)
    assert s["peak"][0] < SHARP_PEAK
    assert s["mass_error"][0] > 0.1


def test_bad_frames_are_refused():
    with pytest.raises(ValueError, match="255"):
        sharpness((drawn_clip() * 255).astype(np.uint8))
    with pytest.raises(ValueError):
        sharpness(drawn_clip()[0])  # (T, H, W): no batch axis
