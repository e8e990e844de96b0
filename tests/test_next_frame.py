import numpy as np
import pytest
import torch

from worldmodels import next_frame as nf
from worldmodels import next_frame_training as nft
from worldmodels.data import make_split
from worldmodels.training import TrainConfig

SMALL = nf.PredictorConfig(n_input=2, channels=8, n_layers=3)


def test_shapes_and_config_validation():
    model = nf.ConvPredictor(SMALL)
    out = model(torch.rand(5, 2, 32, 32))
    assert out.shape == (5, 32, 32)
    with pytest.raises(ValueError, match="frames must have shape"):
        model(torch.rand(5, 3, 32, 32))
    with pytest.raises(ValueError, match="multiple of patch"):
        nf.PredictorConfig(size=30)
    with pytest.raises(ValueError, match="n_layers"):
        nf.PredictorConfig(n_layers=1)
    with pytest.raises(ValueError, match="rollout_steps"):
        nft.FitConfig(rollout_steps=0)


def test_rollout_feeds_predictions_back():
    torch.manual_seed(0)
    model = nf.ConvPredictor(SMALL)
    context = torch.rand(3, 6, 32, 32)
    with torch.no_grad():
        frames = nf.rollout(model, context, 4)
        assert frames.shape == (3, 4, 32, 32)
        assert frames.min() >= 0 and frames.max() <= 1
        # step 1 sees the last two context frames; step 3 sees predictions 1 and 2 only
        assert torch.allclose(frames[:, 0], torch.sigmoid(model(context[:, -2:])))
        assert torch.allclose(frames[:, 2], torch.sigmoid(model(frames[:, :2])), atol=1e-6)
        # earlier context frames play no part
        other = context.clone()
        other[:, :4] = 0
        assert torch.equal(nf.rollout(model, other, 4), frames)
    with pytest.raises(ValueError):
        nf.rollout(model, context[:, :1], 4)


def test_rollout_loss_is_teacher_forcing_for_one_step_and_backpropagates_through_feedback():
    torch.manual_seed(0)
    model = nf.ConvPredictor(SMALL)
    window = torch.rand(4, 5, 32, 32)
    one = nf.rollout_loss(model, window[:, :3])
    expected = torch.nn.functional.binary_cross_entropy_with_logits(model(window[:, :2]), window[:, 2])
    assert torch.allclose(one, expected)
    # with 3 steps the loss of step 2 depends on the prediction of step 1: the gradient reaches it
    logits = model(window[:, :2]).detach().requires_grad_(True)
    fed = torch.cat([window[:, 1:2], torch.sigmoid(logits)[:, None]], dim=1)
    torch.nn.functional.binary_cross_entropy_with_logits(model(fed), window[:, 3]).backward()
    assert logits.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="more than n_input"):
        nf.rollout_loss(model, window[:, :2])


def test_fit_learns_something_quickly():
    torch.manual_seed(0)
    videos = make_split("train", 64, 12, seed=0)
    model = nf.ConvPredictor(SMALL)
    history = nft.fit(model, videos.frames, nft.FitConfig(TrainConfig(steps=60, lr=3e-3, eval_every=6), batch_size=16), progress=False,
                     val_frames=videos.frames[:16])
    assert np.mean(history.train_loss[-10:]) < 0.5 * np.mean(history.train_loss[:3])
    history = nft.fit(model, videos.frames, nft.FitConfig(TrainConfig(steps=3, lr=2e-3), batch_size=4, rollout_steps=3), progress=False)
    assert len(history.train_loss) == 3


def test_as_predictor_matches_the_harness_interface():
    torch.manual_seed(0)
    model = nf.ConvPredictor(SMALL)
    predict = nf.as_predictor(model, batch_size=2)
    context = np.random.default_rng(0).random((5, 4, 32, 32)).astype(np.float32)
    out = predict(context, None, 3)
    assert isinstance(out, np.ndarray) and out.shape == (5, 3, 32, 32)
    with torch.no_grad():
        assert np.allclose(out, nf.rollout(model, torch.from_numpy(context), 3).numpy(), atol=1e-6)
    assert model.training  # the mode is restored


def test_chapter_recipe_compares_like_with_like():
    # the two continuations of the chapter predict the same number of frames per step, for as many steps
    tf, ro = nft.CONTINUE_TEACHER_FORCING, nft.CONTINUE_ROLLOUT
    assert tf.rollout_steps == 1 and ro.rollout_steps > 1
    assert tf.batch_size == ro.batch_size * ro.rollout_steps
    assert tf.optim == ro.optim
    assert nft.TEACHER_FORCING.rollout_steps == 1
