"""Grading tests of chapter 7's exercises (solutions/07_objects_and_collisions.ipynb).

Each test receives the learner's notebook namespace `ns` and checks one behaviour on tiny arrays whose
answers are worked out by hand in the comments.
"""

import itertools
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


# ex7.2 best_pairing(pred, true): (N, 2) each -> the tuple perm, pred[perm[k]] paired with true[k], of the
# smallest mean distance.


def _pairing(result, n):
    perm = tuple(int(i) for i in result)
    assert sorted(perm) == list(range(n)), f"expected an ordering of the {n} predicted balls (each index once), got {perm}"
    return perm


@exercise_test("ex7.2", points=1, hint="Return, as a tuple of indices, the ordering p (itertools.permutations) for which pred[list(p)] has the smallest mean distance to true.")
def swapped_balls_are_paired_back(ns):
    true = np.array([[5.0, 5.0], [20.0, 10.0], [8.0, 25.0]])
    pred = true[[2, 0, 1]]  # the same balls listed in another order: pred[1] is true[0], pred[2] true[1], pred[0] true[2]
    perm = _pairing(ns["best_pairing"](pred, true), 3)
    assert perm == (1, 2, 0), f"expected (1, 2, 0): pred[1], pred[2], pred[0] line up with true[0], true[1], true[2], got {perm}"
    perm = _pairing(ns["best_pairing"](true, true), 3)
    assert perm == (0, 1, 2), f"expected (0, 1, 2) for balls already in order, got {perm}"


@exercise_test("ex7.2", points=1, hint="Score each ordering by the mean over all balls; pairing one true ball with its nearest prediction first can leave the others far apart.")
def the_best_pairing_not_each_balls_nearest(ns):
    # true ball 0 at x = 0 is nearest to pred 0 (1 px), but then pred 1 (x = -8) must take ball 1 at x = 10:
    # 1 and 18, mean 9.5. The other pairing costs 8 (pred 1 with ball 0) and 9 (pred 0 with ball 1): mean 8.5
    true = np.array([[0.0, 0.0], [10.0, 0.0]])
    pred = np.array([[1.0, 0.0], [-8.0, 0.0]])
    perm = _pairing(ns["best_pairing"](pred, true), 2)
    assert perm == (1, 0), f"expected (1, 0) (mean 8.5 px) rather than (0, 1) (mean 9.5 px), got {perm}"
    rng = np.random.default_rng(7)
    for n in (3, 4):
        true, pred = rng.uniform(0, 32, size=(n, 2)), rng.uniform(0, 32, size=(n, 2))
        mean = {p: np.linalg.norm(pred[list(p)] - true, axis=1).mean() for p in itertools.permutations(range(n))}
        best = min(mean, key=mean.get)
        perm = _pairing(ns["best_pairing"](pred, true), n)
        assert perm == best, f"expected {best} (mean {mean[best]:.2f} px) for {n} random balls, got {perm} (mean {mean[perm]:.2f} px)"


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
    "ex7.2": (),  # no package function returns the pairing; centroid.match_error (a tool of the harness) returns only its distance
    "ex7.3": ("worldmodels.physics_checks.elastic_exchange",),
}
