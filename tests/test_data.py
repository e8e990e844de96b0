"""Tests of the seeded data sets: determinism, disjoint splits, OOD worlds, layout, validation."""

import numpy as np
import pytest

from worldmodels.data import CANONICAL, OOD_SPLITS, THREE_BALLS, BallVideos, make_split, ood_world
from worldmodels.physics import WorldConfig


def test_canonical_worlds():
    assert CANONICAL == WorldConfig(n_balls=1, radius=3.0, size=32, speed_ranges=((2.0, 3.0),))
    assert THREE_BALLS.n_balls == 3 and THREE_BALLS.radius == 3.0


def test_layout_and_ranges():
    videos = make_split("train", n_sequences=6, n_frames=9)
    assert isinstance(videos, BallVideos) and len(videos) == 6
    assert videos.frames.shape == (6, 9, 32, 32) and videos.frames.dtype == np.float32
    assert videos.positions.shape == videos.velocities.shape == (6, 9, 1, 2)
    assert videos.actions.shape == (6, 9, 2) and not videos.actions.any()
    assert 0 <= videos.frames.min() and videos.frames.max() <= 1
    speed = np.linalg.norm(videos.velocities, axis=-1)
    assert speed.min() >= 2.0 and speed.max() <= 3.0  # walls do not change the speed of a lone ball
    sub = videos[2:4]
    assert isinstance(sub, BallVideos) and sub.frames.shape == (2, 9, 32, 32)
    np.testing.assert_array_equal(videos[3].positions, videos.positions[3:4])


def test_same_arguments_same_data_and_seeds_differ():
    a = make_split("val", 8, 5, world=THREE_BALLS, with_actions=True, seed=3)
    b = make_split("val", 8, 5, world=THREE_BALLS, with_actions=True, seed=3)
    for name in ("frames", "positions", "velocities", "actions"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    c = make_split("val", 8, 5, world=THREE_BALLS, with_actions=True, seed=4)
    assert not np.allclose(a.positions, c.positions) and not np.allclose(a.actions, c.actions)


def test_splits_do_not_share_sequences():
    starts = {s: make_split(s, 300, 2).positions[:, 0].reshape(300, -1) for s in ("train", "val", "test")}
    for s in starts:
        assert len(np.unique(starts[s], axis=0)) == 300
    every = np.concatenate(list(starts.values()))
    assert len(np.unique(every, axis=0)) == 900, "a starting state appears in two splits"


def test_actions_do_not_change_the_initial_states():
    plain = make_split("train", 10, 8)
    pushed = make_split("train", 10, 8, with_actions=True)
    np.testing.assert_array_equal(plain.positions[:, 0], pushed.positions[:, 0])
    assert pushed.actions.any()
    assert not np.allclose(plain.positions, pushed.positions)


@pytest.mark.parametrize("name", sorted(OOD_SPLITS))
def test_ood_splits_shift_the_world(name):
    world = ood_world(name)
    assert world != CANONICAL
    videos = make_split(name, 50, 4)
    assert videos.world == world
    speed = np.linalg.norm(videos.velocities[:, 0], axis=-1)
    low, high = world.speed_ranges[0]
    assert low <= speed.min() and speed.max() <= high
    assert videos.positions.shape[2] == world.n_balls
    if name == "slower":
        assert high < 2.0
    if name == "faster":
        assert low > 3.0 and world.max_speed >= high
    if name in ("smaller_radius", "larger_radius"):
        lit = (videos.frames > 0.5).sum(axis=(-1, -2)).mean()
        ratio = lit / (make_split("test", 50, 4).frames > 0.5).sum(axis=(-1, -2)).mean()
        assert (ratio < 1) == (name == "smaller_radius")
    if name == "more_balls":
        assert world.n_balls == 3 and ood_world(name, THREE_BALLS).n_balls == 5


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="unknown split 'validation'.*'val'"):
        make_split("validation", 2, 2)
    with pytest.raises(ValueError, match="n_sequences"):
        make_split("train", 0, 2)
    with pytest.raises(ValueError, match="n_frames"):
        make_split("train", 2, 0)
    with pytest.raises(ValueError, match="unknown out-of-distribution split"):
        ood_world("heavier")
