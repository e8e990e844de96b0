import dataclasses

import numpy as np
import pytest

from worldmodels import evaluation as ev
from worldmodels.data import CANONICAL, THREE_BALLS, make_split


@pytest.fixture(scope="module")
def videos():
    return make_split("test", 48, 16, CANONICAL, seed=3)


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


def test_report_table_and_plots(videos):
    import matplotlib

    matplotlib.use("Agg")
    reports = ev.evaluate({"copy": ev.copy_last}, videos, context=10, horizon=6)
    table = ev.report_table(reports, ks=(1, 6))
    assert list(table.index) == list(reports)
    assert list(table.columns) == [("centroid error (px)", "k=1"), ("centroid error (px)", "k=6"),
                                   ("wrong-pixel fraction", "k=1"), ("wrong-pixel fraction", "k=6")]
    assert table.loc["copy", ("centroid error (px)", "k=6")] == round(reports["copy"].at(6)["error_px"], 2)
    assert np.isnan(table.loc[ev.EMPTY, ("centroid error (px)", "k=1")])
    assert ev.report_table(reports, ks=(1, 6), metrics=ev.METRICS).shape == (len(reports), 6)
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
