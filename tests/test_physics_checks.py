import dataclasses

import numpy as np
import pytest

from worldmodels.data import CANONICAL, make_split
from worldmodels.physics_checks import COLUMN_LABELS, ROLLOUT_TOLERANCES, check_rollouts, law_metrics, verdict_table


@pytest.fixture(scope="module")
def videos():
    return make_split("val", 64, 30, CANONICAL, with_actions=False, seed=0)


def test_true_trajectories_obey_every_law(videos):
    laws = check_rollouts(videos.frames[:, 10:30], videos, context=10)
    truth, model = laws["truth"], laws["model"]
    assert abs(truth.speed_bias) < 1e-9 and truth.speed_change < 1e-9 and truth.energy_change < 1e-9
    assert truth.bounce_angle_deg < 1e-6 and truth.n_bounces > 20
    assert all(truth.verdicts().values())
    # the true frames, decoded by centroids, pass as well (decoding is sub-pixel accurate)
    assert all(model.verdicts().values()), model


def test_a_slowing_ball_breaks_speed_and_energy_conservation():
    t = np.arange(20.0)
    x = 5 + 2.5 * t - 0.05 * t**2  # decelerating, no bounce
    positions = np.stack([x, np.full_like(x, 16.0)], axis=-1)[None]
    laws = law_metrics(positions, np.array([2.5]))
    assert laws.speed_change > 0.2 and laws.energy_change > 0.4 and laws.speed_bias < -0.1
    assert not laws.verdicts()["speed_change"] and not laws.verdicts()["energy_change"]


def test_verdict_table_and_bad_inputs(videos):
    laws = check_rollouts(videos.frames[:, 10:30], videos)
    faded = dataclasses.replace(laws["model"], mass_bias=-0.4, speed_bias=0.2)
    table = verdict_table({"in-distribution": laws["model"], "faded": faded}, errors={"in-distribution": 0.5})
    assert list(table.index) == ["in-distribution", "faded"]
    assert list(table.columns) == ["error k=10 (px)", *(COLUMN_LABELS[name] for name in ROLLOUT_TOLERANCES), "laws broken"]
    assert table.loc["in-distribution", "laws broken"] == 0
    assert table.loc["faded", "laws broken"] == 2
    verdicts = verdict_table({"in-distribution": laws["model"], "faded": faded}, verdicts=True)
    assert list(verdicts.columns) == ["speed", "steady speed", "bounce", "energy", "mass"]
    assert list(verdicts.loc["faded"]) == ["broken", "kept", "kept", "kept", "broken"]
    assert set(verdicts.loc["in-distribution"]) == {"kept"}
    assert table.loc["faded", "mass bias"] == -0.4  # signed: the imagined ball has 40 % too little ink
    assert np.isnan(table.loc["faded", "error k=10 (px)"])
    with pytest.raises(ValueError, match="one ball"):
        three = make_split("more_balls", 2, 30, CANONICAL, seed=0)
        check_rollouts(three.frames[:, 10:30], three)
    with pytest.raises(ValueError, match="no pushes"):
        pushed = make_split("val", 4, 30, CANONICAL, with_actions=True, seed=0)
        check_rollouts(pushed.frames[:, 10:30], pushed)
    with pytest.raises(ValueError, match="true_speed"):
        law_metrics(np.zeros((2, 5, 2)), np.array([1.0]))


# ------------------------------------------------------------------------------ several balls (chapter 7)


def test_collision_laws_hold_for_the_simulator_and_break_for_balls_that_pass_through():
    from worldmodels.data import THREE_BALLS
    from worldmodels.oracle import oracle_positions
    from worldmodels.physics_checks import CollisionMetrics, collision_metrics

    videos = make_split("val", 128, 30, THREE_BALLS, seed=0)
    truth = collision_metrics(videos.positions, THREE_BALLS.radius, THREE_BALLS.size)
    assert truth.n_collisions >= 5 and truth.momentum_change < 1e-9 and truth.exchange_error < 1e-9
    assert truth.overlap_px == 0 and all(truth.verdicts().values()), truth
    ghosts = collision_metrics(oracle_positions(videos.positions[:, :10], 20, THREE_BALLS), THREE_BALLS.radius, THREE_BALLS.size)
    assert ghosts.exchange_error == pytest.approx(1.0) and ghosts.overlap_px > 1
    assert not ghosts.verdicts()["exchange_error"] and not ghosts.verdicts()["overlap_px"]
    table = verdict_table({"truth": truth, "ghosts": ghosts})
    assert list(table.columns) == [*(CollisionMetrics.column_labels[n] for n in CollisionMetrics.tolerances), "laws broken"]
    assert table.loc["ghosts", "laws broken"] == 2


def test_elastic_exchange_swaps_velocities_head_on():
    from worldmodels.physics_checks import elastic_exchange

    assert np.allclose(elastic_exchange([2.0, 0.0], [-1.0, 0.0], [-6.0, 0.0]), [-3.0, 0.0])


def test_track_keeps_identities_through_the_frames():
    from worldmodels.data import THREE_BALLS
    from worldmodels.centroid import match_error
    from worldmodels.physics_checks import track

    videos = make_split("val", 16, 12, THREE_BALLS, seed=0)
    tracked = track(videos.frames, 3)
    assert tracked.shape == videos.positions.shape
    assert match_error(tracked, videos.positions).mean() < 0.1
    # slot identity: the pairing found at frame 0 still fits at the last frame for most sequences
    first = np.argmin(np.linalg.norm(tracked[:, 0, :, None] - videos.positions[:, 0, None], axis=-1), axis=-1)
    kept = np.linalg.norm(np.take_along_axis(videos.positions[:, -1], first[..., None], axis=1) - tracked[:, -1], axis=-1).max(-1) < 0.5
    assert kept.mean() > 0.8
    with pytest.raises(ValueError, match="B, T, H, W"):
        track(videos.frames[0], 3)
