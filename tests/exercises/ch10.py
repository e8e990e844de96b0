"""Grading tests of chapter 10's exercises (solutions/10_telling_generated_from_real.ipynb).

Each test receives the learner's notebook namespace `ns` and checks one behaviour on tiny inputs whose
answers are worked out by hand in the comments.
"""

import math

import numpy as np

from worldmodels.grading import exercise_test

# The tests hand the learner's functions only plain data (numbers, arrays, tensors): the grader runs
# them in its own process and sends just the inputs to the learner's (worldmodels/grading/remote.py).
REMOTE = True

# ex10.1 auc_from_scores(real, generated): P(generated score > real score), ties count 1/2.


@exercise_test("ex10.1", points=1, hint="Compare every generated score with every real score: count the wins, plus half the ties, and divide by the number of pairs.")
def auc_by_hand(ns):
    # pairs (generated, real): 0.2 beats 0.1 only; 0.8 beats 0.1, 0.4 and 0.7 -> 4 wins out of 6 pairs
    value = float(ns["auc_from_scores"](np.array([0.1, 0.4, 0.7]), np.array([0.2, 0.8])))
    assert math.isclose(value, 4 / 6), f"expected 4/6 = {4 / 6:.4f} (4 of 6 pairs won), got {value}"


@exercise_test("ex10.1", points=1, hint="A tie between a generated and a real score counts one half.")
def ties_count_half(ns):
    value = float(ns["auc_from_scores"](np.array([1.0, 1.0]), np.array([1.0, 2.0])))
    # (1 vs 1) 1/2, (1 vs 1) 1/2, (2 vs 1) 1, (2 vs 1) 1 -> 3 / 4
    assert math.isclose(value, 0.75), f"expected 0.75 (ties count one half), got {value}"



# ex10.2 speed_spread(positions): (T, 2) in free flight -> max |step length / median step length - 1|.


@exercise_test("ex10.2", points=1, hint="Steps d = np.diff(positions, axis=0); speeds = their lengths; a straight constant-speed line has spread 0.")
def constant_speed_has_no_spread(ns):
    positions = np.array([[5.0, 5.0]]) + np.arange(8)[:, None] * np.array([[1.5, 2.0]])
    value = float(ns["speed_spread"](positions))
    assert math.isclose(value, 0.0, abs_tol=1e-9), f"expected 0 for a ball at constant speed, got {value}"


@exercise_test("ex10.2", points=1, hint="Divide every speed by the median speed (np.median) and take the largest distance from 1.")
def spread_by_hand(ns):
    # steps along x of 1, 3, 1, 3: speeds 1, 3, 1, 3 -> median 2 -> |0.5 - 1| = |1.5 - 1| = 0.5
    xs = np.array([0.0, 1.0, 4.0, 5.0, 8.0])
    positions = np.stack([xs, np.full_like(xs, 10.0)], axis=1)
    value = float(ns["speed_spread"](positions))
    assert math.isclose(value, 0.5), f"expected 0.5 (speeds 1, 3, 1, 3: median 2, the largest step 1.5 x the median), got {value}"
    scaled = float(ns["speed_spread"](positions * 3))
    assert math.isclose(scaled, 0.5), f"expected the spread not to depend on the units (0.5 for 3x the positions), got {scaled}"
    # speeds 1, 1, 1, 3 -> median 1 -> the last step is 3x the median: 2 (one bad step is enough)
    one_jump = np.stack([np.array([0.0, 1.0, 2.0, 3.0, 6.0]), np.full(5, 10.0)], axis=1)
    value = float(ns["speed_spread"](one_jump))
    assert math.isclose(value, 2.0), f"expected 2 (speeds 1, 1, 1, 3: the last is 3 x the median 1), got {value}"


# ex10.3 watermark_z(values, signs): sum(w * y) / sqrt(sum(y^2)).


@exercise_test("ex10.3", points=1, hint="z = (signs * values).sum() / np.sqrt((values ** 2).sum()).")
def z_by_hand(ns):
    values, signs = np.array([1.0, -1.0, 2.0, 0.0]), np.array([1.0, -1.0, -1.0, 1.0])
    # sum w y = 1 + 1 - 2 + 0 = 0; and for y = 0.3 w: 0.3 * 4 / sqrt(0.09 * 4) = sqrt(4)
    value = float(ns["watermark_z"](values, signs))
    assert math.isclose(value, 0.0, abs_tol=1e-9), f"expected 0 (1 + 1 - 2 + 0 = 0), got {value}"
    value = float(ns["watermark_z"](signs * 0.3, signs))
    assert math.isclose(value, 2.0), f"expected sqrt(4) = 2 when the values are the signs times 0.3, got {value}"


@exercise_test("ex10.3", points=1, hint="Work on whole arrays of any shape (e.g. (T, H, W) chip sums): sum over every element.")
def no_key_means_no_mark(ns):
    rng = np.random.default_rng(0)
    values = rng.normal(size=(20, 16, 16))
    zs = [float(ns["watermark_z"](values, rng.choice([-1.0, 1.0], size=values.shape))) for _ in range(200)]
    assert abs(np.mean(zs)) < 0.25 and 0.75 < np.std(zs) < 1.25, (
        f"expected z about N(0, 1) for random signs, got mean {np.mean(zs):.2f} and std {np.std(zs):.2f}")
    marked = values + 0.5 * (signs := rng.choice([-1.0, 1.0], size=values.shape))
    z = float(ns["watermark_z"](marked, signs))
    assert z > 10, f"expected a large z for values that carry the signs (about 0.5 sqrt(5120)/1.1), got {z:.2f}"


# The package functions that answer each exercise: while its tests run in the grader they are
# unavailable to the learner's code (worldmodels/grading/answers.py). Empty: none answers it.
ANSWERS = {
    "ex10.1": ("worldmodels.stats.auc",),
    "ex10.2": ("worldmodels.laws.clip_violations",),
    "ex10.3": ("worldmodels.watermark.score",),
}
