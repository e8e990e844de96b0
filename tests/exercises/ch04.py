"""Grading tests of chapter 4's exercises (solutions/04_next_frame.ipynb).

Each test receives the learner's notebook namespace `ns` and checks one behaviour on tiny inputs
whose answers are worked out by hand in the comments.
"""

import numpy as np

from worldmodels.centroid import centroids
from worldmodels.data import CANONICAL
from worldmodels.grading import exercise_test, expect_array
from worldmodels.render import render

# The tests hand the learner's functions only plain data (numbers, arrays, tensors), and the step functions
# defined below by name (the student's process has this public module too): the grader runs
# them in its own process and sends just the inputs to the learner's (worldmodels/grading/remote.py).
REMOTE = True


# ex4.1 copy_last_frame(context, actions, horizon): (B, C, H, W) -> (B, horizon, H, W), the last frame repeated.


@exercise_test("ex4.1", points=1, hint="Take context[:, -1] (shape (B, H, W)) and repeat it along a new axis 1.")
def copy_last_shape_and_values(ns):
    context = np.arange(2 * 3 * 2 * 2, dtype=np.float32).reshape(2, 3, 2, 2)
    out = expect_array(ns["copy_last_frame"](context.copy(), None, 4), "copy_last_frame", (2, 4, 2, 2))
    for k in range(4):  # every predicted frame is the last context frame
        assert np.array_equal(out[:, k], context[:, -1]), f"expected frame {k} to equal context[:, -1], got {out[:, k].tolist()}"


@exercise_test("ex4.1", points=1, hint="The horizon sets how many frames come back, even when it is 1 or larger than C.")
def copy_last_any_horizon(ns):
    context = np.random.default_rng(0).random((3, 2, 4, 4)).astype(np.float32)
    one = expect_array(ns["copy_last_frame"](context.copy(), None, 1), "copy_last_frame(horizon=1)", (3, 1, 4, 4))
    assert np.array_equal(one[:, 0], context[:, 1]), "expected the single predicted frame to be the last context frame"
    expect_array(ns["copy_last_frame"](context.copy(), None, 7), "copy_last_frame(horizon=7)", (3, 7, 4, 4))


# ex4.2 constant_velocity_step(window): two frames (B, 2, H, W) -> the next frame (B, H, W), the ball moved on by
# its last displacement and drawn again (CANONICAL's radius and size).


def _pair(first, second):
    """A window (B, 2, 32, 32): frame 0 with the balls at `first` (B, 2), frame 1 at `second`."""
    return np.stack([render(np.asarray(first, dtype=float)[:, None], CANONICAL.radius, CANONICAL.size),
                     render(np.asarray(second, dtype=float)[:, None], CANONICAL.radius, CANONICAL.size)], axis=1)


@exercise_test("ex4.2", points=1, hint="Decode the ball in both frames (centroids), p_next = 2 * p_last - p_before, then render at p_next.")
def step_moves_the_ball_on(ns):
    # (10, 12) -> (12, 13): the next position is (14, 14); (20, 8) -> (19, 10): (18, 12)
    window = _pair([[10.0, 12.0], [20.0, 8.0]], [[12.0, 13.0], [19.0, 10.0]])
    out = expect_array(ns["constant_velocity_step"](window), "constant_velocity_step", (2, 32, 32))
    expected = render(np.array([[[14.0, 14.0]], [[18.0, 12.0]]]), CANONICAL.radius, CANONICAL.size)
    worst = float(np.abs(out - expected).max())  # decoding is sub-pixel exact away from the walls: grey levels differ by < 0.1
    assert worst < 0.1, f"expected the balls drawn at (14, 14) and (18, 12), got frames that differ by up to {worst:.2f}"


@exercise_test("ex4.2", points=1, hint="Use the frames' own positions (decode them), not a fixed velocity; the result is one frame per window.")
def step_follows_any_velocity(ns):
    rng = np.random.default_rng(4)
    first = rng.uniform(11.0, 21.0, size=(6, 2))
    second = first + rng.uniform(-2.0, 2.0, size=(6, 2))  # the next position stays in [7, 25]: away from the walls
    out = expect_array(ns["constant_velocity_step"](_pair(first, second)), "constant_velocity_step", (6, 32, 32))
    found = centroids(out)[:, 0]
    error = float(np.abs(found - (2 * second - first)).max())
    assert error < 0.05, f"expected each ball at 2 * p_last - p_before, got one {error:.2f} px away"


# ex4.3 ball_overlap(pred, true, threshold): per frame, |lit in both| / |lit in either| (1 when neither is lit).


@exercise_test("ex4.3", points=1, hint="Threshold both images with > threshold; overlap = pixels lit in both / pixels lit in either.")
def overlap_by_hand(ns):
    pred = np.array([[0.9, 0.2], [0.6, 0.0]])
    true = np.array([[1.0, 1.0], [0.0, 0.0]])
    # thresholded at 0.5: pred lit at (0, 0), (1, 0); true at (0, 0), (0, 1): both 1 pixel, either 3 -> 1 / 3
    value = float(np.asarray(ns["ball_overlap"](pred, true, 0.5)))
    assert np.isclose(value, 1 / 3), f"expected 1/3 (1 pixel lit in both, 3 in either), got {value}"
    value = float(np.asarray(ns["ball_overlap"](pred, true, 0.1)))  # pred > 0.1: 3 pixels lit; both 2, either 3
    assert np.isclose(value, 2 / 3), f"expected 2/3 with threshold 0.1, got {value}"
    value = float(np.asarray(ns["ball_overlap"](np.zeros((2, 2)), np.zeros((2, 2)), 0.5)))
    assert np.isclose(value, 1.0), f"expected 1 for two empty frames (both agree: no ball), got {value}"


@exercise_test("ex4.3", points=1, hint="Keep the leading axes: (B, K, H, W) inputs give a (B, K) result; sum over the last two axes only.")
def overlap_keeps_batch_axes(ns):
    rng = np.random.default_rng(1)
    pred, true = rng.random((2, 3, 4, 5)), rng.random((2, 3, 4, 5))
    out = expect_array(ns["ball_overlap"](pred, true, 0.5), "ball_overlap", (2, 3))
    a, b = pred > 0.5, true > 0.5
    expected = (a & b).sum(axis=(-2, -1)) / (a | b).sum(axis=(-2, -1))
    assert np.allclose(out, expected), f"expected {expected.round(3).tolist()}, got {out.round(3).tolist()}"
    same = expect_array(ns["ball_overlap"](true, true, 0.5), "ball_overlap", (2, 3))
    assert np.all(same == 1), f"expected ones for a perfect prediction, got {same.tolist()}"


# ex4.4 rollout(step, context, horizon, n_input): feed predictions back, (B, C, H, W) -> (B, horizon, H, W).


def _plus_one(window):  # next frame = last frame + 1
    return window[:, -1] + 1


def _fibonacci(window):  # next frame = sum of the two inputs
    return window[:, 0] + window[:, 1]


@exercise_test("ex4.4", points=1, hint="Predict from the last n_input frames, append the prediction, repeat horizon times.")
def rollout_feeds_back(ns):
    context = np.zeros((2, 3, 2, 2))
    context[:, -1] = 5.0
    out = expect_array(ns["rollout"](_plus_one, context.copy(), 4, 1), "rollout", (2, 4, 2, 2))
    got = out[0, :, 0, 0].tolist()
    assert got == [6.0, 7.0, 8.0, 9.0], f"with step = last frame + 1 from a last frame of 5, expected [6, 7, 8, 9], got {got}"


@exercise_test("ex4.4", points=1, hint="The window keeps its order, oldest first: drop window[:, 0] and append the new frame at the end.")
def rollout_window_order(ns):
    # frames 1, 1 -> 2, 3, 5, 8, 13 (each the sum of the two before)
    context = np.ones((1, 2, 1, 1))
    out = expect_array(ns["rollout"](_fibonacci, context.copy(), 5, 2), "rollout", (1, 5, 1, 1))
    assert out.ravel().tolist() == [2, 3, 5, 8, 13], f"expected [2, 3, 5, 8, 13], got {out.ravel().tolist()}"


@exercise_test("ex4.4", points=1, hint="Only the last n_input context frames enter the first step.")
def rollout_uses_last_frames_only(ns):
    context = np.array([100.0, 100.0, 2.0, 3.0]).reshape(1, 4, 1, 1)  # the 100s are too old to matter
    out = expect_array(ns["rollout"](_fibonacci, context.copy(), 3, 2), "rollout", (1, 3, 1, 1))
    assert out.ravel().tolist() == [5, 8, 13], f"from last frames 2, 3 expected [5, 8, 13], got {out.ravel().tolist()}"


# The package functions that answer each exercise: while its tests run in the grader they are
# unavailable to the learner's code (worldmodels/grading/answers.py). Empty: none answers it.
ANSWERS = {
    "ex4.1": ("worldmodels.evaluation.copy_last",),
    "ex4.2": (),  # no package function moves a drawn ball on; centroids and render are the tools it uses
    "ex4.3": (),  # no package function measures the overlap; evaluation.wrong_pixel_fraction (a tool of the harness) counts the disagreeing pixels
    "ex4.4": ("worldmodels.next_frame.rollout",),
}
