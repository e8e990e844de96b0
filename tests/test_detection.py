import numpy as np
import pytest
import torch

from worldmodels import detection as det
from worldmodels.data import make_split
from worldmodels.laws import clip_violations
from worldmodels.stats import auc
from worldmodels.training import TrainConfig


def test_bad_arguments_raise():
    with pytest.raises(ValueError):
        det.physics_score(np.zeros((2, 3, 32, 32)))
    with pytest.raises(ValueError):
        det.DetectorConfig(size=30)


def test_real_clips_keep_the_laws_and_a_swollen_ball_breaks_them():
    clips = make_split("test", 16, 20, seed=0).frames
    real = det.physics_score(clips)
    assert np.median(real) < 1.5
    violations = clip_violations(clips)
    assert np.all(violations["mass"] < 0.025) and np.all(violations["size"] < 0.025)
    # blur every frame: the ball grows (size law) while its mass is kept
    blurred = 0.5 * clips + 0.125 * (np.roll(clips, 1, -1) + np.roll(clips, -1, -1) + np.roll(clips, 1, -2) + np.roll(clips, -1, -2))
    assert np.all(det.physics_score(blurred) > real)
    assert auc(real, det.physics_score(blurred)) == 1.0


def test_speed_changes_raise_the_score():
    from worldmodels.render import render

    t = np.arange(20.0)[:, None]
    steady = 8 + 0.75 * t * np.ones(2)  # one ball along the diagonal at a constant speed, far from the walls
    speeding = 8 + np.where(t < 10, 0.5 * t, 5 + (t - 10)) * np.ones(2)  # the same line, twice as fast after frame 10
    clips = render(np.stack([steady, speeding])[:, :, None], 3.0, 32)
    violations = clip_violations(clips)
    assert violations["speed"][0] < 0.05 < 0.2 < violations["speed"][1]  # within the 5 % tolerance, then 100 % off
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
    assert auc(scores[:32], scores[32:]) > 0.9
    with pytest.raises(ValueError):
        model(torch.zeros(2, 5, 16, 16))
    with pytest.raises(ValueError):
        det.fit_detector(model, real, fake[:, :5], progress=False)
