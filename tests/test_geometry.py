import numpy as np
import pytest
import torch

from worldmodels.data import CANONICAL, THREE_BALLS, make_split
from worldmodels.geometry import fold, reflect, soft_centroid, wall_bounds, wall_step, wall_step_torch
from worldmodels.physics import WorldConfig


def test_wall_bounds_keep_the_ball_inside_the_box():
    assert wall_bounds(CANONICAL) == (3.0, 29.0)
    assert wall_bounds(WorldConfig(radius=2.5, size=40)) == (2.5, 37.5)


def test_reflect_folds_into_the_box():
    u = np.array([3.0, 29.0, 30.0, 2.0, 29.0 + 26.0 + 1.0, -30.0])
    out = reflect(u, 3.0, 29.0)
    assert np.allclose(out, [3.0, 29.0, 28.0, 4.0, 4.0, 22.0])
    with pytest.raises(ValueError, match="high > low"):
        reflect(u, 5.0, 5.0)


def test_fold_is_reflect_in_torch_and_turns_a_line_into_mirror_bounces():
    v = make_split("val", 64, 16)
    p0 = torch.tensor(v.positions[:, 0, 0])
    vel = torch.tensor(v.velocities[:, 0, 0])
    line = p0[:, None] + vel[:, None] * torch.arange(16.0)[None, :, None]
    assert torch.allclose(fold(line, 3.0, 29.0), torch.tensor(v.positions[:, :, 0]), atol=1e-9)
    assert np.array_equal(fold(line, 3.0, 29.0).numpy(), reflect(line.numpy(), 3.0, 29.0))
    with pytest.raises(ValueError):
        fold(line, 5.0, 5.0)


def test_wall_step_reflects_and_its_torch_twin_agrees():
    p, v = wall_step(np.array([28.0]), np.array([2.0]), 3.0, 29.0)
    assert np.allclose(p, [28.0]) and np.allclose(v, [-2.0])
    videos = make_split("val", 32, 12, THREE_BALLS, seed=0)
    p, v = videos.positions[:, 9], videos.velocities[:, 9]
    folded, flipped = wall_step_torch(torch.from_numpy(p + v), torch.from_numpy(v), 3.0, 29.0)
    expected_p, expected_v = wall_step(p, v, 3.0, 29.0)
    assert np.allclose(folded.numpy(), expected_p) and np.array_equal(flipped.numpy(), expected_v)


def test_soft_centroid_matches_true_positions_and_an_empty_frame_gives_the_centre():
    v = make_split("val", 16, 16)
    kp = soft_centroid(torch.tensor(v.frames)).numpy()
    assert np.abs(kp - v.positions[:, :, 0]).max() < 0.05
    assert soft_centroid(torch.zeros(2, 32, 32)).tolist() == [[16.0, 16.0], [16.0, 16.0]]
    with pytest.raises(ValueError, match="H, W"):
        soft_centroid(torch.zeros(5))
