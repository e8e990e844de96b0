"""Grading tests of chapter 9's exercises (solutions/09_sora_in_miniature.ipynb).

Each test receives the learner's notebook namespace `ns` and checks one behaviour on tiny arrays whose
answers are worked out by hand in the comments.
"""

import numpy as np
import torch

from worldmodels.grading import exercise_test

# The tests hand the learner's functions only plain data (numbers, arrays, tensors): the grader runs them in
# its own process and sends just the inputs to the learner's (worldmodels/grading/remote.py).
REMOTE = True

# ex9.1 patchify(latent, patch): (C, T, H, W) -> (N, pt*ph*pw*C), tokens time-major, channels last.


@exercise_test("ex9.1", points=1, hint="N = (T/pt) * (H/ph) * (W/pw) tokens of pt*ph*pw*C numbers each.")
def patchify_shape(ns):
    tokens = np.asarray(ns["patchify"](np.zeros((3, 4, 6, 8)), (2, 3, 4)))
    assert tokens.shape == (2 * 2 * 2, 2 * 3 * 4 * 3), f"expected shape (8, 72), got {tokens.shape}"



# ex9.2 flow_matching_pair(x0, noise, t): (x_t, velocity) with x_t = (1 - t) x0 + t noise, velocity = noise - x0.


@exercise_test("ex9.2", points=1, hint="t = 0 is the clean latent, t = 1 the noise; in between a straight line.")
def pair_endpoints(ns):
    x0, noise = np.array([1.0, -2.0]), np.array([3.0, 2.0])
    x_t, v = ns["flow_matching_pair"](x0, noise, 0.0)
    assert np.allclose(x_t, x0), f"at t = 0 expected x_t = x0 = {x0.tolist()}, got {np.asarray(x_t).tolist()}"
    x_t, _ = ns["flow_matching_pair"](x0, noise, 1.0)
    assert np.allclose(x_t, noise), f"at t = 1 expected x_t = noise = {noise.tolist()}, got {np.asarray(x_t).tolist()}"


@exercise_test("ex9.2", points=1, hint="The velocity is the derivative of x_t with respect to t.")
def pair_midway(ns):
    x0, noise = np.array([1.0, -2.0]), np.array([3.0, 2.0])
    x_t, v = ns["flow_matching_pair"](x0, noise, 0.25)
    # 0.75 * (1, -2) + 0.25 * (3, 2) = (1.5, -1.0); velocity (3, 2) - (1, -2) = (2, 4)
    assert np.allclose(x_t, [1.5, -1.0]), f"expected x_t = [1.5, -1.0] at t = 0.25, got {np.asarray(x_t).tolist()}"
    assert np.allclose(v, [2.0, 4.0]), f"expected velocity [2.0, 4.0], got {np.asarray(v).tolist()}"


# ex9.3 sampling_step(x_t, x0_hat, t, t_next): walk the line through x_t and x0_hat from t to t_next.


@exercise_test("ex9.3", points=1, hint="On the line, x_t - x0_hat is proportional to t: scale it by t_next / t.")
def step_by_hand(ns):
    # x_t = 5 at t = 0.5, predicted clean 1: the line is 1 + 8 t, so at t_next = 0.25 it is 3
    out = np.asarray(ns["sampling_step"](np.array([5.0]), np.array([1.0]), 0.5, 0.25))
    assert np.allclose(out, [3.0]), f"expected [3.0], got {out.tolist()}"


@exercise_test("ex9.3", points=1, hint="The last step (t_next = 0) must land exactly on the predicted clean latent.")
def last_step_lands_on_prediction(ns):
    out = np.asarray(ns["sampling_step"](np.array([5.0, -1.0]), np.array([1.0, 2.0]), 0.1, 0.0))
    assert np.allclose(out, [1.0, 2.0]), f"expected the prediction [1.0, 2.0] at t_next = 0, got {out.tolist()}"


# ex9.4 collision_residual(before_i, before_j, after_i, after_j, p_i, p_j): |change of total momentum| + |ball i's
# change of step across the line of centres|.


def _exchange():
    # head-on along x: i moves right, j left; after the meeting they have swapped steps; centres (10, 16), (16, 16)
    return (np.array([1.0, 0.0]), np.array([-1.0, 0.0]), np.array([-1.0, 0.0]), np.array([1.0, 0.0]),
            np.array([10.0, 16.0]), np.array([16.0, 16.0]))


@exercise_test("ex9.4", points=1, hint="Momentum: `np.linalg.norm((after_i + after_j) - (before_i + before_j))`; a lawful collision scores 0.")
def elastic_exchange_scores_zero(ns):
    # momentum (-1 + 1) - (1 - 1) = 0; ball i's change (-2, 0) lies along the line of centres (1, 0): across 0
    value = ns["collision_residual"](*_exchange())
    assert np.ndim(value) == 0, f"expected one number, got shape {np.shape(value)}"
    assert np.isclose(float(value), 0.0), f"expected 0 for a head-on exchange of steps, got {float(value)}"
    before_i, before_j, _, _, p_i, p_j = _exchange()
    # passing through each other (after = before): no change at all, so 0 as well
    value = float(ns["collision_residual"](before_i, before_j, before_i, before_j, p_i, p_j))
    assert np.isclose(value, 0.0), f"expected 0 for two balls that keep their steps, got {value}"


@exercise_test("ex9.4", points=1, hint="Across the line: with the unit normal `n = (p_j - p_i) / |p_j - p_i|`, take `abs(change[0] * n[1] - change[1] * n[0])`.")
def broken_momentum_and_sideways_kick(ns):
    before_i, before_j, after_i, _, p_i, p_j = _exchange()
    # j leaves with (2, 0) instead of (1, 0): momentum off by |(1, 0)| = 1; ball i's change is along the line: 1
    value = float(ns["collision_residual"](before_i, before_j, after_i, np.array([2.0, 0.0]), p_i, p_j))
    assert np.isclose(value, 1.0), f"expected 1 when ball j leaves with (2, 0) instead of (1, 0), got {value}"
    # both deflected by (0, 0.5): momentum off by |(0, 1)| = 1, ball i's change (-2, 0.5) has 0.5 across the x line
    value = float(ns["collision_residual"](before_i, before_j, after_i + [0, 0.5], np.array([1.0, 0.5]), p_i, p_j))
    assert np.isclose(value, 1.5), f"expected 1 + 0.5 = 1.5 when both balls also move (0, 0.5) sideways, got {value}"


# ex9.5 guided_step(x_t, x0_cond, x0_uncond, w, t, t_next): classifier-free guidance, then one step of the sampler.


@exercise_test("ex9.5", points=1, hint="`x0 = x0_uncond + w * (x0_cond - x0_uncond)`: w = 1 is the conditional prediction, w = 0 the unconditional one.")
def weights_one_and_zero(ns):
    x_t, cond, uncond = torch.tensor([[5.0, 1.0]]), torch.tensor([[1.0, 3.0]]), torch.tensor([[-1.0, 1.0]])
    # w = 1: x0 = cond = (1, 3); halfway from t = 0.5 to 0.25: (1, 3) + 0.5 * ((5, 1) - (1, 3)) = (3, 2)
    out = torch.as_tensor(ns["guided_step"](x_t, cond, uncond, 1.0, 0.5, 0.25))
    assert tuple(out.shape) == (1, 2), f"expected the shape of x_t (1, 2), got {tuple(out.shape)}"
    assert torch.allclose(out.double(), torch.tensor([[3.0, 2.0]], dtype=torch.float64)), f"w = 1: expected [[3, 2]], got {out.tolist()}"
    # w = 0: x0 = uncond = (-1, 1) -> (-1, 1) + 0.5 * (6, 0) = (2, 1)
    out = torch.as_tensor(ns["guided_step"](x_t, cond, uncond, 0.0, 0.5, 0.25))
    assert torch.allclose(out.double(), torch.tensor([[2.0, 1.0]], dtype=torch.float64)), f"w = 0: expected [[2, 1]], got {out.tolist()}"


@exercise_test("ex9.5", points=1, hint="With w = 3 the prediction goes past `x0_cond`; at `t_next = 0` the step lands on that guided prediction.")
def strong_guidance_to_the_end(ns):
    x_t, cond, uncond = torch.tensor([[5.0, 1.0]]), torch.tensor([[1.0, 3.0]]), torch.tensor([[-1.0, 1.0]])
    # w = 3: x0 = (-1, 1) + 3 * (2, 2) = (5, 7); t_next = 0 returns x0 itself
    out = torch.as_tensor(ns["guided_step"](x_t, cond, uncond, 3.0, 0.2, 0.0))
    assert torch.allclose(out.double(), torch.tensor([[5.0, 7.0]], dtype=torch.float64)), f"w = 3, t_next = 0: expected [[5, 7]], got {out.tolist()}"


# ex9.6 pass_rate(residuals, tolerance) -> (rate, low, high) over the clips that test the law (NaN: untested).


@exercise_test("ex9.6", points=1, hint="Wilson: centre `(p + z**2 / (2 * n)) / (1 + z**2 / n)`, half-width `z / (1 + z**2 / n) * sqrt(p * (1 - p) / n + z**2 / (4 * n**2))`, z = 1.96.")
def five_of_ten(ns):
    residuals = np.array([0.1, 0.5, 0.2, 0.9, 0.3, 0.05, 2.0, 0.4, 0.6, 0.15])
    # within 0.35: 0.1, 0.2, 0.3, 0.05, 0.15 -> 5 of 10; Wilson (5, 10) = (0.2366, 0.7634), see ex8.2
    out = ns["pass_rate"](residuals, 0.35)
    assert len(out) == 3, f"expected (rate, low, high), got {out!r}"
    rate, low, high = (float(x) for x in out)
    assert np.isclose(rate, 0.5), f"expected the rate 5/10 = 0.5 at tolerance 0.35, got {rate}"
    assert np.allclose([low, high], [0.23659, 0.76341], atol=1e-4), f"expected the interval (0.2366, 0.7634), got ({low}, {high})"


@exercise_test("ex9.6", points=1, hint="Drop the NaNs first (`r[~np.isnan(r)]`): a clip that cannot test a law neither passes nor fails it. A residual equal to the tolerance passes.")
def untested_clips_do_not_count(ns):
    residuals = np.array([0.2, np.nan, 0.5, np.nan, 1.0, 0.5])
    # tested: 0.2, 0.5, 1.0, 0.5; within 0.5 (inclusive): 3 of 4 -> 0.75, Wilson (3, 4) = (0.3006, 0.9544)
    rate, low, high = (float(x) for x in ns["pass_rate"](residuals, 0.5))
    assert np.isclose(rate, 0.75), f"expected 3 of the 4 tested clips = 0.75 (the 2 NaN clips do not count), got {rate}"
    assert np.allclose([low, high], [0.30064, 0.95441], atol=1e-4), f"expected the interval (0.3006, 0.9544) of 3 in 4, got ({low}, {high})"


ANSWERS = {
    "ex9.1": ("worldmodels.patches.patchify", "worldmodels.patches.unpatchify"),
    "ex9.2": ("worldmodels.diffusion.interpolate",),
    "ex9.3": ("worldmodels.diffusion.euler_step",),
    # the collision residual is computed inside laws.multiball_violations, from frames: no function answers it
    "ex9.4": (),
    "ex9.5": ("worldmodels.diffusion.euler_step",),
    "ex9.6": ("worldmodels.laws.pass_curve", "worldmodels.stats.wilson_interval"),
}
