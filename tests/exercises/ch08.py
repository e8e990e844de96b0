"""Grading tests of chapter 8's exercises (solutions/08_deciding_in_imagination.ipynb).

Each test receives the learner's notebook namespace `ns` and checks one behaviour on tiny inputs whose
answers are worked out by hand in the comments.
"""

import math

import numpy as np
import torch

from worldmodels.grading import exercise_test
from worldmodels.render import render

# The tests hand the learner's functions only plain data (numbers, arrays, tensors) and the stand-in model
# defined below by name (the student's process has this public module too): the grader runs
# them in its own process and sends just the inputs to the learner's (worldmodels/grading/remote.py).
REMOTE = True

# ex8.1 cem_iteration(samples (N, H, 2), costs (N,), n_elites) -> mean, std (H, 2) of the elites.


def _samples():
    # four one-step sequences; sample i pushes (i, -i)
    return np.array([[[0.0, 0.0]], [[1.0, -1.0]], [[2.0, -2.0]], [[3.0, -3.0]]])


@exercise_test("ex8.1", points=1, hint="np.argsort(costs)[:n_elites] are the indices of the cheapest samples.")
def keeps_the_cheapest(ns):
    # costs 3, 0, 2, 1: the two cheapest are samples 1 and 3 -> mean (2, -2), std (1, 1)
    mean, std = ns["cem_iteration"](_samples(), np.array([3.0, 0.0, 2.0, 1.0]), 2)
    mean, std = np.asarray(mean, float), np.asarray(std, float)
    assert mean.shape == (1, 2) and std.shape == (1, 2), f"expected shapes (1, 2), got {mean.shape} and {std.shape}"
    assert np.allclose(mean, [[2.0, -2.0]]), f"expected the elites' mean [[2, -2]], got {mean.tolist()}"
    assert np.allclose(std, [[1.0, 1.0]]), f"expected the elites' std [[1, 1]] (np.std, ddof=0), got {std.tolist()}"


@exercise_test("ex8.1", points=1, hint="Average over the samples axis (axis 0), not over the steps.")
def one_elite_has_zero_spread(ns):
    samples = np.random.default_rng(0).normal(size=(6, 3, 2))
    costs = np.array([5.0, 4.0, 0.5, 3.0, 2.0, 1.0])
    mean, std = ns["cem_iteration"](samples, costs, 1)
    assert np.allclose(mean, samples[2]), "with one elite the mean is that sample itself (sample 2, cost 0.5)"
    assert np.allclose(std, 0.0), f"with one elite the std is zero, got {np.asarray(std).tolist()}"


# ex8.2 wilson(k, n, z=1.96) -> (low, high)


@exercise_test("ex8.2", points=1, hint="Centre (p + z^2/2n) / (1 + z^2/n); half-width z / (1 + z^2/n) * sqrt(p(1-p)/n + z^2/4n^2).")
def half_of_ten(ns):
    lo, hi = ns["wilson"](5, 10)
    # p = 0.5: symmetric about 0.5, half-width 1.96 / 1.38416 * sqrt(0.025 + 0.009604) = 0.26334
    assert math.isclose(lo, 0.23659, abs_tol=1e-4) and math.isclose(hi, 0.76341, abs_tol=1e-4), f"expected (0.2366, 0.7634), got ({lo}, {hi})"


@exercise_test("ex8.2", points=1, hint="At k = n the interval still has width: the upper end is 1, the lower end below it.")
def all_successes(ns):
    lo, hi = ns["wilson"](20, 20)
    # p = 1: centre (1 + 0.09604) / 1.19208 = 0.91944, half 1.64420 * 0.04900 = 0.08056 -> (0.8389, 1.0)
    assert math.isclose(hi, 1.0, abs_tol=1e-9), f"expected the upper end 1.0, got {hi}"
    assert math.isclose(lo, 0.83887, abs_tol=1e-4), f"expected the lower end 0.8389, got {lo}"
    lo99, _ = ns["wilson"](20, 20, z=2.576)
    assert lo99 < lo, f"a 99 % interval (z = 2.576) must be wider: lower end {lo99} vs {lo}"


# ex8.3 imagined_return(model, context (C, H, W), pushes (K, 2), target (2,), energy_weight) -> float


class _SlidingModel:
    """A stand-in world model whose imagined ball starts at (10, 16) and moves by the pushes (px/frame)."""

    def predict(self, context, actions):
        assert context.ndim == 4 and actions.ndim == 3, "call model.predict with a batch of one: context[None], pushes[None]"
        path = torch.tensor([10.0, 16.0]) + torch.cumsum(actions[0].float(), dim=0)  # (K, 2)
        return torch.as_tensor(render(path.numpy()[:, None], 3.0, 32))[None]


@exercise_test("ex8.3", points=1, hint="Read the centre of the LAST imagined frame: centroids(frames[0, -1])[0].")
def return_by_hand(ns):
    context = np.zeros((4, 32, 32), dtype=np.float32)
    pushes = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    # the ball ends at (12, 16): 2 px from (14, 16); energy 2 -> return -(2 + 0.5 * 2) = -3
    got = float(ns["imagined_return"](_SlidingModel(), context, pushes, np.array([14.0, 16.0]), 0.5))
    assert math.isclose(got, -3.0, abs_tol=0.02), f"expected -3.0 (distance 2 px + 0.5 x energy 2), got {got}"


@exercise_test("ex8.3", points=1, hint="The energy is the sum over steps of |push|^2, not of |push|.")
def energy_is_squared(ns):
    context = np.zeros((4, 32, 32), dtype=np.float32)
    pushes = np.array([[0.0, 0.5], [0.0, 0.5]])
    # ends at (10, 17), on the target: the return is -(0 + 0.2 * (0.25 + 0.25)) = -0.1
    got = float(ns["imagined_return"](_SlidingModel(), context, pushes, np.array([10.0, 17.0])))
    assert math.isclose(got, -0.1, abs_tol=0.02), f"expected -0.1 (on target, energy 0.5 times the default weight 0.2), got {got}"


# The package functions that answer each exercise: while its tests run in the grader they are
# unavailable to the learner's code (worldmodels/grading/answers.py).
ANSWERS = {
    "ex8.1": ("worldmodels.planning.cem_update",),
    "ex8.2": ("worldmodels.stats.wilson_interval",),
    "ex8.3": ("worldmodels.planning.learned_model", "worldmodels.planning.objective", "worldmodels.imagined_experience.policy_return"),
}
