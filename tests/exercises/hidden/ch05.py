"""Hidden grading tests of chapter 5 (run by the grader only, after the public ones in ../ch05.py).

They compare with the course's own rollout loss, which the student edition of the package does not carry.
"""

import numpy as np
import torch

from worldmodels import world_model as wm
from worldmodels.grading import exercise_test, expect_number

TINY = wm.WorldModelConfig(context=3, latent=6, enc_hidden=12, dyn_hidden=12, dec_hidden=12)  # reads 3 frames


def _tiny_model(seed=0):
    torch.manual_seed(seed)
    return wm.WorldModel(TINY)


@exercise_test("ex5.1", points=1, hint="Imagine from the latent of the first c = model.config.context frames only, with actions[:, c - 1], actions[:, c], ...; never encode later frames.")
def loss_over_a_long_rollout(ns):
    model = _tiny_model(1)
    frames, actions = torch.rand(2, 3 + 6, 32, 32), torch.randn(2, 9, 2)
    expected = wm.rollout_loss(model, frames, actions).item()
    got = expect_number(ns["rollout_loss"](model, frames, actions), "rollout_loss")
    assert np.isclose(got, expected, rtol=1e-4), f"expected {expected:.4f} nats per frame for K = 6, got {got:.4f}"


@exercise_test("ex5.1", points=1, hint="Keep the computation in torch (no .item() or numpy inside) so the loss can be backpropagated.")
def loss_trains_the_dynamics(ns):
    model = _tiny_model(2)
    frames, actions = torch.rand(2, 5, 32, 32), torch.zeros(2, 5, 2)
    loss = ns["rollout_loss"](model, frames, actions)
    assert isinstance(loss, torch.Tensor) and loss.requires_grad, "expected a torch scalar that carries gradients"
    loss.backward()
    grad = model.dynamics[0].weight.grad
    assert grad is not None and grad.abs().sum() > 0, "expected a gradient on the dynamics: the loss must go through model.step"
    reference = _tiny_model(2)
    wm.rollout_loss(reference, frames, actions).backward()
    assert torch.allclose(grad, reference.dynamics[0].weight.grad, rtol=1e-4, atol=1e-6), \
        "expected the dynamics' gradient of the rollout loss (reconstruction + imagined frames, mean per frame)"
