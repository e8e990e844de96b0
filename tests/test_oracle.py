import numpy as np
import pytest

from worldmodels.data import CANONICAL, THREE_BALLS, make_split
from worldmodels.oracle import estimate_velocity, naive_oracle_positions, oracle_positions
from worldmodels.physics import simulate


def test_oracle_is_exact_on_one_ball_from_true_positions():
    # Long sequences so that many bounces fall between the last two context frames.
    traj = simulate(CANONICAL, 400, 40, seed=0)
    pos = traj.positions
    for context in (3, 10, 17):
        pred = oracle_positions(pos[:, :context], 40 - context, CANONICAL)
        assert np.abs(pred - pos[:, context:]).max() < 1e-9
    # the naive finite difference would not be exact: some sequences bounce between the last two frames
    naive = pos[:, 9] + (pos[:, 9] - pos[:, 8])
    assert np.abs(naive - pos[:, 10]).max() > 0.1


def test_oracle_with_true_velocity_and_with_actions_is_exact():
    traj = simulate(CANONICAL, 200, 30, seed=1)
    pred = oracle_positions(traj.positions[:, :10], 20, CANONICAL, velocities=traj.velocities[:, 9])
    assert np.abs(pred - traj.positions[:, 10:]).max() < 1e-9
    videos = make_split("test", 200, 30, CANONICAL, with_actions=True, seed=1)
    pred = oracle_positions(videos.positions[:, :10], 20, CANONICAL, velocities=videos.velocities[:, 9],
                               actions=videos.actions)
    assert np.abs(pred - videos.positions[:, 10:]).max() < 1e-9


def test_oracle_ignores_ball_collisions():
    traj = simulate(THREE_BALLS, 100, 30, seed=2)
    pred = oracle_positions(traj.positions[:, :10], 20, THREE_BALLS)
    assert np.abs(pred - traj.positions[:, 10:]).max() > 1.0


def test_naive_oracle_uses_the_last_two_positions():
    traj = simulate(CANONICAL, 400, 30, seed=0)
    pos = traj.positions
    naive = naive_oracle_positions(pos[:, :10], 20, CANONICAL)
    expected = oracle_positions(pos[:, :10], 20, CANONICAL, velocities=pos[:, 9] - pos[:, 8])
    assert np.array_equal(naive, expected)
    err = np.abs(naive - pos[:, 10:]).max(axis=(1, 2, 3))
    assert (err < 1e-9).mean() > 0.5 and err.max() > 0.1  # exact unless a bounce hides between frames 8 and 9
    with pytest.raises(ValueError, match="C >= 2"):
        naive_oracle_positions(pos[:, :1], 5, CANONICAL)


def test_estimate_velocity_sees_bounces():
    traj = simulate(CANONICAL, 300, 12, seed=5)
    v = estimate_velocity(traj.positions[:, :10], CANONICAL)
    assert np.abs(v - traj.velocities[:, 9]).max() < 1e-9


def test_oracle_rejects_bad_arguments():
    videos = make_split("test", 8, 16, CANONICAL, seed=3)
    with pytest.raises(ValueError, match="actions"):
        oracle_positions(videos.positions[:, :4], 3, CANONICAL, actions=np.zeros((8, 5, 2)))
    with pytest.raises(ValueError, match="horizon"):
        oracle_positions(videos.positions[:, :4], 0, CANONICAL)
