"""Grading tests of chapter 6's exercises (solutions/06_where_it_breaks.ipynb).

Each test receives the learner's notebook namespace `ns` and checks one behaviour on tiny trajectories
whose answers are worked out by hand in the comments.
"""

import math

import numpy as np

from worldmodels.grading import exercise_test

# The tests hand the learner's functions only plain data (numbers, arrays, tensors): the grader runs
# them in its own process and sends just the inputs to the learner's (worldmodels/grading/remote.py).
REMOTE = True


def _line(start, velocity, n):
    return np.asarray(start, float) + np.arange(n)[:, None] * np.asarray(velocity, float)


def _walk(start, steps):
    """Positions (T, 2) of a ball that starts at `start` and moves by each row of `steps` in turn."""
    steps = np.asarray(steps, float)
    return np.asarray(start, float) + np.concatenate([np.zeros((1, 2)), np.cumsum(steps, axis=0)])


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


# ex6.3 speed_change(positions): |late / early free-flight speed - 1|, halves of the steps split at len(d) // 2.


@exercise_test("ex6.3", points=1, hint="half = len(d) // 2 counts steps, not positions; the early steps are t < half, the late ones t >= half. Return the absolute value of late / early - 1.")
def steady_and_slowing_balls(ns):
    steady = float(ns["speed_change"](_line([5, 5], [1.5, 2.0], 9)))
    assert math.isclose(steady, 0.0, abs_tol=1e-9), f"expected 0 for a ball at a constant 2.5 px/frame, got {steady}"
    # 7 steps: three of length 3 ((1.8, 2.4)), then four of length 2 ((1.2, 1.6)); no sign flips.
    # half = 7 // 2 = 3; free steps 1..5; early: steps 1, 2 -> 3 px/frame; late: steps 3, 4, 5 -> 2 px/frame
    # -> |2 / 3 - 1| = 1/3
    positions = _walk([2, 2], [[1.8, 2.4]] * 3 + [[1.2, 1.6]] * 4)
    change = float(ns["speed_change"](positions))
    assert math.isclose(change, 1 / 3, rel_tol=1e-9), f"expected 1/3 (3 px/frame early, 2 px/frame late), got {change}"


@exercise_test("ex6.3", points=1, hint="Keep only the free-flight steps of exercise 6.1 in each half: the step folded by a bounce, and the one after it, are not velocities.")
def bounce_steps_do_not_count(ns):
    # 10 steps: (2, 1) five times, a bounce folds the sixth to (1, 1), then (-2, 1) four times: speed sqrt(5)
    # throughout. Free: steps 1..4, 7, 8 (5 and 6 sit next to the x flip, 0 and 9 have one neighbour).
    # half = 5: early 1..4 -> sqrt(5), late 7, 8 -> sqrt(5) -> change 0 (with the folded step it would not be)
    positions = _walk([5, 3], [[2, 1]] * 5 + [[1, 1]] + [[-2, 1]] * 4)
    change = float(ns["speed_change"](positions))
    assert math.isclose(change, 0.0, abs_tol=1e-9), f"expected 0: the ball keeps sqrt(5) px/frame outside the bounce, got {change}"


@exercise_test("ex6.3", points=1, hint="When one half keeps no step, return float('nan') rather than dividing by zero or by an empty mean.")
def a_half_without_free_flight_gives_nan(ns):
    # x steps +2, +2, +2, +2, then a jitter -1, +1, -1, +1. half = 4. Free: steps 1 and 2 only
    # (step 3's next neighbour flips), so the late half keeps no step -> nan
    positions = _walk([5, 5], [[2, 0]] * 4 + [[-1, 0], [1, 0], [-1, 0], [1, 0]])
    change = float(ns["speed_change"](positions))
    assert math.isnan(change), f"expected nan when the second half has no free-flight step, got {change}"


# ex6.4 ood_verdicts(errors, reference, threshold): {split: (error / reference error, "breaks" if > threshold else "holds")}.


def _verdicts(ns, *args, **kwargs):
    result = ns["ood_verdicts"](*args, **kwargs)
    assert isinstance(result, dict), f"expected a dict {{split: (ratio, verdict)}}, got {type(result).__name__}"
    return {split: (float(pair[0]), pair[1]) for split, pair in result.items()}


@exercise_test("ex6.4", points=1, hint="ratio = errors[split] / errors[reference] for every split, the reference too; a ratio equal to the threshold does not exceed it.")
def ratios_and_verdicts_by_hand(ns):
    # reference 0.5 px: ratios 1.0, 0.9, 2.0 (not above 2: holds), 8.0 (breaks)
    errors = {"in-distribution": 0.5, "interpolation": 0.45, "slower": 1.0, "faster": 4.0}
    got = _verdicts(ns, errors)
    expected = {"in-distribution": (1.0, "holds"), "interpolation": (0.9, "holds"), "slower": (2.0, "holds"),
                "faster": (8.0, "breaks")}
    assert set(got) == set(expected), f"expected one entry per split {sorted(expected)}, got {sorted(got)}"
    for split, (ratio, verdict) in expected.items():
        assert math.isclose(got[split][0], ratio, rel_tol=1e-9), f"expected ratio {ratio} for {split}, got {got[split][0]}"
        assert got[split][1] == verdict, f"expected {verdict!r} for {split} (ratio {ratio}, threshold 2), got {got[split][1]!r}"
    # another reference and threshold: 7 / 2 = 3.5 > 3 breaks, 6 / 2 = 3.0 holds
    got = _verdicts(ns, {"train": 2.0, "test": 7.0, "val": 6.0}, reference="train", threshold=3.0)
    assert got["test"][1] == "breaks" and got["val"][1] == "holds", \
        f"expected test (3.5) to break and val (3.0) to hold with reference 'train' and threshold 3, got {got}"


@exercise_test("ex6.4", points=1, hint="Check the reference before dividing: raise ValueError when it is missing from errors or its error is not > 0.")
def a_bad_reference_is_refused(ns):
    for errors, why in (({"slower": 1.0, "faster": 4.0}, "no 'in-distribution' entry"),
                        ({"in-distribution": 0.0, "faster": 4.0}, "a reference error of 0")):
        try:
            result = ns["ood_verdicts"](errors)
        except ValueError:
            continue
        raise AssertionError(f"expected a ValueError for errors with {why}, got {result!r}")


# The package functions that answer each exercise: while its tests run in the grader they are
# unavailable to the learner's code (worldmodels/grading/answers.py). Empty: none answers it.
ANSWERS = {
    "ex6.1": (
        "worldmodels.laws.free_flight_speed",
        "worldmodels.laws.free_flight_mask",
    ),
    "ex6.2": ("worldmodels.laws.bounce_angles",),
    "ex6.3": (
        "worldmodels.physics_checks.law_metrics",
        "worldmodels.laws.free_flight_speed",
        "worldmodels.laws.free_flight_mask",
    ),
    "ex6.4": (),  # the chapter computes the ratio inline; no package function answers it
}
