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
from worldmodels.patches import patchify as course_patchify

# ex9.1 patchify(latent, patch): (C, T, H, W) -> (N, pt*ph*pw*C), tokens time-major, channels last.


@exercise_test("ex9.1", points=1, hint="N = (T/pt) * (H/ph) * (W/pw) tokens of pt*ph*pw*C numbers each.")
def patchify_shape(ns):
    tokens = np.asarray(ns["patchify"](np.zeros((3, 4, 6, 8)), (2, 3, 4)))
    assert tokens.shape == (2 * 2 * 2, 2 * 3 * 4 * 3), f"expected shape (8, 72), got {tokens.shape}"


@exercise_test("ex9.1", points=1, hint="Reshape to (C, T/pt, pt, H/ph, ph, W/pw, pw), move the patch-grid axes first and C last, then flatten.")
def patchify_order(ns):
    # one channel, T=2, 2x2 frames: frame 0 holds 0..3, frame 1 holds 4..7; patch (1, 2, 2) -> one token per frame
    latent = np.arange(8.0).reshape(1, 2, 2, 2)
    tokens = np.asarray(ns["patchify"](latent, (1, 2, 2)))
    assert np.array_equal(tokens, [[0, 1, 2, 3], [4, 5, 6, 7]]), f"expected [[0, 1, 2, 3], [4, 5, 6, 7]], got {tokens.tolist()}"
    x = np.random.default_rng(0).normal(size=(2, 4, 4, 4))
    expected = course_patchify(torch.tensor(x)[None], (2, 2, 2))[0].numpy()
    got = np.asarray(ns["patchify"](x, (2, 2, 2)))
    assert np.allclose(got, expected), "tokens differ from worldmodels.patches.patchify for a (2, 4, 4, 4) latent and patch (2, 2, 2)"


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


ANSWERS = {
    "ex9.1": ("worldmodels.patches.patchify", "worldmodels.patches.unpatchify"),
    "ex9.2": ("worldmodels.diffusion.interpolate",),
    "ex9.3": ("worldmodels.diffusion.euler_step",),
}
