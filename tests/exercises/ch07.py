"""Grading tests of chapter 7's exercises (solutions/07_objects_and_collisions.ipynb).

Each test receives the learner's notebook namespace `ns` and checks one behaviour on tiny arrays whose
answers are worked out by hand in the comments.
"""

import math

import numpy as np

from worldmodels.grading import exercise_test

# The tests hand the learner's functions only plain data (numbers, arrays, tensors): the grader runs
# them in its own process and sends just the inputs to the learner's (worldmodels/grading/remote.py).
REMOTE = True

# ex7.1 pairwise_sum(messages): (N, N, D), [i, j] the message from j to i -> (N, D), the diagonal left out.


@exercise_test("ex7.1", points=1, hint="Sum over the senders j (axis 1), then take away what each object sent itself.")
def two_objects_by_hand(ns):
    messages = np.array([[[1.0], [2.0]], [[3.0], [4.0]]])  # object 0 hears 2 from object 1, object 1 hears 3
    out = np.asarray(ns["pairwise_sum"](messages), dtype=float)
    assert out.shape == (2, 1), f"expected shape (2, 1), got {out.shape}"
    assert np.allclose(out, [[2.0], [3.0]]), f"expected [[2], [3]] (the diagonal 1 and 4 left out), got {out.tolist()}"


@exercise_test("ex7.1", points=1, hint="The result must not depend on the order of the objects: relabel them and the rows follow.")
def any_number_of_objects_and_order(ns):
    rng = np.random.default_rng(0)
    messages = rng.normal(size=(5, 5, 3))
    out = np.asarray(ns["pairwise_sum"](messages), dtype=float)
    expected = messages.sum(axis=1) - messages[np.arange(5), np.arange(5)]
    assert out.shape == (5, 3) and np.allclose(out, expected), "expected sum over j != i of messages[i, j] for 5 objects"
    perm = np.array([2, 0, 4, 1, 3])
    relabelled = np.asarray(ns["pairwise_sum"](messages[perm][:, perm]), dtype=float)
    assert np.allclose(relabelled, out[perm]), "relabelling the objects should only reorder the rows"


# ex7.2 matched_error(pred, true): (N, 2) each -> the mean distance under the best one-to-one pairing.


@exercise_test("ex7.2", points=1, hint="Try every ordering of the predicted balls (itertools.permutations) and keep the smallest mean distance.")
def swapped_balls_cost_nothing(ns):
    true = np.array([[5.0, 5.0], [20.0, 10.0]])
    err = float(ns["matched_error"](true[::-1].copy(), true))
    assert math.isclose(err, 0.0, abs_tol=1e-9), f"expected 0 px for the same balls listed in another order, got {err}"


@exercise_test("ex7.2", points=1, hint="The mean is over balls, of the distances of the best pairing (not the best distance of each ball on its own).")
def best_pairing_by_hand(ns):
    # both predictions lie nearest to ball 0, but only one can be paired with it: either pairing gives the
    # distances 1 and 9, mean 5 (the nearest-ball distance of each prediction on its own would give 1)
    true = np.array([[0.0, 0.0], [10.0, 0.0]])
    pred = np.array([[1.0, 0.0], [1.0, 0.0]])
    err = float(ns["matched_error"](pred, true))
    assert math.isclose(err, 5.0, rel_tol=1e-9), f"expected 5.0 px (distances 1 and 9 of the best pairing), got {err}"
    three = np.array([[1.0, 1.0], [8.0, 8.0], [20.0, 3.0]])
    shifted = three[[2, 0, 1]] + np.array([3.0, 4.0])  # every ball 5 px off, listed in another order
    err = float(ns["matched_error"](shifted, three))
    assert math.isclose(err, 5.0, rel_tol=1e-9), f"expected 5.0 px for three balls each 5 px off, got {err}"


# ex7.3 elastic_exchange(v_i, v_j, normal): the velocity change of ball i, -((v_i - v_j) . n) n with n unit.


@exercise_test("ex7.3", points=1, hint="Head on, equal masses swap velocities: ball i's change is v_j - v_i.")
def head_on_collision_swaps_velocities(ns):
    dv = np.asarray(ns["elastic_exchange"](np.array([2.0, 0.0]), np.array([-1.0, 0.0]), np.array([-6.0, 0.0])), dtype=float)
    assert np.allclose(dv, [-3.0, 0.0]), f"expected (-3, 0): ball i leaves with ball j's velocity (-1, 0), got {dv.tolist()}"


@exercise_test("ex7.3", points=1, hint="Normalise the normal first; only the velocity component along it changes.")
def glancing_collision_keeps_momentum_and_energy(ns):
    v_i, v_j, normal = np.array([2.0, 1.0]), np.array([0.0, -1.0]), np.array([-3.0, -4.0])  # |normal| = 5
    dv = np.asarray(ns["elastic_exchange"](v_i, v_j, normal), dtype=float)
    n = normal / 5.0
    assert np.allclose(dv, -np.dot(v_i - v_j, n) * n), f"expected -((v_i - v_j) . n) n with n = normal / |normal|, got {dv.tolist()}"
    after_i, after_j = v_i + dv, v_j - dv
    assert np.allclose(after_i + after_j, v_i + v_j), "momentum must be the same before and after"
    assert math.isclose(after_i @ after_i + after_j @ after_j, v_i @ v_i + v_j @ v_j), "kinetic energy must be the same"


# The package functions that answer each exercise: while its tests run in the grader they are
# unavailable to the learner's code (worldmodels/grading/answers.py).
ANSWERS = {
    "ex7.1": ("worldmodels.objects.pairwise_sum",),
    "ex7.2": ("worldmodels.centroid.match_error",),
    "ex7.3": ("worldmodels.physics_checks.elastic_exchange",),
}
