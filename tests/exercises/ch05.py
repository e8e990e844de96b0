"""Grading tests of chapter 5's exercises (solutions/05_learning_physics.ipynb).

Each test receives the learner's notebook namespace `ns` and checks one behaviour on tiny inputs: a tiny
untrained WorldModel (so the tests run in well under a second) and small arrays whose answers are known.
"""

import numpy as np
import torch

from worldmodels import world_model as wm
from worldmodels.grading import exercise_test, expect_number

# The tests hand the learner's functions only plain data (numbers, arrays, tensors) and tiny WorldModels,
# rebuilt there from their config and weights; their gradients come back: the grader runs
# them in its own process and sends just the inputs to the learner's (worldmodels/grading/remote.py).
REMOTE = True

TINY = wm.WorldModelConfig(context=3, latent=6, enc_hidden=12, dyn_hidden=12, dec_hidden=12)  # reads 3 frames


def _tiny_model(seed=0):
    torch.manual_seed(seed)
    return wm.WorldModel(TINY)


# ex5.1 rollout_loss(model, frames, actions): reconstruction + K imagined frames, mean BCE per frame.


@exercise_test("ex5.1", points=1, hint="With K = 1 there are two frames to score: the reconstruction of the last context frame and the imagined frame after it.")
def loss_with_one_imagined_step(ns):
    model = _tiny_model()
    frames, actions = torch.rand(3, 4, 32, 32), torch.randn(3, 4, 2)
    z0 = model.encode(frames[:, :3])
    z1 = model.step(z0, actions[:, 2])
    expected = 0.5 * (wm.frame_loss(model.decode_logits(z0), frames[:, 2]) + wm.frame_loss(model.decode_logits(z1), frames[:, 3]))
    got = expect_number(ns["rollout_loss"](model, frames, actions), "rollout_loss")
    assert np.isclose(got, expected.item(), rtol=1e-4), f"expected {expected.item():.4f} nats per frame, got {got:.4f}"


# ex5.2 probe_r2(train_z, train_y, test_z, test_y): affine least squares on train, R^2 per column on test.


@exercise_test("ex5.2", points=1, hint="Append a column of ones to the features so the probe has an intercept.")
def probe_reads_an_affine_map(ns):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(60, 4))
    y = z @ np.array([[1.0, 0.0], [2.0, -1.0], [0.0, 0.5], [-1.0, 0.0]]) + np.array([5.0, -3.0])
    r2 = np.asarray(ns["probe_r2"](z[:40], y[:40], z[40:], y[40:]), dtype=float)
    assert r2.shape == (2,), f"expected one R^2 per target column, shape (2,), got {r2.shape}"
    assert np.allclose(r2, 1.0, atol=1e-8), f"expected R^2 = 1 for an exact affine map, got {r2.tolist()}"


@exercise_test("ex5.2", points=1, hint="R^2 = 1 - sum((pred - y)^2) / sum((y - mean(y))^2), computed on the TEST pairs, column by column.")
def probe_r2_by_hand(ns):
    # train: y = 2 z exactly; test targets [1, 2, 4] vs predictions [2, 4, 6] at z = [1, 2, 3]:
    # SSE = 1 + 4 + 4 = 9, SST = (1-7/3)^2 + (2-7/3)^2 + (4-7/3)^2 = 42/9, R^2 = 1 - 81/42
    z_train = np.array([[0.0], [1.0], [2.0]])
    r2 = np.asarray(ns["probe_r2"](z_train, 2 * z_train, np.array([[1.0], [2.0], [3.0]]), np.array([[1.0], [2.0], [4.0]])), dtype=float)
    expected = 1 - 81 / 42
    assert r2.shape == (1,), f"expected shape (1,), got {r2.shape}"
    assert np.isclose(r2[0], expected), f"expected R^2 = {expected:.4f} (worse than the mean), got {r2[0]:.4f}"


# ex5.3 imagine_plans(model, context, plans): one context (C, H, W), P plans (P, K, 2) -> latents (P, K, latent).


def _latents(result, shape):
    got = result.detach() if isinstance(result, torch.Tensor) else torch.as_tensor(np.asarray(result))
    assert tuple(got.shape) == shape, f"expected shape {shape} (plans, steps, latent), got {tuple(got.shape)}"
    assert torch.isfinite(got).all(), "expected finite latents"
    return got.float()


@exercise_test("ex5.3", points=1, hint="Repeat the context for every plan (e.g. context[None].repeat(P, 1, 1, 1)), encode, then imagine with the plans.")
def plans_give_the_models_futures(ns):
    model = _tiny_model(3)
    context, plans = torch.rand(5, 32, 32), torch.randn(3, 4, 2)
    got = _latents(ns["imagine_plans"](model, context, plans), (3, 4, 6))
    with torch.no_grad():  # the model's own parts: one encoding, repeated, rolled on by each plan's pushes
        expected = model.imagine(model.encode(context[None]).repeat(3, 1), plans)
    assert torch.allclose(got, expected, atol=1e-5), "expected the imagined latents z_1 .. z_K of each plan's rollout"


@exercise_test("ex5.3", points=1, hint="Each plan must use its own pushes: plan i uses plans[i, k] at step k.")
def different_plans_differ(ns):
    model = _tiny_model(4)
    context = torch.rand(3, 32, 32)
    plans = torch.zeros(2, 3, 2)
    plans[1] = 3.0
    got = _latents(ns["imagine_plans"](model, context, plans), (2, 3, 6))
    assert not torch.allclose(got[0], got[1]), "expected different futures for different plans of pushes"
    with torch.no_grad():
        single = model.imagine(model.encode(context[None]), plans[:1])
    assert torch.allclose(got[0], single[0], atol=1e-5), "expected plan 0 to match a rollout of that plan alone"


# The package functions that answer each exercise: while its tests run in the grader they are
# unavailable to the learner's code (worldmodels/grading/answers.py). Empty: none answers it.
ANSWERS = {
    "ex5.1": ("worldmodels.world_model.rollout_loss",),
    "ex5.2": (
        "worldmodels.probe.probe_r2",
        "worldmodels.probe.fit_linear_probe",
        "worldmodels.probe.r2_score",
        "worldmodels.probe.LinearProbe.predict",
    ),
    "ex5.3": (),  # no package function imagines latents for a batch of plans from one context; encode and
                  # imagine are the model's parts, which every chapter needs (so is WorldModel.predict, which decodes)
}
