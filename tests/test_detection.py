import numpy as np
import pytest
import torch

from worldmodels import detection as det
from worldmodels.data import make_split
from worldmodels.training import TrainConfig


def test_perfect_detector_has_auc_one_and_reversed_zero():
    real, gen = np.arange(10.0), np.arange(10.0) + 100
    assert det.auc(real, gen) == 1.0
    assert det.auc(gen, real) == 0.0
    assert det.bootstrap_auc(real, gen, n_boot=50) == (1.0, 1.0)


def test_random_detector_has_auc_near_half_on_a_large_sample():
    rng = np.random.default_rng(0)
    value = det.auc(rng.normal(size=5000), rng.normal(size=5000))
    assert abs(value - 0.5) < 0.02


def test_auc_counts_ties_half_and_matches_pairwise_definition():
    assert det.auc([1.0, 1.0], [1.0, 2.0]) == 0.75
    rng = np.random.default_rng(1)
    real, gen = rng.integers(0, 5, 40).astype(float), rng.integers(1, 6, 30).astype(float)
    pairwise = np.mean((gen[:, None] > real[None]) + 0.5 * (gen[:, None] == real[None]))
    assert det.auc(real, gen) == pytest.approx(pairwise)


def test_roc_curve_runs_from_origin_to_one_and_its_area_is_the_auc():
    rng = np.random.default_rng(2)
    real, gen = rng.normal(size=200), rng.normal(1.0, 1.0, size=150)
    fpr, tpr = det.roc_curve(real, gen)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    assert area == pytest.approx(det.auc(real, gen))


def test_bootstrap_interval_contains_the_auc():
    rng = np.random.default_rng(3)
    real, gen = rng.normal(size=300), rng.normal(0.5, 1.0, size=300)
    lo, hi = det.bootstrap_auc(real, gen, n_boot=200)
    assert lo < det.auc(real, gen) < hi and hi - lo < 0.2


def test_threshold_at_fpr_flags_at_most_that_fraction():
    real = np.arange(100.0)
    t = det.threshold_at_fpr(real, 0.05)
    assert np.mean(real > t) <= 0.05
    assert det.tpr_at_fpr(real, real + 1000, 0.01) == 1.0


@pytest.mark.parametrize("bad", [([], [1.0]), ([1.0], []), ([np.nan], [1.0])])
def test_auc_rejects_empty_or_nan(bad):
    with pytest.raises(ValueError):
        det.auc(*bad)


def test_bad_arguments_raise():
    with pytest.raises(ValueError):
        det.bootstrap_auc([1.0], [2.0], level=1.5)
    with pytest.raises(ValueError):
        det.threshold_at_fpr([1.0, 2.0], fpr=1.0)
    with pytest.raises(ValueError):
        det.law_violations(np.zeros((2, 3, 32, 32)))
    with pytest.raises(ValueError):
        det.DetectorConfig(size=30)


def test_real_clips_keep_the_laws_and_a_swollen_ball_breaks_them():
    clips = make_split("test", 16, 20, seed=0).frames
    real = det.physics_score(clips)
    assert np.median(real) < 1.0
    violations = det.law_violations(clips)
    assert np.all(violations["mass"] < 0.02) and np.all(violations["size"] < 0.02)
    # blur every frame: the ball grows (size law) while its mass is kept
    blurred = 0.5 * clips + 0.125 * (np.roll(clips, 1, -1) + np.roll(clips, -1, -1) + np.roll(clips, 1, -2) + np.roll(clips, -1, -2))
    assert np.all(det.physics_score(blurred) > real)
    assert det.auc(real, det.physics_score(blurred)) == 1.0


def test_speed_changes_raise_the_score():
    from worldmodels.render import render

    t = np.arange(20.0)[:, None]
    steady = 8 + 0.75 * t * np.ones(2)  # one ball along the diagonal at a constant speed, far from the walls
    speeding = 8 + np.where(t < 10, 0.5 * t, 5 + (t - 10)) * np.ones(2)  # the same line, twice as fast after frame 10
    clips = render(np.stack([steady, speeding])[:, :, None], 3.0, 32)
    violations = det.law_violations(clips)
    assert violations["speed"][0] < 0.02 < 0.2 < violations["speed"][1]
    assert violations["direction_deg"][1] < 1.0  # the direction never changed
    assert det.physics_score(clips)[1] > det.physics_score(clips)[0] + 3


def test_classifier_shapes_and_a_few_training_steps_lower_the_loss():
    torch.manual_seed(0)
    config = det.DetectorConfig(length=6, size=16, channels=4)
    model = det.ClipClassifier(config)
    rng = np.random.default_rng(0)
    real = rng.uniform(0, 0.2, size=(32, 6, 16, 16)).astype(np.float32)
    fake = rng.uniform(0.3, 0.5, size=(32, 6, 16, 16)).astype(np.float32)
    history = det.fit_detector(model, real, fake, TrainConfig(steps=40, lr=1e-2, eval_every=20), batch_size=16, progress=False)
    assert history.train_loss[-1] < history.train_loss[0]
    scores = det.detector_scores(model, np.concatenate([real, fake]))
    assert scores.shape == (64,)
    assert det.auc(scores[:32], scores[32:]) > 0.9
    with pytest.raises(ValueError):
        model(torch.zeros(2, 5, 16, 16))
    with pytest.raises(ValueError):
        det.fit_detector(model, real, fake[:, :5], progress=False)
