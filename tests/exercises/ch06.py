"""Grading tests of chapter 6's exercises (solutions/06_where_it_breaks.ipynb).

Each test receives the learner's notebook namespace `ns` and checks one behaviour on tiny trajectories
whose answers are worked out by hand in the comments.
"""

import math

import numpy as np

from worldmodels.grading import exercise_test


def _line(start, velocity, n):
    return np.asarray(start, float) + np.arange(n)[:, None] * np.asarray(velocity, float)


# ex6.1 free_flight_speed(positions): (T, 2) -> mean |d_t| over the steps whose signs match both neighbours.


@exercise_test("ex6.1", points=1, hint="d = np.diff(positions, axis=0); the speed of a step is the length of its d.")
def straight_line_speed(ns):
    speed = float(ns["free_flight_speed"](_line([5, 5], [1.5, 2.0], 8)))
    assert math.isclose(speed, 2.5), f"expected 2.5 px/frame for steps of (1.5, 2.0), got {speed}"


@exercise_test("ex6.1", points=1, hint="Skip the first and the last step, and every step whose sign (per axis) differs from a neighbour's.")
def bounce_steps_are_ignored(ns):
    # x: 20, 23, 26, then a bounce folds the third step (28), then back by 3 px per frame
    xs = np.array([20.0, 23.0, 26.0, 28.0, 25.0, 22.0, 19.0, 16.0])
    positions = np.stack([xs, np.full_like(xs, 10.0)], axis=1)
    # steps: +3, +3, +2, -3, -3, -3, -3. Free: index 1 (+3), 4 and 5 (-3); the folded +2 and the -3
    # after it sit next to a sign flip, the first and the last step have one neighbour -> mean speed 3
    speed = float(ns["free_flight_speed"](positions))
    assert math.isclose(speed, 3.0), f"expected 3.0 px/frame (the folded bounce step of 2 px ignored), got {speed}"


@exercise_test("ex6.1", points=1, hint="When no step qualifies, return float('nan') rather than dividing by zero.")
def no_free_step_gives_nan(ns):
    positions = np.array([[10.0, 10.0], [12.0, 10.0], [11.0, 10.0]])
    speed = float(ns["free_flight_speed"](positions))
    assert math.isnan(speed), f"expected nan for a trajectory with no trustworthy step, got {speed}"


# ex6.2 bounce_angle_error(d_before, d_after, axis): |angle out - angle in| to the wall normal, in degrees.


@exercise_test("ex6.2", points=1, hint="The angle to the normal of a wall across `axis` is atan2(|d[other axis]|, |d[axis]|).")
def mirror_bounce_has_no_error(ns):
    err = float(ns["bounce_angle_error"](np.array([2.0, 1.0]), np.array([-2.0, 1.0]), 0))
    assert math.isclose(err, 0.0, abs_tol=1e-9), f"expected 0 degrees for a mirror bounce, got {err}"


@exercise_test("ex6.2", points=1, hint="In degrees: np.degrees. (2, 1) meets the wall at 26.57 degrees to the normal, (-2, 2) leaves at 45.")
def wrong_bounce_by_hand(ns):
    err = float(ns["bounce_angle_error"](np.array([2.0, 1.0]), np.array([-2.0, 2.0]), 0))
    expected = 45.0 - math.degrees(math.atan(0.5))
    assert math.isclose(err, expected, rel_tol=1e-9), f"expected {expected:.3f} degrees, got {err}"
    err_y = float(ns["bounce_angle_error"](np.array([1.0, 2.0]), np.array([2.0, -2.0]), 1))
    assert math.isclose(err_y, expected, rel_tol=1e-9), f"expected {expected:.3f} degrees for a bounce off a wall across y, got {err_y}"


# The package functions that answer each exercise: while its tests run in the grader they are
# unavailable to the learner's code (worldmodels/grading/answers.py). Empty: none answers it.
ANSWERS = {
    "ex6.1": (
        "worldmodels.physics_checks.free_flight_speed",
        "worldmodels.physics_checks.free_flight_mask",
    ),
    "ex6.2": ("worldmodels.physics_checks.bounce_angles",),
}
