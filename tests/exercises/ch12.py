"""Grading tests of chapter 12's exercises (solutions/12_learning_in_a_dream.ipynb).

Each test receives the learner's notebook namespace `ns` and checks one behaviour on tiny arrays whose
answers are worked out by hand in the comments.
"""

import numpy as np

from worldmodels.grading import exercise_test

# The tests hand the learner's functions only plain data (numbers, arrays): the grader runs them in its own
# process and sends just the inputs to the learner's (worldmodels/grading/remote.py).
REMOTE = True

# ex12.1 lambda_return(rewards (H,), values (H + 1,), lam) -> (H,): G_H = v_H, G_t = r_t + (1 - lam) v_t+1 + lam G_t+1.


@exercise_test("ex12.1", points=1, hint="lam = 1 sums the rewards to the end and adds the last value; lam = 0 is one reward plus the next value.")
def lambda_extremes(ns):
    rewards, values = np.array([1.0, 2.0]), np.array([10.0, 20.0, 30.0])
    got = np.asarray(ns["lambda_return"](rewards, values, 1.0), dtype=float)
    assert np.allclose(got, [33.0, 32.0]), f"lam = 1: expected [33, 32] (1 + 2 + 30, 2 + 30), got {got.tolist()}"
    got = np.asarray(ns["lambda_return"](rewards, values, 0.0), dtype=float)
    assert np.allclose(got, [21.0, 32.0]), f"lam = 0: expected [21, 32] (1 + 20, 2 + 30), got {got.tolist()}"


@exercise_test("ex12.1", points=1, hint="Work backwards from the end: G_t needs G_t+1.")
def lambda_between(ns):
    # G_1 = 2 + 30 = 32; G_0 = 1 + 0.5 * 20 + 0.5 * 32 = 27
    got = np.asarray(ns["lambda_return"](np.array([1.0, 2.0]), np.array([10.0, 20.0, 30.0]), 0.5), dtype=float)
    assert np.allclose(got, [27.0, 32.0]), f"lam = 0.5: expected [27, 32], got {got.tolist()}"
    # three steps, lam = 0.5: G_2 = -1 + 4 = 3; G_1 = 0 + 0.5 * 2 + 0.5 * 3 = 2.5; G_0 = 1 + 0.5 * 0 + 0.5 * 2.5 = 2.25
    got = np.asarray(ns["lambda_return"](np.array([1.0, 0.0, -1.0]), np.array([5.0, 0.0, 2.0, 4.0]), 0.5), dtype=float)
    assert np.allclose(got, [2.25, 2.5, 3.0]), f"expected [2.25, 2.5, 3.0], got {got.tolist()}"


# ex12.2 imagined_return(A, B, z0, pushes, target, energy_weight): roll z_t+1 = A z_t + B a_t, the state is the
# position; return -(|z_H - target| + energy_weight * sum |a_t|^2).


@exercise_test("ex12.2", points=1, hint="Without pushes the return is minus the distance where the dynamics alone carries the ball.")
def return_without_pushes(ns):
    A, B = np.eye(2), np.eye(2)
    got = float(ns["imagined_return"](A, B, np.array([0.0, 0.0]), np.zeros((3, 2)), np.array([3.0, 4.0]), 0.2))
    assert np.isclose(got, -5.0), f"a ball at rest 5 px from the target, no pushes: expected -5.0, got {got}"


@exercise_test("ex12.2", points=1, hint="Apply z = A z + B a once per push, in order; add energy_weight * the sum of squared pushes.")
def return_with_pushes(ns):
    A = np.array([[1.0, 0.0], [0.0, 0.5]])
    B = np.array([[2.0, 0.0], [0.0, 1.0]])
    pushes = np.array([[1.0, 0.0], [0.0, 2.0]])
    # z1 = (0 + 2, 4 * 0.5 + 0) = (2, 2); z2 = (2 + 0, 1 + 2) = (2, 3); target (2, 3): distance 0; energy 1 + 4 = 5
    got = float(ns["imagined_return"](A, B, np.array([0.0, 4.0]), pushes, np.array([2.0, 3.0]), 0.5))
    assert np.isclose(got, -2.5), f"expected -(0 + 0.5 * 5) = -2.5, got {got}"


# ex12.3 steps_to_match(real_steps, success, rate): the first number of real steps at which the learning curve's
# success reaches `rate`, or None if it never does.


@exercise_test("ex12.3", points=1, hint="Walk the curve in order and stop at the first success >= rate.")
def first_crossing(ns):
    got = ns["steps_to_match"]([0, 100, 200, 300], [0.1, 0.5, 0.95, 0.9], 0.9)
    assert got == 200, f"expected 200 (the first point with success >= 0.9), got {got}"
    got = ns["steps_to_match"]([0, 100, 200], [0.1, 0.5, 0.9], 0.9)
    assert got == 200, f"a success equal to the rate counts: expected 200, got {got}"


@exercise_test("ex12.3", points=1, hint="If no point reaches the rate, say so with None (the budget was not enough).")
def never_and_bad_input(ns):
    got = ns["steps_to_match"]([0, 100], [0.1, 0.5], 0.9)
    assert got is None, f"the curve never reaches 0.9: expected None, got {got}"
    try:
        ns["steps_to_match"]([0, 100], [0.1], 0.9)
    except ValueError:
        pass
    else:
        raise AssertionError("curves of different lengths should raise a ValueError")


ANSWERS = {
    "ex12.1": ("worldmodels.dreamer.lambda_returns",),
    "ex12.2": ("worldmodels.dreamer.imagine", "worldmodels.dreamer.dream"),
    "ex12.3": (),
}
