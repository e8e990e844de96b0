"""Grading tests of chapter 4's exercises (solutions/04_next_frame.ipynb).

Each test receives the learner's notebook namespace `ns` and checks one behaviour on tiny inputs
whose answers are worked out by hand in the comments.
"""

import numpy as np
import torch

from worldmodels.grading import exercise_test
from worldmodels.render import render

# The tests hand the learner's functions only plain data (numbers, arrays, tensors), and the step functions
# defined below by name (the student's process has this public module too): the grader runs
# them in its own process and sends just the inputs to the learner's (worldmodels/grading/remote.py).
REMOTE = True


def _array(result, what, shape=None):
    if isinstance(result, torch.Tensor):
        result = result.detach().numpy()
    out = np.asarray(result, dtype=np.float64)
    if shape is not None:
        assert out.shape == shape, f"expected {what} to return shape {shape}, got {out.shape}"
    assert np.all(np.isfinite(out)), f"expected finite numbers from {what}, got {out.tolist()}"
    return out


# ex4.1 copy_last_frame(context, actions, horizon): (B, C, H, W) -> (B, horizon, H, W), the last frame repeated.


@exercise_test("ex4.1", points=1, hint="Take context[:, -1] (shape (B, H, W)) and repeat it along a new axis 1.")
def copy_last_shape_and_values(ns):
    context = np.arange(2 * 3 * 2 * 2, dtype=np.float32).reshape(2, 3, 2, 2)
    out = _array(ns["copy_last_frame"](context.copy(), None, 4), "copy_last_frame", (2, 4, 2, 2))
    for k in range(4):  # every predicted frame is the last context frame
        assert np.array_equal(out[:, k], context[:, -1]), f"expected frame {k} to equal context[:, -1], got {out[:, k].tolist()}"


@exercise_test("ex4.1", points=1, hint="The horizon sets how many frames come back, even when it is 1 or larger than C.")
def copy_last_any_horizon(ns):
    context = np.random.default_rng(0).random((3, 2, 4, 4)).astype(np.float32)
    one = _array(ns["copy_last_frame"](context.copy(), None, 1), "copy_last_frame(horizon=1)", (3, 1, 4, 4))
    assert np.array_equal(one[:, 0], context[:, 1]), "expected the single predicted frame to be the last context frame"
    _array(ns["copy_last_frame"](context.copy(), None, 7), "copy_last_frame(horizon=7)", (3, 7, 4, 4))


# ex4.2 ball_position(frame): (H, W) -> (x, y), the intensity-weighted mean of the pixel centres.


@exercise_test("ex4.2", points=1, hint="Pixel (row i, column j) has its centre at x = j + 0.5, y = i + 0.5.")
def position_of_one_pixel(ns):
    frame = np.zeros((6, 8))
    frame[2, 5] = 1.0  # row 2, column 5 -> centre (5.5, 2.5)
    pos = _array(ns["ball_position"](frame), "ball_position", (2,))
    assert np.allclose(pos, [5.5, 2.5]), f"expected (x, y) = (5.5, 2.5) for the lit pixel at row 2, column 5, got {pos.tolist()}"


@exercise_test("ex4.2", points=1, hint="Weigh each pixel centre by its intensity and divide by the total intensity.")
def position_is_weighted(ns):
    frame = np.zeros((4, 4))
    frame[1, 0], frame[1, 3] = 1.0, 3.0  # x: (0.5 * 1 + 3.5 * 3) / 4 = 2.75, y: 1.5
    pos = _array(ns["ball_position"](frame), "ball_position", (2,))
    assert np.allclose(pos, [2.75, 1.5]), f"expected (2.75, 1.5), got {pos.tolist()}"
    # a rendered ball away from the walls decodes to its centre within a small fraction of a pixel
    ball = render(np.array([[12.3, 20.6]]), 3.0, 32)
    pos = _array(ns["ball_position"](ball), "ball_position", (2,))
    assert np.allclose(pos, [12.3, 20.6], atol=0.05), f"expected about (12.3, 20.6) for a ball rendered there, got {pos.round(3).tolist()}"


# ex4.3 wrong_pixels(pred, true, threshold): fraction of pixels where (pred > t) != (true > t), per frame.


@exercise_test("ex4.3", points=1, hint="Threshold both images with > threshold, compare, and average over the last two axes.")
def wrong_pixels_by_hand(ns):
    pred = np.array([[0.9, 0.2], [0.6, 0.0]])
    true = np.array([[1.0, 1.0], [0.0, 0.0]])
    # thresholded: pred [[1, 0], [1, 0]], true [[1, 1], [0, 0]] -> 2 of 4 pixels disagree
    frac = float(np.asarray(ns["wrong_pixels"](pred, true, 0.5)))
    assert np.isclose(frac, 0.5), f"expected 0.5 (2 of 4 pixels wrong), got {frac}"
    frac = float(np.asarray(ns["wrong_pixels"](pred, true, 0.1)))  # pred > 0.1: [[1, 1], [1, 0]] -> 1 wrong
    assert np.isclose(frac, 0.25), f"expected 0.25 with threshold 0.1, got {frac}"


@exercise_test("ex4.3", points=1, hint="Keep the leading axes: (B, K, H, W) inputs give a (B, K) result.")
def wrong_pixels_keeps_batch_axes(ns):
    rng = np.random.default_rng(1)
    pred, true = rng.random((2, 3, 4, 5)), rng.random((2, 3, 4, 5))
    out = _array(ns["wrong_pixels"](pred, true, 0.5), "wrong_pixels", (2, 3))
    expected = ((pred > 0.5) != (true > 0.5)).mean(axis=(-2, -1))
    assert np.allclose(out, expected), f"expected {expected.round(3).tolist()}, got {out.round(3).tolist()}"
    same = _array(ns["wrong_pixels"](true, true, 0.5), "wrong_pixels", (2, 3))
    assert np.all(same == 0), f"expected zeros for a perfect prediction, got {same.tolist()}"


# ex4.4 rollout(step, context, horizon, n_input): feed predictions back, (B, C, H, W) -> (B, horizon, H, W).


def _plus_one(window):  # next frame = last frame + 1
    return window[:, -1] + 1


def _fibonacci(window):  # next frame = sum of the two inputs
    return window[:, 0] + window[:, 1]


@exercise_test("ex4.4", points=1, hint="Predict from the last n_input frames, append the prediction, repeat horizon times.")
def rollout_feeds_back(ns):
    context = np.zeros((2, 3, 2, 2))
    context[:, -1] = 5.0
    out = _array(ns["rollout"](_plus_one, context.copy(), 4, 1), "rollout", (2, 4, 2, 2))
    got = out[0, :, 0, 0].tolist()
    assert got == [6.0, 7.0, 8.0, 9.0], f"with step = last frame + 1 from a last frame of 5, expected [6, 7, 8, 9], got {got}"


@exercise_test("ex4.4", points=1, hint="The window keeps its order, oldest first: drop window[:, 0] and append the new frame at the end.")
def rollout_window_order(ns):
    # frames 1, 1 -> 2, 3, 5, 8, 13 (each the sum of the two before)
    context = np.ones((1, 2, 1, 1))
    out = _array(ns["rollout"](_fibonacci, context.copy(), 5, 2), "rollout", (1, 5, 1, 1))
    assert out.ravel().tolist() == [2, 3, 5, 8, 13], f"expected [2, 3, 5, 8, 13], got {out.ravel().tolist()}"


@exercise_test("ex4.4", points=1, hint="Only the last n_input context frames enter the first step.")
def rollout_uses_last_frames_only(ns):
    context = np.array([100.0, 100.0, 2.0, 3.0]).reshape(1, 4, 1, 1)  # the 100s are too old to matter
    out = _array(ns["rollout"](_fibonacci, context.copy(), 3, 2), "rollout", (1, 3, 1, 1))
    assert out.ravel().tolist() == [5, 8, 13], f"from last frames 2, 3 expected [5, 8, 13], got {out.ravel().tolist()}"


# The package functions that answer each exercise: while its tests run in the grader they are
# unavailable to the learner's code (worldmodels/grading/answers.py). Empty: none answers it.
ANSWERS = {
    "ex4.1": ("worldmodels.evaluation.copy_last",),
    "ex4.2": ("worldmodels.centroid.centroids",),
    "ex4.3": ("worldmodels.evaluation.wrong_pixel_fraction",),
    "ex4.4": ("worldmodels.next_frame.rollout",),
}
