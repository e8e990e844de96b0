"""Hidden grading tests of chapter 10 (run by the grader only, after the public ones in ../ch10.py).

They compare with the course's own AUC, which the student edition of the package does not carry.
"""

import math

import numpy as np

from worldmodels import stats
from worldmodels.grading import exercise_test


@exercise_test("ex10.1", points=1, hint="Perfect separation gives 1, reversed gives 0; check against many random scores too.")
def matches_the_course_on_random_scores(ns):
    rng = np.random.default_rng(3)
    real, gen = rng.normal(size=60), rng.normal(0.7, 1.0, size=40)
    value = float(ns["auc_from_scores"](real, gen))
    expected = stats.auc(real, gen)
    assert math.isclose(value, expected, abs_tol=1e-9), f"expected {expected:.4f}, got {value}"
    assert math.isclose(float(ns["auc_from_scores"](np.zeros(3), np.ones(2))), 1.0), "expected 1 when every generated score is higher"
    assert math.isclose(float(ns["auc_from_scores"](np.ones(3), np.zeros(2))), 0.0), "expected 0 when every generated score is lower"
