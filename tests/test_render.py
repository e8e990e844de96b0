"""Tests of the anti-aliased renderer: shape, dtype, range, exact pixel values, several balls, validation."""

import numpy as np
import pytest

from worldmodels import render as render_module
from worldmodels.physics import WorldConfig, simulate
from worldmodels.render import render, render_trajectory


def test_shape_dtype_and_range():
    traj = simulate(WorldConfig(n_balls=3), 4, 6, seed=0)
    frames = render_trajectory(traj)
    assert frames.shape == (4, 6, 32, 32) and frames.dtype == np.float32
    assert frames.min() == 0.0 and frames.max() == 1.0
    assert render(traj.positions[0, 0], 3.0, 32).shape == (32, 32)
    assert render(traj.positions, 3.0, 20, dtype=np.float64).dtype == np.float64


def test_pixel_values_follow_the_antialiasing_ramp():
    x, y = 10.5, 20.5  # the centre of pixel (row 20, column 10)
    frame = render(np.array([[x, y]]), 3.0, 32, dtype=np.float64)
    rows, cols = np.mgrid[0:32, 0:32]
    dist = np.hypot(cols + 0.5 - x, rows + 0.5 - y)
    np.testing.assert_allclose(frame, np.clip(3.5 - dist, 0, 1), atol=1e-12)
    assert frame[20, 10] == 1.0 and frame[20, 13] == 0.5 and frame[20, 14] == 0.0  # d = 0, 3, 4
    assert frame[20, 7] == 0.5  # symmetric: (x, y) is (column, row)
    assert frame.sum() == pytest.approx(np.pi * 3.0**2, rel=0.02)  # the ramp centres on r: brightness ~ pi r^2


def test_balls_combine_with_max():
    a, b = np.array([[8.0, 8.0]]), np.array([[11.0, 9.0]])
    both = render(np.concatenate([a, b]), 3.0, 16)
    np.testing.assert_array_equal(both, np.maximum(render(a, 3.0, 16), render(b, 3.0, 16)))


def test_chunking_gives_the_same_frames(monkeypatch):
    positions = np.random.default_rng(0).uniform(3, 29, size=(50, 2, 2))
    whole = render(positions, 3.0, 32)
    monkeypatch.setattr(render_module, "_CHUNK_PIXELS", 3 * 2 * 32 * 32)  # 3 frames per chunk
    np.testing.assert_array_equal(render(positions, 3.0, 32), whole)


def test_no_balls_gives_empty_frames():
    assert not render(np.zeros((5, 0, 2)), 3.0, 8).any()


@pytest.mark.parametrize(
    "args, message",
    [
        ((np.zeros((1, 2)), 0.0, 32), "radius"),
        ((np.zeros((1, 2)), 3.0, 0), "size"),
        ((np.zeros((1, 3)), 3.0, 32), "shape"),
        ((np.full((1, 2), np.nan), 3.0, 32), "finite"),
    ],
)
def test_bad_arguments_raise(args, message):
    with pytest.raises(ValueError, match=message):
        render(*args)
    with pytest.raises(ValueError, match="dtype"):
        render(np.zeros((1, 2)), 3.0, 8, dtype=np.int32)


def test_render_torch_matches_render():
    import torch

    from worldmodels.render import render_torch

    positions = np.random.default_rng(0).uniform(3, 29, size=(4, 6, 2, 2))
    ours = render_torch(torch.from_numpy(positions).float(), 3.0, 32).numpy()
    assert np.abs(ours - render(positions, 3.0, 32)).max() < 1e-5
