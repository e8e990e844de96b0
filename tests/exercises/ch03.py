"""Grading tests of chapter 3's exercises (solutions/03_trajectories_as_sentences.ipynb).

Each test receives the learner's notebook namespace `ns` and checks one behaviour on tiny inputs
whose answers are worked out by hand in the comments.
"""

import numpy as np

from worldmodels.grading import exercise_test, expect_array

# The tests hand the learner's functions only plain data (numbers, arrays, tensors): the grader runs them in
# its own process and sends just the inputs to the learner's (worldmodels/grading/remote.py).
REMOTE = True


# ex3.1 quantize(values, size, n_bins): px in [0, size] -> bin index 0..n_bins-1.


@exercise_test("ex3.1", points=1, hint="Bin width is size / n_bins; the index is floor(value / width) as an integer.")
def quantize_by_hand(ns):
    # width 32 / 8 = 4 px: 0 -> 0, 3.9 -> 0, 4 -> 1, 17.5 -> 4, 31.9 -> 7
    bins = expect_array(ns["quantize"](np.array([0.0, 3.9, 4.0, 17.5, 31.9]), 32.0, 8), "quantize", (5,), floats=False)
    assert bins.dtype.kind in "iu", f"expected integer bin indices, got dtype {bins.dtype}"
    assert bins.tolist() == [0, 0, 1, 4, 7], f"expected [0, 0, 1, 4, 7], got {bins.tolist()}"


@exercise_test("ex3.1", points=1, hint="A value exactly at size would land in bin n_bins: put it in the last bin (n_bins - 1).")
def quantize_keeps_the_far_wall_inside(ns):
    bins = np.asarray(ns["quantize"](np.array([[32.0, 0.0], [16.0, 31.999]]), 32.0, 64))
    assert bins.shape == (2, 2), f"expected the input's shape (2, 2), got {bins.shape}"
    assert bins.tolist() == [[63, 0], [32, 63]], f"expected [[63, 0], [32, 63]], got {bins.tolist()}"


# ex3.2 detokenize(tokens, size, n_bins): interleaved (x, n_bins + y) tokens -> (T, 2) bin centres.


@exercise_test("ex3.2", points=1, hint="Even places hold x bins, odd places y bins + n_bins; a bin's centre is (index + 0.5) * width.")
def detokenize_by_hand(ns):
    # n_bins 8, width 4: tokens [1, 8 + 2, 7, 8 + 0] -> x bin 1, y bin 2, x bin 7, y bin 0
    pos = expect_array(ns["detokenize"](np.array([1, 10, 7, 8]), 32.0, 8), "detokenize", (2, 2), floats=False)
    assert np.allclose(pos, [[6.0, 10.0], [30.0, 2.0]]), f"expected [[6, 10], [30, 2]], got {pos.tolist()}"


# ex3.3 constant_velocity(context, horizon): (T, 2) positions -> (horizon, 2), the last step repeated.


@exercise_test("ex3.3", points=1, hint="v = context[-1] - context[-2]; prediction k (k = 1..horizon) is context[-1] + k * v.")
def constant_velocity_by_hand(ns):
    context = np.array([[0.0, 9.0], [1.0, 8.0], [3.0, 6.0]])  # last step (2, -2)
    pred = expect_array(ns["constant_velocity"](context.copy(), 3), "constant_velocity", (3, 2), floats=False)
    expected = [[5.0, 4.0], [7.0, 2.0], [9.0, 0.0]]
    assert np.allclose(pred, expected), f"expected {expected}, got {np.round(pred, 3).tolist()}"


@exercise_test("ex3.3", points=1, hint="Only the last two positions matter; return horizon rows, not including the context.")
def constant_velocity_ignores_older_positions(ns):
    context = np.array([[20.0, 20.0], [0.0, 0.0], [10.0, 10.0], [10.5, 9.0]])
    pred = expect_array(ns["constant_velocity"](context.copy(), 1), "constant_velocity", (1, 2), floats=False)
    assert np.allclose(pred, [[11.0, 8.0]]), f"expected [[11.0, 8.0]], got {np.round(pred, 3).tolist()}"


# ex3.4 frames_within(pred, true, tolerance): (B, H, 2) -> (B,) how many steps, from the first, stay within tolerance.


def _pairs(distances):
    """(pred, true) of shape (B, H, 2) whose per-step distances are `distances` (B, H): along x."""
    d = np.asarray(distances, dtype=np.float64)
    pred = np.stack([d, np.zeros_like(d)], axis=-1) + 7.0
    return pred, np.full_like(pred, 7.0)


@exercise_test("ex3.4", points=1, hint="Distance per step: sqrt(dx**2 + dy**2). Count the steps before the first one farther than tolerance; H if none is.")
def frames_within_by_hand(ns):
    # distances per step; tolerance 1: [0.5, 0.8, 1.5, 0.2] -> 2 (coming back later does not count),
    # [2, 0, 0, 0] -> 0, [0, 0, 0, 0] -> 4 (never farther)
    pred, true = _pairs([[0.5, 0.8, 1.5, 0.2], [2.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    got = expect_array(ns["frames_within"](pred, true, 1.0), "frames_within", (3,), floats=False)
    assert np.array_equal(got, [2, 0, 4]), f"expected [2, 0, 4], got {np.asarray(got).tolist()}"


@exercise_test("ex3.4", points=1, hint="Use the Euclidean distance of (dx, dy), and 'farther than' is strict: a distance equal to the tolerance is within.")
def frames_within_uses_distances(ns):
    true = np.zeros((2, 3, 2))
    pred = np.array([[[0.6, 0.8], [1.2, 1.6], [0.0, 0.0]],   # distances 1, 2, 0 -> with tolerance 1: 1 step
                     [[0.3, 0.4], [0.6, 0.8], [3.0, 4.0]]])  # distances 0.5, 1, 5 -> 2 steps
    got = expect_array(ns["frames_within"](pred, true, 1.0), "frames_within", (2,), floats=False)
    assert np.array_equal(got, [1, 2]), f"expected [1, 2] (a distance of exactly 1 is within 1 px), got {np.asarray(got).tolist()}"
    got = expect_array(ns["frames_within"](pred, true, 10.0), "frames_within", (2,), floats=False)
    assert np.array_equal(got, [3, 3]), f"expected [3, 3] with a tolerance of 10 px (never farther), got {np.asarray(got).tolist()}"


# The package functions that answer each exercise: while its tests run in the grader they are
# unavailable to the learner's code (worldmodels/grading/answers.py). Empty: none answers it.
ANSWERS = {
    "ex3.1": (
        "worldmodels.trajectory_tokens.quantize",
        "worldmodels.trajectory_tokens.PositionTokenizer.encode",
    ),
    "ex3.2": (
        "worldmodels.trajectory_tokens.dequantize",
        "worldmodels.trajectory_tokens.PositionTokenizer.decode",
    ),
    "ex3.3": ("worldmodels.oracle.naive_oracle_positions",),
    "ex3.4": (),  # no package function counts the steps within a tolerance; centroid.match_error (a tool of the harness) measures distances
}
