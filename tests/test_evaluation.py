import dataclasses

import numpy as np
import pytest

from worldmodels import evaluation as ev
from worldmodels.data import CANONICAL, THREE_BALLS, make_split
from worldmodels.physics import simulate


@pytest.fixture(scope="module")
def videos():
    return make_split("test", 48, 16, CANONICAL, seed=3)


def test_reflect_folds_into_the_box():
    u = np.array([3.0, 29.0, 30.0, 2.0, 29.0 + 26.0 + 1.0, -30.0])
    out = ev.reflect(u, 3.0, 29.0)
    assert np.allclose(out, [3.0, 29.0, 28.0, 4.0, 4.0, 22.0])
    with pytest.raises(ValueError):
        ev.reflect(u, 5.0, 5.0)


def test_oracle_is_exact_on_one_ball_from_true_positions():
    # Long sequences so that many bounces fall between the last two context frames.
    traj = simulate(CANONICAL, 400, 40, seed=0)
    pos = traj.positions
    for context in (3, 10, 17):
        pred = ev.oracle_positions(pos[:, :context], 40 - context, CANONICAL)
        assert np.abs(pred - pos[:, context:]).max() < 1e-9
    # the naive finite difference would not be exact: some sequences bounce between the last two frames
    naive = pos[:, 9] + (pos[:, 9] - pos[:, 8])
    assert np.abs(naive - pos[:, 10]).max() > 0.1


def test_oracle_with_true_velocity_and_with_actions_is_exact():
    traj = simulate(CANONICAL, 200, 30, seed=1)
    pred = ev.oracle_positions(traj.positions[:, :10], 20, CANONICAL, velocities=traj.velocities[:, 9])
    assert np.abs(pred - traj.positions[:, 10:]).max() < 1e-9
    videos = make_split("test", 200, 30, CANONICAL, with_actions=True, seed=1)
    pred = ev.oracle_positions(videos.positions[:, :10], 20, CANONICAL, velocities=videos.velocities[:, 9],
                               actions=videos.actions)
    assert np.abs(pred - videos.positions[:, 10:]).max() < 1e-9


def test_oracle_ignores_ball_collisions():
    traj = simulate(THREE_BALLS, 100, 30, seed=2)
    pred = ev.oracle_positions(traj.positions[:, :10], 20, THREE_BALLS)
    assert np.abs(pred - traj.positions[:, 10:]).max() > 1.0


def test_perfect_predictor_scores_zero(videos):
    def perfect(context, actions, horizon):  # cheats: looks the true future up
        rows = [np.flatnonzero((videos.frames[:, :4] == c[None, :4]).all(axis=(1, 2, 3)))[0] for c in context]
        return videos.frames[rows, 4 : 4 + horizon]

    reports = ev.evaluate({"perfect": perfect}, videos, context=4, horizon=12, batch_size=20)
    rep = reports["perfect"]
    assert rep.wrong_pixel_frac.max() == 0 and rep.mse.max() == 0
    # centroids of rendered frames are sub-pixel accurate but not exact near a wall
    assert rep.error_px.max() < 0.1
    assert list(reports) == ["perfect", *ev.BASELINES]
    assert rep.error_px.shape == (12,) and rep.error_px_per_sequence.shape == (48, 12)


def test_copy_last_has_zero_error_at_horizon_zero(videos):
    context = videos.frames[:, :10]
    pred = ev.copy_last(context, None, 5)
    assert pred.shape == (48, 5, 32, 32)
    # horizon 0 is the last context frame, which copy-last reproduces exactly
    assert ev.wrong_pixel_fraction(pred[:, 0], context[:, -1]).max() == 0
    assert ev.pixel_mse(pred[:, 0], context[:, -1]).max() == 0
    assert ev.centroid_error(pred[:, 0], videos.positions[:, 9]).max() < 0.1


def test_baselines_are_ordered_sensibly(videos):
    reports = ev.evaluate({}, videos, context=10, horizon=6)
    at = {name: rep.at(6) for name, rep in reports.items()}
    assert at[ev.ORACLE]["error_px"] < 0.1  # renders of exact positions decode to sub-pixel accuracy
    at2 = {name: rep.at(2) for name, rep in reports.items()}  # copy-last is good only for a few frames
    assert at2[ev.ORACLE]["error_px"] < at2[ev.COPY_LAST]["error_px"] < at2[ev.BOX_CENTRE]["error_px"]
    assert np.isnan(at[ev.EMPTY]["error_px"])
    # the empty frame's wrong pixels are exactly the ball's lit pixels
    lit = (videos.frames[:, 15] > 0.5).mean()
    assert at[ev.EMPTY]["wrong_pixel_frac"] == pytest.approx(lit)
    # copy-last gets the ball wrong twice (where it was and where it is)
    assert at[ev.COPY_LAST]["wrong_pixel_frac"] > at[ev.EMPTY]["wrong_pixel_frac"]


def test_three_balls_oracle_beats_copy_last():
    videos = make_split("test", 32, 20, THREE_BALLS, seed=4)
    reports = ev.evaluate({}, videos, context=10, horizon=10)
    assert reports[ev.ORACLE].at(10)["error_px"] < reports[ev.COPY_LAST].at(10)["error_px"]


def test_wrong_shapes_raise(videos):
    with pytest.raises(ValueError, match="same shape"):
        ev.wrong_pixel_fraction(np.zeros((2, 32, 32)), np.zeros((3, 32, 32)))
    with pytest.raises(ValueError, match="shape"):
        ev.copy_last(np.zeros((32, 32)), None, 3)
    with pytest.raises(ValueError, match="predictor 'bad'"):
        ev.evaluate({"bad": lambda c, a, k: np.zeros((len(c), k, 16, 16))}, videos, context=4, horizon=3)
    with pytest.raises(ValueError, match="longer sequences"):
        ev.evaluate({}, videos, context=10, horizon=20)
    with pytest.raises(ValueError, match="positions"):
        ev.centroid_error(np.zeros((4, 32, 32)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="actions"):
        ev.oracle_positions(videos.positions[:, :4], 3, CANONICAL, actions=np.zeros((48, 5, 2)))
    with pytest.raises(ValueError, match="horizon"):
        ev.oracle_positions(videos.positions[:, :4], 0, CANONICAL)


def test_report_table_and_plots(videos):
    import matplotlib

    matplotlib.use("Agg")
    reports = ev.evaluate({"copy": ev.copy_last}, videos, context=10, horizon=6)
    table = ev.report_table(reports, ks=(1, 6))
    assert "centroid error (px)" in table and "copy last frame" in table and "k=6" in table
    assert table.count("\n") == 3 * (1 + len(reports)) - 1
    with pytest.raises(ValueError):
        ev.report_table(reports, ks=(7,))
    ax = ev.plot_error_vs_horizon(reports)
    assert len(ax.lines) == len(reports) - 1  # no centroid curve for the empty frame
    html = ev.side_by_side_html(videos.frames[0, 10:16], {"copy": reports and ev.copy_last(videos.frames[:1, :10], None, 6)[0]},
                                context_frames=videos.frames[0, :10])
    assert "data:image/gif;base64" in html.data


def test_score_frames_matches_evaluate(videos):
    pred = ev.copy_last(videos.frames[:, :10], None, 6)
    rep = ev.score_frames("copy", pred, videos.frames[:, 10:16], videos.positions[:, 10:16])
    ref = ev.evaluate({}, videos, context=10, horizon=6)[ev.COPY_LAST]
    assert np.allclose(rep.error_px, ref.error_px) and np.allclose(rep.mse, ref.mse)
    assert dataclasses.asdict(rep).keys() == dataclasses.asdict(ref).keys()
