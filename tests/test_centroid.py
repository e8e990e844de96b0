"""Tests of the centroid extractor and of the matching error, on rendered frames."""

import numpy as np
import pytest

from worldmodels.centroid import centroids, match_error
from worldmodels.physics import WorldConfig, simulate
from worldmodels.render import render, render_trajectory


@pytest.mark.parametrize("radius", [2.0, 3.0, 4.5])
def test_one_ball_subpixel_accuracy_away_from_walls(radius):
    """Measured: max error 0.025 / 0.021 / 0.012 px for radius 2 / 3 / 4.5 over 20,000 random positions."""
    rng = np.random.default_rng(0)
    true = rng.uniform(radius + 1.5, 32 - radius - 1.5, size=(5000, 1, 2))
    err = np.linalg.norm(centroids(render(true, radius, 32)) - true, axis=-1)
    assert err.max() < 0.03, f"max centroid error {err.max():.4f} px"


def test_one_ball_accurate_everywhere_in_a_simulation():
    traj = simulate(WorldConfig(), 64, 30, seed=0)
    est = centroids(render_trajectory(traj))
    assert est.shape == (64, 30, 1, 2)
    assert np.abs(est - traj.positions).max() < 0.03


def test_three_balls_with_kmeans():
    traj = simulate(WorldConfig(n_balls=3), 64, 30, seed=1)
    frames = render_trajectory(traj)
    guided = centroids(frames, n_balls=3, init=traj.positions)
    blind = centroids(frames, n_balls=3)
    assert guided.shape == blind.shape == (64, 30, 3, 2)
    # balls touch at collisions and their discs merge, so allow more than for one ball; the median is tight
    for est in (guided, blind):
        err = match_error(est, traj.positions)
        assert np.median(err) < 0.03 and err.max() < 0.5, (np.median(err), err.max())


def test_empty_frame_gives_box_centre_not_nan():
    frames = np.zeros((2, 5, 24, 32), dtype=np.float32)
    for n in (1, 3):
        est = centroids(frames, n_balls=n)
        assert est.shape == (2, 5, n, 2)
        np.testing.assert_array_equal(est, np.broadcast_to([16.0, 12.0], est.shape))


def test_threshold_ignores_faint_pixels():
    frame = render(np.array([[10.0, 10.0]]), 3.0, 32)
    frame[30, 30] = 0.2  # a faint speck far away pulls the plain mean, not the thresholded one
    assert np.linalg.norm(centroids(frame)[0] - [10, 10]) > 0.1
    assert np.linalg.norm(centroids(frame, threshold=0.25)[0] - [10, 10]) < 0.05


def test_match_error_tries_all_pairings():
    true = np.array([[1.0, 1.0], [5.0, 5.0], [9.0, 1.0]])
    pred = true[[2, 0, 1]] + np.array([0.3, 0.4])  # shuffled and shifted by 0.5 px
    assert match_error(pred, true) == pytest.approx(0.5)
    batch = match_error(np.stack([pred, true]), np.stack([true, true]))
    np.testing.assert_allclose(batch, [0.5, 0.0])


def test_match_error_beyond_five_balls_equals_every_pairing_and_reaches_twelve():
    # beyond 5 balls match_error searches over subsets instead of trying all N! pairings: the same minimum
    import itertools

    rng = np.random.default_rng(0)
    pred, true = rng.uniform(0, 32, (50, 7, 2)), rng.uniform(0, 32, (50, 7, 2))
    perms = np.array(list(itertools.permutations(range(7))))
    brute = np.linalg.norm(np.take(pred, perms, axis=-2) - true[..., None, :, :], axis=-1).mean(-1).min(-1)
    np.testing.assert_allclose(match_error(pred, true), brute, atol=1e-12)
    twelve = rng.uniform(0, 32, (12, 2))
    assert match_error(twelve[::-1], twelve) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="at most 12"):
        match_error(np.zeros((13, 2)), np.zeros((13, 2)))


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="n_balls"):
        centroids(np.zeros((4, 4)), n_balls=0)
    with pytest.raises(ValueError, match="H, W"):
        centroids(np.zeros(4))
    with pytest.raises(ValueError, match="init must have shape"):
        centroids(np.zeros((3, 8, 8)), n_balls=2, init=np.zeros((3, 3, 2)))
    with pytest.raises(ValueError, match="same shape"):
        match_error(np.zeros((2, 2)), np.zeros((3, 2)))
