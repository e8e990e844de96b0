"""Hidden grading tests of chapter 9 (run by the grader only, after the public ones in ../ch09.py).

They compare with the course's own patchify, sampler step, pass curve and Wilson interval, which the student
edition of the package does not carry; the tests of ex9.4 to ex9.6 draw their inputs afresh on every run.
"""

import numpy as np
import torch

from worldmodels.diffusion import euler_step
from worldmodels.grading import exercise_test
from worldmodels.laws import pass_curve
from worldmodels.patches import patchify as course_patchify
from worldmodels.stats import wilson_interval


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


def _fresh_rng():
    """A new seed on every run (printed in the messages), so the expected numbers cannot be copied."""
    seed = int(np.random.SeedSequence().entropy % 2**31)
    return seed, np.random.default_rng(seed)


@exercise_test("ex9.4", points=1, hint="Only the part of ball i's change of step perpendicular to the line of centres counts, whatever the line's direction.")
def random_collisions(ns):
    seed, rng = _fresh_rng()
    for _ in range(5):
        p_i = rng.uniform(4, 28, size=2)
        n = rng.normal(size=2)
        n /= np.linalg.norm(n)
        p_j = p_i + 6.0 * n
        before_i, before_j = rng.normal(size=2) * 2, rng.normal(size=2) * 2
        # elastic collision of equal masses: the steps exchange their components along the line of centres
        push = np.dot(before_i - before_j, n) * n
        after_i, after_j = before_i - push, before_j + push
        value = float(ns["collision_residual"](before_i, before_j, after_i, after_j, p_i, p_j))
        assert abs(value) < 1e-9, f"seed {seed}: expected 0 for an elastic collision along {n.round(3).tolist()}, got {value}"
        # a kick k along the line to ball i only: momentum off by |k|, nothing across -> |k|
        k = rng.uniform(0.2, 1.0)
        value = float(ns["collision_residual"](before_i, before_j, after_i + k * n, after_j, p_i, p_j))
        assert np.isclose(value, k), f"seed {seed}: expected {k:.4f} for a kick of {k:.4f} along the line of centres, got {value}"
        # the same kick across the line: momentum off by |k| and |k| across -> 2 |k|
        across = np.array([-n[1], n[0]])
        value = float(ns["collision_residual"](before_i, before_j, after_i + k * across, after_j, p_i, p_j))
        assert np.isclose(value, 2 * k), f"seed {seed}: expected {2 * k:.4f} for a kick of {k:.4f} across the line of centres, got {value}"


@exercise_test("ex9.5", points=1, hint="Guide first (one x0 for the whole step), then step along the line through `x_t` and that x0.")
def matches_the_course_sampler_step(ns):
    seed, rng = _fresh_rng()
    x_t, cond, uncond = (torch.tensor(rng.normal(size=(3, 4, 5)), dtype=torch.float32) for _ in range(3))
    w = float(rng.uniform(0.0, 6.0))
    t = float(rng.uniform(0.3, 1.0))
    t_next = float(rng.uniform(0.0, t - 0.1))
    expected = euler_step(x_t, uncond + w * (cond - uncond), t, t_next)
    out = torch.as_tensor(ns["guided_step"](x_t, cond, uncond, w, t, t_next))
    assert tuple(out.shape) == (3, 4, 5), f"seed {seed}: expected the shape of x_t (3, 4, 5), got {tuple(out.shape)}"
    assert torch.allclose(out.float(), expected, atol=1e-5), \
        f"seed {seed}: the step from t = {t:.3f} to {t_next:.3f} with w = {w:.3f} differs from the course's sampler"


@exercise_test("ex9.6", points=1, hint="Return NaNs when no clip tests the law (all residuals NaN); with none passing, the rate is 0 and the interval still has width.")
def matches_pass_curve_and_wilson(ns):
    seed, rng = _fresh_rng()
    r = rng.exponential(1.0, size=int(rng.integers(20, 200)))
    r[rng.random(r.size) < 0.3] = np.nan
    tol = float(rng.uniform(0.2, 2.0))
    tested = r[~np.isnan(r)]
    k = int((tested <= tol).sum())
    expected = (pass_curve(r, [tol])[tol], *wilson_interval(k, tested.size))
    got = tuple(float(x) for x in ns["pass_rate"](r, tol))
    assert np.allclose(got, expected, atol=1e-9), \
        f"seed {seed}: {k} of {tested.size} tested clips within {tol:.3f}: expected {np.round(expected, 4).tolist()}, got {np.round(got, 4).tolist()}"
    got = tuple(float(x) for x in ns["pass_rate"](np.array([3.0, np.nan, 4.0, 5.0]), 1.0))
    assert np.isclose(got[0], 0.0) and np.isclose(got[1], 0.0) and np.isclose(got[2], 0.5615, atol=1e-4), \
        f"none of 3 tested clips within 1.0: expected (0, 0, 0.5615), got {got}"
    got = tuple(float(x) for x in ns["pass_rate"](np.array([np.nan, np.nan]), 1.0))
    assert len(got) == 3 and all(np.isnan(got)), f"no clip tests the law: expected (nan, nan, nan), got {got}"
