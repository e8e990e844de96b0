"""Grading tests of chapter 11's exercises (solutions/11_predicting_without_pixels.ipynb).

Each test receives the learner's notebook namespace `ns` and checks one behaviour on tiny arrays whose
answers are worked out by hand in the comments.
"""

import math

import numpy as np

from worldmodels.grading import exercise_test

# The tests hand the learner's functions only plain data (numbers, arrays, tensors): the grader runs
# them in its own process and sends just the inputs to the learner's (worldmodels/grading/remote.py).
REMOTE = True

# ex11.1 ema_update(target, online, decay): a list of arrays -> the new target arrays, decay * target + (1 - decay) * online.


@exercise_test("ex11.1", points=1, hint="new = decay * target + (1 - decay) * online, array by array.")
def ema_by_hand(ns):
    # 0.9 * 1 + 0.1 * 11 = 2.0 ; 0.9 * (-2) + 0.1 * 8 = -1.0
    new = ns["ema_update"]([np.array([1.0, -2.0])], [np.array([11.0, 8.0])], 0.9)
    assert len(new) == 1, f"expected one array back for one array in, got {len(new)}"
    assert np.allclose(new[0], [2.0, -1.0]), f"expected [2.0, -1.0], got {np.asarray(new[0]).tolist()}"


@exercise_test("ex11.1", points=1, hint="decay = 0 copies the online weights; decay = 1 keeps the target; keep every array's shape.")
def ema_edges(ns):
    target = [np.zeros((2, 3)), np.ones(4)]
    online = [np.full((2, 3), 5.0), np.full(4, 3.0)]
    copied = ns["ema_update"](target, online, 0.0)
    kept = ns["ema_update"](target, online, 1.0)
    assert all(np.asarray(a).shape == b.shape for a, b in zip(copied, target)), "every array must keep its shape"
    assert np.allclose(copied[0], 5.0) and np.allclose(copied[1], 3.0), "decay 0 must give the online weights"
    assert np.allclose(kept[0], 0.0) and np.allclose(kept[1], 1.0), "decay 1 must give the target weights unchanged"


# ex11.2 variance_covariance_terms(z): embeddings (M, D) -> (variance term, covariance term).


@exercise_test("ex11.2", points=1, hint="Standard deviation per dimension with the unbiased variance (divide by M - 1); the term is the mean of max(0, 1 - std).")
def variance_term(ns):
    # dimension 0: values 0, 0, 0, 0 -> std 0 -> 1 ; dimension 1: values -2, 2, -2, 2 -> var 16/3, std 2.31 -> 0
    z = np.array([[0.0, -2.0], [0.0, 2.0], [0.0, -2.0], [0.0, 2.0]])
    v, _ = ns["variance_covariance_terms"](z)
    assert math.isclose(float(v), 0.5, abs_tol=1e-3), f"expected (1 + 0) / 2 = 0.5, got {float(v)}"


@exercise_test("ex11.2", points=1, hint="Centre each dimension, covariance = z^T z / (M - 1); sum the squares of the off-diagonal entries and divide by D.")
def covariance_term(ns):
    # two identical dimensions: values 1, -1 -> var = 2 / (2 - 1) = 2 = cov; off-diagonal 2 twice -> (4 + 4) / 2 = 4
    z = np.array([[1.0, 1.0], [-1.0, -1.0]])
    v, c = ns["variance_covariance_terms"](z)
    assert math.isclose(float(c), 4.0, rel_tol=1e-3), f"expected (2^2 + 2^2) / 2 = 4.0, got {float(c)}"
    assert float(v) == 0.0 or float(v) < 1e-6, f"std sqrt(2) > 1, so the variance term is 0, got {float(v)}"
    z = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])  # uncorrelated dimensions
    _, c = ns["variance_covariance_terms"](z)
    assert abs(float(c)) < 1e-9, f"uncorrelated dimensions have no covariance term, got {float(c)}"


# ex11.3 effective_rank_of(z): exp(entropy) of the normalised singular values of the centred embeddings.


@exercise_test("ex11.3", points=1, hint="Centre the columns, take the singular values s, p = s / s.sum(), return exp(-sum p log p).")
def rank_by_hand(ns):
    # centred columns (1, -1, 0, 0) and (0, 0, 3, -3): orthogonal, singular values sqrt(2) and sqrt(18) = 3 sqrt(2)
    # p = (1/4, 3/4) -> exp(-(1/4 log 1/4 + 3/4 log 3/4)) = 1.7548
    z = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 3.0], [0.0, -3.0]])
    value = float(ns["effective_rank_of"](z))
    expected = math.exp(-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)))
    assert math.isclose(value, expected, rel_tol=1e-6), f"expected {expected:.4f}, got {value}"


@exercise_test("ex11.3", points=1, hint="Equal spread in D orthogonal directions gives D; points on one line give 1, wherever the line lies.")
def rank_edges(ns):
    square = np.array([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, -1.0]])
    assert math.isclose(float(ns["effective_rank_of"](square)), 3.0, rel_tol=1e-6), "three equal orthogonal directions: expected 3"
    line = np.outer(np.arange(5.0), [1.0, 2.0, -1.0]) + 7.0
    assert math.isclose(float(ns["effective_rank_of"](line)), 1.0, rel_tol=1e-6), "points on a line (off the origin): expected 1"


# The package functions that answer each exercise: while its tests run in the grader they are
# unavailable to the learner's code (worldmodels/grading/answers.py). Empty: none answers it.
ANSWERS = {
    "ex11.1": ("worldmodels.jepa.JEPA.update_target",),
    "ex11.2": ("worldmodels.jepa.variance_covariance",),
    "ex11.3": ("worldmodels.jepa.effective_rank",),
}
